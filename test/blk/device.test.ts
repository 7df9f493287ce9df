// The virtio-blk device RTL (gen/blk) against the golden BlkDevice, through the DMA engines and a root complex:
// seeded random request mixes (IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES) framed in random descriptor
// layouts, malformed requests, features not negotiated, a read-only build; every status byte, used length,
// writable host byte and disk byte compared, with the root complex checking that no DMA leaves the buffers.
import { afterEach, beforeAll, describe, expect } from 'vitest';
import { blkGeometry } from '../../gen/blk/device';
import { blkTestDeviceParams, type BlkTestTopParams } from '../../gen/blk/test_top';
import { Rng } from '../../sim/random';
import { BLK_S, BLK_T, type DwzSegment, SECTOR_SIZE } from '../../tb/virtio/blk/defs';
import { seededTest } from '../support/seeds';
import {
  ALL_BLK_FEATURES,
  BLK_WIDTHS,
  blkPorts,
  blkTopParams,
  type BlkBench,
  bootBlk,
  buildBlkSim,
  closeBlkBenches,
  dwzRequest,
  expectDiskMatches,
  ioRequest,
  place,
  type PlacedRequest,
  placeRandom,
  type RequestBytes,
  runRequests,
  type RunCounts,
  seedDisk,
} from './support';
import { BENCH_LATENCY, BENCH_RC } from './perf';

afterEach(closeBlkBenches);

const none = new Uint8Array(0);

function randomSegs(rng: Rng, cap: number, maxSeg: number, maxSectors: number, unmap: boolean): DwzSegment[] {
  return Array.from({ length: rng.int(1, maxSeg) }, () => {
    const numSectors = rng.int(0, maxSectors);
    return { sector: BigInt(rng.int(0, cap - numSectors)), numSectors, flags: unmap && rng.chance(0.5) ? 1 : 0 };
  });
}

/** A well-formed request of a random kind. */
function randomRequest(b: BlkBench, rng: Rng): RequestBytes {
  const cap = b.p.capacity;
  const n = rng.int(1, 8);
  const sector = BigInt(rng.int(0, cap - n));
  switch (rng.pick(['in', 'in', 'out', 'out', 'flush', 'get-id', 'discard', 'write-zeroes'] as const)) {
    case 'in':
      return ioRequest(BLK_T.IN, sector, none, n * SECTOR_SIZE, `IN ${n} at ${sector}`);
    case 'out':
      return ioRequest(BLK_T.OUT, sector, rng.bytes(n * SECTOR_SIZE), 0, `OUT ${n} at ${sector}`);
    case 'flush':
      return ioRequest(BLK_T.FLUSH, 0n, none, 0, 'FLUSH');
    case 'get-id': {
      const len = rng.pick([20, 20, 7, 64]);
      return ioRequest(BLK_T.GET_ID, 0n, none, len, `GET_ID into ${len}`);
    }
    case 'discard': {
      const l = b.p.discard!;
      return dwzRequest(BLK_T.DISCARD, randomSegs(rng, cap, l.maxSeg, l.maxSectors, false), 'DISCARD');
    }
    case 'write-zeroes': {
      const l = b.p.writeZeroes!;
      return dwzRequest(BLK_T.WRITE_ZEROES, randomSegs(rng, cap, l.maxSeg, l.maxSectors, true), 'WRITE_ZEROES');
    }
  }
}

function newCounts(): RunCounts {
  return { requests: 0, statuses: {}, bad: 0 };
}

