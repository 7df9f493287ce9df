// The virtio-blk bench's 4 KiB figures on one ring format, quickly, plus a long run's rate in windows (to tell a
// real change of throughput from the window's luck). Not a test: `npx tsx test/blk/rate.ts [packed|split] [write|read]
// [long]` prints the bench's figure (its sequence: warm-ups, 256 reads, 256 writes) and, with `long` > 0, `long`
// more requests of the given type in windows of 128.
import type { DataWidth } from '../../gen/pcie/streams';
import { BlkSystem, buildBlkTop } from '../../tb/virtio/blk/system';
import { sequentialWorkload } from '../../tb/virtio/blk/workload';

const ring = (process.argv[2] ?? 'packed') as 'split' | 'packed';
const type = (process.argv[3] ?? 'write') as 'read' | 'write';
const long = Number(process.argv[4] ?? 0);
const W: DataWidth = 256;
const D = 32;
buildBlkTop(W, undefined, undefined, ring);
const sys = new BlkSystem({
  W,
  ring,
  rings: ring,
  seed: 1,
  rc: { latency: { min: 200, max: 300 }, split: 'rcb', rcb: 64, mps: 256, mrrs: 512 },
});
const run = (t: 'read' | 'write', bytes: number, n: number): number[] => {
  const at: number[] = [];
  sys.run(sequentialWorkload(t, bytes), {
    requests: n + 2 * D,
    depth: D,
    queues: [0],
    onComplete: (_i, c) => at.push(c),
  });
  return at;
};
const frac = (at: number[], a: number, b: number) => (4096 * (b - a)) / (at[b] - at[a]) / 32;
run('read', 4096, 64);
run('write', 4096, 64);
const rd = run('read', 4096, 256);
console.log(`${ring} read 4096 (bench): ${frac(rd, D - 1, D + 255).toFixed(3)}`);
const wr = run('write', 4096, 256);
console.log(`${ring} write 4096 (bench): ${frac(wr, D - 1, D + 255).toFixed(3)}`);
if (long > 0) {
  const at = run(type, 4096, long);
  const parts: string[] = [];
  for (let k = D - 1; k + 128 <= D + long - 1; k += 128) parts.push(frac(at, k, k + 128).toFixed(3));
  console.log(
    `${ring} ${type} 4096 long ${long}: ${frac(at, D - 1, D + long - 1).toFixed(3)} (windows ${parts.join(' ')})`,
  );
}
sys.close();
