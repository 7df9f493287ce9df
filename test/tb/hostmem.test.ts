// Host memory: allocation, caller-provided buffers, sparse paging, LE helpers, and the
// IOMMU-like permission checks on device access.
import { describe, expect, test } from 'vitest';
import { DmaFault, HostMemory, leBytes } from '../../tb/pcie/hostmem';

describe('allocation', () => {
  test('natural alignment, guard gaps, below and above 4 GB, fixed addresses', () => {
    const m = new HostMemory();
    const a = m.alloc(100, { align: 64, name: 'a' });
    const b = m.alloc(8192, { align: 8192, name: 'b' });
    expect(a.addr % 64n).toBe(0n);
    expect(b.addr % 8192n).toBe(0n);
    expect(b.addr).toBeGreaterThanOrEqual(a.end + 4096n); // guard gap
    expect(a.end).toBeLessThan(1n << 32n);
    const h = m.alloc(4096, { above4G: true });
    expect(h.addr).toBeGreaterThanOrEqual(1n << 32n);
    const f = m.alloc(16, { at: 0x1234_0000n, name: 'fixed' });
    expect(f.addr).toBe(0x1234_0000n);
    expect(() => m.alloc(16, { at: 0x1234_0008n })).toThrow(/overlaps "fixed"/);
    expect(() => m.alloc(16, { at: 0x1234_0003n, align: 4 })).toThrow(/not aligned/);
    expect(() => m.alloc(16, { align: 3 })).toThrow(/power of two/);
    const addrs = m.regions.map((r) => r.addr);
    expect(addrs).toEqual([...addrs].sort((x, y) => (x < y ? -1 : 1)));
    expect(m.regions.length).toBe(4);
    // The allocator steps over fixed regions.
    const m2 = new HostMemory({ lowBase: 0x1000_0000n });
    m2.alloc(0x1000, { at: 0x1000_0000n });
    const c = m2.alloc(64);
    expect(c.addr).toBeGreaterThanOrEqual(0x1000_1000n);
  });

  test('the low window fills up with a clear error', () => {
    const m = new HostMemory({ lowBase: 0x1000, lowLimit: 0x3000, guardGap: 0 });
    m.alloc(0x1000);
    m.alloc(0x1000);
    expect(() => m.alloc(0x1000)).toThrow(/window below 4 GB is full/);
  });

  test('map() aliases a caller buffer without copying, in both directions', () => {
    const m = new HostMemory();
    const shared = new SharedArrayBuffer(4096);
    const view = new Uint8Array(shared);
    const r = m.map(0x2_0000_0000n, shared, 'rw', 'shm');
    view[10] = 0xab;
    expect(m.readU8(0x2_0000_000an)).toBe(0xab);
    m.dmaWrite(0x2_0000_0100n, new Uint8Array([1, 2, 3]));
    expect(Array.from(view.subarray(0x100, 0x103))).toEqual([1, 2, 3]);
    expect(r.bytes.buffer).toBe(shared);
    // A Node Buffer slice maps exactly its bytes.
    const buf = Buffer.alloc(64);
    const r2 = m.map(0x3000_0000, buf.subarray(16, 32), 'ro');
    expect(r2.size).toBe(16);
    m.write(0x3000_0000, new Uint8Array([9]));
    expect(buf[16]).toBe(9);
    m.unmap(r2);
    expect(m.find(0x3000_0000)).toBeUndefined();
    expect(() => m.unmap(r2)).toThrow(/not mapped/);
  });

  test('big regions are lazily paged and read as zero until written', () => {
    const m = new HostMemory();
    const r = m.alloc(1 << 30, { above4G: true, align: 1 << 20 }); // 1 GB costs nothing up front
    expect(() => r.bytes).toThrow(/lazily paged/);
    const at = r.addr + 0x1234_5678n;
    expect(Array.from(m.read(at, 4))).toEqual([0, 0, 0, 0]);
    // A write across a 64 KB page boundary.
    const edge = r.addr + 0x1_0000n - 3n;
    m.write(edge, new Uint8Array([1, 2, 3, 4, 5, 6]));
    expect(Array.from(m.read(edge - 1n, 8))).toEqual([0, 1, 2, 3, 4, 5, 6, 0]);
    m.dmaWrite(edge, new Uint8Array([9, 9, 9, 9, 9, 9]), new Uint8Array([1, 0, 1, 0, 1, 0]));
    expect(Array.from(m.read(edge, 6))).toEqual([9, 2, 9, 4, 9, 6]);
  });
});

