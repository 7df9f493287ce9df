// Where the virtio-blk bench's CPU goes, per run of its measured mix: `npx tsx scripts/blk-tscost.ts [packed|split]
// [rounds]` builds the bench's system (scripts/bench.ts blkWorkload: same options, same warm-up), runs the mix
// `rounds` times (default 5) and prints per run: CPU seconds, CPU seconds inside Sim.run() (process.cpuUsage
// around each call), TLPs, and after a replay of the whole recording, the TS-driven / replay ratio in CPU time as
// the bench computes it and the CPU us per TLP beyond the replay; also the main thread's CPU apart from the other
// threads', run()'s CPU beyond the replay of the same cycles, and a compute-bound probe of the machine's speed (see
// docs/simulation.md, "Why the TypeScript cost per TLP looked bimodal"). The bench itself reports the fastest of runs
// 3-5. Environment: MARK=1 (a line per run, for --trace-deopt / --trace-gc), PROFILE=file, HEAP=file, PERF_CTL=fifo
// (run 3 on), INRUN=0, REPLAYS=n, POLLUTE=bytes (see below).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import type { DataWidth } from '../gen/pcie/streams';
import { BlkSystem, buildBlkTop, type RingFormat } from '../tb/virtio/blk/system';
import { sequentialWorkload } from '../tb/virtio/blk/workload';

const ring = (process.argv[2] ?? 'packed') as RingFormat;
const rounds = Number(process.argv[3] ?? 5);
const W: DataWidth = 256;
const D = 32;
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
/**
 * CPU seconds of this process's threads from the scheduler (/proc/self/task/<tid>/schedstat, nanoseconds): the main
 * thread (the TypeScript and the C++ it calls) apart from the others (V8's compiler and GC helpers, libuv), which
 * process.cpuUsage() and the bench's CPU figure lump together.
 */
const threadSeconds = (): { main: number; others: number } => {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    let ns: number;
    try {
      ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      continue; // the thread ended
    }
    if (Number(tid) === process.pid) main += ns / 1e9;
    else others += ns / 1e9;
  }
  return { main, others };
};
/**
 * The machine's speed now: CPU seconds of a fixed native job (SHA-256 of 4 MiB, ~10 ms), the fastest of three. On the
 * shared machine the same code's CPU time moves with what the other core and the host run; this tells a slow run of
 * the mix that is slow everywhere from one whose TypeScript cost more.
 */
const probeBuf = new Uint8Array(4 << 20).fill(7);
const probe = (): number => {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const c = cpuSeconds();
    createHash('sha256').update(probeBuf).digest();
    best = Math.min(best, cpuSeconds() - c);
  }
  return best;
};
buildBlkTop(W, undefined, undefined, ring);
const make = () =>
  new BlkSystem({
    W,
    ring,
    rings: ring,
    seed: 1,
    rc: { latency: { min: 200, max: 300 }, split: 'rcb', rcb: 64, mps: 256, mrrs: 512 },
  });
const steady = (sys: BlkSystem, type: 'read' | 'write', bytes: number, n: number) =>
  sys.run(sequentialWorkload(type, bytes), { requests: n + 2 * D, depth: D, queues: [0] });
const tlps = (sys: BlkSystem) => {
  const st = sys.rc.stats();
  return [...Object.values(st.fromDevice), ...Object.values(st.toDevice)].reduce((a, c) => a + c!.tlps, 0);
};
// the bench's whole-process warm-up pass: one system, warm-ups and one run of the mix
{
  const w = make();
  steady(w, 'read', 4096, 64);
  steady(w, 'write', 4096, 64);
  steady(w, 'read', 4096, 256);
  steady(w, 'write', 4096, 256);
  steady(w, 'read', 512, 512);
  w.close();
}
const sys = make();
let inRun = 0;
const run = sys.sim.run.bind(sys.sim);
// POLLUTE=bytes: before every run(), write one byte per 64-byte line of a buffer of that size (outside the timing of
// run()): how much the model's time in run() depends on what the TypeScript between two calls evicts from the caches
const pollute = new Uint8Array(Number(process.env.POLLUTE ?? 0));
let polluteRound = 0;
// INRUN=0: no process.cpuUsage() around every run() (it costs a few us a call)
if (process.env.INRUN !== '0')
  sys.sim.run = (o) => {
    polluteRound = (polluteRound + 1) & 0xff;
    for (let i = 0; i < pollute.length; i += 64) pollute[i] = polluteRound;
    const c = cpuSeconds();
    try {
      return run(o);
    } finally {
      inRun += cpuSeconds() - c;
    }
  };
