// The invariant checker catches each thing it is there for: a device that writes a device-readable buffer or the
// descriptor table, touches memory nobody granted or a buffer already returned, reports a used length that is not
// what it wrote, returns a buffer twice; and a run that ends with buffers out.
import { describe, expect, test } from 'vitest';
import { HostMemory } from '../../../tb/pcie/hostmem';
import { allocRing, createVirtqueue } from '../../../tb/virtio/ring/create';
import { SPLIT } from '../../../tb/virtio/ring/defs';
import { DeviceQueue, RingError, type Chain } from '../../../tb/virtio/ring/device';
import { HostDma } from '../../../tb/virtio/ring/dma';
import { InvariantViolation, RingInvariants } from '../../../tb/virtio/ring/invariants';

function setup(packed = false) {
  const mem = new HostMemory();
  const ring = allocRing(mem, 8, packed);
  const features = { packed, indirect: true, eventIdx: false, inOrder: false };
  const dma = new HostDma(mem);
  const inv = new RingInvariants<string>();
  inv.addRing(0, ring, packed);
  dma.listen(inv.onDma);
  const dev = new DeviceQueue({ ring, features, dma });
  const vq = createVirtqueue<string>({ mem, ring, features, observer: inv, notify: () => true });
  // 'rw' everywhere: the IOMMU would stop some of these first; the checker must see them on its own.
  const buf = mem.alloc(4096, { perm: 'rw' });
  const other = mem.alloc(64, { perm: 'rw' });
  const take = (): Chain => {
    const c = dev.next();
    if (!c || c instanceof RingError) throw new Error(`no chain: ${String(c)}`);
    return c;
  };
  return { mem, ring, dma, inv, dev, vq, buf, other, take };
}

