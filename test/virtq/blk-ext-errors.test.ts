// Storage errors on the whole virtio-blk function with its disk behind the external AXI4 port (BlkSystem, storage:
// 'external'): the simulator's AXI4 memory answers chosen bursts with SLVERR / DECERR (its error* settings), and a
// request whose storage read or write failed must complete with VIRTIO_BLK_S_IOERR and used length 1 (the golden
// model's rule for errors), alone or among many requests in flight, while every other request completes as the
// golden model says and nothing hangs. What a failed read wrote to the host and what a failed write left on the
// disk are unspecified (the disk check skips them).
//  - an error range (errorFrom..errorTo) the golden model knows: requests that touch it must fail, the others
//    (kept a sector away: a read may fetch the word next to its data) must not;
//  - the Nth read or write burst (which request it hits depends on the device's order): exactly one request fails,
//    the one whose storage range holds the failed burst's address.
import { beforeAll, describe, expect } from 'vitest';
import type { DataWidth } from '../../gen/pcie/streams';
import { gibBlk } from '../../gen/virtq/blk_top';
import type { AxiMemoryOptions } from '../../sim/axi';
import { SECTOR_SIZE } from '../../tb/virtio/blk/defs';
import { BlkSystem, buildBlkTop } from '../../tb/virtio/blk/system';
import type { Workload } from '../../tb/virtio/blk/workload';
import { seededTest } from '../support/seeds';

const blk = gibBlk();
const SECTORS = 2 ** 21;
/** The window of sectors the requests use (near the end of the 1 GiB disk), seeded with random data. */
const FROM = SECTORS - 512;
const TO = SECTORS - 256;
/** The failing sectors (the error range), in the middle of the window. */
const BAD = { from: FROM + 100, to: FROM + 102 };
const badBytes = { errorFrom: BAD.from * SECTOR_SIZE, errorTo: BAD.to * SECTOR_SIZE };

/**
 * Reads and writes of 1..8 sectors (and some DISCARD / WRITE_ZEROES when `zeroing`) in the window, each either
 * covering a bad sector or at least a sector away from the bad ones; every `hitEvery`th on the bad sectors.
 */
function windowWorkload(o: { types: ('read' | 'write' | 'zero')[]; hitEvery: number }): Workload {
  let n = 0;
  return (ctx) => {
    const { rng } = ctx;
    const type = o.types[rng.below(o.types.length)];
    const sectors = rng.int(1, 8);
    const hit = (n + 1) % o.hitEvery === 0;
    for (let t = 0; t < 16; t++) {
      const sector = hit ? rng.int(BAD.from - sectors + 1, BAD.to - 1) : rng.int(FROM, TO - sectors);
      const end = sector + sectors;
      if (!hit && end > BAD.from - 1 && sector < BAD.to + 1) continue;
      if (ctx.conflicts(sector, sectors, type !== 'read')) continue;
      n++;
      if (type === 'zero') {
        const kind = rng.below(2) === 0 ? 'discard' : 'write-zeroes';
        return { op: { type: kind, ranges: [{ sector: BigInt(sector), numSectors: sectors }] }, buffers: [] };
      }
      const write = type === 'write';
      const g = ctx.mem.alloc(sectors * SECTOR_SIZE, { perm: write ? 'ro' : 'wo', align: rng.below(2) ? 1 : 4096 });
      if (write) g.write(0, rng.bytes(sectors * SECTOR_SIZE));
      return {
        op: { type, sector: BigInt(sector), bufs: [{ addr: g.addr, len: sectors * SECTOR_SIZE }] },
        buffers: [g],
      };
    }
    return null;
  };
}

