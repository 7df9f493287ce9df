// The virtio-blk bench's simulated figures for one ring format, without its CPU rounds (a quick check of the
// engine's throughput, not a test): `npx tsx test/virtq/split_figs.ts [split|packed]` runs the bench's sequence
// (warm-ups, 256 4 KiB reads, 256 4 KiB writes, 512 512 B reads, seed 1) and prints what the bench's row shows.
// SEED=n runs another seed (the bench's is 1; the 512 B figure moves by about 2 cycles between seeds).
// A third argument 'both' runs the format on the build with both engines (which offers INDIRECT_DESC: the split-only
// build does not, gen/virtq/blk_top.ts `indirect`).
import type { DataWidth } from '../../gen/pcie/streams';
import type { RingEngines } from '../../gen/virtq/dataplane';
import { BlkSystem, buildBlkTop } from '../../tb/virtio/blk/system';
import { sequentialWorkload } from '../../tb/virtio/blk/workload';

const ring = (process.argv[2] ?? 'split') as 'split' | 'packed';
const rings = (process.argv[3] ?? ring) as RingEngines;
const W: DataWidth = 256;
const D = 32;
buildBlkTop(W, undefined, undefined, rings);
const sys = new BlkSystem({
  W,
  ring,
  rings,
  seed: Number(process.env.SEED ?? 1),
  rc: { latency: { min: 200, max: 300 }, split: 'rcb', rcb: 64, mps: 256, mrrs: 512 },
});
const steady = (type: 'read' | 'write', bytes: number, n: number) => {
  const at: number[] = [];
  sys.run(sequentialWorkload(type, bytes), {
    requests: n + 2 * D,
    depth: D,
    queues: [0],
    onComplete: (_i, cycle) => at.push(cycle),
  });
  return (at[D + n - 1] - at[D - 1]) / n;
};
steady('read', 4096, 64);
steady('write', 4096, 64);
const k0 = { ...sys.counts };
const rd = steady('read', 4096, 256);
const wr = steady('write', 4096, 256);
const small = steady('read', 512, 512);
const req = sys.counts.completed - k0.completed;
console.log(
  `${ring} (rings ${rings}; ${sys.features.indirect ? 'INDIRECT_DESC' : 'no INDIRECT_DESC'}, ${sys.features.eventIdx ? 'EVENT_IDX' : 'no EVENT_IDX'}): 4 KiB read ${(4096 / rd / 32).toFixed(3)}, 4 KiB write ${(4096 / wr / 32).toFixed(3)}, ` +
    `512 B read ${small.toFixed(1)} cycles, doorbells ${((sys.counts.doorbells - k0.doorbells) / req).toFixed(3)}, ` +
    `irqs ${((sys.counts.interrupts - k0.interrupts) / req).toFixed(3)}`,
);
