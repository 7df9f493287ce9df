// One Linux run: User Mode Linux boots with the bridge's vhost-user socket as its PCI bus, the guest's init
// (scripts/linux/init.sh) binds virtio_blk to the simulated card and runs the workload, and the host serves every
// PCI access through the Verilated endpoint. The loop is synchronous (poll on the socket and the queues' kick
// descriptors, the console read from its file), so nothing waits on Node's event loop; a watchdog ends a run
// that stops making progress with the last TLPs and the console's tail.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { featureNames } from '../../gen/virtio/regmap';
import { VirtioEndpoint } from '../../gen/virtio/top';
import { designPorts } from '../../sim/design';
import { Sim } from '../../sim/index';
import type { RawTlp } from '../../sim/raw';
import { VhostUserBackend } from '../../sim/vhost/backend';
import { UM_MSI_ADDRESS } from '../../sim/vhost/defs';
import { TapLink } from '../pcie/link';
import { RootComplex, type RcStats } from '../pcie/rootcomplex';
import { decodeTlp, describeTlp } from '../pcie/tlp';
import { CheckedLink, checkingModel } from '../virtio/checker';
import { DataPlaneStandIn, EndpointLink } from '../virtio/standin';
import { PciBridge, type DataPlane } from './bridge';
import { GoldenDataPlane, type IoRecord } from './golden-dataplane';
import { linuxLayout } from './layout';
import { guestPattern } from './pattern';

/** The clock the simulated rates assume (a PCIe Gen3 x8 user clock). */
export const CLOCK_HZ = 250e6;
const DEVICE_ID = 1234; // CONFIG_UML_PCI_OVER_VIRTIO_DEVICE_ID (scripts/linux/uml.config)

export interface LinuxRunOptions {
  kernel: string;
  initramfs: string;
  /** MiB of pattern the guest writes and verifies. */
  mib: number;
  /** Disk size in MiB (at least mib). */
  diskMiB: number;
  packed: boolean;
  queues: number;
  seed: number;
  /** Random 4 KiB operations of the mixed phase. */
  randops: number;
  /** Guest memory in MiB (default: 96 + 2 * mib). */
  memMiB?: number;
  /** Seconds without progress before the run is ended. */
  watchdogSeconds?: number;
  /** FST waveform of the whole run (slow). */
  waves?: string;
  /** The data plane: the golden models today; 'rtl' once the queue engines exist. */
  dataPlane?: 'golden' | 'rtl';
  log?: (line: string) => void;
  /** Every guest console line. */
  onConsole?: (line: string) => void;
}

export interface PhaseFigures {
  requests: number;
  bytes: number;
  cycles: number;
  wallSeconds: number;
}

export interface LinuxRunResult {
  ok: boolean;
  result: string;
  /** VFPGA lines the guest printed. */
  facts: string[];
  features: string[];
  probe: { cycles: number; wallSeconds: number };
  phases: Record<string, PhaseFigures>;
  cycles: number;
  wallSeconds: number;
  /** Wall seconds the model was being clocked (inside the simulator's run loops). */
  clockedSeconds: number;
  /** Whether data moves through the RTL (simulated rates mean something) or through the golden models. */
  rtlDataPlane: boolean;
  rc: RcStats;
  bridge: PciBridge['counts'];
  vhost: VhostUserBackend['stats'];
  dataPlane: Record<string, string | number>;
  checkerMismatches: number;
}

export class LinuxRunError extends Error {}

/** Recent TLPs both ways, for a failure's message. */
class TlpHistory {
  private readonly lines: string[] = [];
  constructor(private readonly keep = 24) {}
  add(dir: string, raw: RawTlp, cycle: number): void {
    let text: string;
    try {
      text = describeTlp(decodeTlp(raw, { strict: false }));
    } catch {
      text = 'undecodable';
    }
    this.lines.push(`@${cycle} ${dir} ${text}`);
    if (this.lines.length > this.keep) this.lines.shift();
  }
  toString(): string {
    return this.lines.join('\n');
  }
}