/** Each request on its own sectors, one after another through the window: reads or writes of 4 sectors. */
function streamWorkload(type: 'read' | 'write'): Workload {
  let next = FROM;
  return (ctx) => {
    if (next + 4 > TO) throw new Error('stream workload: the window is used up');
    const g = ctx.mem.alloc(4 * SECTOR_SIZE, { perm: type === 'write' ? 'ro' : 'wo', align: 1 });
    if (type === 'write') g.write(0, ctx.rng.bytes(4 * SECTOR_SIZE));
    const op = { type, sector: BigInt(next), bufs: [{ addr: g.addr, len: 4 * SECTOR_SIZE }] };
    next += 4;
    return { op, buffers: [g] };
  };
}

function system(W: DataWidth, seed: number, axi: AxiMemoryOptions): BlkSystem {
  const sys = new BlkSystem({ W, ring: seed % 2 ? 'packed' : 'split', seed, storage: 'external', blk, axi });
  sys.seedDisk(FROM * SECTOR_SIZE, sys.rng.bytes((TO - FROM) * SECTOR_SIZE));
  return sys;
}

for (const W of [64, 256] as const) {
  describe(`virtio-blk function, storage errors on the external AXI4 port, ${W}-bit`, () => {
    beforeAll(() => buildBlkTop(W, blk, 'external'), 1_200_000);

    seededTest(
      'a read error: that request IOERR, the next ones OK',
      (seed) => {
        const sys = system(W, seed, { ...badBytes, errorDirs: 1 });
        try {
          const st = sys.run(windowWorkload({ types: ['read'], hitEvery: 4 }), { requests: 8 });
          expect(sys.counts.storageErrors).toBe(2);
          expect(st.ok).toBe(6);
          sys.finish();
        } finally {
          sys.close();
        }
      },
      { timeout: 300_000 },
    );

    seededTest(
      'a write error (SLVERR or DECERR by seed), on writes and on zeroing: that request IOERR, the next ones OK',
      (seed) => {
        const sys = system(W, seed, { ...badBytes, errorDirs: 2, errorResp: seed % 2 ? 2 : 3 });
        try {
          const st = sys.run(windowWorkload({ types: ['write', 'zero'], hitEvery: 3 }), { requests: 9 });
          expect(sys.counts.storageErrors).toBe(3);
          expect(st.ok).toBe(6);
          sys.finish();
        } finally {
          sys.close();
        }
      },
      { timeout: 300_000 },
    );

    seededTest(
      'read and write errors among many requests in flight on both queues, with backpressure in the memory',
      (seed) => {
        const stall = 0.2;
        const sys = system(W, seed, {
          ...badBytes,
          awStall: stall,
          wStall: stall,
          bStall: stall,
          arStall: stall,
          rStall: stall,
          readLatency: 6,
          writeLatency: 4,
        });
        try {
          const st = sys.run(windowWorkload({ types: ['read', 'read', 'write', 'zero'], hitEvery: 5 }), {
            requests: 60,
            depth: 8,
          });
          expect(st.maxInFlight).toBeGreaterThan(8);
          expect(sys.counts.storageErrors).toBe(12);
          expect(st.ok).toBe(48);
          sys.finish();
        } finally {
          sys.close();
        }
      },
      { timeout: 600_000 },
    );

    for (const dir of ['read', 'write'] as const)
      seededTest(
        `the Nth ${dir} burst fails in the middle of many ${dir}s in flight: exactly its request IOERR`,
        (seed) => {
          // a burst of one of requests 10..19 of 32 (a 4-sector request is about 2048 / (2W / 8) bursts)
          const perRequest = 2048 / ((2 * W) / 8);
          const nth = perRequest * (10 + (seed % 10)) + (seed % perRequest) + 1;
          const sys = system(W, seed, { errorNth: nth, errorDirs: dir === 'read' ? 1 : 2 });
          try {
            const st = sys.run(streamWorkload(dir), { requests: 32, depth: 8 });
            expect(sys.sim.axi('storage').stats()[dir === 'read' ? 'readErrors' : 'writeErrors']).toBe(1);
            expect(sys.counts.storageErrors).toBe(1);
            expect(st.ok).toBe(31);
            sys.finish();
          } finally {
            sys.close();
          }
        },
        { timeout: 300_000 },
      );
  });
}
