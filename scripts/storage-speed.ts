// Simulated cycles per second of the whole virtio-blk function with its disk on the on-chip AXI4 RAM and with the
// disk behind the external AXI4 port served by the simulator's sparse AXI4 memory (sim/cpp/axi.h), on the same
// request workload (test/virtq/blk-ext-support.ts): TypeScript-driven (wall time of the whole run, and the time
// inside the C++ run loop) and the pure C++ replay of the same stimulus (Sim.runFree). The on-chip variant is
// built with --public-flat-rw, as its tests load it (the disk is seeded and read through public access).
//
//   npx tsx scripts/storage-speed.ts [requests]
import { defaultBlk, gibBlk } from '../gen/virtq/blk_top';
import { runBlk, type BlkRunOptions } from '../test/virtq/blk-ext-support';
import { table } from './lib/proc';

const requests = Number(process.argv[2] ?? 60);
const small = defaultBlk();
const variants: { name: string; o: Omit<BlkRunOptions, 'seed' | 'requests'> }[] = [
  {
    name: 'on-chip AXI4 RAM (256 KiB window)',
    o: { W: 64, blk: small, storage: 'onchip', window: { from: small.capacity - 256, to: small.capacity } },
  },
  {
    name: 'external port, sparse AXI4 memory (256 KiB)',
    o: { W: 64, blk: small, storage: 'external', window: { from: small.capacity - 256, to: small.capacity } },
  },
  {
    name: 'external port, sparse AXI4 memory (1 GiB)',
    o: { W: 64, blk: gibBlk(), storage: 'external', window: { from: 2 ** 21 - 256, to: 2 ** 21 } },
  },
];

const rows: string[][] = [];
for (const v of variants) {
  runBlk({ ...v.o, seed: 7, requests: 4 }).sim.close(); // build, and warm V8 up
  const t0 = performance.now();
  const r = runBlk({ ...v.o, seed: 1, requests });
  const wall = (performance.now() - t0) / 1000;
  if (r.mismatches.length) throw new Error(`${v.name}: ${r.mismatches.join('\n')}`);
  const st = r.sim.stats();
  const replay = r.sim.runFree();
  r.sim.close();
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
