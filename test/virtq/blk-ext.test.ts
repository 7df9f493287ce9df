// The whole virtio-blk function with a 1 GiB disk behind its external AXI4 port (VirtioBlkTop storage:
// 'external'), served by the simulator's sparse AXI4 memory (sim/axi.ts), in the shared harness (BlkSystem,
// storage: 'external'): random requests at the last sectors of the disk, whose contents both the AXI4 memory and
// the golden disk start with, each checked against the golden BlkDevice, with random backpressure in the memory on
// every channel; the disk compared in the memory at the end; only the pages written allocated; the run replays in
// pure C++ to the same traffic (the memory's settings and direct writes are recorded).
import { beforeAll, describe, expect } from 'vitest';
import { gibBlk } from '../../gen/virtq/blk_top';
import { SECTOR_SIZE } from '../../tb/virtio/blk/defs';
import { BlkSystem, buildBlkTop } from '../../tb/virtio/blk/system';
import { randomWorkload } from '../../tb/virtio/blk/workload';
import { seededTest } from '../support/seeds';

const blk = gibBlk();
const SECTORS = 2 ** 21; // 1 GiB
const window = { from: SECTORS - 256, to: SECTORS };

describe('virtio-blk function, 1 GiB disk on the external AXI4 port, 64-bit', () => {
  beforeAll(() => buildBlkTop(64, blk, 'external'), 1_200_000);

  seededTest(
    'random requests at the end of the disk, checked against the golden BlkDevice; backpressure in the memory',
    (seed) => {
      const stall = 0.3;
      const sys = new BlkSystem({
        W: 64,
        ring: 'packed',
        seed,
        blk,
        storage: 'external',
        txBackpressure: 0.2,
        axi: { awStall: stall, wStall: stall, bStall: stall, arStall: stall, rStall: stall, readLatency: 8 },
      });
      try {
        expect(sys.sim.axi('storage').capacity).toBe(2 ** 30);
        sys.seedDisk(window.from * SECTOR_SIZE, sys.rng.bytes((window.to - window.from) * SECTOR_SIZE));
        const st = sys.run(randomWorkload(window), { requests: 30 });
        expect(st.ok).toBeGreaterThan(15);
        sys.finish();
        const s = sys.sim.axi('storage').stats();
        expect(s.writes).toBeGreaterThan(100);
        expect(s.reads).toBeGreaterThan(100);
        // 128 KiB of window: 32 pages, and nothing else of the 1 GiB
        expect(s.pages).toBeLessThanOrEqual(32);
        expect(sys.golden.disk.allocatedPages).toBeLessThanOrEqual(32);
        const replay = sys.sim.runFree();
        expect(replay.matchesLive).toBe(true);
      } finally {
        sys.close();
      }
    },
    { timeout: 600_000 },
  );
});