describe('invariant checker', () => {
  test('a device write into a device-readable buffer', () => {
    const s = setup();
    s.vq.add([{ addr: s.buf.addr, len: 16 }], [{ addr: s.buf.addr + 100n, len: 16 }], 'a');
    s.take();
    expect(() => s.dma.write(s.buf.addr + 4n, Uint8Array.of(1), 'data', 0)).toThrow(
      /data write of 1 bytes at .* into queue 0 buffer segment 0 \(device-readable\), which the device must not write/,
    );
  });

  test('a device write into the descriptor table or the available ring (split), and a read of a writable buffer', () => {
    const s = setup();
    expect(() => s.dma.write(s.ring.desc, Uint8Array.of(1), 'desc', 0)).toThrow(/descriptor table/);
    expect(() => s.dma.write(s.ring.driver + BigInt(SPLIT.availIdx), Uint8Array.of(1, 0), 'avail-idx', 0)).toThrow(
      /available ring/,
    );
    s.vq.add([], [{ addr: s.buf.addr, len: 16 }], 'a');
    expect(() => s.dma.read(s.buf.addr, 4, 'data', 0)).toThrow(/should not read/);
    const lax = new RingInvariants<string>({ allowReadOfWritable: true });
    lax.added(s.vq, 'x', [], [{ addr: s.other.addr, len: 8 }], undefined);
    lax.onDma({ dir: 'read', addr: s.other.addr, len: 8, purpose: 'data', queue: 0, data: new Uint8Array(8) });
    expect(lax.violations).toEqual([]);
  });

  test('DMA outside every grant, and into a buffer already returned', () => {
    const s = setup();
    expect(() => s.dma.read(s.other.addr, 4, 'data', 0)).toThrow(/outside the ring areas and the available buffers/);
    s.vq.add([], [{ addr: s.buf.addr, len: 16 }], 'a');
    const c = s.take();
    s.dev.writeData(c, 0, Uint8Array.of(1, 2));
    s.dev.complete(c, 2);
    s.dev.publish();
    expect(s.vq.getBuf()?.len).toBe(2);
    expect(() => s.dev.writeData(c, 2, Uint8Array.of(3))).toThrow(/outside the ring areas/);
  });

  test('a used length that is not the bytes written, in both formats', () => {
    for (const packed of [false, true]) {
      const s = setup(packed);
      s.vq.add(
        [],
        [
          { addr: s.buf.addr, len: 8 },
          { addr: s.buf.addr + 64n, len: 8 },
        ],
        'a',
      );
      const c = s.take();
      s.dev.writeData(c, 0, new Uint8Array(10)); // 8 + 2 bytes over two segments
      s.dev.complete(c, 9);
      s.dev.publish();
      expect(() => s.vq.getBuf()).toThrow(/used length 9 but the device wrote 10 distinct bytes/);
    }
    // Rewriting the same bytes counts once.
    const s = setup();
    s.vq.add([], [{ addr: s.buf.addr, len: 8 }], 'a');
    const c = s.take();
    s.dev.writeData(c, 0, new Uint8Array(4));
    s.dev.writeData(c, 2, new Uint8Array(4));
    s.dev.complete(c, 6);
    s.dev.publish();
    expect(s.vq.getBuf()?.len).toBe(6);
    expect(s.inv.counts.lengthsChecked).toBe(1);
    // Back to front, overlapping: bytes 4..8, then 0..6 are 8 distinct bytes.
    s.vq.add([], [{ addr: s.buf.addr, len: 8 }], 'b');
    const d = s.take();
    s.dev.writeData(d, 4, new Uint8Array(4));
    s.dev.writeData(d, 0, new Uint8Array(6));
    s.dev.complete(d, 8);
    s.dev.publish();
    expect(s.vq.getBuf()?.len).toBe(8);
    expect(s.inv.counts.lengthsChecked).toBe(2);
  });

  test('grants and accesses around 2^53 are judged exactly (no rounding of addresses to numbers)', () => {
    const s = setup();
    const top = 1n << 53n;
    const inv = new RingInvariants<string>({ record: true });
    inv.added(s.vq, 'low', [{ addr: 0x1000n, len: 16 }], [], undefined);
    const access = (addr: bigint, len: number) =>
      inv.onDma({ dir: 'read', addr, len, purpose: 'data', queue: 0, data: new Uint8Array(len) });
    access(0x1000n, 16);
    access(0x100fn, 2); // one byte past the grant
    expect(inv.violations.length).toBe(1);
    // A grant ending at 2^53: an access one byte past its end (2^53 + 1) rounds to 2^53 as a number, and must fail.
    inv.added(s.vq, 'high', [{ addr: top - 8n, len: 8 }], [], undefined);
    access(top - 8n, 8);
    access(top - 4n, 4);
    expect(inv.violations.length).toBe(1);
    access(top - 8n, 9);
    access(top - 3n, 4);
    expect(inv.violations.length).toBe(3);
    // The low grant still answers exactly.
    access(0x1000n, 16);
    access(0x0fffn, 1);
    expect(inv.violations.length).toBe(4);
  });

  test('overlapping grants: the first one added judges an access, even right after another held one', () => {
    const s = setup();
    const inv = new RingInvariants<string>({ record: true });
    const at = (off: number) => s.buf.addr + BigInt(off);
    const access = (dir: 'read' | 'write', off: number, len: number) =>
      inv.onDma({ dir, addr: at(off), len, purpose: 'data', queue: 0, data: new Uint8Array(len) });
    // 'ro' is device-readable [0, 64); 'wr' device-writable [32, 128), added after it.
    inv.added(s.vq, 'ro', [{ addr: at(0), len: 64 }], [], undefined);
    inv.added(s.vq, 'wr', [], [{ addr: at(32), len: 96 }], undefined);
    access('write', 64, 8); // only 'wr' holds it: allowed, and found last
    expect(inv.violations).toEqual([]);
    access('write', 40, 8); // both hold it: 'ro' was added first and forbids the write
    expect(inv.violations).toEqual([expect.stringMatching(/buffer segment 0 \(device-readable\)/)]);
    // With 'ro' back, 'wr' alone holds [32, 64): the write is allowed.
    inv.returned(s.vq, 'ro', undefined, false);
    access('write', 40, 8);
    access('write', 100, 8);
    expect(inv.violations.length).toBe(1);
    // Disjoint again: a write next to the last one goes to 'wr', one past its end is outside every grant.
    access('write', 120, 8);
    access('write', 124, 8);
    expect(inv.violations.length).toBe(2);
    expect(inv.violations[1]).toMatch(/outside the ring areas and the available buffers/);
  });

  test('a buffer returned twice, or never', () => {
    const s = setup();
    s.vq.add([], [{ addr: s.buf.addr, len: 8 }], 'a');
    s.vq.add([], [{ addr: s.buf.addr + 64n, len: 8 }], 'b');
    s.inv.returned(s.vq, 'a', 0, true);
    expect(() => s.inv.returned(s.vq, 'a', 0, true)).toThrow(/not outstanding/);
    expect(() => s.inv.assertDrained()).toThrow(/1 buffer\(s\) never came back/);
    const rec = new RingInvariants<string>({ record: true });
    rec.returned(s.vq, 'z', 0, true);
    rec.onDma({ dir: 'write', addr: 0x10n, len: 1, purpose: 'data', queue: 0, data: new Uint8Array(1) });
    expect(rec.violations).toHaveLength(2);
  });

  test('InvariantViolation stops the write before it lands', () => {
    const s = setup();
    s.vq.add([{ addr: s.buf.addr, len: 16 }], [], 'a');
    s.mem.write(s.buf.addr, Uint8Array.of(0x11));
    expect(() => s.dma.write(s.buf.addr, Uint8Array.of(0x22), 'data', 0)).toThrow(InvariantViolation);
    expect(s.mem.readU8(s.buf.addr)).toBe(0x11);
  });
});