describe.each(BLK_WIDTHS)('virtio-blk device, %i-bit stream', (W) => {
  const p = blkTopParams(W);
  let ports = '';
  beforeAll(() => {
    ports = blkPorts(p);
    buildBlkSim(ports);
  }, 900_000);

  seededTest('random request mixes in random descriptor layouts match the golden model', (seed) => {
    const rng = new Rng(seed);
    const b = bootBlk(p, ports, seed, { rc: { split: 'random', latency: { min: 20, max: 200 } } });
    const disk = rng.bytes(p.capacity * SECTOR_SIZE);
    seedDisk(b, disk);
    const counts = newCounts();
    let id = 0;
    for (let batch = 0; batch < 6; batch++) {
      const reqs = Array.from({ length: rng.int(1, 6) }, () => placeRandom(b, rng, id++, randomRequest(b, rng)));
      runRequests(b, reqs, counts);
      expectDiskMatches(b, `after batch ${batch}`);
    }
    expect(counts.requests).toBeGreaterThan(12);
    expect(counts.statuses[BLK_S.OK]).toBeGreaterThan(8);
  });

  seededTest('malformed requests complete with the golden status and never touch storage out of range', (seed) => {
    const rng = new Rng(seed);
    const b = bootBlk(p, ports, seed);
    seedDisk(b, rng.bytes(p.capacity * SECTOR_SIZE));
    const cap = BigInt(p.capacity);
    let id = 100;
    const one = (r: RequestBytes, readLens: number[], writeLens: number[]): PlacedRequest =>
      place(b, rng, id++, 0, readLens, r.readable, writeLens, r.what);
    const framed = (r: RequestBytes) => placeRandom(b, rng, id++, r);
    const seg = (sector: bigint, numSectors: number, flags = 0): DwzSegment => ({ sector, numSectors, flags });
    const hdr = ioRequest(BLK_T.IN, 3n, none, 0, '');
    const cases: PlacedRequest[] = [
      one({ ...hdr, what: 'header of 15 bytes' }, [15], [SECTOR_SIZE + 1]),
      one({ ...hdr, what: 'header of 0 bytes' }, [], [1]),
      one({ ...hdr, what: 'header in 16 one-byte descriptors is too many' }, Array(16).fill(1), [1]),
      one({ ...hdr, what: 'header in 3 descriptors' }, [5, 0, 11], [SECTOR_SIZE, 1]),
      one(ioRequest(BLK_T.IN, 0n, none, 0, 'no writable byte'), [16], []),
      one(ioRequest(BLK_T.IN, 0n, none, 0, 'no writable byte, zero-length writable'), [16], [0]),
      framed(ioRequest(BLK_T.IN, 2n, rng.bytes(SECTOR_SIZE), SECTOR_SIZE, 'IN with readable data')),
      framed(ioRequest(BLK_T.OUT, 2n, rng.bytes(SECTOR_SIZE), SECTOR_SIZE, 'OUT with writable data')),
      framed(ioRequest(BLK_T.IN, 2n, none, 100, 'IN of 100 bytes')),
      framed(ioRequest(BLK_T.OUT, 2n, rng.bytes(700), 0, 'OUT of 700 bytes')),
      framed(ioRequest(BLK_T.IN, cap - 1n, none, 2 * SECTOR_SIZE, 'IN across the end')),
      framed(ioRequest(BLK_T.OUT, cap - 1n, rng.bytes(2 * SECTOR_SIZE), 0, 'OUT across the end')),
      framed(ioRequest(BLK_T.OUT, cap, rng.bytes(SECTOR_SIZE), 0, 'OUT at the capacity')),
      framed(ioRequest(BLK_T.IN, cap, none, 0, 'IN of nothing at the capacity')),
      framed(ioRequest(BLK_T.IN, 1n << 63n, none, SECTOR_SIZE, 'IN at sector 2^63')),
      framed(ioRequest(BLK_T.OUT, (1n << 64n) - 1n, rng.bytes(SECTOR_SIZE), 0, 'OUT at sector 2^64-1')),
      framed(ioRequest(BLK_T.IN, cap - 1n, none, SECTOR_SIZE, 'IN of the last sector')),
      framed(ioRequest(7, 0n, none, 4, 'unknown type 7')),
      framed(ioRequest(0xffff_ffff, 0n, none, 0, 'type 0xffffffff')),
      framed(ioRequest(BLK_T.GET_LIFETIME, 0n, none, 16, 'GET_LIFETIME')),
      framed(ioRequest(BLK_T.GET_ID, 0n, rng.bytes(4), 20, 'GET_ID with readable data')),
      framed(ioRequest(BLK_T.GET_ID, 0n, none, 0, 'GET_ID without room for the id')),
      one(ioRequest(BLK_T.OUT, 0n, rng.bytes(20_000), 0, 'a descriptor over size_max'), [16, 20_000], [1]),
      one(
        ioRequest(BLK_T.IN, 0n, none, 8 * SECTOR_SIZE, 'seg_max + 3 descriptors'),
        [16],
        [...Array(7).fill(SECTOR_SIZE), SECTOR_SIZE + 1],
      ),
      one(
        ioRequest(BLK_T.IN, 0n, none, 6 * SECTOR_SIZE, 'seg_max + 2 descriptors'),
        [16],
        [...Array(5).fill(SECTOR_SIZE), SECTOR_SIZE + 1],
      ),
      one(ioRequest(BLK_T.IN, 4n, none, SECTOR_SIZE, 'status after an empty descriptor'), [16], [SECTOR_SIZE + 1, 0]),
      framed(dwzRequest(BLK_T.DISCARD, [seg(1n, 2, 1)], 'DISCARD with UNMAP')),
      framed(dwzRequest(BLK_T.WRITE_ZEROES, [seg(1n, 2, 2)], 'WRITE_ZEROES with flag 2')),
      framed(dwzRequest(BLK_T.DISCARD, [seg(1n, 65)], 'DISCARD over max_discard_sectors')),
      framed(dwzRequest(BLK_T.DISCARD, [seg(1n, 1), seg(2n, 1), seg(3n, 1), seg(4n, 1)], 'DISCARD of 4 segments')),
      framed(dwzRequest(BLK_T.WRITE_ZEROES, [seg(cap - 2n, 3)], 'WRITE_ZEROES across the end')),
      framed(dwzRequest(BLK_T.WRITE_ZEROES, [seg(10n, 3), seg(1n << 62n, 1)], 'WRITE_ZEROES, second segment out')),
      framed(dwzRequest(BLK_T.WRITE_ZEROES, [seg(10n, 1), seg(20n, 1, 4)], 'WRITE_ZEROES, second flags bad')),
      one({ ...dwzRequest(BLK_T.DISCARD, [seg(1n, 1)], ''), what: 'DISCARD with 8 bytes of segment' }, [24], [1]),
      one(dwzRequest(BLK_T.DISCARD, [seg(1n, 1)], 'DISCARD with writable data'), [32], [4]),
      one(ioRequest(BLK_T.DISCARD, 0n, none, 0, 'DISCARD without segments'), [16], [1]),
      framed(dwzRequest(BLK_T.WRITE_ZEROES, [seg(cap - 3n, 3, 1), seg(0n, 0)], 'WRITE_ZEROES to the end')),
    ];
    const counts = newCounts();
    // In small batches, so the device's intake sees chains back to back.
    for (let k = 0; k < cases.length; k += 4) {
      runRequests(b, cases.slice(k, k + 4), counts);
      expectDiskMatches(b, `after case ${k}`);
    }
    expect(counts.statuses[BLK_S.IOERR]).toBeGreaterThan(15);
    expect(counts.statuses[BLK_S.UNSUPP]).toBeGreaterThan(5);
    expect(counts.bad).toBe(2);
  });

  seededTest('FLUSH, DISCARD and WRITE_ZEROES not negotiated: UNSUPP', (seed) => {
    const rng = new Rng(seed);
    const b = bootBlk(p, ports, seed, { features: 0n });
    let id = 0;
    const reqs = [
      ioRequest(BLK_T.FLUSH, 0n, none, 0, 'FLUSH'),
      dwzRequest(BLK_T.DISCARD, [{ sector: 1n, numSectors: 1, flags: 0 }], 'DISCARD'),
      dwzRequest(BLK_T.WRITE_ZEROES, [{ sector: 1n, numSectors: 1, flags: 0 }], 'WRITE_ZEROES'),
      ioRequest(BLK_T.IN, 1n, none, SECTOR_SIZE, 'IN'),
    ].map((r) => placeRandom(b, rng, id++, r));
    const counts = newCounts();
    runRequests(b, reqs, counts);
    expect(counts.statuses[BLK_S.UNSUPP]).toBe(3);
    expect(ALL_BLK_FEATURES).not.toBe(0n);
  });

  seededTest('read-ahead OUT data: headers that are not a valid OUT leave storage alone', (seed) => {
    // Chains framed as Linux frames a write (a 16-byte header descriptor, the data, the status byte alone): the
    // device reads the data together with the header into a staging buffer; only a valid OUT's data may reach
    // storage, and every other request's status is the golden model's. Framings it does not read ahead too.
    const rng = new Rng(seed);
    const b = bootBlk(p, ports, seed);
    seedDisk(b, rng.bytes(p.capacity * SECTOR_SIZE));
    const cap = BigInt(p.capacity);
    const stage = blkGeometry(blkTestDeviceParams(p)).stage;
    expect(stage).toBeGreaterThan(0);
    let id = 200;
    const linux = (r: RequestBytes, data = [r.readable.length - 16], hdr = [16]): PlacedRequest =>
      place(b, rng, id++, 0, [...hdr, ...data], r.readable, [r.writable], r.what, rng.chance(0.5));
    const seg = (sector: bigint, numSectors: number, flags = 0): DwzSegment => ({ sector, numSectors, flags });
    const data = (n: number) => rng.bytes(n);
    const cases: PlacedRequest[] = [
      linux(ioRequest(BLK_T.OUT, 5n, data(SECTOR_SIZE), 0, 'OUT of a sector')),
      linux(ioRequest(BLK_T.OUT, 40n, data(stage), 0, 'OUT of a whole staging buffer')),
      linux(ioRequest(BLK_T.OUT, 80n, data(stage + SECTOR_SIZE), 0, 'OUT longer than a staging buffer')),
      linux(ioRequest(BLK_T.OUT, 100n, data(2048), 0, 'OUT in two data descriptors'), [1024, 1024]),
      linux(ioRequest(BLK_T.OUT, 110n, data(1024), 0, 'OUT with its header in two descriptors'), [1024], [9, 7]),
      linux(ioRequest(BLK_T.OUT, 120n, data(1024), 0, 'OUT with header and data in one descriptor'), [], [1040]),
      linux(ioRequest(BLK_T.OUT, cap - 1n, data(2 * SECTOR_SIZE), 0, 'OUT across the end')),
      linux(ioRequest(BLK_T.OUT, cap, data(SECTOR_SIZE), 0, 'OUT at the capacity')),
      linux(ioRequest(BLK_T.OUT, (1n << 64n) - 1n, data(SECTOR_SIZE), 0, 'OUT at sector 2^64-1')),
      linux(ioRequest(BLK_T.OUT, 7n, data(700), 0, 'OUT of 700 bytes')),
      linux(ioRequest(BLK_T.IN, 9n, data(SECTOR_SIZE), 0, 'IN with readable data and no room')),
      linux(ioRequest(BLK_T.FLUSH, 9n, data(SECTOR_SIZE), 0, 'FLUSH with readable data')),
      linux(ioRequest(7, 9n, data(SECTOR_SIZE), 0, 'unknown type 7 with readable data')),
      linux(ioRequest(BLK_T.GET_ID, 0n, data(SECTOR_SIZE), 0, 'GET_ID with readable data')),
      linux(dwzRequest(BLK_T.DISCARD, [seg(30n, 2), seg(60n, 1)], 'DISCARD of 2 segments')),
      linux(dwzRequest(BLK_T.WRITE_ZEROES, [seg(50n, 3), seg(cap - 1n, 2)], 'WRITE_ZEROES, second segment out')),
      linux(dwzRequest(BLK_T.WRITE_ZEROES, [seg(70n, 4)], 'WRITE_ZEROES of 4 sectors')),
      linux(ioRequest(BLK_T.OUT, 130n, data(SECTOR_SIZE), 0, 'OUT after them')),
    ];
    const counts = newCounts();
    for (let k = 0; k < cases.length; k += 6) {
      runRequests(b, cases.slice(k, k + 6), counts);
      expectDiskMatches(b, `after case ${k}`);
    }
    expect(counts.statuses[BLK_S.OK]).toBeGreaterThan(7);
    expect(counts.statuses[BLK_S.IOERR]).toBeGreaterThan(5);

    // Read ahead, a lone OUT takes one host round trip and its bytes, not two round trips (header, then data).
    const lone = bootBlk(p, ports, seed, { rc: BENCH_RC });
    const r = ioRequest(BLK_T.OUT, 3n, data(SECTOR_SIZE), 0, 'lone OUT');
    const t = runRequests(lone, [place(lone, rng, 1, 0, [16, SECTOR_SIZE], r.readable, [1], r.what, true)]);
    expectDiskMatches(lone, 'lone OUT');
    const took = t.done[0] - t.start;
    console.log(`lone OUT of a sector at ${BENCH_LATENCY} cycles host latency, ${W} bits: ${took} cycles`);
    expect(took, 'a lone OUT of a sector at 1 us').toBeLessThan(2 * BENCH_LATENCY);
  });

  seededTest('many requests in flight at 1 us host latency match the golden model', (seed) => {
    const rng = new Rng(seed);
    const b = bootBlk(p, ports, seed, { rc: BENCH_RC });
    seedDisk(b, rng.bytes(p.capacity * SECTOR_SIZE));
    const n = 40;
    const reqs = Array.from({ length: n }, (_, id) => {
      // Each request its own sectors: requests in flight at once may take effect in any order where they
      // overlap (a driver waits for a write's completion before it issues one that must follow it).
      const sectors = rng.pick([1, 1, 2, 8]);
      const stride = Math.floor(p.capacity / n);
      const sector = BigInt(id * stride + rng.int(0, stride - sectors));
      const bytes = sectors * SECTOR_SIZE;
      const out = rng.chance(0.5);
      const r = out
        ? ioRequest(BLK_T.OUT, sector, rng.bytes(bytes), 0, `OUT ${sectors} at ${sector}`)
        : ioRequest(BLK_T.IN, sector, none, bytes, `IN ${sectors} at ${sector}`);
      // Half framed as Linux does (header, data, status in their own page-aligned descriptors), half at random.
      if (rng.chance(0.5)) return placeRandom(b, rng, id, r, 2);
      return place(b, rng, id, 0, out ? [16, bytes] : [16], r.readable, out ? [1] : [bytes, 1], r.what, true);
    });
    const t = runRequests(b, reqs);
    expectDiskMatches(b, 'many in flight');
    // One request at a time would take at least its host round trips (a header read; an OUT's data read too)
    // and its bytes at the datapath's width each: overlapped, they take well under that.
    const lw = BENCH_LATENCY + 10;
    const serial = reqs.reduce(
      (a, r) => a + (r.chain.readable > 16 ? 2 * lw : lw) + Math.max(r.chain.readable, r.chain.writable) / (W / 8),
      0,
    );
    const slots = blkGeometry(blkTestDeviceParams(p)).slots;
    expect(t.done[n - 1] - t.start, `${n} requests with ${slots} slots, one at a time >= ${serial}`).toBeLessThan(
      serial / 1.5,
    );
  });
});

describe('virtio-blk device, read-only build with 5 request slots, 64-bit stream', () => {
  // A slot count that is not a power of two: the slot rings wrap at 5.
  const p: BlkTestTopParams = blkTopParams(64, { readOnly: true, slots: 5 });
  let ports = '';
  beforeAll(() => {
    ports = blkPorts(p);
    buildBlkSim(ports);
  }, 900_000);

  seededTest('writes, discards and zeroing are refused with IOERR; reads and flushes work', (seed) => {
    const rng = new Rng(seed);
    const b = bootBlk(p, ports, seed);
    seedDisk(b, rng.bytes(p.capacity * SECTOR_SIZE));
    let id = 0;
    const counts = newCounts();
    for (let batch = 0; batch < 3; batch++) {
      const reqs = Array.from({ length: 12 }, () => placeRandom(b, rng, id++, randomRequest(b, rng)));
      runRequests(b, reqs, counts);
      expectDiskMatches(b, 'read-only');
    }
    expect(counts.statuses[BLK_S.IOERR]).toBeGreaterThan(0);
  });
});
