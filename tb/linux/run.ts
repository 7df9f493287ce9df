// One Linux run: User Mode Linux boots with the bridge's vhost-user socket as its PCI bus, the guest's init
// (scripts/linux/init.sh) binds virtio_blk to the simulated card and runs the workload, and the host serves every
// PCI access through the Verilated endpoint. The loop is synchronous (poll on the socket and the queues' kick
// descriptors, the console read from its file), so nothing waits on Node's event loop; a watchdog ends a run
// that stops making progress with the last TLPs and the console's tail.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { featureNames, STATUS } from '../../gen/virtio/regmap';
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
import type { GoldenTransport } from '../virtio/golden/transport';
import { DataPlaneStandIn, EndpointLink } from '../virtio/standin';
import { PciBridge, type DataPlane } from './bridge';
import { DeviceFaultLink, type DeviceFault } from './faults';
import { GoldenDataPlane } from './golden-dataplane';
import { linuxLayout } from './layout';
import { guestPattern } from './pattern';
import { diskAccessFlags } from '../virtio/blk/system';
import { linuxBlkTop, RtlDataPlane, VirtioBlkTop, virtioBlkConfig } from './rtl-dataplane';
import { UsedLengthCheck } from './usedcheck';

/** The clock the simulated rates assume (a PCIe Gen3 x8 user clock). */
export const CLOCK_HZ = 250e6;
const DEVICE_ID = 1234; // CONFIG_UML_PCI_OVER_VIRTIO_DEVICE_ID (scripts/linux/uml.config)
/** Where --waves-window's segments go unless --waves names them. */
const DEFAULT_WAVES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../build/waves/linux.fst');

export interface LinuxRunOptions {
  kernel: string;
  initramfs: string;
  /** MiB of pattern the guest writes and verifies. */
  mib: number;
  /** Disk size in MiB (at least mib; a power of two for the RTL data plane, whose disk is on chip). */
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
  /**
   * FST waveform: the whole run into this file (slow: a boot is millions of cycles), or with `wavesWindow` the
   * name the window's segments are named after (default build/waves/linux.fst: build/waves/linux.<cycle>.fst).
   */
  waves?: string;
  /**
   * Record only the window around the run's end: FST segments of this many cycles, the two newest kept
   * (SimOptions.traceWindow), so a failure leaves the last `wavesWindow` to 2 x `wavesWindow` cycles before it.
   * A failure's message and the result say which files hold which cycles.
   */
  wavesWindow?: number;
  /**
   * The data plane: 'rtl' (default) simulates the whole virtio-blk function (gen/virtq/blk_top.ts); 'golden' the
   * RTL endpoint alone with the golden queue and blk models serving its queues.
   */
  dataPlane?: 'golden' | 'rtl';
  /** A deliberately broken device (tb/linux/faults.ts): the run must fail, naming what went wrong. */
  fault?: DeviceFault;
  /**
   * The host's used-length check (RTL data plane): 'fail' (default) ends the run at the first wrong length;
   * 'count' lets the run go on and reports them (`usedLengthErrors`), to see a device bug's pattern.
   */
  usedCheck?: 'fail' | 'count';
  log?: (line: string) => void;
  /** Every guest console line. */
  onConsole?: (line: string) => void;
}

/** One phase of the guest's workload, between two of its PHASE lines: its block I/O (the guest's own counts). */
export interface PhaseFigures {
  requests: number;
  bytes: number;
  cycles: number;
  wallSeconds: number;
}

/** A PHASE line's /sys/block/vda/stat counts: requests and sectors, reads and writes, and flushes. */
interface PhaseMark {
  name: string;
  cycle: number;
  wallMs: number;
  requests: number;
  sectors: number;
}

