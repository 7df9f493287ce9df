// npm run linux: a real Linux kernel (User Mode Linux 6.1) drives the simulated virtio-blk card. Builds what it
// needs (the kernel and initramfs, cached under ~/.cache/virtio-fpga/linux; the Verilated endpoint, cached under
// build/sim), boots the guest against the bridge (tb/linux), and reports.
//
//   npm run linux -- [--ring packed|split] [--queues N] [--disk MiB] [--mib MiB] [--randops N] [--seed N]
//                    [--data-plane rtl|golden] [--fault used-len|used-id|data] [--used-check fail|count]
//                    [--waves FILE] [--waves-window CYCLES] [--watchdog SECONDS] [--verbose]
import { parseArgs } from 'node:util';
import { DEVICE_FAULTS, type DeviceFault } from '../../tb/linux/faults';
import { CLOCK_HZ, runLinux, type LinuxRunResult } from '../../tb/linux/run';
import { table } from '../lib/proc';
import { ensureInitramfs } from './initramfs';
import { ensureKernel } from './kernel';

const { values } = parseArgs({
  options: {
    ring: { type: 'string', default: 'packed' },
    queues: { type: 'string', default: '2' },
    disk: { type: 'string', default: '32' },
    mib: { type: 'string', default: '16' },
    randops: { type: 'string', default: '64' },
    seed: { type: 'string', default: String(Date.now() % 90000) },
    'data-plane': { type: 'string', default: 'rtl' },
    fault: { type: 'string' },
    'used-check': { type: 'string', default: 'fail' },
    waves: { type: 'string' },
    'waves-window': { type: 'string' },
    watchdog: { type: 'string', default: '120' },
    verbose: { type: 'boolean', default: false },
  },
});

const int = (name: string, v: string | undefined, min: number, max: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`linux: --${name} ${v}: an integer from ${min} to ${max} is needed`);
    process.exit(2);
  }
  return n;
};
if (values.ring !== 'packed' && values.ring !== 'split') {
  console.error(`linux: --ring ${values.ring}: packed or split`);
  process.exit(2);
}
if (values['data-plane'] !== 'rtl' && values['data-plane'] !== 'golden') {
  console.error(`linux: --data-plane ${values['data-plane']}: rtl or golden`);
  process.exit(2);
}
if (values.fault !== undefined && !(DEVICE_FAULTS as readonly string[]).includes(values.fault)) {
  console.error(`linux: --fault ${values.fault}: one of ${DEVICE_FAULTS.join(', ')}`);
  process.exit(2);
}
if (values['used-check'] !== 'fail' && values['used-check'] !== 'count') {
  console.error(`linux: --used-check ${values['used-check']}: fail or count`);
  process.exit(2);
}
const opts = {
  usedCheck: values['used-check'] as 'fail' | 'count',
  dataPlane: values['data-plane'] as 'rtl' | 'golden',
  fault: values.fault as DeviceFault | undefined,
  packed: values.ring === 'packed',
  queues: int('queues', values.queues, 1, 16),
  diskMiB: int('disk', values.disk, 1, 1 << 16),
  mib: int('mib', values.mib, 1, 1024),
  randops: int('randops', values.randops, 0, 100000),
  seed: int('seed', values.seed, 0, 89999),
  watchdogSeconds: int('watchdog', values.watchdog, 5, 86400),
  wavesWindow:
    values['waves-window'] === undefined ? undefined : int('waves-window', values['waves-window'], 1, 2 ** 40),
};

const t0 = performance.now();
const kernel = await ensureKernel();
const initramfs = ensureInitramfs();
console.log(
  `linux: kernel ${kernel.linux} (linux-source ${kernel.version}${kernel.buildSeconds ? `, built in ${kernel.buildSeconds.toFixed(0)} s` : ''})`,
);
console.log(
  `linux: ${opts.dataPlane} data plane, ${opts.packed ? 'packed' : 'split'} rings, ${opts.queues} queue(s), ${opts.diskMiB} MiB disk, ${opts.mib} MiB pattern, ${opts.randops} mixed operations, seed ${opts.seed}`,
);
console.log(
  `linux: replay with: npm run linux -- --ring ${values.ring} --queues ${opts.queues} --disk ${opts.diskMiB} --mib ${opts.mib} --randops ${opts.randops} --seed ${opts.seed} --data-plane ${opts.dataPlane}${opts.fault ? ` --fault ${opts.fault}` : ''}${opts.wavesWindow ? ` --waves-window ${opts.wavesWindow}` : ''}`,
);

