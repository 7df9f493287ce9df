// testdev memory space through the root complex model: BAR decode (64-bit BAR0 above and below 4 GB),
// registers from the register map, the device RAM at every access width and alignment against a model,
// the MSI-X table, and the error answers (UR when disabled, outside the BARs or in D3hot; CA for reads
// longer than 32 DW).
import { afterEach, beforeAll, describe, expect } from 'vitest';
import { CapOffset, Status } from '../../gen/pcie/cfg_space';
import { field, MSIX_PBA_OFFSET, MSIX_TABLE_OFFSET, MSIX_VECTORS, RAM_BYTES, RAM_OFFSET } from '../../gen/testdev/regs';
import type { DataWidth } from '../../gen/pcie/streams';
import { PCI_COMMAND, PCI_COMMAND_MEMORY, PCI_STATUS } from '../../tb/pcie/cfgspace';
import { Rng } from '../../sim/random';
import { seededTest } from '../support/seeds';
import { boot, buildSim, closeBenches, failedWith, lastFromDevice, OFF, testdevPorts } from './support';

const ID_VALUE = ((field('ID', 'MAGIC').reset << 16) | field('ID', 'VERSION').reset) >>> 0;

afterEach(closeBenches);

describe.each([
  { W: 64 as DataWidth, below4G: false, where: 'above 4 GB' }, // 4DW headers
  { W: 128 as DataWidth, below4G: true, where: 'below 4 GB' }, // 3DW headers
  { W: 256 as DataWidth, below4G: true, where: 'below 4 GB' },
  { W: 512 as DataWidth, below4G: false, where: 'above 4 GB' },
])('testdev_w$W memory space, BAR0 $where', ({ W, below4G }) => {
  let ports = '';
  beforeAll(() => {
    ports = testdevPorts(W);
    buildSim(ports);
  });
  /** Enumerated (BARs assigned, memory and bus mastering on unless told otherwise). */
  const open = (seed: number, rcOpts: Parameters<typeof boot>[2] = {}, opts: { memory?: boolean } = {}) => {
    const tb = boot(ports, seed, rcOpts);
    tb.rc.enumerate({ below4G, memory: opts.memory });
    expect(tb.rc.bar(0).address >= 1n << 32n, `BAR0 at 0x${tb.rc.bar(0).address.toString(16)}`).toBe(!below4G);
    return tb;
  };

  seededTest('memory space disabled: reads get UR, writes are dropped', (seed) => {
    const { rc, tap } = open(seed, {}, { memory: false });
    const b0 = rc.bar(0);
    expect(failedWith(() => b0.read32(OFF('ID')))).toBe('UR');
    const c = lastFromDevice(tap);
    expect(c.type === 'Cpl' && [c.byteCount, c.completerId], 'UR of a 1 DW read reports its byte count').toEqual([
      4,
      rc.opts.deviceId,
    ]);
    b0.write32(OFF('SCRATCH'), 0x1234);
    rc.cfgWrite16(PCI_COMMAND, PCI_COMMAND_MEMORY);
    expect(b0.read32(OFF('SCRATCH')), 'the disabled write did not land').toBe(0);
    expect(b0.read32(OFF('ID'))).toBe(ID_VALUE);
  });

  // INFO against the build parameters: test/tb/testdev.test.ts (enumeration).
  seededTest('registers: ID, SCRATCH, 64-bit access, multi-dword reads, unmapped offsets', (seed) => {
    const { rc } = open(seed);
    const b0 = rc.bar(0);
    expect(b0.read32(OFF('ID'))).toBe(ID_VALUE);
    b0.write32(OFF('SCRATCH'), 0xcafef00d);
    expect(b0.read32(OFF('SCRATCH'))).toBe(0xcafef00d);
    b0.write8(OFF('SCRATCH') + 2, 0x5a); // one byte
    expect(b0.read32(OFF('SCRATCH'))).toBe(0xca5af00d);
    expect(Array.from(b0.read(OFF('SCRATCH') + 1, 2))).toEqual([0xf0, 0x5a]);
    // A 64-bit register pair written and read as one qword.
    b0.write64(OFF('DMA_HOST_ADDR_LO'), 0x0123_4567_89ab_cdefn);
    expect(b0.read32(OFF('DMA_HOST_ADDR_LO'))).toBe(0x89ab_cdef);
    expect(b0.read32(OFF('DMA_HOST_ADDR_HI'))).toBe(0x0123_4567);
    expect(b0.read64(OFF('DMA_HOST_ADDR_LO'))).toBe(0x0123_4567_89ab_cdefn);
    // A multi-dword read across several registers.
    const block = b0.read(OFF('ID'), 16);
    expect(new DataView(block.buffer).getUint32(OFF('SCRATCH') - OFF('ID'), true)).toBe(0xca5af00d);
    // Unmapped register offsets read 0 and ignore writes; the top of BAR0 past the RAM too.
    for (const off of [0x7ffc, 0xc000, 0xfffc]) {
      b0.write32(off, 0xffffffff);
      expect(b0.read32(off), `0x${off.toString(16)}`).toBe(0);
    }
    // Read-only fields ignore writes.
    b0.write32(OFF('ID'), 0);
    expect(field('ID', 'MAGIC').get(b0.read32(OFF('ID')))).toBe(0x7e57);
  });

  // One MMIO read is one request here (maxMmioRead 512): over 32 DW the device answers CA.
  seededTest(
    'device RAM: random reads (up to 32 dwords) and writes of 1..128 bytes at every alignment match a model',
    (seed) => {
      const rng = new Rng(seed);
      const { rc, tap } = open(seed, { maxMmioRead: 512 });
      const b0 = rc.bar(0);
      const model = rng.bytes(RAM_BYTES);
      b0.write(RAM_OFFSET, model); // split by the RC at MPS and 4 KB
      const sizes = [1, 2, 3, 4, 5, 7, 8, 12, 16, 31, 64, 100, 127, 128];
      for (let i = 0; i < 300; i++) {
        const n = rng.chance(0.5) ? rng.pick(sizes) : rng.int(1, 128);
        let off = rng.int(0, RAM_BYTES - n - 1);
        if (rng.chance(0.3)) off &= ~(n >= 8 ? 7 : n >= 4 ? 3 : n >= 2 ? 1 : 0); // naturally aligned accesses too
        if ((off & 0xfff) + n > 0x1000) off = (off & ~0xfff) + 0x1000 - n; // no request crosses 4 KB
        const what = `op ${i}: ${n} bytes at RAM+0x${off.toString(16)}`;
        if (rng.chance(0.5)) {
          const data = rng.bytes(n);
          b0.write(RAM_OFFSET + off, data);
          model.set(data, off);
        } else if ((off & 3) + n > 128) {
          // 33 dwords: more than one completion of at most 128 bytes could carry; the device answers CA.
          expect(
            failedWith(() => b0.read(RAM_OFFSET + off, n)),
            what,
          ).toBe('CA');
        } else {
          expect(Array.from(b0.read(RAM_OFFSET + off, n)), what).toEqual(Array.from(model.subarray(off, off + n)));
        }
      }
      // Completions carry the byte count and lower address the spec requires (the RC checks them on every
      // completion; here one explicitly).
      b0.read(RAM_OFFSET + 0x105, 6);
      const cpl = lastFromDevice(tap);
      expect(cpl.type === 'CplD' && [cpl.byteCount, cpl.lowerAddress, cpl.data.length]).toEqual([
        6,
        (RAM_OFFSET + 0x105) & 0x7f,
        8,
      ]);
    },
  );

  seededTest('errors: outside every BAR is UR, a read over 32 DW is CA, D3hot disables decoding', (seed) => {
    const { rc, tap } = open(seed, { maxMmioRead: 512 });
    const bars = [rc.bar(0), rc.bar(2)];
    const inBar = (a: bigint) => bars.some((b) => a >= b.address && a < b.address + b.size);
    let misses = 0;
    for (const b of bars) {
      for (const a of [b.address - 4n, b.address + b.size]) {
        if (inBar(a)) continue; // the other BAR is adjacent
        expect(
          failedWith(() => rc.read32(a)),
          `0x${a.toString(16)}, next to BAR ${b.info.index}`,
        ).toBe('UR');
        misses++;
      }
    }
    expect(misses, 'addresses next to the BARs tried').toBeGreaterThanOrEqual(2);
    const b0 = rc.bar(0);
    expect(
      failedWith(() => b0.read(RAM_OFFSET, 132)),
      '33 dwords',
    ).toBe('CA');
    const ca = lastFromDevice(tap);
    expect(ca.type === 'Cpl' && ca.byteCount).toBe(132);
    expect(rc.cfgRead16(PCI_STATUS) & Status.SignaledTargetAbort, 'Signaled Target Abort').toBe(
      Status.SignaledTargetAbort,
    );
    expect(b0.read(RAM_OFFSET, 128).length, '32 dwords are fine').toBe(128);
    // D3hot: memory requests are no longer decoded.
    const pmcsr = CapOffset.PowerManagement + 4;
    rc.cfgWrite(pmcsr, 0b01); // D1 is not supported: ignored
    expect(b0.read32(OFF('ID'))).toBe(ID_VALUE);
    rc.cfgWrite(pmcsr, 0b11);
    expect(
      failedWith(() => b0.read32(OFF('ID'))),
      'in D3hot',
    ).toBe('UR');
    rc.cfgWrite(pmcsr, 0b00);
    expect(b0.read32(OFF('ID')), 'back in D0, configuration kept (No_Soft_Reset)').toBe(ID_VALUE);
  });

  seededTest('BAR edges: the first and the last byte of each BAR are served, one past is UR', (seed) => {
    const { rc } = open(seed);
    let misses = 0;
    for (const b of [rc.bar(0), rc.bar(2)]) {
      const size = Number(b.size);
      const where = `BAR${b.info.index}`;
      // The last dword of each BAR is an unmapped offset (reads 0); the first is a register (ID, MSI-X entry 0).
      expect(b.read8(size - 1), `${where} last byte`).toBe(0);
      b.write8(size - 1, 0xa5); // ignored, but accepted: no UR, nothing changes
      expect(b.read8(size - 1), `${where} last byte after a write`).toBe(0);
      expect(b.read8(0), `${where} first byte`).toBe(b.info.index === 0 ? ID_VALUE & 0xff : 0);
      // Just outside, unless the other BAR is adjacent there.
      const inBar = (a: bigint) => [rc.bar(0), rc.bar(2)].some((o) => a >= o.address && a < o.address + o.size);
      for (const [what, a] of [
        ['one past the end', b.address + b.size],
        ['the byte before', b.address - 1n],
      ] as const) {
        if (inBar(a)) continue;
        expect(
          failedWith(() => rc.read8(a)),
          `${where}: ${what}`,
        ).toBe('UR');
        misses++;
      }
    }
    expect(misses, 'addresses just outside a BAR tried').toBeGreaterThanOrEqual(2);
  });

  seededTest('a poisoned write is dropped and sets Detected Parity Error', (seed) => {
    const { rc } = open(seed);
    const b0 = rc.bar(0);
    b0.write32(OFF('SCRATCH'), 0x1111_1111);
    const data = Uint8Array.of(0x22, 0x22, 0x22, 0x22);
    const write = { address: b0.addr(OFF('SCRATCH')), firstBe: 0xf, lastBe: 0, requesterId: 0, tag: 0, data };
    rc.send({ type: 'MWr', ...write, ep: true });
    expect(b0.read32(OFF('SCRATCH')), 'the poisoned write did not land').toBe(0x1111_1111);
    expect(rc.cfgRead16(PCI_STATUS) & Status.DetectedParityError, 'Detected Parity Error').toBe(
      Status.DetectedParityError,
    );
    rc.send({ type: 'MWr', ...write });
    expect(b0.read32(OFF('SCRATCH')), 'the same write, not poisoned').toBe(0x2222_2222);
  });

  seededTest('MSI-X table and PBA in BAR2', (seed) => {
    const { rc } = open(seed);
    const b2 = rc.bar(2);
    for (let v = 0; v < MSIX_VECTORS; v++) {
      const e = MSIX_TABLE_OFFSET + 16 * v;
      expect(b2.read32(e + 12) & 1, `vector ${v} masked at reset`).toBe(1);
      b2.write32(e, 0xfee0_0003 + 4 * v);
      b2.write32(e + 4, v);
      b2.write32(e + 8, 0x4000 + v);
      b2.write32(e + 12, 0);
    }
    for (let v = 0; v < MSIX_VECTORS; v++) {
      const d = new DataView(b2.read(MSIX_TABLE_OFFSET + 16 * v, 16).buffer);
      expect(
        [d.getUint32(0, true), d.getUint32(4, true), d.getUint32(8, true), d.getUint32(12, true)],
        `vector ${v}`,
      ).toEqual([
        0xfee0_0000 + 4 * v, // address bits 1:0 read 0
        v,
        0x4000 + v,
        0,
      ]);
    }
    expect(Array.from(b2.read(MSIX_PBA_OFFSET, 8)), 'nothing pending').toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(b2.read32(0x400), 'between table and PBA').toBe(0);
  });
});