function phaseMark(fact: string, cycle: number, wallMs: number): PhaseMark {
  // PHASE <name> io=<read ios>,<read sectors>,<write ios>,<write sectors>,<flush ios> [...]
  const m = /^PHASE (\S+) io=(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(fact);
  if (!m) throw new LinuxRunError(`the guest's phase line is malformed: ${fact}`);
  const n = m.slice(2).map(Number);
  return { name: m[1], cycle, wallMs, requests: n[0] + n[2] + n[4], sectors: n[1] + n[3] };
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
  /** 'count' mode: the wrong used lengths the host saw (the first 20). */
  usedLengthErrors: string[];
  /** Where the FST waveform is and the cycles it holds (Sim.waveformNote()); "" without --waves. */
  waveform: string;
}

export class LinuxRunError extends Error {}

/** Guest console lines that end a run at once: virtio_ring's BAD_RING, I/O errors, oopses and panics. */
const KERNEL_ERROR =
  /virtio\S* virtio\d+: .*(out of range|is not a head|unexpected|broken)|I\/O error, dev vda|Buffer I\/O error|Kernel panic|BUG:|Oops/;

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
  if (o.diskMiB < o.mib) throw new LinuxRunError(`a ${o.diskMiB} MiB disk cannot hold ${o.mib} MiB of pattern`);
  const rtl = (o.dataPlane ?? 'rtl') === 'rtl';
  const capacity = o.diskMiB * 2048;
  const base = linuxLayout({ packed: o.packed, queues: o.queues });
  // RTL: the whole function, its disk's size a generator parameter (one Verilator build per size). Golden: the
  // endpoint alone with the device type's default configuration; the capacity is set at run time (below).
  const top = rtl ? linuxBlkTop(base, o.diskMiB) : undefined;
  const cfg = top ? virtioBlkConfig(top) : undefined;
  const layout = cfg?.endpoint.layout ?? base;
  const ports = designPorts(top ? VirtioBlkTop.elaborate(top) : VirtioEndpoint.elaborate({ layout, W: 64 }));
  const sim = Sim.load({
    ports,
    quiet: true,
    seed: o.seed,
    trace: o.waves ?? (o.wavesWindow ? DEFAULT_WAVES : false),
    traceWindow: o.wavesWindow ?? 0,
    // Nothing replays a Linux run: recording its stimulus (every DMA completion) would only cost memory.
    record: false,
    // The host zeroes the on-chip disk and reads it back (disk.mem) to check the pattern.
    verilatorFlags: top ? diskAccessFlags() : undefined,
  });
  const history = new TlpHistory();
  const ep = rtl ? undefined : new EndpointLink(sim);
  const golden = (): GoldenTransport => link.golden;
  const faulty = o.fault ? new DeviceFaultLink(ep ?? sim, o.fault, golden) : undefined;
  // The RTL's used elements are checked against the golden virtio-blk device (Linux does not look at lengths).
  const usedCheck = top ? new UsedLengthCheck(() => rc.mem, golden, top, o.usedCheck) : undefined;
  const tap: TapLink = new TapLink(faulty ?? ep ?? sim, {
    keep: false,
    onToDevice: (s) => history.add('->', s.raw, s.sentAt),
    onFromDevice: (t) => {
      history.add('<-', t, t.cycle ?? 0);
      usedCheck?.onDeviceTlp(t);
    },
  });
  const link: CheckedLink = new CheckedLink(tap, checkingModel(layout, { deviceConfig: cfg?.endpoint.deviceConfig }));
  const rc = new RootComplex(link, {
    seed: o.seed,
    msiWindow: { base: UM_MSI_ADDRESS, size: 0x1000 },
    latency: { min: 20, max: 100 },
  });
  const backend = new VhostUserBackend({ log });
  const bridge = new PciBridge({ rc, link, tap, device: sim }, layout, (data) => backend.sendMsi(data));
  let dataPlane: DataPlane;
  if (top) dataPlane = new RtlDataPlane(sim, rc, top);
  else {
    const standIn = new DataPlaneStandIn(sim, link.golden);
    standIn.changeDeviceConfig('capacity', capacity);
    dataPlane = new GoldenDataPlane(sim, rc, standIn, o.queues, capacity);
  }

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
  const marks: PhaseMark[] = [];
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
        // virtio_ring's BAD_RING (the device broke the ring: the queue is dead, its requests never end), the
        // block layer's I/O errors and the kernel's own failures end the run at once, naming the line.
        if (KERNEL_ERROR.test(line)) fail(`the guest's kernel reports: ${line.trim()}`);
      }
    }
    return any;
  };
  let patternChecked = false;
  let halted = false;
  const onFact = (f: string) => {
    facts.push(f);
    log(`guest (+${((performance.now() - t0) / 1000).toFixed(2)} s): ${f}`);
    if (f.startsWith('PHASE ')) marks.push(phaseMark(f, rc.now, performance.now()));
    if (f.startsWith('PHASE written')) {
      // The writes are done (the guest synced): the disk must hold the host's own copy of the pattern.
      const want = guestPattern(o.seed, o.mib << 20);
      const got = dataPlane.readDisk(0, want.length);
      const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
      if (!Buffer.from(got).equals(Buffer.from(want))) {
        let at = 0;
        while (got[at] === want[at]) at++;
        const show = (b: Uint8Array) =>
          JSON.stringify(Buffer.from(b.subarray(at & ~15, (at & ~15) + 32)).toString('latin1'));
        fail(
          `the disk does not hold the seeded pattern after the write phase: first difference at byte ${at} of ${want.length}: disk ${show(got)}, pattern ${show(want)}`,
        );
      }
      if (!f.includes(`sha256=${sha(want)}`)) fail(`the guest's pattern differs from the host's: ${f}`);
      patternChecked = true;
    }
    if (f.startsWith('RESULT ')) result = f.slice(7);
  };

  const watchdogMs = (o.watchdogSeconds ?? 120) * 1000;
  let lastProgress = performance.now();
  let probeStart: { cycle: number; wall: number } | undefined;
  let probe: { cycles: number; wallSeconds: number } | undefined;
  let negotiated = 0n;
  // The error fail() made (with the details below), as opposed to one thrown from deeper down, which it wraps.
  let failure: LinuxRunError | undefined;
  const fail = (why: string): never => {
    const injected = o.fault ? `\n--- fault injected: ${faulty?.hit || `${o.fault} (had not hit yet)`}` : '';
    // The simulation stops here: the file being written is completed when the run ends (sim.close() below).
    const waves = sim.waveformNote();
    failure = new LinuxRunError(
      `${why}${injected}${waves ? `\n--- ${waves}` : ''}\n--- last TLPs (cycle, direction, TLP):\n${history}\n--- guest console (tail):\n${consoleTail.join('\n')}`,
    );
    throw failure;
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
      if (!probe && probeStart && served && link.golden.status & STATUS.DRIVER_OK) {
        probe = { cycles: rc.now - probeStart.cycle, wallSeconds: (performance.now() - probeStart.wall) / 1000 };
        negotiated = link.golden.negotiated;
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
    if (e === failure) throw e;
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
  if (ok && usedCheck && usedCheck.stats.checked === 0)
    fail('the guest passed without the host checking a used element');
  if (ok && o.fault) fail(`the guest passed with a broken device: ${faulty?.hit || `the ${o.fault} fault never hit`}`);

  // A phase runs from its PHASE line to the next one: the guest's block-layer counts (requests, sectors) and the
  // cycles the model was clocked between the two lines.
  const phases: Record<string, PhaseFigures> = {};
  for (let i = 0; i + 1 < marks.length; i++) {
    const [a, b] = [marks[i], marks[i + 1]];
    if (b.requests === a.requests) continue;
    phases[a.name] = {
      requests: b.requests - a.requests,
      bytes: (b.sectors - a.sectors) * 512,
      cycles: b.cycle - a.cycle,
      wallSeconds: (b.wallMs - a.wallMs) / 1000,
    };
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
    rtlDataPlane: rtl,
    rc: rc.stats(),
    bridge: bridge.counts,
    vhost: backend.stats,
    dataPlane: {
      ...dataPlane.summary(),
      ...(usedCheck
        ? { 'used elements checked': usedCheck.stats.checked, 'wrong used lengths': usedCheck.stats.wrongLengths }
        : {}),
    },
    checkerMismatches: mismatches,
    usedLengthErrors: usedCheck?.mismatches ?? [],
    waveform: sim.waveformNote(),
  };
}
