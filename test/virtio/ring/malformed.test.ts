// Directed malformed rings (the catalogue in tb/virtio/ring/malformed.ts): each case breaks one driver requirement
// of virtio 1.2, and the golden device must name it (RingError kind), write nothing, and stay stopped and
// responsive (the same error again, no hang).
// Then the driver side: a device that returns bad used elements breaks the driver's queue (BAD_RING).
import { describe, expect, test } from 'vitest';
import { HostMemory } from '../../../tb/pcie/hostmem';
import { allocRing, createVirtqueue } from '../../../tb/virtio/ring/create';
import {
  PACKED_AVAIL,
  PACKED_USED,
  SPLIT,
  VRING_DESC_F_NEXT as NEXT,
  VRING_DESC_F_WRITE as WRITE,
  type RingFeatures,
} from '../../../tb/virtio/ring/defs';
import { DeviceQueue, RingError, type RingErrorKind } from '../../../tb/virtio/ring/device';
import { HostDma } from '../../../tb/virtio/ring/dma';
import { caseFeatures, MALFORMED_CASES, RingCrafter, UNGRANTED } from '../../../tb/virtio/ring/malformed';

function bench(f: Partial<RingFeatures>, num = 8) {
  const features: RingFeatures = { packed: false, indirect: true, eventIdx: false, inOrder: false, ...f };
  const mem = new HostMemory();
  const c = new RingCrafter(mem, features, num);
  const dma = new HostDma(mem, true);
  return { c, dma, dev: new DeviceQueue({ ring: c.ring, features, dma }) };
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

describe('malformed available buffers (the catalogue of tb/virtio/ring/malformed.ts)', () => {
  test('the catalogue has every error kind a driver can cause in each format', () => {
    const kinds = (packed: boolean) =>
      new Set(MALFORMED_CASES.filter((m) => caseFeatures(m).packed === packed).map((m) => m.kind));
    expect([...kinds(false)].sort()).toEqual(
      [
        'avail-idx-jump',
        'chain-too-big',
        'chain-too-long',
        'dma-fault',
        'head-out-of-range',
        'in-order-violation',
        'indirect-bad-length',
        'indirect-in-indirect',
        'indirect-not-negotiated',
        'indirect-with-next',
        'next-out-of-range',
        'readable-after-writable',
      ].sort(),
    );
    expect([...kinds(true)].sort()).toEqual(
      [
        'desc-not-available',
        'dma-fault',
        'in-order-violation',
        'indirect-bad-length',
        'indirect-in-indirect',
        'indirect-not-negotiated',
        'indirect-with-next',
        'readable-after-writable',
      ].sort(),
    );
  });
  for (const m of MALFORMED_CASES)
    test(m.name, () => {
      const b = bench(caseFeatures(m), m.num);
      m.build(b.c);
      const e = expectFails(b, m.kind);
      if (m.message) expect(e.message).toMatch(m.message);
    });
  test('an indirect table longer than the queue is refused before it is read', () => {
    const m = MALFORMED_CASES.find((x) => x.name.includes('longer than the queue'))!;
    const b = bench(caseFeatures(m), m.num);
    m.build(b.c);
    expectFails(b, m.kind);
    expect(b.dma.trace.filter((a) => a.purpose === 'indirect')).toEqual([]);
  });
});

describe('split ring: edge cases that are not errors', () => {
  test('IN_ORDER: the last descriptor chains to 0, as the spec requires', () => {
    const b = bench({ inOrder: true }, 4);
    // Age the ring to head 3 with three one-descriptor buffers, then a chain 3 -> 0.
    for (let i = 0; i < 3; i++) b.c.desc(i, {});
    b.c.avail([0, 1, 2]);
    for (let i = 0; i < 3; i++) expect(b.dev.next()).not.toBeInstanceOf(RingError);
    b.c.desc(3, { flags: NEXT, next: 0 });
    b.c.desc(0, { flags: WRITE });
    b.c.avail([0, 1, 2, 3]);
    const c = b.dev.next();
    expect(c).not.toBeInstanceOf(RingError);
    expect(c && !(c instanceof RingError) && c.descs).toBe(2);
  });
  test('a data buffer outside granted memory: the data DMA fails and the queue stops', () => {
    const b = bench({});
    b.c.desc(0, { addr: UNGRANTED, len: 8 });
    b.c.avail([0]);
    const c = b.dev.next();
    if (!c || c instanceof RingError) throw new Error('expected a chain');
    expect(() => b.dev.readData(c, 0, 8)).toThrow(/dma-fault/);
    expect(b.dev.failed?.kind).toBe('dma-fault');
    expect(b.dev.next()).toBe(b.dev.failed);
  });
});

describe('packed ring: edge cases that are not errors', () => {
  test('a descriptor of the other lap is not available, and none is taken', () => {
    const b = bench({ packed: true });
    b.c.packed(0, {}, 0);
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
