// Host memory (tb/pcie/hostmem.ts) at its edges: address and length checks, the allocator's guard gaps and windows,
// the top of the 64-bit space, region helpers, default names and permissions, and device accesses that span
// regions. Written for behaviour the mutation run (npm run mutate) found untested.
import { describe, expect, test } from 'vitest';
import { DmaFault, HostMemory, toAddr } from '../../tb/pcie/hostmem';

const TOP = 1n << 64n;

describe('addresses and lengths', () => {
  test('toAddr takes 64-bit bigints and non-negative safe integers, nothing else', () => {
    expect(toAddr(0n)).toBe(0n);
    expect(toAddr(TOP - 1n)).toBe(TOP - 1n);
    expect(toAddr(0)).toBe(0n);
    expect(toAddr(0x1234)).toBe(0x1234n);
    for (const bad of [-1n, TOP]) expect(() => toAddr(bad)).toThrow(`hostmem: address ${bad} is not a 64-bit address`);
    for (const bad of [-1, 1.5, 2 ** 53])
      expect(() => toAddr(bad)).toThrow(`hostmem: address ${bad} is not a non-negative integer`);
  });

  test('lengths and offsets must be non-negative integers', () => {
    const m = new HostMemory();
    const r = m.alloc(64, { name: 'r' });
    expect(m.read(r.addr, 0)).toHaveLength(0);
    for (const bad of [-1, 1.5]) {
      expect(() => m.read(r.addr, bad)).toThrow(`hostmem: length ${bad} is not a non-negative integer`);
      expect(() => r.read(bad, 1)).toThrow(`hostmem: offset ${bad} is not a non-negative integer`);
    }
    expect(() => new HostMemory({ guardGap: -1 })).toThrow(/guardGap -1/);
  });
});

describe('the allocator', () => {
  test('every allocation is followed by a guard gap, whatever its alignment', () => {
    const m = new HostMemory({ lowBase: 0x1000_0000n });
    const a = m.alloc(100, { align: 1 });
    const b = m.alloc(100, { align: 1 });
    const c = m.alloc(16, { align: 1 });
    expect(a.addr).toBe(0x1000_0000n);
    expect(b.addr).toBe(a.end + 4096n);
    expect(c.addr).toBe(b.end + 4096n);
    const h1 = m.alloc(100, { above4G: true, align: 1 });
    const h2 = m.alloc(100, { above4G: true, align: 1 });
    expect(h1.addr).toBe(0x8_0000_0000n);
    expect(h2.addr).toBe(h1.end + 4096n);
    // An allocation above 4 GB leaves the low window where it was.
    const d = m.alloc(16, { align: 1 });
    expect(d.addr).toBe(c.end + 4096n);
  });

  test('4 KB alignment by default, 1 with a fixed address; alignments must be powers of two', () => {
    const m = new HostMemory();
    m.alloc(100);
    expect(m.alloc(100).addr % 4096n).toBe(0n);
    expect(m.alloc(3, { at: 0x7000_0001n }).addr).toBe(0x7000_0001n);
    for (const align of [0, -4, 1.5, 3])
      expect(() => m.alloc(16, { align }), String(align)).toThrow(`hostmem: alignment ${align} is not a power of two`);
    expect(() => m.alloc(0)).toThrow('hostmem: cannot allocate 0 bytes');
  });

  test('regions may touch: one right before another is not an overlap', () => {
    const m = new HostMemory();
    const hi = m.alloc(16, { at: 0x1010 });
    const lo = m.alloc(16, { at: 0x1000 });
    expect(m.regions).toEqual([lo, hi]);
    expect(() => m.alloc(1, { at: 0x100f })).toThrow(/overlaps/);
  });

  test('a region may end exactly at the top of the 64-bit space, not past it', () => {
    const m = new HostMemory({ highBase: TOP - 0x2000n, guardGap: 0 });
    const r = m.alloc(0x2000, { above4G: true });
    expect(r.end).toBe(TOP);
    expect(() => m.alloc(1, { above4G: true })).toThrow(/the address space is full/);
    const m2 = new HostMemory();
    expect(m2.map(TOP - 16n, new Uint8Array(16)).end).toBe(TOP);
    expect(() => new HostMemory().map(TOP - 16n, new Uint8Array(32))).toThrow(/runs past the 64-bit address space/);
  });

  test('regions of at least the lazy threshold are paged; below it they are flat', () => {
    const m = new HostMemory({ lazyThreshold: 4096 });
    expect(() => m.alloc(4096).bytes).toThrow(/lazily paged/);
    expect(m.alloc(4095).bytes).toHaveLength(4095);
  });

  test('unwritten pages read as zero even into a buffer holding other bytes', () => {
    const m = new HostMemory({ lazyThreshold: 4096 });
    const r = m.alloc(1 << 20);
    m.writeU8(r.addr + 0x1_0000n, 7); // one written page in the middle
    // Three pages: the unwritten ones before and after the written one.
    const out = new Uint8Array(0x3_0000).fill(0xee);
    m.readInto(r.addr, out);
    expect(out[0x1_0000]).toBe(7);
    expect(out.filter((b) => b !== 0)).toEqual(Uint8Array.of(7));
  });
});

