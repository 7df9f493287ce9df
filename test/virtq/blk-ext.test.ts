// The whole virtio-blk function with a 1 GiB disk behind its external AXI4 port (VirtioBlkTop storage:
// 'external'), served by the simulator's sparse AXI4 memory (sim/axi.ts): random requests at the last sectors of
// the disk, each checked against the golden BlkDevice over a SparseDisk (test/virtq/blk-ext-support.ts), with
// random backpressure in the memory on every channel; the disk window compared at the end; only the pages written
// allocated; the run replays in pure C++ to the same traffic (the memory's settings and direct writes are recorded).
import { afterEach, beforeAll, describe, expect } from 'vitest';
import { gibBlk } from '../../gen/virtq/blk_top';
import { Sim } from '../../sim/index';
import { seededTest } from '../support/seeds';
import { blkPorts, runBlk, type BlkRunOptions } from './blk-ext-support';

const open: Sim[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

const blk = gibBlk();
const SECTORS = 2 ** 21; // 1 GiB
const base: Omit<BlkRunOptions, 'seed'> = {
  W: 64,
  blk,
  storage: 'external',
  requests: 30,
  window: { from: SECTORS - 256, to: SECTORS },
  txBackpressure: 0.2,
};

describe('virtio-blk function, 1 GiB disk on the external AXI4 port, 64-bit', () => {
  beforeAll(() => {
    Sim.load({ ports: blkPorts(base), resetCycles: 0 }).close();
  }, 1_200_000);

  seededTest(
    'random requests at the end of the disk, checked against the golden BlkDevice; backpressure in the memory',
    (seed) => {
      const stall = 0.3;
      const r = runBlk({
        ...base,
        seed,
        axi: {
          storage: { awStall: stall, wStall: stall, bStall: stall, arStall: stall, rStall: stall, readLatency: 8 },
        },
      });
      open.push(r.sim);
      expect(r.sim.axi('storage').capacity).toBe(2 ** 30);
      expect(r.mismatches).toEqual([]);
      expect(r.ok).toBeGreaterThan(15);
      const at = r.disk.findIndex((x, k) => x !== r.goldenDisk[k]);
      expect(at, 'first byte of the window that differs from the golden disk').toBe(-1);
      const s = r.sim.axi('storage').stats();
      expect(s.writes).toBeGreaterThan(100);
      expect(s.reads).toBeGreaterThan(100);
      // 128 KiB of window: 32 pages, and nothing else of the 1 GiB
      expect(s.pages).toBeLessThanOrEqual(32);
      expect(r.golden.disk.allocatedPages).toBeLessThanOrEqual(32);
      const replay = r.sim.runFree();
      expect(replay.matchesLive).toBe(true);
    },
    { timeout: 600_000 },
  );
});
