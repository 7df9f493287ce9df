// Directed malformed rings: each case breaks one driver requirement of virtio 1.2, and the golden device must
// name it (RingError kind), write nothing, and stay stopped and responsive (the same error again, no hang).
// Then the driver side: a device that returns bad used elements breaks the driver's queue (BAD_RING).
import { describe, expect, test } from 'vitest';
import { HostMemory } from '../../../tb/pcie/hostmem';
import { allocRing, createVirtqueue } from '../../../tb/virtio/ring/create';
import {
  PACKED_AVAIL,
  PACKED_USED,
  SPLIT,
  VRING_DESC_F_INDIRECT as IND,
  VRING_DESC_F_NEXT as NEXT,
  VRING_DESC_F_WRITE as WRITE,
  type RingFeatures,
} from '../../../tb/virtio/ring/defs';
import { DeviceQueue, RingError, type RingErrorKind } from '../../../tb/virtio/ring/device';
import { HostDma } from '../../../tb/virtio/ring/dma';

interface RawDesc {
  addr?: bigint;
  len?: number;
  flags?: number;
  /** split: next; packed: buffer id. */
  next?: number;
}

function bench(f: Partial<RingFeatures>, num = 8) {
  const features: RingFeatures = { packed: false, indirect: true, eventIdx: false, inOrder: false, ...f };
  const mem = new HostMemory();
  const ring = allocRing(mem, num, features.packed);
  const dma = new HostDma(mem, true);
  const dev = new DeviceQueue({ ring, features, dma });
  const buf = mem.alloc(4096, { perm: 'rw', name: 'buffers' });
  const bytes = (d: RawDesc, packed: boolean) => {
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, d.addr ?? buf.addr, true);
    v.setUint32(8, d.len ?? 16, true);
    v.setUint16(packed ? 14 : 12, d.flags ?? 0, true);
    v.setUint16(packed ? 12 : 14, d.next ?? 0, true);
    return b;
  };
  return {
    mem,
    ring,
    dma,
    dev,
    buf,
    /** A split descriptor table entry. */
    desc(i: number, d: RawDesc) {
      mem.write(ring.desc + BigInt(16 * i), bytes(d, false));
    },
    /** Split: heads into the available ring and avail->idx. */
    avail(heads: number[], idx = heads.length) {
      heads.forEach((h, k) => mem.writeU16(ring.driver + BigInt(SPLIT.availRing(k % num)), h));
      mem.writeU16(ring.driver + BigInt(SPLIT.availIdx), idx);
    },
    /** A packed descriptor made available for wrap counter `wrap` (flags get the avail/used bits). */
    packed(i: number, d: RawDesc, wrap = 1) {
      const flags = (d.flags ?? 0) | (wrap ? PACKED_AVAIL : PACKED_USED);
      mem.write(ring.desc + BigInt(16 * i), bytes({ ...d, flags }, true));
    },
    /** An indirect table in device-readable memory. */
    table(descs: RawDesc[], packed = features.packed) {
      const r = mem.alloc(16 * Math.max(1, descs.length), { perm: 'ro', name: 'table' });
      descs.forEach((d, k) => r.write(16 * k, bytes(d, packed)));
      return r.addr;
    },
  };
}

type Bench = ReturnType<typeof bench>;

function expectFails(b: Bench, kind: RingErrorKind): RingError {
  const r = b.dev.next();
  expect(r, `expected ${kind}`).toBeInstanceOf(RingError);
  const e = r as RingError;
  expect(e.kind, e.message).toBe(kind);
  // Nothing written, and the queue stays stopped without hanging: the same error again, nothing available.
  expect(b.dma.trace.filter((a) => a.dir === 'write')).toEqual([]);
  expect(b.dev.next()).toBe(e);
  expect(b.dev.hasAvailable()).toBe(false);
  expect(b.dev.failed).toBe(e);
  return e;
}

