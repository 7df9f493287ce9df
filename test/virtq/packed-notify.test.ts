// Used buffer notifications of the packed-ring engine, directed: the driver event structure written by the test
// (ENABLE, DISABLE, DESC with off_wrap in this lap or the last, DESC without EVENT_IDX), one chain completed at a
// time, and the interrupts counted exactly; each interrupt comes after the flags write that publishes its element.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { PACKED, PACKED_AVAIL } from '../../tb/virtio/ring/defs';
import { allocRing } from '../../tb/virtio/ring/create';
import { decodeTlp, memReqByteRange, type MemWriteTlp } from '../../tb/pcie/tlp';
import { bootPacked, buildPackedSim, closePackedBenches, packedFeatures, packedPorts } from './packed-support';

afterEach(closePackedBenches);

const W = 64;
let ports = '';
beforeAll(() => {
  ports = packedPorts(W, 2);
  buildPackedSim(ports);
}, 600_000);

const ENABLE = 0;
const DISABLE = 1;
const DESC = 2;

/**
 * Queue 0 of size `num` with `count` one-descriptor chains (ids = positions) made available, the driver event
 * structure set to (offWrap, flags); completes them one at a time and returns the interrupts after each.
 */
function run(o: { num: number; count: number; eventIdx: boolean; offWrap: number; flags: number }): number[] {
  const b = bootPacked(W, 2, ports, 1);
  const mem = b.mem;
  const ring = allocRing(mem, o.num, true, 0);
  const buf = mem.alloc(4096, { perm: 'rw', name: 'buffers' });
  for (let i = 0; i < o.count; i++) {
    mem.writeU64(ring.desc + BigInt(16 * i + PACKED.addr), buf.addr + BigInt(16 * i));
    mem.writeU32(ring.desc + BigInt(16 * i + PACKED.len), 16);
    mem.writeU16(ring.desc + BigInt(16 * i + PACKED.id), i);
    mem.writeU16(ring.desc + BigInt(16 * i + PACKED.flags), PACKED_AVAIL);
  }
  mem.writeU16(ring.driver, o.offWrap);
  mem.writeU16(ring.driver + 2n, o.flags);
  b.setFeatures(packedFeatures({ eventIdx: o.eventIdx }));
  b.setQueue(0, ring);
  b.driverOk(true);
  b.notify(0);
  b.run(3000);
  const chains = b.takeChains();
  expect(chains.map((c) => c.id)).toEqual(Array.from({ length: o.count }, (_, i) => i));
  const irqs: number[] = [];
  for (const c of chains) {
    const before = b.irq[0].count;
    const n = b.tap.fromDevice.length;
    b.done({ queue: 0, id: c.id, slots: 1, len: 0 });
    const flagsAt = ring.desc + BigInt(16 * c.id + PACKED.flags);
    // Stop at the interrupt, if one comes: the flags write must have left before it.
    b.rc.waitFor('the element published', () => b.tap.fromDevice.length > n + 1 || b.irq[0].count > before);
    for (let k = 0; k < 20 && b.irq[0].count === before; k++)
      b.rc.step({ until: b.irq[0].reaches(before + 1), maxCycles: 200 });
    const writes = b.tap.fromDevice
      .slice(n)
      .map((t) => decodeTlp(t))
      .filter((t) => t.type === 'MWr') as MemWriteTlp[];
    expect(
      writes.map((w) => memReqByteRange(w).addr),
      `element ${c.id} written before any interrupt`,
    ).toContain(flagsAt);
    irqs.push(b.irq[0].count - before);
  }
  expect(b.fatal.count).toBe(0);
  return irqs;
}

describe('packed-ring engine, used buffer notifications, 64-bit stream', () => {
  test('ENABLE: an interrupt for every used element', () => {
    expect(run({ num: 6, count: 4, eventIdx: false, offWrap: 0, flags: ENABLE })).toEqual([1, 1, 1, 1]);
  });
  test('DISABLE: none', () => {
    expect(run({ num: 6, count: 4, eventIdx: true, offWrap: 0, flags: DISABLE })).toEqual([0, 0, 0, 0]);
  });
  test('DESC with EVENT_IDX: only when the used position passes off_wrap (this lap)', () => {
    expect(run({ num: 6, count: 5, eventIdx: true, offWrap: (1 << 15) | 2, flags: DESC })).toEqual([0, 0, 1, 0, 0]);
  });
  test('DESC with EVENT_IDX: off_wrap in the last lap has passed long ago: none', () => {
    expect(run({ num: 6, count: 4, eventIdx: true, offWrap: 2, flags: DESC })).toEqual([0, 0, 0, 0]);
  });
  test('DESC without EVENT_IDX is reserved: treated as ENABLE', () => {
    expect(run({ num: 6, count: 3, eventIdx: false, offWrap: (1 << 15) | 2, flags: DESC })).toEqual([1, 1, 1]);
  });
});