describe('little-endian helpers', () => {
  test('u8..u64 round trip at odd addresses', () => {
    const m = new HostMemory();
    const r = m.alloc(64);
    const a = r.addr + 3n;
    m.writeU16(a, 0xbeef);
    expect(m.readU16(a)).toBe(0xbeef);
    expect(Array.from(m.read(a, 2))).toEqual([0xef, 0xbe]);
    m.writeU32(a, 0xdeadbeef);
    expect(m.readU32(a)).toBe(0xdeadbeef);
    m.writeU64(a, 0x0123_4567_89ab_cdefn);
    expect(m.readU64(a)).toBe(0x0123_4567_89ab_cdefn);
    expect(m.readU8(a)).toBe(0xef);
    m.writeU64(a, -1n);
    expect(m.readU64(a)).toBe(0xffff_ffff_ffff_ffffn);
    m.fill(r.addr, 64, 0x5a);
    expect(m.read(r.addr, 64).every((b) => b === 0x5a)).toBe(true);
    expect(() => m.read(r.end - 2n, 4)).toThrow(/is not mapped/);
  });

  test('host access may span adjacent regions', () => {
    const m = new HostMemory();
    m.alloc(16, { at: 0x1000 });
    m.alloc(16, { at: 0x1010 });
    m.write(0x100c, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(Array.from(m.read(0x100c, 8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(m.checkDma('read', 0x100cn, 8)).toBeNull();
  });
});

describe('the fast paths', () => {
  test('readInto and dmaWrite within one region and across adjacent regions; the region cache follows unmap', () => {
    const m = new HostMemory();
    const a = m.alloc(4096, { at: 0x10000, name: 'a' });
    const b = m.alloc(4096, { at: 0x11000, name: 'b' });
    const bytes = Uint8Array.from({ length: 64 }, (_, i) => i + 1);
    m.dmaWrite(0x10ff0n, bytes); // 16 bytes in a, 48 in b
    const out = new Uint8Array(64);
    m.readInto(0x10ff0n, out);
    expect(out).toEqual(bytes);
    m.readInto(0x11000n, out.subarray(0, 16)); // within b only
    expect(Array.from(out.subarray(0, 16))).toEqual(Array.from(bytes.subarray(16, 32)));
    // A byte mask within one region leaves the masked-out bytes alone.
    m.dmaWrite(0x10100n, Uint8Array.of(9, 9, 9, 9), Uint8Array.of(1, 0, 0, 1));
    expect(Array.from(m.read(0x10100n, 4))).toEqual([9, 0, 0, 9]);
    expect(m.find(0x11004n)).toBe(b); // now the remembered region
    m.unmap(b);
    expect(m.find(0x11004n)).toBeUndefined();
    expect(() => m.readInto(0x10ff0n, out)).toThrow(/not mapped/);
    expect(m.checkDma('read', 0x10ff0n, 64)?.kind).toBe('unmapped');
    expect(m.find(0x10004n)).toBe(a);
  });
});

describe('firstDifference and the small reads', () => {
  test('firstDifference finds the first differing byte in flat and paged regions, across regions, or -1', () => {
    const m = new HostMemory({ lazyThreshold: 1 << 20 });
    const flat = m.alloc(4096, { at: 0x10000 });
    m.alloc(4096, { at: 0x11000 });
    const paged = m.alloc(1 << 20, { at: 0x100000 });
    const bytes = Uint8Array.from({ length: 64 }, (_, i) => i + 1);
    m.write(0x10ff0n, bytes); // 16 bytes in the first region, 48 in the second
    expect(m.firstDifference(0x10ff0n, bytes)).toBe(-1);
    for (const k of [0, 15, 16, 63]) {
      const other = bytes.slice();
      other[k] ^= 0x80;
      expect(m.firstDifference(0x10ff0n, other)).toBe(k);
    }
    expect(m.firstDifference(flat.addr, new Uint8Array(0))).toBe(-1);
    // Paged: unwritten pages read as zero; a span over a page boundary (64 KiB pages).
    const at = paged.addr + 0xfff8n;
    expect(m.firstDifference(at, new Uint8Array(16))).toBe(-1);
    expect(m.firstDifference(at, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 7))).toBe(9);
    m.write(at, bytes.subarray(0, 16));
    expect(m.firstDifference(at, bytes.subarray(0, 16))).toBe(-1);
    const other = bytes.slice(0, 16);
    other[12] = 0;
    expect(m.firstDifference(at, other)).toBe(12);
    expect(() => m.firstDifference(flat.addr + 4090n + 4096n, new Uint8Array(16))).toThrow(/not mapped/);
  });

  test('readU8/U16/U32 read the same from flat regions, paged regions and across a region boundary', () => {
    const m = new HostMemory({ lazyThreshold: 1 << 20 });
    m.alloc(4096, { at: 0x10000 });
    m.alloc(4096, { at: 0x11000 });
    const paged = m.alloc(1 << 20, { at: 0x100000 });
    const bytes = Uint8Array.of(0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88);
    for (const base of [0x10ffcn, 0x10010n, paged.addr + 0xfffcn]) {
      m.write(base, bytes);
      for (let o = 0n; o < 4n; o++) {
        const a = base + o;
        const i = Number(o);
        expect(m.readU8(a)).toBe(bytes[i]);
        expect(m.readU16(a)).toBe(bytes[i] | (bytes[i + 1] << 8));
        expect(m.readU32(a)).toBe((bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)) >>> 0);
      }
    }
    expect(() => m.readU32(0x11ffen)).toThrow(/not mapped/);
    expect(() => m.readU8(0x12000n)).toThrow(/not mapped/);
  });

  test('writeU8/U16/U32/U64 write the same little-endian bytes in flat and paged regions and across regions', () => {
    const m = new HostMemory({ lazyThreshold: 1 << 20 });
    m.alloc(4096, { at: 0x10000 });
    m.alloc(4096, { at: 0x11000 });
    const paged = m.alloc(1 << 20, { at: 0x100000 });
    const cases: [number | bigint, number][] = [
      [0xa5, 1],
      [-1, 1],
      [0x1_0234, 2],
      [-2, 2],
      [0xdead_beef, 4],
      [-3, 4],
      [2 ** 40 + 0x1234_5678, 4],
      [0x0123_4567_89ab_cdefn, 8],
      [-5n, 8],
      [2 ** 52 + 7, 8],
    ];
    for (const base of [0x10ffcn, 0x10010n, paged.addr + 0xfffcn])
      for (const [v, n] of cases) {
        m.fill(base, 8, 0x5a);
        if (n === 1) m.writeU8(base, Number(v));
        else if (n === 2) m.writeU16(base, Number(v));
        else if (n === 4) m.writeU32(base, Number(v));
        else m.writeU64(base, v);
        const want = [...leBytes(BigInt(v), n), ...new Array<number>(8 - n).fill(0x5a)];
        expect(Array.from(m.read(base, 8)), `${v} as ${n} bytes at 0x${base.toString(16)}`).toEqual(want);
      }
    expect(() => m.writeU32(0x10000n, 1.5)).toThrow();
    expect(() => m.writeU16(0x11fffn, 1)).toThrow(/not mapped/);
  });
});

describe('device permissions', () => {
  test('read-only, write-only, none and unmapped each fault with address, length and region', () => {
    const m = new HostMemory();
    const ro = m.alloc(256, { perm: 'ro', name: 'tx-ring' });
    const wo = m.alloc(256, { perm: 'wo', name: 'rx-buf' });
    const none = m.alloc(256, { perm: 'none', name: 'secret' });
    expect(m.dmaRead(ro.addr, 256).length).toBe(256);
    m.dmaWrite(wo.addr, new Uint8Array(256));

    const fault = (f: () => unknown): DmaFault => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(DmaFault);
        return e as DmaFault;
      }
      throw new Error('expected a DmaFault');
    };
    let e = fault(() => m.dmaWrite(ro.addr + 8n, new Uint8Array(4), undefined, 'MWr tag=3'));
    expect(e.kind).toBe('permission');
    expect(e.message).toContain(`DMA write of 4 bytes at 0x${(ro.addr + 8n).toString(16)}`);
    expect(e.message).toContain('"tx-ring"');
    expect(e.message).toContain('ro');
    expect(e.message).toContain('[MWr tag=3]');
    e = fault(() => m.dmaRead(wo.addr, 1));
    expect(e.message).toMatch(/DMA read of 1 byte at .*"rx-buf".* does not allow device reads/);
    e = fault(() => m.dmaRead(none.addr, 16));
    expect(e.kind).toBe('permission');
    // Running off the end of a region into the guard gap.
    e = fault(() => m.dmaRead(ro.addr + 200n, 100));
    expect(e.kind).toBe('unmapped');
    expect(e.faultAddr).toBe(ro.end);
    expect(e.message).toMatch(/outside every granted region \(nearest: "tx-ring"/);
    // protect() changes the mapping at run time.
    m.protect(ro, 'rw');
    m.dmaWrite(ro.addr, new Uint8Array([1]));
    m.protect(ro.addr + 5n, 'none');
    expect(m.checkDma('read', ro.addr, 1)?.kind).toBe('permission');
    // A device write that faults changes nothing.
    m.protect(wo, 'ro');
    m.fill(wo.addr, 4, 7);
    fault(() => m.dmaWrite(wo.addr, new Uint8Array([1, 1, 1, 1])));
    expect(Array.from(m.read(wo.addr, 4))).toEqual([7, 7, 7, 7]);
  });

  test('an access spanning two regions needs both to allow it', () => {
    const m = new HostMemory();
    m.alloc(16, { at: 0x1000, perm: 'rw' });
    m.alloc(16, { at: 0x1010, perm: 'ro', name: 'second' });
    expect(m.checkDma('read', 0x1008n, 16)).toBeNull();
    const f = m.checkDma('write', 0x1008n, 16)!;
    expect(f.kind).toBe('permission');
    expect(f.faultAddr).toBe(0x1010n);
    expect(f.region?.name).toBe('second');
  });
});

describe('addresses around 2^53 (find() compares numbers while every region ends below it)', () => {
  const S = 1n << 53n;
  test('regions just below, straddling and above 2^53, mapped and unmapped in turn', () => {
    const m = new HostMemory();
    const low = m.alloc(4096, { at: 0x1000_0000n, name: 'low' });
    const below = m.alloc(64, { at: S - 64n, name: 'below' }); // ends at 2^53: needs BigInt arithmetic
    // 2^53 + 1 rounds to 2^53 as a number: it must still be outside `below`
    expect(m.find(S)).toBeUndefined();
    expect(m.find(S + 1n)).toBeUndefined();
    expect(m.find(S - 1n)).toBe(below);
    expect(m.find(0x1000_0fffn)).toBe(low);
    m.unmap(below);
    const edge = m.alloc(63, { at: S - 64n, name: 'edge' }); // ends at 2^53 - 1: numbers are exact
    expect(m.find(S - 2n)).toBe(edge);
    expect(m.find(S - 1n)).toBeUndefined();
    expect(m.find(S)).toBeUndefined();
    expect(m.find(S + 1n)).toBeUndefined();
    // a DMA running from `edge` past 2^53 - 1 faults, one inside it does not
    m.write(S - 64n, new Uint8Array(63).fill(7));
    expect(m.dmaRead(S - 8n, 7)).toEqual(new Uint8Array(7).fill(7));
    expect(() => m.dmaRead(S - 8n, 9)).toThrow(DmaFault);
    const high = m.alloc(4096, { at: S + 4096n, name: 'high' });
    m.write(S + 4097n, Uint8Array.of(1, 2, 3));
    expect(m.find(S + 4096n + 4095n)).toBe(high);
    expect(m.find(S + 4096n + 4096n)).toBeUndefined();
    expect(m.dmaRead(S + 4097n, 3)).toEqual(Uint8Array.of(1, 2, 3));
    expect(m.find(S - 2n)).toBe(edge);
    expect(m.find(0x1000_0000n)).toBe(low);
    m.unmap(high);
    expect(m.find(S + 4097n)).toBeUndefined();
    expect(m.find(S - 2n)).toBe(edge);
    expect(m.dmaRead(0x1000_0000n, 4)).toEqual(new Uint8Array(4));
  });
});