describe('split ring: malformed available buffers', () => {
  test('avail idx more than the queue size ahead', () => {
    const b = bench({}, 4);
    b.desc(0, {});
    b.avail([0], 5);
    expect(expectFails(b, 'avail-idx-jump').message).toMatch(/5 buffers past 0 in a queue of 4/);
  });
  test('head outside the descriptor table', () => {
    const b = bench({});
    b.avail([8]);
    expectFails(b, 'head-out-of-range');
  });
  test('next outside the descriptor table', () => {
    const b = bench({});
    b.desc(0, { flags: NEXT, next: 9 });
    b.avail([0]);
    expectFails(b, 'next-out-of-range');
  });
  test('a descriptor that chains to itself', () => {
    const b = bench({});
    b.desc(3, { flags: NEXT, next: 3 });
    b.avail([3]);
    expect(expectFails(b, 'chain-too-long').message).toMatch(/more than 8 descriptors/);
  });
  test('a loop through several descriptors', () => {
    const b = bench({});
    b.desc(0, { flags: NEXT, next: 1 });
    b.desc(1, { flags: NEXT, next: 2 });
    b.desc(2, { flags: NEXT, next: 0 });
    b.avail([0]);
    expectFails(b, 'chain-too-long');
  });
  test('INDIRECT without VIRTIO_F_INDIRECT_DESC', () => {
    const b = bench({ indirect: false });
    b.desc(0, { flags: IND, addr: b.table([{}]), len: 16 });
    b.avail([0]);
    expectFails(b, 'indirect-not-negotiated');
  });
  test('INDIRECT together with NEXT', () => {
    const b = bench({});
    b.desc(0, { flags: IND | NEXT, addr: b.table([{}]), len: 16, next: 1 });
    b.avail([0]);
    expectFails(b, 'indirect-with-next');
  });
  test('an indirect table of 0 bytes, and of 24', () => {
    for (const len of [0, 24]) {
      const b = bench({});
      b.desc(0, { flags: IND, addr: b.table([{}, {}]), len });
      b.avail([0]);
      expectFails(b, 'indirect-bad-length');
    }
  });
  test('an indirect table longer than the queue is refused before it is read', () => {
    const b = bench({}, 4);
    b.desc(0, { flags: IND, addr: b.table([{}]), len: 0xffff_fff0 });
    b.avail([0]);
    expect(expectFails(b, 'chain-too-long').message).toMatch(/indirect table of 268435455 entries in a queue of 4/);
    expect(b.dma.trace.filter((a) => a.purpose === 'indirect')).toEqual([]);
  });
  test('INDIRECT inside an indirect table', () => {
    const b = bench({});
    const inner = b.table([{}]);
    b.desc(0, {
      flags: IND,
      addr: b.table([
        { flags: NEXT, next: 1 },
        { flags: IND, addr: inner, len: 16 },
      ]),
      len: 32,
    });
    b.avail([0]);
    expectFails(b, 'indirect-in-indirect');
  });
  test('a loop inside an indirect table', () => {
    const b = bench({});
    b.desc(0, {
      flags: IND,
      addr: b.table([
        { flags: NEXT, next: 1 },
        { flags: NEXT, next: 0 },
      ]),
      len: 32,
    });
    b.avail([0]);
    expectFails(b, 'chain-too-long');
  });
  test('an indirect next outside the table', () => {
    const b = bench({});
    b.desc(0, { flags: IND, addr: b.table([{ flags: NEXT, next: 2 }, {}]), len: 32 });
    b.avail([0]);
    expectFails(b, 'next-out-of-range');
  });
  test('a device-readable descriptor after a device-writable one (direct and indirect)', () => {
    const b = bench({});
    b.desc(0, { flags: NEXT | WRITE, next: 1 });
    b.desc(1, {});
    b.avail([0]);
    expectFails(b, 'readable-after-writable');
    const c = bench({});
    c.desc(0, { flags: IND, addr: c.table([{ flags: NEXT | WRITE, next: 1 }, {}]), len: 32 });
    c.avail([0]);
    expectFails(c, 'readable-after-writable');
  });
  test('a chain of more than 2^32 bytes', () => {
    const b = bench({});
    b.desc(0, { flags: NEXT, next: 1, len: 0xffff_ffff });
    b.desc(1, { len: 2 });
    b.avail([0]);
    expectFails(b, 'chain-too-big');
  });
  test('IN_ORDER: a head out of ring order, a next not x + 1, indirect entries out of order', () => {
    const b = bench({ inOrder: true });
    b.desc(1, {});
    b.avail([1]);
    expectFails(b, 'in-order-violation');
    const c = bench({ inOrder: true });
    c.desc(0, { flags: NEXT, next: 2 });
    c.desc(2, {});
    c.avail([0]);
    expectFails(c, 'in-order-violation');
    const d = bench({ inOrder: true });
    d.desc(0, { flags: IND, addr: d.table([{ flags: NEXT, next: 2 }, {}, {}]), len: 48 });
    d.avail([0]);
    expectFails(d, 'in-order-violation');
  });
  test('IN_ORDER: the last descriptor chains to 0, as the spec requires', () => {
    const b = bench({ inOrder: true }, 4);
    // Age the ring to head 3 with three one-descriptor buffers, then a chain 3 -> 0.
    for (let i = 0; i < 3; i++) b.desc(i, {});
    b.avail([0, 1, 2]);
    for (let i = 0; i < 3; i++) expect(b.dev.next()).not.toBeInstanceOf(RingError);
    b.desc(3, { flags: NEXT, next: 0 });
    b.desc(0, { flags: WRITE });
    b.avail([0, 1, 2, 3]);
    const c = b.dev.next();
    expect(c).not.toBeInstanceOf(RingError);
    expect(c && !(c instanceof RingError) && c.descs).toBe(2);
  });
  test('a descriptor table outside granted memory: a DMA fault, nothing written', () => {
    const b = bench({});
    b.desc(0, { flags: IND, addr: 0x7_0000_0000n, len: 32 });
    b.avail([0]);
    expect(expectFails(b, 'dma-fault').message).toMatch(/indirect of queue 0/);
  });
  test('a data buffer outside granted memory: the data DMA fails and the queue stops', () => {
    const b = bench({});
    b.desc(0, { addr: 0x7_0000_0000n, len: 8 });
    b.avail([0]);
    const c = b.dev.next();
    if (!c || c instanceof RingError) throw new Error('expected a chain');
    expect(() => b.dev.readData(c, 0, 8)).toThrow(/dma-fault/);
    expect(b.dev.failed?.kind).toBe('dma-fault');
    expect(b.dev.next()).toBe(b.dev.failed);
  });
});

