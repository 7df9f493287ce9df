// npm run main: the main job on the default configuration: generate hdl/ (and the generated docs and header),
// lint it, synthesize it, and run a short virtio-blk workload on the whole function's RTL with the golden model
// checking every request (the soak's first two epochs: packed, then split rings).
import { generate, generateDocs } from './gen';
import { lintDir } from './lint';
import { synthAll, synthTable } from './synth';
import { describeSetup, failureKind, soak } from '../tb/virtio/blk/soak';
import { buildBlkTop } from '../tb/virtio/blk/system';

/** The main job's virtio-blk workload: requests per ring format, the seed, the width. */
const BLK_RUN = { perFormat: 150, seed: 1, W: 64 } as const;

const secs = (t0: number) => ((performance.now() - t0) / 1000).toFixed(1);
let t0 = performance.now();
const files = generate();
const docs = generateDocs();
console.log(
  `gen:   ${files.filter((f) => f.endsWith('.v')).length} modules written to hdl/${docs.length ? `; updated ${docs.join(', ')}` : ''} (${secs(t0)} s)`,
);

t0 = performance.now();
const problems = await lintDir();
for (const p of problems) console.error(`${p.tool}: ${p.module}:\n${p.text}\n`);
console.log(
  `lint:  ${problems.length ? `${problems.length} problem(s)` : 'clean'} (verilator -Wall, iverilog) (${secs(t0)} s)`,
);

t0 = performance.now();
const results = await synthAll();
console.log(`synth: yosys synth_xilinx -family xcup (${secs(t0)} s)\n`);
console.log(synthTable(results));
t0 = performance.now();
buildBlkTop(BLK_RUN.W);
const built = secs(t0);
const blk = soak({
  requests: 2 * BLK_RUN.perFormat,
  epochRequests: BLK_RUN.perFormat,
  seed: BLK_RUN.seed,
  W: BLK_RUN.W,
});
console.log(
  `\nvirtio-blk: ${blk.requests} requests on virtio_blk_top_default_both_w${BLK_RUN.W}, each checked against the golden model (simulator ready in ${built} s, run ${blk.wallSeconds.toFixed(1)} s)`,
);
if (blk.failure) {
  const f = blk.failure;
  console.error(`virtio-blk: ${failureKind(f.error)} in the ${describeSetup(f.setup)} run: ${f.error.message}`);
  console.error(
    `replay: npm run soak -- --requests ${2 * BLK_RUN.perFormat} --seed ${BLK_RUN.seed} --width ${BLK_RUN.W} --epoch-size ${BLK_RUN.perFormat} --epoch ${f.epoch}`,
  );
}

const latches = results.filter((r) => r.latches.length);
for (const r of latches) console.error(`latches in ${r.top}: ${r.latches.join(', ')}`);
if (problems.length || latches.length || blk.failure) process.exit(1);
