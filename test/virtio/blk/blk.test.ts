// virtio-blk: the Linux-shaped driver against the golden device on a sparse disk. Directed cases for every
// request type and status, the capacity bounds and read-only mode; malformed requests built by hand on the ring;
// then seeded random workloads over several queues in both ring formats, checked against a shadow disk.
import { describe, expect, test } from 'vitest';
import { Rng } from '../../../sim/random';
import { BLK_S, BLK_T, blkHeader, dwzBytes, SECTOR_SIZE } from '../../../tb/virtio/blk/defs';
import { SparseDisk } from '../../../tb/virtio/blk/disk';
import type { BlkRequest } from '../../../tb/virtio/blk/driver';
import type { Sg } from '../../../tb/virtio/ring/defs';
import { seededTest } from '../../support/seeds';
import { blkBench } from './bench';

const GiB = 1 << 30;
const limits = { maxSectors: 1 << 16, maxSeg: 4 };
const full = { capacity: GiB / SECTOR_SIZE, flush: true, discard: limits, writeZeroes: limits, id: 'vfpga-blk-0001' };

/** Cuts a region into segments of the given lengths. */
function cut(addr: bigint, lens: number[]): Sg[] {
  let a = addr;
  return lens.map((len) => {
    const s = { addr: a, len };
    a += BigInt(len);
    return s;
  });
}

function one(b: ReturnType<typeof blkBench>): BlkRequest {
  const done = b.run();
  expect(done.length).toBe(1);
  return done[0];
}