describe('regions', () => {
  test('default names and permissions, owned or external storage', () => {
    const m = new HostMemory();
    const a = m.alloc(16);
    const b = m.map(0x9000_0000n, new Uint8Array(16));
    const c = m.alloc(16);
    expect([a.name, b.name, c.name]).toEqual(['alloc0', 'map1', 'alloc2']);
    expect([a.perm, b.perm]).toEqual(['rw', 'rw']);
    expect([a.external, b.external]).toEqual([false, true]);
    m.dmaWrite(b.addr, Uint8Array.of(1)); // 'rw' lets the device write
    expect(() => m.map(0xa000_0000n, new Uint8Array(0))).toThrow('hostmem: cannot map an empty buffer');
  });

  test('contains, at, read and write within a region, and its bounds', () => {
    const m = new HostMemory();
    const r = m.alloc(64, { at: 0x2000, name: 'r' });
    expect(r.contains(0x2000n)).toBe(true);
    expect(r.contains(0x1fffn)).toBe(false);
    expect(r.contains(0x2000n, 64)).toBe(true);
    expect(r.contains(0x2001n, 64)).toBe(false);
    expect(r.contains(0x203fn)).toBe(true);
    expect(r.contains(0x2040n)).toBe(false);
    expect(r.at(0)).toBe(0x2000n);
    expect(r.at(64)).toBe(0x2040n);
    expect(() => r.at(65)).toThrow(/0 bytes at offset 65 exceed region "r" \[0x2000..0x2040\) rw of 64 bytes/);
    r.write(60, Uint8Array.of(1, 2, 3, 4));
    expect(Array.from(r.read(60, 4))).toEqual([1, 2, 3, 4]);
    expect(m.readU32(0x203c)).toBe(0x04030201);
    expect(() => r.read(61, 4)).toThrow(RangeError);
    expect(() => r.write(8, new Uint8Array(57))).toThrow(RangeError);
    expect(() => r.read(64, 1)).toThrow(RangeError);
  });

  test('writeU8 writes one byte', () => {
    const m = new HostMemory();
    const r = m.alloc(4);
    m.writeU8(r.addr + 1n, 0x1ab);
    expect(Array.from(m.read(r.addr, 4))).toEqual([0, 0xab, 0, 0]);
  });

  test('unmap and protect of something not mapped fail and leave the map alone', () => {
    const m = new HostMemory();
    const a = m.alloc(16, { at: 0x1000, name: 'a' });
    const b = m.alloc(16, { at: 0x2000, name: 'b' });
    expect(() => m.unmap(0x5000)).toThrow('hostmem: unmap: 0x5000 is not mapped');
    expect(m.regions).toEqual([a, b]);
    expect(() => m.protect(0x5000, 'none')).toThrow('hostmem: protect: 0x5000 is not mapped');
    m.unmap(b);
    expect(() => m.protect(b, 'none')).toThrow(/protect: "b" .* is not mapped/);
    expect(b.perm).toBe('rw');
  });
});