export async function runLinux(o: LinuxRunOptions): Promise<LinuxRunResult> {
  const log = o.log ?? (() => {});
  if (o.dataPlane === 'rtl')
    throw new LinuxRunError('the RTL data plane (issue 8) is not in this tree yet: use the golden one');
  if (o.diskMiB < o.mib) throw new LinuxRunError(`a ${o.diskMiB} MiB disk cannot hold ${o.mib} MiB of pattern`);
  const capacity = o.diskMiB * 2048;
  const layout = linuxLayout({ packed: o.packed, queues: o.queues });
  // The device type's default configuration; the disk's capacity is set at run time (below), so that another disk
  // size does not mean another Verilator build.
  const ports = designPorts(VirtioEndpoint.elaborate({ layout, W: 64 }));
  const sim = Sim.load({ ports, quiet: true, seed: o.seed, trace: o.waves ?? false });
  const history = new TlpHistory();
  const ep = new EndpointLink(sim);
  const tap = new TapLink(ep, {
    keep: false,
    onToDevice: (s) => history.add('->', s.raw, s.sentAt),
    onFromDevice: (t) => history.add('<-', t, t.cycle ?? 0),
  });
  const link = new CheckedLink(tap, checkingModel(layout));
  const rc = new RootComplex(link, {
    seed: o.seed,
    msiWindow: { base: UM_MSI_ADDRESS, size: 0x1000 },
    latency: { min: 20, max: 100 },
  });
  const standIn = new DataPlaneStandIn(sim, link.golden);
  standIn.changeDeviceConfig('capacity', capacity);
  const backend = new VhostUserBackend({ log });
  const bridge = new PciBridge({ rc, link, tap, ep }, layout, (data) => backend.sendMsi(data));
  const golden = new GoldenDataPlane(sim, rc, standIn, o.queues, capacity);
  const dataPlane: DataPlane = golden;

  const consoleFile = path.join(backend.dir, 'console.log');
  const consoleFd = fs.openSync(consoleFile, 'w+');
  const memMiB = o.memMiB ?? 96 + 2 * o.mib;
  const args = [
    `mem=${memMiB}M`,
    `initrd=${o.initramfs}`,
    `virtio_uml.device=${backend.socketPath}:${DEVICE_ID}`,
    'con=null',
    'con0=null,fd:1',
    'ssl=null',
    'printk.time=1',
    // UML's own management directory (the mconsole socket) stays in the private directory too.
    `uml_dir=${backend.dir}`,
    `vfpga.mib=${o.mib}`,
    `vfpga.seed=${o.seed}`,
    `vfpga.randops=${o.randops}`,
  ];
  log(`linux: ${o.kernel} ${args.join(' ')}`);
  const t0 = performance.now();
  const child: ChildProcess = spawn(o.kernel, args, {
    stdio: ['ignore', consoleFd, consoleFd],
    detached: true,
    // UML's memory file goes to TMPDIR: keep it in the private directory.
    env: { ...process.env, TMPDIR: backend.dir },
  });
  let exited: string | undefined;
  let clockedSeconds: number;
  child.on('exit', (code, sig) => (exited = sig ? `killed by ${sig}` : `exit ${code}`));

  const facts: string[] = [];
  let result = '';
  let phase = 'boot';
  const phaseOf = new Map<IoRecord, string>();
  let pendingLine = '';
  let consoleAt = 0;
  const consoleTail: string[] = [];
  const readBuf = Buffer.alloc(65536);
  const readConsole = (): boolean => {
    let any = false;
    for (;;) {
      const n = fs.readSync(consoleFd, readBuf, 0, readBuf.length, consoleAt);
      if (n <= 0) break;
      any = true;
      consoleAt += n;
      const text = pendingLine + readBuf.toString('utf8', 0, n);
      const lines = text.split('\n');
      pendingLine = lines.pop() ?? '';
      for (const raw of lines) {
        // The console is a tty: lines end in CR LF.
        const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
        o.onConsole?.(line);
        consoleTail.push(line);
        if (consoleTail.length > 40) consoleTail.shift();
        if (line.startsWith('VFPGA ')) onFact(line.slice(6));
        if (/reboot: (System halted|Power down)/.test(line)) halted = true;
      }
    }
    return any;
  };
  let ioSeen = 0;
  const labelIo = () => {
    for (; ioSeen < golden.io.length; ioSeen++) phaseOf.set(golden.io[ioSeen], phase);
  };
  let patternChecked = false;
  let halted = false;
  const onFact = (f: string) => {
    facts.push(f);
    log(`guest (+${((performance.now() - t0) / 1000).toFixed(2)} s): ${f}`);
    labelIo();
    if (f.startsWith('PHASE ')) phase = f.split(' ')[1];
    if (f.startsWith('PHASE written')) {
      // The writes are done (the guest synced): the disk must hold the host's own copy of the pattern.
      const want = guestPattern(o.seed, o.mib << 20);
      const got = golden.blk.disk.read(0, want.length);
      const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
      if (!Buffer.from(got).equals(Buffer.from(want))) {
        let at = 0;
        while (got[at] === want[at]) at++;
        const show = (b: Uint8Array) =>
          JSON.stringify(Buffer.from(b.subarray(at & ~15, (at & ~15) + 32)).toString('latin1'));
        throw new LinuxRunError(
          `the disk does not hold the seeded pattern after the write phase: first difference at byte ${at} of ${want.length}: disk ${show(got)}, pattern ${show(want)}`,
        );
      }
      if (!f.includes(`sha256=${sha(want)}`))
        throw new LinuxRunError(`the guest's pattern differs from the host's: ${f}`);
      patternChecked = true;
    }
    if (f.startsWith('RESULT ')) result = f.slice(7);
  };

  const watchdogMs = (o.watchdogSeconds ?? 120) * 1000;
  let lastProgress = performance.now();
  let probeStart: { cycle: number; wall: number } | undefined;
  let probe: { cycles: number; wallSeconds: number } | undefined;
  let negotiated = 0n;
  const fail = (why: string): never => {
    throw new LinuxRunError(
      `${why}\n--- last TLPs (cycle, direction, TLP):\n${history}\n--- guest console (tail):\n${consoleTail.join('\n')}`,
    );
  };
  try {
    // The guest connects while its PCI driver probes, early in the boot.
    while (!backend.connected) {
      try {
        backend.accept(200, child.pid);
      } catch (e) {
        readConsole();
        // Let Node see the child's exit.
        await new Promise((r) => setImmediate(r));
        if (exited) fail(`UML ended (${exited}) before it connected to the vhost-user socket`);
        if (performance.now() - t0 > watchdogMs) fail((e as Error).message);
      }
    }
    let lastYield = performance.now();
    let mapped = false;
    let resultAt = 0;
    while (!backend.closed) {
      const served = backend.poll(5, (req) => {
        if (!probeStart && req.op.startsWith('cfg')) probeStart = { cycle: rc.now, wall: performance.now() };
        return bridge.handle(req);
      });
      if (!mapped && backend.memory) {
        // The guest's memory becomes the root complex's host memory: the device's DMA lands in it in place.
        for (const r of backend.memory.regions) rc.mem.map(r.guestAddr, r.bytes, 'rw', 'guest memory');
        mapped = true;
      }
      bridge.syncPosted();
      const did = dataPlane.service();
      labelIo();
      if (!probe && probeStart && served && sim.peek('dp_driver_ok') === 1n) {
        probe = { cycles: rc.now - probeStart.cycle, wallSeconds: (performance.now() - probeStart.wall) / 1000 };
        negotiated = sim.peek('dp_features');
      }
      const said = readConsole();
      const now = performance.now();
      if (served || did || said) lastProgress = now;
      else if (now - lastProgress > watchdogMs)
        fail(`no progress for ${o.watchdogSeconds ?? 120} s (no PCI access, no I/O, no console output)`);
      if (now - lastYield > 100) {
        // Now and then, let Node see the child's exit.
        await new Promise((r) => setImmediate(r));
        lastYield = performance.now();
      }
      if (exited) break;
      // After its result line the guest powers off; UML may stay halted: the run is over either way.
      if (result && !resultAt) resultAt = performance.now();
      if (resultAt && (halted || performance.now() - resultAt > 2000)) break;
    }
    // The guest powered off (or died): let it finish, then read what it said last.
    // UML stays halted after `poweroff -f` (it prints "System halted"): then it is ended below.
    const deadline = performance.now() + (halted ? 300 : 10_000);
    while (!exited && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    readConsole();
    if (pendingLine) readConsole();
  } catch (e) {
    if (e instanceof LinuxRunError) throw e;
    fail((e as Error).message);
  } finally {
    if (!exited && child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    fs.closeSync(consoleFd);
    backend.close();
    clockedSeconds = sim.stats().cppSeconds;
    sim.close();
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const mismatches = link.mismatches.length;
  if (mismatches)
    fail(`the RTL's register reads differed from the golden transport ${mismatches} times: ${link.mismatches[0]}`);
  if (!result) fail(`the guest ended (${exited ?? 'connection closed'}) without a result line`);
  const ok = result.startsWith('OK');
  if (ok && !patternChecked) fail('the guest passed without the host checking the pattern on the disk');

  const phases: Record<string, PhaseFigures> = {};
  for (const [rec, name] of phaseOf) {
    const p = (phases[name] ??= { requests: 0, bytes: 0, cycles: 0, wallSeconds: 0 });
    p.requests++;
    p.bytes += rec.bytes;
  }
  for (const name of Object.keys(phases)) {
    const recs = [...phaseOf].filter(([, n]) => n === name).map(([r]) => r);
    // Span from the first to the last request completed, plus one request's worth (the first one's own time).
    const first = recs[0];
    const last = recs[recs.length - 1];
    const n = recs.length;
    const scale = n > 1 ? n / (n - 1) : 1;
    phases[name].cycles = Math.round((last.cycle - first.cycle) * scale);
    phases[name].wallSeconds = ((last.wallMs - first.wallMs) * scale) / 1000;
  }
  return {
    ok,
    result,
    facts,
    features: featureNames(negotiated, 'blk'),
    probe: probe ?? { cycles: 0, wallSeconds: 0 },
    phases,
    cycles: rc.now,
    wallSeconds,
    clockedSeconds,
    rtlDataPlane: false,
    rc: rc.stats(),
    bridge: bridge.counts,
    vhost: backend.stats,
    dataPlane: dataPlane.summary(),
    checkerMismatches: mismatches,
  };
}