describe('sparse disk', () => {
  test('1 GiB costs only the pages written; zeroing whole pages frees them', () => {
    const d = new SparseDisk(GiB);
    d.write(GiB - 3, Uint8Array.of(1, 2, 3));
    d.write(4095, Uint8Array.of(9, 9));
    expect(d.allocatedPages).toBe(3);
    expect([...d.read(GiB - 4, 4)]).toEqual([0, 1, 2, 3]);
    d.zero(0, 8192);
    expect(d.allocatedPages).toBe(1);
    expect([...d.read(4094, 4)]).toEqual([0, 0, 0, 0]);
    expect(() => d.read(GiB - 1, 2)).toThrow(/read of 2 bytes at 1073741823 outside the disk's 1073741824 bytes/);
  });
});

describe('virtio-blk requests', () => {
  for (const packed of [false, true])
    test(`write then read back at the end of a 1 GiB disk, odd segments (${packed ? 'packed' : 'split'})`, () => {
      const b = blkBench({ features: { packed, indirect: true }, config: full });
      const sector = BigInt(GiB / SECTOR_SIZE - 16);
      const data = new Rng(7).bytes(16 * SECTOR_SIZE);
      const w = b.buf(data.length, false, data);
      const wr = b.driver.submit({ type: 'write', sector, bufs: cut(w.addr, [1, 4095, 3000, data.length - 7096]) });
      expect(one(b)).toBe(wr);
      expect(wr).toMatchObject({ status: BLK_S.OK, result: 'ok', len: 1 });
      expect(Buffer.from(b.blk.disk.read(GiB - 16 * SECTOR_SIZE, data.length)).equals(Buffer.from(data))).toBe(true);
      expect(b.blk.disk.allocatedPages).toBe(2);
      const r = b.buf(data.length, true);
      const rd = b.driver.submit({ type: 'read', sector, bufs: cut(r.addr, [511, 513, 6144, 1, data.length - 7169]) });
      expect(one(b)).toBe(rd);
      expect(rd).toMatchObject({ result: 'ok', len: data.length + 1 });
      expect(Buffer.from(b.mem.read(r.addr, data.length)).equals(Buffer.from(data))).toBe(true);
      expect(b.inv.counts.lengthsChecked).toBe(2);
      b.inv.assertDrained();
    });

  test('what a test writes into the disk, the driver reads', () => {
    const b = blkBench({ config: full });
    b.blk.disk.write(12345 * SECTOR_SIZE, new TextEncoder().encode('hello, disk'));
    const r = b.buf(SECTOR_SIZE, true);
    b.driver.submit({ type: 'read', sector: 12345n, bufs: [{ addr: r.addr, len: SECTOR_SIZE }] });
    expect(one(b).result).toBe('ok');
    expect(new TextDecoder().decode(b.mem.read(r.addr, 11))).toBe('hello, disk');
  });

  test('capacity bounds: a read or write past the end is IOERR, writes nothing, stores nothing', () => {
    const b = blkBench({ config: { capacity: 100 } });
    const r = b.buf(2 * SECTOR_SIZE, true);
    b.driver.submit({ type: 'read', sector: 99n, bufs: [{ addr: r.addr, len: 2 * SECTOR_SIZE }] });
    // Used length 1: only the status byte (the invariant checker saw exactly one byte written).
    expect(one(b)).toMatchObject({ result: 'ioerr', len: 1 });
    const w = b.buf(SECTOR_SIZE, false, new Uint8Array(SECTOR_SIZE).fill(0xaa));
    for (const sector of [100n, 2n ** 64n - 1n]) {
      b.driver.submit({ type: 'write', sector, bufs: [{ addr: w.addr, len: SECTOR_SIZE }] });
      expect(one(b).result).toBe('ioerr');
    }
    b.driver.submit({ type: 'write', sector: 99n, bufs: [{ addr: w.addr, len: SECTOR_SIZE }] });
    expect(one(b).result).toBe('ok');
    expect(b.blk.disk.allocatedPages).toBe(1);
    b.driver.submit({ type: 'write', sector: 0n, bufs: [{ addr: w.addr, len: 100 }] });
    expect(one(b).result).toBe('ioerr'); // not whole sectors
  });

  test('read-only: reads work; writes, discards and write-zeroes are IOERR and leave the disk alone', () => {
    const b = blkBench({ config: { ...full, readOnly: true } });
    b.blk.disk.write(0, Uint8Array.of(0x5a));
    const w = b.buf(SECTOR_SIZE, false, new Uint8Array(SECTOR_SIZE).fill(1));
    b.driver.submit({ type: 'write', sector: 0n, bufs: [{ addr: w.addr, len: SECTOR_SIZE }] });
    b.driver.submit({ type: 'discard', ranges: [{ sector: 0n, numSectors: 8 }] });
    b.driver.submit({ type: 'write-zeroes', ranges: [{ sector: 0n, numSectors: 8 }] });
    expect(b.run().map((r) => r.result)).toEqual(['ioerr', 'ioerr', 'ioerr']);
    expect(b.blk.disk.read(0, 1)[0]).toBe(0x5a);
    const r = b.buf(SECTOR_SIZE, true);
    b.driver.submit({ type: 'read', sector: 0n, bufs: [{ addr: r.addr, len: SECTOR_SIZE }] });
    expect(one(b).result).toBe('ok');
    expect(b.mem.readU8(r.addr)).toBe(0x5a);
  });

  test('FLUSH: OK when negotiated, UNSUPP when not', () => {
    const b = blkBench({ config: full });
    b.driver.submit({ type: 'flush' });
    expect(one(b)).toMatchObject({ result: 'ok', len: 1 });
    const c = blkBench({ config: { capacity: 8 } });
    c.driver.submit({ type: 'flush' });
    expect(one(c)).toMatchObject({ status: BLK_S.UNSUPP, result: 'notsupp' });
  });

  test('GET_ID: the identification string, NUL-padded to 20 bytes', () => {
    const b = blkBench({ config: full });
    const r = b.buf(20, true);
    b.driver.submit({ type: 'get-id', buf: { addr: r.addr, len: 20 } });
    expect(one(b)).toMatchObject({ result: 'ok', len: 21 });
    const id = b.mem.read(r.addr, 20);
    expect(new TextDecoder().decode(id.subarray(0, 14))).toBe('vfpga-blk-0001');
    expect([...id.subarray(14)]).toEqual([0, 0, 0, 0, 0, 0]);
  });

  test('DISCARD and WRITE_ZEROES: zeroes; the UNSUPP and IOERR cases the spec and the limits give', () => {
    const b = blkBench({ config: full });
    b.blk.disk.write(0, new Uint8Array(64 * SECTOR_SIZE).fill(7));
    b.driver.submit({ type: 'write-zeroes', ranges: [{ sector: 0n, numSectors: 8, unmap: true }] });
    b.driver.submit({
      type: 'discard',
      ranges: [
        { sector: 16n, numSectors: 8 },
        { sector: 32n, numSectors: 1 },
      ],
    });
    expect(b.run().map((r) => r.result)).toEqual(['ok', 'ok']);
    expect(b.blk.disk.read(0, 8 * SECTOR_SIZE).every((x) => x === 0)).toBe(true);
    expect(b.blk.disk.read(8 * SECTOR_SIZE, 1)[0]).toBe(7);
    expect(b.blk.disk.read(32 * SECTOR_SIZE, SECTOR_SIZE).every((x) => x === 0)).toBe(true);
    const cases: [Parameters<typeof b.driver.submit>[0], string][] = [
      [{ type: 'discard', ranges: [{ sector: 0n, numSectors: 1, unmap: true }] }, 'notsupp'],
      [
        { type: 'discard', ranges: Array.from({ length: 5 }, (_, k) => ({ sector: BigInt(k), numSectors: 1 })) },
        'notsupp',
      ],
      [{ type: 'write-zeroes', ranges: [{ sector: 0n, numSectors: limits.maxSectors + 1 }] }, 'ioerr'],
      [{ type: 'write-zeroes', ranges: [{ sector: BigInt(full.capacity - 1), numSectors: 2 }] }, 'ioerr'],
    ];
    for (const [op, want] of cases) {
      b.driver.submit(op);
      expect(
        one(b).result,
        JSON.stringify(op, (_, v) => (typeof v === 'bigint' ? String(v) : v)),
      ).toBe(want);
    }
    // Unknown flags: only a hand-made segment can carry them.
    const hdr = b.buf(16, false, blkHeader(BLK_T.WRITE_ZEROES, 0n));
    const seg = b.buf(16, false, dwzBytes([{ sector: 0n, numSectors: 1, flags: 0x4 }]));
    expect(raw(b, [hdr.addr, 16], [seg.addr, 16])).toBe(BLK_S.UNSUPP);
    const none = blkBench({ config: { capacity: 64 } });
    none.driver.submit({ type: 'discard', ranges: [{ sector: 0n, numSectors: 1 }] });
    none.driver.submit({ type: 'write-zeroes', ranges: [{ sector: 0n, numSectors: 1 }] });
    expect(none.run().map((r) => r.result)).toEqual(['notsupp', 'notsupp']);
  });
});

/** A hand-made request: out segments, then a status byte (unless `noStatus`); returns the status byte. */
function raw(b: ReturnType<typeof blkBench>, ...out: [bigint, number][]): number {
  const st = b.buf(1, true);
  const req = { op: { type: 'flush' }, queue: 0, regions: [], statusAddr: st.addr } as BlkRequest;
  const outSgs = out.map(([addr, len]) => ({ addr, len }));
  expect(b.driver.vqs[0].add(outSgs, [{ addr: st.addr, len: 1 }], req)).toBe('ok');
  b.driver.kick();
  expect(one(b)).toBe(req);
  return req.status!;
}

describe('virtio-blk: malformed requests', () => {
  test('an unknown type is UNSUPP; a short header and data in the wrong direction are IOERR', () => {
    const b = blkBench({ config: full });
    const hdr = (t: number) => b.buf(16, false, blkHeader(t, 0n)).addr;
    expect(raw(b, [hdr(2), 16])).toBe(BLK_S.UNSUPP);
    expect(raw(b, [hdr(0x7fff), 16])).toBe(BLK_S.UNSUPP);
    expect(raw(b, [hdr(BLK_T.IN), 8])).toBe(BLK_S.IOERR);
    // A read whose data the driver made device-readable.
    expect(raw(b, [hdr(BLK_T.IN), 16], [b.buf(SECTOR_SIZE, false).addr, SECTOR_SIZE])).toBe(BLK_S.IOERR);
    // A write whose data is device-writable (before the status byte).
    const st = b.buf(SECTOR_SIZE + 1, true);
    const req = {
      op: { type: 'flush' },
      queue: 0,
      regions: [],
      statusAddr: st.addr + BigInt(SECTOR_SIZE),
    } as BlkRequest;
    b.driver.vqs[0].add([{ addr: hdr(BLK_T.OUT), len: 16 }], cut(st.addr, [SECTOR_SIZE, 1]), req);
    b.driver.kick();
    expect(one(b).status).toBe(BLK_S.IOERR);
    expect(b.blk.disk.allocatedPages).toBe(0);
  });

  test('a request without a status byte cannot complete: the queue stops, nothing is written', () => {
    const b = blkBench({ config: full });
    const req = { op: { type: 'flush' }, queue: 0, regions: [], statusAddr: 0n } as BlkRequest;
    b.driver.vqs[0].add([{ addr: b.buf(16, false, blkHeader(BLK_T.FLUSH, 0n)).addr, len: 16 }], [], req);
    b.driver.kick();
    expect(b.run()).toEqual([]);
    expect(b.stats.errors.map((e) => e.kind)).toEqual(['bad-request']);
    expect(b.devQs[0].failed?.message).toMatch(/without a device-writable byte/);
  });
});

describe('virtio-blk: random workloads against a shadow disk', () => {
  const combos = [
    { packed: false, indirect: false, eventIdx: false, inOrder: false },
    { packed: false, indirect: true, eventIdx: true, inOrder: false },
    { packed: true, indirect: false, eventIdx: true, inOrder: true },
    { packed: true, indirect: true, eventIdx: false, inOrder: false },
  ];
  for (const f of combos)
    seededTest(
      `${f.packed ? 'packed' : 'split'} indirect=${f.indirect} event_idx=${f.eventIdx} in_order=${f.inOrder}`,
      (seed) => {
        const rng = new Rng(seed);
        const capacity = 4096; // sectors: small, so requests collide with the end and with each other
        const b = blkBench({ features: f, queues: 3, num: f.packed ? 7 : 8, config: { ...full, capacity } });
        const shadow = new SparseDisk(capacity * SECTOR_SIZE);
        const pending = new Map<BlkRequest, () => void>();
        let done = 0;
        let checked = 0;
        for (let step = 0; step < 400; step++) {
          const q = rng.below(3);
          const sectors = rng.int(1, 24);
          const sector = BigInt(rng.int(0, capacity + 8 - sectors));
          const fits = sector + BigInt(sectors) <= BigInt(capacity);
          const bytes = sectors * SECTOR_SIZE;
          const lens = splitLen(rng, bytes);
          const kind = rng.pick(['read', 'write', 'write', 'flush', 'write-zeroes'] as const);
          let req: BlkRequest | 'ENOSPC' | 'EIO';
          if (kind === 'write') {
            const data = rng.bytes(bytes);
            const w = b.buf(bytes, false, data);
            req = b.driver.submit({ type: 'write', sector, bufs: cut(w.addr, lens) }, q, rng.chance(0.7));
            if (typeof req !== 'string')
              pending.set(req, () => {
                expect((req as BlkRequest).result).toBe(fits ? 'ok' : 'ioerr');
                if (fits) shadow.write(Number(sector) * SECTOR_SIZE, data);
                b.mem.unmap(w);
              });
          } else if (kind === 'read') {
            const r = b.buf(bytes, true);
            req = b.driver.submit({ type: 'read', sector, bufs: cut(r.addr, lens) }, q, rng.chance(0.7));
            if (typeof req !== 'string')
              pending.set(req, () => {
                expect((req as BlkRequest).result).toBe(fits ? 'ok' : 'ioerr');
                if (fits) {
                  const got = b.mem.read(r.addr, bytes);
                  const want = shadow.read(Number(sector) * SECTOR_SIZE, bytes);
                  expect(Buffer.from(got).equals(Buffer.from(want)), `read of ${sectors} at ${sector}`).toBe(true);
                  checked++;
                }
                b.mem.unmap(r);
              });
          } else if (kind === 'write-zeroes') {
            req = b.driver.submit({ type: kind, ranges: [{ sector, numSectors: sectors }] }, q);
            if (typeof req !== 'string')
              pending.set(req, () => {
                expect((req as BlkRequest).result).toBe(fits ? 'ok' : 'ioerr');
                if (fits) shadow.zero(Number(sector) * SECTOR_SIZE, bytes);
              });
          } else {
            req = b.driver.submit({ type: 'flush' }, q);
            if (typeof req !== 'string') pending.set(req, () => expect((req as BlkRequest).result).toBe('ok'));
          }
          if (req === 'ENOSPC') b.driver.kick(q);
          else expect(req).not.toBe('EIO');
          // Requests complete in the order the device serves them (the device serves a queue per kick, in order),
          // so the shadow is updated at completion: each request sees exactly the writes completed before it.
          if (rng.chance(0.5) || req === 'ENOSPC') {
            for (const r of b.run()) {
              pending.get(r)!();
              pending.delete(r);
              done++;
            }
          }
        }
        for (let q = 0; q < 3; q++) b.driver.kick(q);
        for (const r of b.run()) {
          pending.get(r)!();
          pending.delete(r);
          done++;
        }
        expect(pending.size).toBe(0);
        expect(b.stats.errors).toEqual([]);
        expect(done).toBeGreaterThan(300);
        expect(checked).toBeGreaterThan(30);
        b.inv.assertDrained();
      },
    );
});

/** Random segment lengths adding up to `total`. */
function splitLen(rng: Rng, total: number): number[] {
  const n = rng.int(1, 4);
  const cuts = Array.from({ length: n - 1 }, () => rng.int(0, total)).sort((a, b) => a - b);
  const out: number[] = [];
  let prev = 0;
  for (const c of [...cuts, total]) {
    out.push(c - prev);
    prev = c;
  }
  return out;
}

describe('one request as the golden model sees it', () => {
  test('the DMA of a write on a split ring, in order, then the used element and the notification decision', () => {
    const b = blkBench({ config: full });
    const data = new Uint8Array(1024).fill(0x3c);
    const w = b.buf(data.length, false, data);
    const req = b.driver.submit({ type: 'write', sector: 8n, bufs: cut(w.addr, [1000, 24]) });
    const q = b.devQs[0];
    const { result, dma } = b.dma.capture(() => b.blk.processNext(q));
    expect(result).toMatchObject({ status: BLK_S.OK, len: 1, type: BLK_T.OUT, sector: 8n });
    expect(dma.map((a) => `${a.dir} ${a.purpose} ${a.len}`)).toEqual([
      'read avail-idx 2',
      'read avail-ring 2',
      'read desc 16', // header
      'read desc 16', // data, 1000
      'read desc 16', // data, 24
      'read desc 16', // status
      'read data 16', // the header
      'read data 1000',
      'read data 24',
      'write data 1', // the status byte
    ]);
    const pub = b.dma.capture(() => q.publish());
    expect(pub.result).toEqual({ used: [{ id: 0, len: 1, at: 0, buffers: 1 }], notify: true });
    expect(pub.dma.map((a) => `${a.dir} ${a.purpose} ${a.len}`)).toEqual([
      'write used-elem 8',
      'write used-idx 2',
      'read avail-flags 2',
    ]);
    expect(Buffer.from(b.blk.disk.read(8 * SECTOR_SIZE, 1024)).equals(Buffer.from(data))).toBe(true);
    b.driver.vqs[0].interrupt();
    expect(b.driver.takeCompleted()).toEqual([req]);
  });
});
