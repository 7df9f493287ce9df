// testdev memory space through the simulator: BAR decode (64-bit BAR0 above and below 4 GB), registers
// from the register map, the device RAM at every access width and alignment, the MSI-X table, and the
// error answers (UR when disabled or outside the BARs, CA for oversized reads).
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { CapOffset, Status } from '../../gen/pcie/cfg_space';
import { field, MSIX_PBA_OFFSET, MSIX_TABLE_OFFSET, MSIX_VECTORS, RAM_BYTES, RAM_OFFSET, reg } from '../../gen/testdev/regs';
import { testdevParams, type TestdevWidth } from '../../gen/testdev/top';
import { CplStatus, describeTlp } from '../../tb/pcie/tlp';
import { enumerate, generateTestdev, Host, prng, testSeed } from './support';

const hosts: Host[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.close();
});

describe.each([
  { W: 64 as TestdevWidth, bar0: 0x2_4000_0000n }, // above 4 GB: 4DW headers
  { W: 256 as TestdevWidth, bar0: 0xe000_0000n }, // below 4 GB: 3DW headers
])('testdev_w$W memory space, BAR0 at $bar0', ({ W, bar0 }) => {
  const bar2 = 0xfeb0_0000n;
  let ports = '';
  beforeAll(() => {
    ports = generateTestdev(W);
  });
  const open = (seed?: number) => {
    const h = new Host(ports, { seed });
    hosts.push(h);
    return h;
  };
  const R = (name: string) => bar0 + BigInt(reg(name).offset);
  const RAM = bar0 + BigInt(RAM_OFFSET);

  test('memory space disabled: reads get UR, writes are dropped', () => {
    const h = open();
    h.cfgWrite(0x10, Number(bar0 & 0xffff_ffffn));
    h.cfgWrite(0x14, Number(bar0 >> 32n));
    const [c] = h.memReadRaw(R('ID'), 4);
    expect(c.type === 'Cpl' && c.status, describeTlp(c)).toBe(CplStatus.UR);
    if (c.type === 'Cpl') {
      expect(c.byteCount, 'UR of a 1 DW read reports its byte count').toBe(4);
      expect(c.completerId).toBe(h.devId);
    }
    h.write32(R('SCRATCH'), 0x1234);
    h.cfgWrite(0x04, 1 << 1);
    expect(h.read32(R('SCRATCH')), 'the disabled write did not land').toBe(0);
    expect(h.read32(R('ID'))).toBe(((field('ID', 'MAGIC').reset << 16) | field('ID', 'VERSION').reset) >>> 0);
  });

  test('registers: ID, INFO, SCRATCH, 64-bit access, unmapped offsets', () => {
    const h = open();
    enumerate(h, { bar0, bar2 });
    const info = h.read32(R('INFO'));
    const q = testdevParams(W);
    expect(field('INFO', 'LANES').get(info)).toBe(q.lanes);
    expect(field('INFO', 'READ_TAGS').get(info)).toBe(q.readTags);
    expect(field('INFO', 'MSIX_VECTORS').get(info)).toBe(MSIX_VECTORS);
    expect(field('INFO', 'RAM_KIB').get(info)).toBe(RAM_BYTES / 1024);
    h.write32(R('SCRATCH'), 0xcafef00d);
    expect(h.read32(R('SCRATCH'))).toBe(0xcafef00d);
    h.memWrite(R('SCRATCH') + 2n, Uint8Array.of(0x5a)); // one byte
    expect(h.read32(R('SCRATCH'))).toBe(0xca5af00d);
    expect(Array.from(h.memRead(R('SCRATCH') + 1n, 2))).toEqual([0xf0, 0x5a]);
    // A 64-bit register pair written and read as one qword.
    h.write64(R('DMA_HOST_ADDR_LO'), 0x0123_4567_89ab_cdefn);
    expect(h.read32(R('DMA_HOST_ADDR_LO'))).toBe(0x89ab_cdef);
    expect(h.read32(R('DMA_HOST_ADDR_HI'))).toBe(0x0123_4567);
    const qw = h.memRead(R('DMA_HOST_ADDR_LO'), 8);
    expect(new DataView(qw.buffer).getBigUint64(0, true)).toBe(0x0123_4567_89ab_cdefn);
    // A multi-dword read across several registers.
    const block = h.memRead(R('ID'), 16);
    expect(new DataView(block.buffer).getUint32(4, true)).toBe(0xca5af00d);
    // Unmapped register offsets read 0 and ignore writes; the top of BAR0 past the RAM too.
    for (const off of [0x7ffcn, 0xc000n, 0xfffcn]) {
      h.write32(bar0 + off, 0xffffffff);
      expect(h.read32(bar0 + off), `0x${off.toString(16)}`).toBe(0);
    }
    // Read-only fields ignore writes.
    h.write32(R('ID'), 0);
    expect(field('ID', 'MAGIC').get(h.read32(R('ID')))).toBe(0x7e57);
  });

  test('device RAM: random reads (up to 32 dwords) and writes of 1..128 bytes at every alignment match a model', () => {
    const seed = testSeed();
    const rand = prng(seed);
    const h = open(seed);
    enumerate(h, { bar0, bar2 });
    const model = new Uint8Array(RAM_BYTES);
    const fill = new Uint8Array(RAM_BYTES).map(() => Math.floor(rand() * 256));
    // Fill with 128-byte writes (MPS is 128 bytes after enumeration).
    for (let off = 0; off < RAM_BYTES; off += 128) {
      h.memWrite(RAM + BigInt(off), fill.subarray(off, off + 128));
      model.set(fill.subarray(off, off + 128), off);
    }
    const sizes = [1, 2, 3, 4, 5, 7, 8, 12, 16, 31, 64, 100, 127, 128];
    for (let i = 0; i < 300; i++) {
      const n = rand() < 0.5 ? sizes[Math.floor(rand() * sizes.length)] : 1 + Math.floor(rand() * 128);
      let off = Math.floor(rand() * (RAM_BYTES - n));
      if (rand() < 0.3) off &= ~(n >= 8 ? 7 : n >= 4 ? 3 : n >= 2 ? 1 : 0); // naturally aligned accesses too
      if ((off & 0xfff) + n > 0x1000) off = (off & ~0xfff) + 0x1000 - n; // no request crosses 4 KB
      const what = `op ${i}: ${n} bytes at RAM+0x${off.toString(16)} (seed ${seed})`;
      if (rand() < 0.5) {
        const data = Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
        h.memWrite(RAM + BigInt(off), data);
        model.set(data, off);
      } else if ((off & 3) + n > 128) {
        // 33 dwords: more than one completion of at most 128 bytes could carry; the device answers CA.
        const [c] = h.memReadRaw(RAM + BigInt(off), n);
        expect(c.type === 'Cpl' && c.status, what).toBe(CplStatus.CA);
      } else {
        expect(Array.from(h.memRead(RAM + BigInt(off), n)), what).toEqual(Array.from(model.subarray(off, off + n)));
      }
    }
    // Completions carry the byte count and lower address the spec requires (the codec checked the rest).
    const cpl = h.memReadRaw(RAM + 0x105n, 6)[0];
    expect(cpl.type === 'CplD' && [cpl.byteCount, cpl.lowerAddress, cpl.data.length]).toEqual([6, 0x05, 8]);
  });

  test('errors: outside every BAR is UR, a read over 128 bytes is CA, D3hot disables decoding', () => {
    const h = open();
    enumerate(h, { bar0, bar2 });
    const [ur] = h.memReadRaw(bar0 + 0x1_0000n, 4);
    expect(ur.type === 'Cpl' && ur.status, 'just past BAR0').toBe(CplStatus.UR);
    const [ur2] = h.memReadRaw(bar2 + 0x1000n, 4);
    expect(ur2.type === 'Cpl' && ur2.status, 'just past BAR2').toBe(CplStatus.UR);
    const [ca] = h.memReadRaw(RAM, 132);
    expect(ca.type === 'Cpl' && ca.status, '33 dwords').toBe(CplStatus.CA);
    if (ca.type === 'Cpl') expect(ca.byteCount).toBe(132);
    const status = h.cfgRead(0x04) >>> 16;
    expect(status & Status.SignaledTargetAbort, 'Signaled Target Abort').toBe(Status.SignaledTargetAbort);
    expect(h.memRead(RAM, 128).length, '32 dwords are fine').toBe(128);
    // D3hot: memory requests are no longer decoded.
    const pmcsr = CapOffset.PowerManagement + 4;
    h.cfgWrite(pmcsr, 0b01); // D1 is not supported: ignored
    expect(h.read32(R('ID')) >>> 16).toBe(0x7e57);
    h.cfgWrite(pmcsr, 0b11);
    const [d3] = h.memReadRaw(R('ID'), 4);
    expect(d3.type === 'Cpl' && d3.status, 'in D3hot').toBe(CplStatus.UR);
    h.cfgWrite(pmcsr, 0b00);
    expect(h.read32(R('ID')) >>> 16, 'back in D0, configuration kept (No_Soft_Reset)').toBe(0x7e57);
  });

  test('MSI-X table and PBA in BAR2', () => {
    const h = open();
    enumerate(h, { bar0, bar2 });
    for (let v = 0; v < MSIX_VECTORS; v++) {
      const e = bar2 + BigInt(MSIX_TABLE_OFFSET + 16 * v);
      expect(h.read32(e + 12n) & 1, `vector ${v} masked at reset`).toBe(1);
      h.write32(e, 0xfee0_0003 + 4 * v);
      h.write32(e + 4n, v);
      h.write32(e + 8n, 0x4000 + v);
      h.write32(e + 12n, 0);
    }
    for (let v = 0; v < MSIX_VECTORS; v++) {
      const e = bar2 + BigInt(MSIX_TABLE_OFFSET + 16 * v);
      const entry = h.memRead(e, 16);
      const d = new DataView(entry.buffer);
      expect([d.getUint32(0, true), d.getUint32(4, true), d.getUint32(8, true), d.getUint32(12, true)], `vector ${v}`).toEqual([
        0xfee0_0000 + 4 * v, // address bits 1:0 read 0
        v,
        0x4000 + v,
        0,
      ]);
    }
    expect(Array.from(h.memRead(bar2 + BigInt(MSIX_PBA_OFFSET), 8)), 'nothing pending').toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(h.read32(bar2 + 0x400n), 'between table and PBA').toBe(0);
  });
});