let r: LinuxRunResult;
try {
  r = await runLinux({
    ...opts,
    kernel: kernel.linux,
    initramfs,
    waves: values.waves,
    log: values.verbose ? (s) => console.log(s) : undefined,
    onConsole: values.verbose
      ? (s) => console.log(`  | ${s}`)
      : (s) => {
          if (/virtio|virt-pci|vda|pci 0000|Kernel panic|BUG|WARNING/.test(s) && !s.startsWith('VFPGA'))
            console.log(`  | ${s}`);
        },
  });
} catch (e) {
  console.error(`linux: FAILED: ${(e as Error).message}`);
  process.exit(1);
}
report(r);
console.log(`linux: total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
if (r.usedLengthErrors.length) console.log(`linux: FAILED: the device returned wrong used lengths (see above)`);
if (!r.ok || r.usedLengthErrors.length) process.exit(1);

function report(r: LinuxRunResult): void {
  const mb = (bytes: number, s: number) => (s > 0 ? (bytes / 1e6 / s).toFixed(2) : '-');
  const iops = (n: number, s: number) => (s > 0 ? (n / s).toFixed(0) : '-');
  console.log(`\nguest: ${r.result}`);
  for (const f of r.facts.filter((f) => /^(BOUND|VIRTIO|QUEUES|VERIFIED)/.test(f))) console.log(`guest: ${f}`);
  console.log(`negotiated: ${r.features.join(' ')}`);
  console.log(
    `probe (first config access to DRIVER_OK): ${r.probe.cycles} cycles (${((r.probe.cycles / CLOCK_HZ) * 1e3).toFixed(3)} ms at ${CLOCK_HZ / 1e6} MHz), ${r.probe.wallSeconds.toFixed(2)} s wall`,
  );
  const rows = Object.entries(r.phases)
    .filter(([name]) => name !== 'boot' || r.phases[name].bytes > 0)
    .map(([name, p]) => {
      // The golden data plane moves the data in no simulated time: simulated rates come with the RTL one.
      const sim = r.rtlDataPlane ? p.cycles / CLOCK_HZ : 0;
      return [
        name,
        p.requests,
        (p.bytes / 1048576).toFixed(2),
        p.cycles,
        mb(p.bytes, sim),
        iops(p.requests, sim),
        p.wallSeconds.toFixed(2),
        mb(p.bytes, p.wallSeconds),
        iops(p.requests, p.wallSeconds),
      ];
    });
  console.log(
    '\n' +
      table(['phase', 'requests', 'MiB', 'cycles', 'MB/s sim', 'IOPS sim', 'wall s', 'MB/s wall', 'IOPS wall'], rows),
  );
  if (!r.rtlDataPlane)
    console.log(
      'simulated rates: none: the golden data plane moves the data in zero cycles (the cycles are the control plane: doorbells, MSI-X)',
    );
  console.log(
    `\nsimulated ${r.cycles} cycles in ${r.wallSeconds.toFixed(1)} s wall; the model was clocked for ${r.clockedSeconds.toFixed(2)} s: ${(r.cycles / Math.max(r.clockedSeconds, 1e-9)).toFixed(0)} cycles/s while clocked, ${(r.cycles / r.wallSeconds).toFixed(0)} cycles/s over the run (the guest's own time included)`,
  );
  console.log(
    `data plane: ${Object.entries(r.dataPlane)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  console.log(
    `bridge: ${Object.entries(r.bridge)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; vhost-user: ${Object.entries(r.vhost)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  const dir = (t: Record<string, { tlps: number; bytes: number }>) =>
    Object.entries(t)
      .map(([k, v]) => `${k} ${v.tlps} (${v.bytes} B)`)
      .join(', ');
  console.log(`root complex: to device: ${dir(r.rc.toDevice)}`);
  console.log(`root complex: from device: ${dir(r.rc.fromDevice)}`);
  for (const e of r.usedLengthErrors) console.log(`wrong used length: ${e}`);
  console.log(
    `root complex: ${r.rc.interrupts} MSI-X messages, ${r.rc.violations} violations, checker mismatches ${r.checkerMismatches}; completer ${JSON.stringify(r.rc.completer)}`,
  );
  if (r.waveform) console.log(r.waveform);
}
