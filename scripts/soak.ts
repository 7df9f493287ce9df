// npm run soak -- --requests N [--seed S] [--ring packed|split] [--width 64|256] [--epoch E] [--epoch-size M]
// The randomized differential workload on the whole virtio-blk function (tb/virtio/blk/soak.ts): N requests in
// epochs of a fresh simulation and a random setup each, every request checked against the golden model. Reports
// mismatches, hangs (no completion for 200,000 cycles: the last TLPs), out-of-bounds DMA and protocol violations,
// with the seed and the command that replays the failing epoch; prints requests per second. Exit code 1 on failure.
import { parseArgs } from 'node:util';
import type { DataWidth } from '../gen/pcie/streams';
import { defaultSeed } from '../sim/random';
import { describeSetup, failureKind, soak, SOAK_EPOCH } from '../tb/virtio/blk/soak';
import { buildBlkTop, type RingFormat } from '../tb/virtio/blk/system';

function usage(msg: string): never {
  console.error(
    `soak: ${msg}\nusage: npm run soak -- --requests N [--seed S] [--ring packed|split] [--width 64|256] [--epoch E] [--epoch-size M]`,
  );
  process.exit(2);
}

const { values: a } = parseArgs({
  options: {
    requests: { type: 'string' },
    seed: { type: 'string' },
    ring: { type: 'string' },
    width: { type: 'string' },
    epoch: { type: 'string' },
    'epoch-size': { type: 'string' },
  },
  strict: true,
});
const int = (v: string | undefined, what: string, def?: number): number => {
  if (v === undefined) {
    if (def === undefined) usage(`--${what} is required`);
    return def;
  }
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) usage(`--${what} ${v} is not a non-negative integer`);
  return n;
};
const requests = int(a.requests, 'requests');
if (requests < 1) usage('--requests must be at least 1');
const seed = int(a.seed, 'seed', defaultSeed());
const W = int(a.width, 'width', 64);
if (W !== 64 && W !== 256) usage(`--width ${W}: the top is built at 64 or 256 bits`);
if (a.ring !== undefined && a.ring !== 'packed' && a.ring !== 'split') usage(`--ring ${a.ring}: packed or split`);
const ring = a.ring as RingFormat | undefined;
const epoch = a.epoch === undefined ? undefined : int(a.epoch, 'epoch');
const per = int(a['epoch-size'], 'epoch-size', SOAK_EPOCH);
if (per < 1) usage('--epoch-size must be at least 1');

const t0 = performance.now();
buildBlkTop(W as DataWidth);
const build = (performance.now() - t0) / 1000;
console.log(
  `soak: ${requests} requests, seed ${seed}, ${W}-bit, ${ring ?? 'packed and split alternating by epoch'}, epochs of ${per}${epoch !== undefined ? `, epoch ${epoch} only` : ''} (simulator ready in ${build.toFixed(1)} s)`,
);
const cpu0 = process.cpuUsage();
const r = soak({
  requests,
  seed,
  W: W as DataWidth,
  ring,
  epoch,
  epochRequests: per,
  onEpoch: (e) =>
    console.log(
      `  epoch ${e.epoch}: ${e.requests} requests (${e.ok} OK) in ${e.cycles} cycles, ${e.wallSeconds.toFixed(1)} s, ${(e.requests / e.wallSeconds).toFixed(0)} requests/s, ${((100 * e.cppSeconds) / e.wallSeconds).toFixed(0)}% in the simulator; ${describeSetup(e.setup)}`,
    ),
});
const rate = r.requests / r.wallSeconds;
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
// CPU time as well: on a shared machine the wall rate measures the load more than the soak.
console.log(
  `soak: ${r.requests} requests checked in ${r.wallSeconds.toFixed(1)} s: ${rate.toFixed(0)} requests/s, ${(r.cycles / r.wallSeconds / 1e6).toFixed(3)} M cycles/s (CPU ${cpuSeconds.toFixed(1)} s: ${(r.requests / cpuSeconds).toFixed(0)} requests per CPU second)`,
);
if (r.failure) {
  const f = r.failure;
  const replay = `npm run soak -- --requests ${requests} --seed ${seed} --width ${W}${ring ? ` --ring ${ring}` : ''}${per !== SOAK_EPOCH ? ` --epoch-size ${per}` : ''} --epoch ${f.epoch}`;
  console.error(`\nsoak FAILED in epoch ${f.epoch} (${describeSetup(f.setup)}): ${failureKind(f.error)}`);
  console.error(f.error instanceof Error && f.error.name === 'BlkSystemFailure' ? f.error.message : f.error.stack);
  console.error(`\nseed ${seed}; replay: ${replay}`);
  process.exit(1);
}
console.log('soak: no mismatch, hang, out-of-bounds DMA or violation');
