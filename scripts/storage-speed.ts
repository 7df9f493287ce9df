// Simulated cycles per second of the whole virtio-blk function with its disk on the on-chip AXI4 RAM and with the
// disk behind the external AXI4 port served by the simulator's sparse AXI4 memory (sim/cpp/axi.h), on the same
// request workload (random requests one at a time in the last 256 sectors, tb/virtio/blk/workload.ts), in the
// shared harness (tb/virtio/blk/system.ts BlkSystem, every check on): TypeScript-driven (wall time of the run, and
// the time inside the C++ run loop) and the pure C++ replay of the same stimulus (Sim.runFree).
//
//   npx tsx scripts/storage-speed.ts [requests]
import { defaultBlk, gibBlk, type BlkDeviceOptions } from '../gen/virtq/blk_top';
import { BlkSystem, buildBlkTop, type BlkStorage } from '../tb/virtio/blk/system';
import { randomWorkload } from '../tb/virtio/blk/workload';
import { table } from './lib/proc';

const requests = Number(process.argv[2] ?? 60);
const small = defaultBlk();
const variants: { name: string; blk: BlkDeviceOptions; storage: BlkStorage }[] = [
  { name: 'on-chip AXI4 RAM (256 KiB)', blk: small, storage: 'onchip' },
  { name: 'external port, sparse AXI4 memory (256 KiB)', blk: small, storage: 'external' },
  { name: 'external port, sparse AXI4 memory (1 GiB)', blk: gibBlk(), storage: 'external' },
];

function run(v: (typeof variants)[number], seed: number, n: number): BlkSystem {
  const sys = new BlkSystem({ W: 64, ring: 'packed', seed, blk: v.blk, storage: v.storage });
  const window = { from: v.blk.capacity - 256, to: v.blk.capacity };
  sys.run(randomWorkload(window), { requests: n });
  return sys;
}

const rows: string[][] = [];
for (const v of variants) {
  buildBlkTop(64, v.blk, v.storage);
  run(v, 7, 4).close(); // warm V8 up
  const t0 = performance.now();
  const sys = run(v, 1, requests);
  const wall = (performance.now() - t0) / 1000;
  const st = sys.sim.stats();
  const replay = sys.sim.runFree();
  sys.close();
  rows.push([
    v.name,
    String(st.cycles),
    (st.cycles / wall / 1e3).toFixed(0),
    (st.cycles / st.cppSeconds / 1e3).toFixed(0),
    (replay.cyclesPerSecond / 1e3).toFixed(0),
    String(replay.matchesLive),
  ]);
  console.error(`${v.name}: done`);
}
console.log(
  table(
    ['variant', 'cycles', 'k cycles/s (wall)', 'k cycles/s (C++ loop)', 'k cycles/s (replay)', 'replay matches'],
    rows,
  ),
);