steady(sys, 'read', 4096, 64);
steady(sys, 'write', 4096, 64);
const rows: {
  cpu: number;
  inRun: number;
  cycles: number;
  tlps: number;
  runs: number;
  main: number;
  others: number;
  probe: number;
}[] = [];
// PROFILE=file: a V8 CPU profile (the .cpuprofile format) of the runs from the third on
const profile = process.env.PROFILE;
// PERF_CTL=fifo: `perf record -D -1 --control fifo:<fifo>` samples only the runs from the third on
const perfCtl = process.env.PERF_CTL;
// HEAP=file: V8's sampling heap profile (the .heapprofile format, every 256 bytes, the collected objects included) of
// the third run
const heap = process.env.HEAP;
const session = profile || heap ? new Session() : undefined;
const post = (m: string, p?: object) =>
  new Promise<unknown>((res, rej) => session!.post(m, p ?? {}, (e, r) => (e ? rej(e) : res(r))));
if (session) session.connect();
if (profile) {
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 100 });
}
for (let i = 0; i < rounds; i++) {
  // MARK=1: a line at each run's start, to place V8's --trace-deopt / --trace-opt output (stdout) in the runs
  if (process.env.MARK) console.log(`=== ${ring} run ${i + 1}`);
  if (profile && i === 2) await post('Profiler.start');
  if (heap && i === 2) {
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', {
      samplingInterval: 256,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  if (perfCtl && i === 2) writeFileSync(perfCtl, 'enable\n');
  const probe0 = probe();
  const n0 = sys.sim.stats().runCalls;
  const r0 = inRun;
  const y0 = sys.sim.cycle;
  const t0 = tlps(sys);
  const th0 = threadSeconds();
  const c0 = cpuSeconds();
  steady(sys, 'read', 4096, 256);
  steady(sys, 'write', 4096, 256);
  steady(sys, 'read', 512, 512);
  const c1 = cpuSeconds();
  const th1 = threadSeconds();
  if (heap && i === 2)
    writeFileSync(heap, JSON.stringify(((await post('HeapProfiler.stopSampling')) as { profile: unknown }).profile));
  const probe1 = probe();
  rows.push({
    probe: (probe0 + probe1) / 2,
    main: th1.main - th0.main,
    others: th1.others - th0.others,
    cpu: c1 - c0,
    inRun: inRun - r0,
    cycles: sys.sim.cycle - y0,
    tlps: tlps(sys) - t0,
    runs: sys.sim.stats().runCalls - n0,
  });
}
if (perfCtl) writeFileSync(perfCtl, 'disable\n');
if (profile) writeFileSync(profile, JSON.stringify(((await post('Profiler.stop')) as { profile: unknown }).profile));
sys.finish();
let replayCps = 0;
const replayRates: number[] = [];
const replayProbes: number[] = [];
for (let i = 0; i < Number(process.env.REPLAYS ?? 3); i++) {
  replayProbes.push(probe());
  const c = cpuSeconds();
  const r = sys.sim.runFree();
  replayRates.push(r.cycles / (cpuSeconds() - c));
  replayCps = Math.max(replayCps, r.cycles / (cpuSeconds() - c));
}
console.log(
  `${ring} replays: ${replayRates.map((r) => (r / 1e6).toFixed(3)).join(', ')} M cycles per CPU second; probe ${replayProbes.map((p) => (p * 1e3).toFixed(1)).join(', ')} ms`,
);
sys.close();
for (const [i, r] of rows.entries()) {
  const replay = r.cycles / replayCps;
  console.log(
    `${ring} run ${i + 1}: cpu ${r.cpu.toFixed(3)} s, in run() ${r.inRun.toFixed(3)} s, outside ${(r.cpu - r.inRun).toFixed(3)} s (${(((r.cpu - r.inRun) / r.tlps) * 1e6).toFixed(2)} us/TLP), replay ${replay.toFixed(3)} s, ratio ${(replay / r.cpu).toFixed(3)}, beyond replay ${(((r.cpu - replay) / r.tlps) * 1e6).toFixed(2)} us/TLP, ${r.tlps} TLPs, ${r.cycles} cycles, ${r.runs} run() calls; main thread ${r.main.toFixed(3)} s, other threads ${r.others.toFixed(3)} s, in run() beyond replay ${(r.inRun - replay).toFixed(3)} s; probe ${(r.probe * 1e3).toFixed(1)} ms`,
  );
}