describe('packed ring: malformed available buffers', () => {
  test('a chain whose second descriptor is not available', () => {
    const b = bench({ packed: true });
    b.packed(0, { flags: NEXT });
    expectFails(b, 'desc-not-available');
  });
  test('a chain as long as the ring runs into its own head', () => {
    const b = bench({ packed: true }, 4);
    for (let i = 0; i < 4; i++) b.packed(i, { flags: NEXT });
    expectFails(b, 'desc-not-available');
  });
  test('INDIRECT without the feature, with NEXT, with a bad length, inside a table', () => {
    const cases: [Partial<RingFeatures>, (b: Bench) => void, RingErrorKind][] = [
      [
        { indirect: false },
        (b) => b.packed(0, { flags: IND, addr: b.table([{}]), len: 16 }),
        'indirect-not-negotiated',
      ],
      [{}, (b) => b.packed(0, { flags: IND | NEXT, addr: b.table([{}]), len: 16 }), 'indirect-with-next'],
      [{}, (b) => b.packed(0, { flags: IND, addr: b.table([{}]), len: 8 }), 'indirect-bad-length'],
      [
        {},
        (b) => b.packed(0, { flags: IND, addr: b.table([{}, { flags: IND, addr: b.table([{}]), len: 16 }]), len: 32 }),
        'indirect-in-indirect',
      ],
      [
        {},
        (b) => b.packed(0, { flags: IND, addr: b.table([{ flags: WRITE }, {}]), len: 32 }),
        'readable-after-writable',
      ],
    ];
    for (const [f, make, kind] of cases) {
      const b = bench({ packed: true, ...f });
      make(b);
      expectFails(b, kind);
    }
  });
  test('IN_ORDER: a buffer id that is not the head position', () => {
    const b = bench({ packed: true, inOrder: true });
    b.packed(0, { next: 5 });
    expectFails(b, 'in-order-violation');
  });
  test('a descriptor of the other lap is not available, and none is taken', () => {
    const b = bench({ packed: true });
    b.packed(0, {}, 0);
    expect(b.dev.next()).toBeNull();
    expect(b.dev.failed).toBeUndefined();
  });
});

describe('driver side: bad used elements break the queue (BAD_RING)', () => {
  for (const packed of [false, true])
    test(`${packed ? 'packed' : 'split'}: an id out of range, then an id that is not a head`, () => {
      for (const [id, msg] of [
        [8, /id 8 out of range/],
        [3, /id 3 is not a head/],
      ] as const) {
        const mem = new HostMemory();
        const ring = allocRing(mem, 8, packed);
        const features = { packed, indirect: false, eventIdx: false, inOrder: false };
        const vq = createVirtqueue<string>({ mem, ring, features, notify: () => true, callback: () => undefined });
        const buf = mem.alloc(64);
        expect(vq.add([{ addr: buf.addr, len: 4 }], [], 'a')).toBe('ok');
        if (packed) {
          mem.writeU16(ring.desc + 12n, id);
          mem.writeU16(ring.desc + 14n, PACKED_AVAIL | PACKED_USED);
        } else {
          mem.writeU32(ring.device + BigInt(SPLIT.usedRing(0)), id);
          mem.writeU16(ring.device + BigInt(SPLIT.usedIdx), 1);
        }
        expect(vq.getBuf()).toBeNull();
        expect(vq.broken).toBe(true);
        expect(vq.brokenReason).toMatch(msg);
        // Broken stays broken: no more buffers, adds fail with EIO, kicks do nothing.
        expect(vq.add([{ addr: buf.addr, len: 4 }], [], 'b')).toBe('EIO');
        expect(vq.kick()).toBe(false);
      }
    });
});