describe('device access', () => {
  test('checkDma of a whole region ending at unmapped space is allowed', () => {
    const m = new HostMemory();
    const r = m.alloc(256, { perm: 'ro' });
    expect(m.checkDma('read', r.addr, 256)).toBeNull();
    expect(m.checkDma('read', r.addr, 257)?.faultAddr).toBe(r.end);
  });

  test('device reads and masked writes across adjacent regions', () => {
    const m = new HostMemory();
    m.alloc(16, { at: 0x1000, perm: 'rw' });
    m.alloc(16, { at: 0x1010, perm: 'ro' });
    m.alloc(16, { at: 0x1020, perm: 'rw' });
    m.write(
      0x1008,
      Uint8Array.from({ length: 16 }, (_, i) => i),
    );
    expect(Array.from(m.dmaRead(0x1008n, 16))).toEqual(Array.from({ length: 16 }, (_, i) => i));
    m.protect(0x1010, 'rw');
    m.dmaWrite(
      0x100cn,
      new Uint8Array(24).fill(0xff),
      Uint8Array.from({ length: 24 }, (_, i) => i & 1),
    );
    expect(Array.from(m.read(0x100c, 24))).toEqual(
      Array.from({ length: 24 }, (_, i) => (i & 1 ? 0xff : i + 4 < 16 ? i + 4 : 0)),
    );
  });

  test('an unmapped access names the nearest region, above or below', () => {
    const m = new HostMemory();
    m.alloc(16, { at: 0x1000, name: 'low' });
    m.alloc(16, { at: 0x3000, name: 'high' });
    expect(m.checkDma('read', 0x2f00n, 4)?.region?.name).toBe('high');
    expect(m.checkDma('read', 0x1100n, 4)?.region?.name).toBe('low');
    const f = m.checkDma('write', 0x2f00n, 4)!;
    expect(f).toBeInstanceOf(DmaFault);
    expect(f.name).toBe('DmaFault');
    expect(f.message).toBe(
      'DMA write of 4 bytes at 0x2f00: byte 0x2f00 is outside every granted region (nearest: "high" [0x3000..0x3010) rw)',
    );
    expect(new HostMemory().checkDma('read', 0x10n, 1)?.message).toBe(
      'DMA read of 1 byte at 0x10: byte 0x10 is outside every granted region (nothing is mapped)',
    );
  });
});

describe('device access within one region', () => {
  test('a device read inside a region reads from its own offset', () => {
    const m = new HostMemory();
    m.alloc(4096, { at: 0x20000 });
    m.write(0x20100n, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    expect(Array.from(m.dmaRead(0x20102n, 4))).toEqual([3, 4, 5, 6]);
    const out = new Uint8Array(2);
    m.dmaReadInto(0x20106n, out);
    expect(Array.from(out)).toEqual([7, 8]);
  });

  test('host access to unmapped bytes is a RangeError naming the byte; device access a DmaFault', () => {
    const m = new HostMemory();
    m.alloc(16, { at: 0x1000 });
    expect(() => m.read(0x5000n, 4)).toThrow(RangeError);
    expect(() => m.read(0x5000n, 4)).toThrow(/byte 0x5000 is not mapped/);
    expect(() => m.write(0x5000n, new Uint8Array(4))).toThrow(RangeError);
    expect(() => m.dmaRead(0x5000n, 4)).toThrow(DmaFault);
    expect(() => m.dmaWrite(0x5000n, new Uint8Array(4))).toThrow(DmaFault);
  });

  test('an unmapped address as far from the region below as from the one above names the one below', () => {
    const m = new HostMemory();
    m.alloc(15, { at: 0x1000, name: 'low' }); // last byte 0x100e
    m.alloc(16, { at: 0x3000, name: 'high' });
    // 0x2007 is 0xff9 bytes past 0x100e and 0xff9 bytes before 0x3000.
    expect(m.checkDma('read', 0x2007n, 1)?.region?.name).toBe('low');
    expect(m.checkDma('read', 0x2008n, 1)?.region?.name).toBe('high');
  });
});

describe('dmaRead checks before it allocates', () => {
  test('a length far beyond any region is a DmaFault, not an allocation of that size', () => {
    const m = new HostMemory();
    const r = m.alloc(4096, { perm: 'ro', name: 'buf' });
    // 2^40 bytes: allocating first would throw a RangeError (or exhaust memory) instead of naming the fault.
    expect(() => m.dmaRead(r.addr, 2 ** 40)).toThrow(DmaFault);
    expect(Array.from(m.dmaRead(r.addr, 4))).toEqual([0, 0, 0, 0]);
  });
});
