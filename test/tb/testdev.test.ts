// The root complex driving the hardware test device (gen/testdev, Verilated) at every TLP stream width:
// enumeration, BAR sizing and assignment, capability walk, MMIO at every width and alignment,
// DMA of many lengths and offsets (4 KB boundaries, completions split at random RCBs, delayed,
// reordered, rx idle cycles and tx backpressure), MSI-X programming and capture, and the
// error-injection paths ending in the device's error status. Offsets and fields come from the
// testdev's own register map (gen/testdev/regs.ts); nothing is hard-coded here.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { CapId, CapOffset, Status } from '../../gen/pcie/cfg_space';
import { DmaError } from '../../gen/pcie/dma_common';
import {
  BAR0_BYTES,
  BAR2_BYTES,
  field,
  MSIX_PBA_OFFSET,
  MSIX_TABLE_OFFSET,
  MSIX_VECTORS,
  RAM_BYTES,
} from '../../gen/testdev/regs';
import { TESTDEV_CFG, TESTDEV_WIDTHS, testdevParams } from '../../gen/testdev/top';
import {
  PCI_COMMAND,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_EXP_DEVSTA,
  PCI_EXP_DEVSTA_URD,
  PCI_STATUS,
} from '../../tb/pcie/cfgspace';
import { CompletionStatusError, PcieViolation } from '../../tb/pcie/errors';
import type { ReadAction } from '../../tb/pcie/inject';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { Rng } from '../../sim/random';
import { leToBigint } from '../../tb/pcie/hostmem';
import { CplStatus, decodeTlp, pcieId, type MemReadTlp } from '../../tb/pcie/tlp';
import {
  boot as bootBench,
  buildSim,
  closeBenches,
  dma,
  errCode,
  OFF,
  ramRead,
  ramWrite,
  same,
  startDma,
  testdevPorts,
} from '../testdev/support';
import { seededTest } from '../support/seeds';

afterEach(closeBenches);

describe.each(TESTDEV_WIDTHS)('RC + testdev_w%i', (W) => {
  let ports = '';
  beforeAll(() => {
    ports = testdevPorts(W);
    buildSim(ports);
  });

  function boot(seed: number, rcOpts: RootComplexOptions = {}, sim: { rxIdle?: number; txBackpressure?: number } = {}) {
    const tb = bootBench(ports, seed, rcOpts, sim);
    return { ...tb, info: tb.rc.enumerate() };
  }

  test('enumeration: IDs, BAR sizing and assignment, capability walk, device control, completer ID capture', () => {
    const { rc, info, sim } = boot(1);
    expect(info).toMatchObject({
      vendorId: TESTDEV_CFG.vendorId,
      deviceId: TESTDEV_CFG.deviceId,
      revision: TESTDEV_CFG.revisionId,
      classCode: TESTDEV_CFG.classCode,
      subsystemVendorId: TESTDEV_CFG.subsystemVendorId,
      subsystemId: TESTDEV_CFG.subsystemId,
      headerType: 0,
    });
    const [b0, b1, b2, b3, b4, b5] = info.bars;
    expect(b0).toMatchObject({ kind: 'mem64', prefetchable: true, size: BigInt(BAR0_BYTES) });
    expect(b2).toMatchObject({ kind: 'mem32', prefetchable: false, size: BigInt(BAR2_BYTES) });
    expect([b1, b3, b4, b5]).toEqual([undefined, undefined, undefined, undefined]);
    expect(b0!.address).toBeGreaterThanOrEqual(1n << 32n); // 64-bit prefetchable: the window above 4 GB
    expect(b2!.address < 1n << 32n).toBe(true);
    for (const b of [b0!, b2!]) expect(b.address % b.size).toBe(0n);
    expect(info.capList).toEqual([
      { id: CapId.PciExpress, offset: CapOffset.PciExpress },
      { id: CapId.Msix, offset: CapOffset.Msix },
      { id: CapId.PowerManagement, offset: CapOffset.PowerManagement },
    ]);
    expect(info.extCapList).toEqual([]); // the null extended capability at 0x100
    expect(info.pcie).toMatchObject({
      version: 2,
      mpsSupported: 128 << TESTDEV_CFG.mpsSupported,
      extTagSupported: true,
    });
    expect(info).toMatchObject({ mps: 256, mrrs: 512, extTags: true });
    expect(info.msix).toMatchObject({
      tableSize: MSIX_VECTORS,
      tableBir: 2,
      tableOffset: MSIX_TABLE_OFFSET,
      pbaBir: 2,
      pbaOffset: MSIX_PBA_OFFSET,
    });
    expect(rc.cfgRead16(PCI_COMMAND) & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)).toBe(
      PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
    );
    expect(sim.peek('completer_id')).toBe(BigInt(rc.opts.deviceId));
    // The register map identifies itself, and INFO matches the build parameters.
    const b = rc.bar(0);
    expect(field('ID', 'MAGIC').get(b.read32(OFF('ID')))).toBe(0x7e57);
    const infoReg = b.read32(OFF('INFO'));
    const q = testdevParams(W);
    expect(field('INFO', 'LANES').get(infoReg)).toBe(q.lanes);
    expect(field('INFO', 'READ_TAGS').get(infoReg)).toBe(q.readTags);
    expect(field('INFO', 'MSIX_VECTORS').get(infoReg)).toBe(MSIX_VECTORS);
    expect(field('INFO', 'RAM_KIB').get(infoReg)).toBe(RAM_BYTES / 1024);
  });

  seededTest('MMIO: every width at every alignment into RAM and registers, long accesses split by the RC', (seed) => {
    const rng = new Rng(seed);
    const { rc } = boot(seed);
    const b0 = rc.bar(0);
    for (const width of [1, 2, 4, 8] as const) {
      for (let off = 0x40; off < 0x48; off++) {
        const v = rng.bytes(width);
        ramWrite(rc, off, v);
        expect(Array.from(ramRead(rc, off, width)), `${width} bytes at RAM+${off}`).toEqual(Array.from(v));
      }
    }
    // Odd widths and lengths too, some across 64 B and 4 KB boundaries.
    const model = rng.bytes(RAM_BYTES);
    ramWrite(rc, 0, model); // split by the RC at MPS 256 and 4 KB
    for (let k = 0; k < 40; k++) {
      const len = rng.int(1, k < 20 ? 16 : 700);
      const off = k === 0 ? 0x1000 - 3 : rng.int(0, RAM_BYTES - len);
      const data = rng.bytes(len);
      ramWrite(rc, off, data);
      model.set(data, off);
      expect(same(ramRead(rc, off, len), data), `${len} bytes at RAM+0x${off.toString(16)}`).toBe(true);
    }
    expect(same(ramRead(rc, 0, RAM_BYTES), model)).toBe(true);
    // Registers: 32-bit scratch at every byte lane, a 64-bit access spanning DMA_HOST_ADDR_LO/HI.
    b0.write32(OFF('SCRATCH'), 0x11223344);
    b0.write8(OFF('SCRATCH') + 2, 0xaa);
    expect(b0.read32(OFF('SCRATCH'))).toBe(0x11aa3344);
    expect(b0.read16(OFF('SCRATCH') + 1)).toBe(0xaa33);
    b0.write64(OFF('DMA_HOST_ADDR_LO'), 0x0123_4567_89ab_cdefn);
    expect(b0.read32(OFF('DMA_HOST_ADDR_HI'))).toBe(0x0123_4567);
    expect(b0.read64(OFF('DMA_HOST_ADDR_LO'))).toBe(0x0123_4567_89ab_cdefn);
    // The MSI-X table in BAR2 takes DWORD accesses.
    rc.bar(2).write32(MSIX_TABLE_OFFSET + 8, 0xdead);
    expect(rc.bar(2).read32(MSIX_TABLE_OFFSET + 8)).toBe(0xdead);
  });

  test('MMIO errors: a read longer than the device completes is CA, a miss is UR, decoding off is UR', () => {
    const { rc } = boot(2, { maxMmioRead: 512 });
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as CompletionStatusError;
      }
      throw new Error('expected an error');
    };
    expect(err(() => ramRead(rc, 0, 256)).status).toBe('CA'); // 64 DW > the testdev's 32 DW limit
    const miss = rc.bar(0).address + BigInt(BAR0_BYTES) + 0x10_0000n;
    expect(err(() => rc.read32(miss)).status).toBe('UR');
    rc.cfgWrite16(PCI_COMMAND, PCI_COMMAND_MASTER);
    expect(err(() => rc.bar(0).read32(OFF('SCRATCH'))).status).toBe('UR');
    rc.cfgWrite16(PCI_COMMAND, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY);
    expect(field('ID', 'MAGIC').get(rc.bar(0).read32(OFF('ID')))).toBe(0x7e57);
  });

  seededTest(
    'DMA both ways: many lengths and offsets, 4 KB boundaries, split/delayed/reordered completions, idle and backpressure',
    (seed) => {
      const rng = new Rng(seed);
      const { rc, tap } = boot(seed, { split: 'random', reorder: true });
      rc.msix.setup();
      const lo = rc.mem.alloc(0x6000, { name: 'dma-low' });
      const hi = rc.mem.alloc(0x6000, { name: 'dma-high', above4G: true });
      const cases: { len: number; hostOff: number; region: typeof lo }[] = [
        { len: 1, hostOff: 0xfff, region: lo },
        { len: 6, hostOff: 0xffd, region: hi }, // 3 bytes either side of a 4 KB boundary
        { len: 128, hostOff: 0x1000 - 64, region: lo },
        { len: 4096, hostOff: 0x803, region: hi },
        { len: RAM_BYTES, hostOff: 0x1000, region: lo },
      ];
      for (let i = 0; i < 40; i++) {
        const len = rng.int(1, i < 20 ? 300 : 3000);
        cases.push({ len, hostOff: rng.int(0, 0x6000 - len), region: rng.chance(0.5) ? lo : hi });
      }
      let irqs = 0;
      for (const c of cases) {
        const host = c.region.addr + BigInt(c.hostOff);
        // The RAM offset must equal the host address mod 4.
        const ram = Math.max(
          0,
          (rng.int(0, RAM_BYTES - c.len) & ~3) + (c.hostOff & 3) - (c.len + (c.hostOff & 3) > RAM_BYTES ? 4 : 0),
        );
        const what = `${c.len} bytes at host 0x${host.toString(16)} <-> RAM 0x${ram.toString(16)}`;
        const src = rng.bytes(c.len);
        rc.mem.write(host, src);
        const useIrq = rng.chance(0.5) ? rng.int(0, MSIX_VECTORS - 1) : undefined;
        if (useIrq !== undefined) irqs++;
        expect(errCode(dma(rc, { dir: 'HOST_TO_RAM', host, ram, len: c.len, irq: useIrq })), what).toBe(0);
        expect(same(ramRead(rc, ram, c.len), src), `host -> RAM: ${what}`).toBe(true);
        // And back, into a poisoned pattern so stray bytes show.
        const back = rng.bytes(c.len);
        ramWrite(rc, ram, back);
        rc.mem.fill(c.region.addr, 0x6000, 0xee);
        expect(errCode(dma(rc, { dir: 'RAM_TO_HOST', host, ram, len: c.len })), what).toBe(0);
        const got = rc.mem.read(c.region.addr, 0x6000);
        expect(same(got.subarray(c.hostOff, c.hostOff + c.len), back), `RAM -> host: ${what}`).toBe(true);
        expect(
          got.subarray(0, c.hostOff).every((b) => b === 0xee) &&
            got.subarray(c.hostOff + c.len).every((b) => b === 0xee),
          `outside ${what}`,
        ).toBe(true);
      }
      const s = rc.stats();
      expect(s.interrupts).toBe(irqs);
      // The device's reads obeyed MRRS and its writes MPS (the RC checks every TLP; here the shapes).
      const reads = tap.fromDevice.map((r) => decodeTlp(r)).filter((t): t is MemReadTlp => t.type === 'MRd');
      expect(reads.every((r) => r.length * 4 <= 512)).toBe(true);
      expect(s.toDevice.CplD!.tlps).toBeGreaterThan(reads.length); // completions were split
      expect(s.completer.dmaReadBytes).toBe(cases.reduce((n, c) => n + c.len, 0));
      expect(s.completer.dmaWriteBytes).toBe(s.completer.dmaReadBytes);
    },
  );

  seededTest('waiting for an interrupt batches the DMA writes into one step, and nothing else changes', (seed) => {
    // The same seeded traffic twice: waitForInterrupt lets plain DMA writes pile up until the
    // MSI-X message ends the step (StepOptions.batchWrites); a generic waitFor on the interrupt
    // log stops for every TLP. The device must see the same TLPs at the same cycles, and the
    // host the same memory, both ways.
    const run = (batched: boolean) => {
      const rng = new Rng(seed);
      const { rc, tap, sim } = boot(seed, { split: 'random', reorder: true });
      rc.msix.setup();
      const src = rc.mem.alloc(RAM_BYTES, { perm: 'ro' });
      const dst = rc.mem.alloc(RAM_BYTES, { perm: 'wo', above4G: true });
      rc.mem.write(src.addr, rng.bytes(RAM_BYTES));
      const start = rc.stats();
      const seen: number[] = [];
      for (const [dir, host] of [
        ['HOST_TO_RAM', src.addr],
        ['RAM_TO_HOST', dst.addr],
        ['RAM_TO_HOST', dst.addr + 8n],
      ] as const) {
        const len = dir === 'RAM_TO_HOST' && host !== dst.addr ? RAM_BYTES - 8 - rng.int(0, 99) : RAM_BYTES;
        startDma(rc, { dir, host, ram: host === dst.addr + 8n ? 8 : 0, len, irq: 1 });
        if (batched) rc.waitForInterrupt(1);
        else {
          const n = rc.interrupts.length;
          rc.waitFor('the interrupt', () => rc.interrupts.length > n);
          rc.takeInterrupts();
        }
        seen.push(sim.cycle);
      }
      const end = rc.stats();
      return {
        seen,
        fromDevice: tap.fromDevice.map((t) => [t.cycle, Array.from(t.hdr), Array.from(t.data)]),
        toDevice: tap.toDevice.map((t) => [t.at, t.sentAt, Array.from(t.raw.hdr), Array.from(t.raw.data)]),
        dst: rc.mem.read(dst.addr, RAM_BYTES),
        steps: end.steps - start.steps,
        writes: end.completer.dmaWrites - start.completer.dmaWrites,
      };
    };
    const batched = run(true);
    const strict = run(false);
    expect(batched.seen).toEqual(strict.seen);
    expect(batched.fromDevice).toEqual(strict.fromDevice);
    expect(batched.toDevice).toEqual(strict.toDevice);
    expect(same(batched.dst, strict.dst)).toBe(true);
    expect(strict.steps).toBeGreaterThan(strict.writes); // one step per write at least...
    expect(batched.steps).toBeLessThan(strict.steps - strict.writes / 2); // ...and far fewer batched
  });

  test('MSI-X: programming, capture per vector, masking with the pending bit, function mask', () => {
    const { rc, sim } = boot(3);
    rc.msix.setup();
    const b0 = rc.bar(0);
    for (let v = 0; v < MSIX_VECTORS; v++) {
      expect(rc.msix.readEntry(v)).toEqual({ ...rc.msix.defaultMessage(v), masked: false });
      b0.write32(OFF('IRQ_TEST'), field('IRQ_TEST', 'VECTOR').put(v));
      const ev = rc.waitForInterrupt(v);
      expect(ev).toMatchObject({ vector: v, ...rc.msix.defaultMessage(v) });
    }
    rc.msix.mask(2);
    rc.runFor(200);
    b0.write32(OFF('IRQ_TEST'), field('IRQ_TEST', 'VECTOR').put(2));
    rc.runFor(2000);
    expect(rc.takeInterrupts()).toEqual([]);
    expect(rc.msix.pending(2)).toBe(true);
    expect(Number(sim.peek('irq_pending')) & 4).toBe(4);
    rc.msix.unmask(2);
    expect(rc.waitForInterrupt(2).vector).toBe(2);
    expect(rc.msix.pending(2)).toBe(false);
    rc.msix.setControl(true, true);
    rc.runFor(200);
    b0.write32(OFF('IRQ_TEST'), field('IRQ_TEST', 'VECTOR').put(1));
    b0.write32(OFF('IRQ_TEST'), field('IRQ_TEST', 'VECTOR').put(3));
    rc.runFor(2000);
    expect(rc.takeInterrupts()).toEqual([]);
    rc.msix.setControl(true, false);
    rc.runFor(2000);
    expect(
      rc
        .takeInterrupts()
        .map((e) => e.vector)
        .sort(),
    ).toEqual([1, 3]);
  });

  seededTest('raw requests: what the testdev does not serve is answered with UR, what it serves with data', (seed) => {
    const { rc, tap } = boot(seed);
    const bar0 = rc.bar(0).address;
    const cfg = { offset: 0, firstBe: 0xf, requesterId: 0, tag: 0 } as const;
    const read = { length: 1, firstBe: 0xf, lastBe: 0, requesterId: 0, tag: 0 } as const;
    const answers = [
      rc.rawRequest({ type: 'CfgRd0', completerId: pcieId(1, 0, 1), ...cfg }), // function 1 does not exist
      rc.rawRequest({ type: 'CfgRd1', completerId: rc.opts.deviceId, ...cfg }), // endpoints forward no type 1
      rc.rawRequest({ type: 'MRdLk', address: bar0, ...read }), // no locked transactions
      // IORd, IOWr, FetchAdd have no codec form: header dwords (Fmt/Type, Length 1, First DW BE 1111b, address).
      rc.rawRequest({ hdr: new Uint32Array([0x0200_0001, 0xf, 0x60, 0]), data: new Uint32Array(0) }),
      rc.rawRequest({ hdr: new Uint32Array([0x4200_0001, 0xf, 0x60, 0]), data: new Uint32Array(1) }),
      rc.rawRequest({ hdr: new Uint32Array([0x6c00_0001, 0xf, 0, 0x1000]), data: new Uint32Array(1) }),
      rc.rawRequest({ type: 'MRd', address: 0x1000n, ...read }), // no BAR there
    ];
    const sent = tap.toDevice.slice(-answers.length).map((s) => (s.raw.hdr[1] >>> 8) & 0xff); // DW1 Tag[7:0]
    expect(answers.map((a) => a.map((c) => [c.type, c.status, c.byteCount, c.completerId]))).toEqual([
      [['Cpl', CplStatus.UR, 4, rc.opts.deviceId]],
      [['Cpl', CplStatus.UR, 4, rc.opts.deviceId]],
      [['CplLk', CplStatus.UR, 4, rc.opts.deviceId]],
      [['Cpl', CplStatus.UR, 4, rc.opts.deviceId]],
      [['Cpl', CplStatus.UR, 4, rc.opts.deviceId]],
      [['Cpl', CplStatus.UR, 4, rc.opts.deviceId]],
      [['Cpl', CplStatus.UR, 4, rc.opts.deviceId]],
    ]);
    expect(answers.map((a) => a[0].tag)).toEqual(sent); // each answer carries its request's tag
    expect(answers.every((a) => a[0].requesterId === rc.opts.rcId)).toBe(true);
    // Served: a read of BAR0's ID register, in one completion.
    const [id] = rc.rawRequest({ type: 'MRd', address: bar0 + BigInt(OFF('ID')), ...read });
    expect(id).toMatchObject({ type: 'CplD', status: CplStatus.SC, byteCount: 4 });
    expect(field('ID', 'MAGIC').get(Number(leToBigint('data' in id ? id.data : new Uint8Array(4))))).toBe(0x7e57);
    const devsta = rc.cfgRead16(CapOffset.PciExpress + PCI_EXP_DEVSTA);
    expect(devsta & PCI_EXP_DEVSTA_URD, 'Unsupported Request Detected').toBe(PCI_EXP_DEVSTA_URD);
  });

  describe('error injection on the device side', () => {
    const cases: [ReadAction, number, number][] = [
      ['ur', DmaError.UNSUPPORTED_REQUEST, Status.ReceivedMasterAbort],
      ['ca', DmaError.COMPLETER_ABORT, Status.ReceivedTargetAbort],
      ['poison', DmaError.POISONED, Status.DetectedParityError],
      ['drop', DmaError.TIMEOUT, 0],
    ];
    test.each(cases)(
      '%s on one DMA read: the transfer fails with its error code, the status bit is set, the next transfer works',
      (action, code, statusBit) => {
        const { rc } = boot(4, { onRead: (r) => (r.index === 3 ? action : 'ok'), deviceCompletionTimeout: 4000 });
        rc.msix.setup();
        rc.bar(0).write32(OFF('DMA_TIMEOUT'), 4000);
        const buf = rc.mem.alloc(8192);
        const st = dma(rc, { dir: 'HOST_TO_RAM', host: buf.addr, ram: 0, len: 8192, irq: 0 });
        expect(errCode(st)).toBe(code);
        if (statusBit) expect(rc.cfgRead16(PCI_STATUS) & statusBit).toBe(statusBit);
        expect(rc.injector.counts[action]).toBe(1);
        rc.settle({ quiet: 5000 }); // let the device drain what is still in flight
        rc.mem.write(
          buf.addr,
          Uint8Array.from({ length: 8192 }, (_, i) => i * 7),
        );
        expect(errCode(dma(rc, { dir: 'HOST_TO_RAM', host: buf.addr, ram: 0, len: 8192 }))).toBe(0);
        expect(same(ramRead(rc, 0, 8192), rc.mem.read(buf.addr, 8192))).toBe(true);
      },
    );

    test.each([
      ['poison', DmaError.POISONED, Status.DetectedParityError],
      ['ur', DmaError.UNSUPPORTED_REQUEST, Status.ReceivedMasterAbort],
      ['ca', DmaError.COMPLETER_ABORT, Status.ReceivedTargetAbort],
    ] as [ReadAction, number, number][])(
      '%s in the third split of one read, after data: the transfer fails with its error code',
      (action, code, statusBit) => {
        const { rc } = boot(9, { split: 'rcb', onRead: (r) => (r.index === 1 ? { action, completion: 2 } : 'ok') });
        rc.msix.setup();
        const buf = rc.mem.alloc(4096);
        const st = dma(rc, { dir: 'HOST_TO_RAM', host: buf.addr, ram: 0, len: 2048, irq: 0 });
        expect(errCode(st)).toBe(code);
        expect(rc.cfgRead16(PCI_STATUS) & statusBit).toBe(statusBit);
        expect(rc.injector.counts[action]).toBe(1);
        rc.settle({ quiet: 1000 });
        expect(errCode(dma(rc, { dir: 'HOST_TO_RAM', host: buf.addr, ram: 0, len: 2048 }))).toBe(0);
      },
    );

    test('duplicate and unsolicited completions are counted as unexpected and dropped', () => {
      const { rc } = boot(5, { onRead: () => 'duplicate' });
      rc.msix.setup();
      const buf = rc.mem.alloc(4096);
      rc.mem.write(
        buf.addr,
        Uint8Array.from({ length: 256 }, (_, i) => i),
      );
      // One read request (256 B < MRRS): its last completion arrives twice.
      expect(errCode(dma(rc, { dir: 'HOST_TO_RAM', host: buf.addr, ram: 0, len: 256 }))).toBe(0);
      rc.settle({ quiet: 1000 });
      const count = () => field('CPL_UNEXPECTED', 'COUNT').get(rc.bar(0).read32(OFF('CPL_UNEXPECTED')));
      expect(count()).toBe(1);
      expect(same(ramRead(rc, 0, 256), rc.mem.read(buf.addr, 256))).toBe(true);
      rc.sendUnexpectedCompletion({ tag: 5 });
      rc.settle({ quiet: 1000 });
      expect(count()).toBe(2);
    });

    seededTest(
      '30% duplicates on a 16 KB transfer: right data, every repeat counted as unexpected, no violation',
      (seed) => {
        const { rc } = boot(seed, { faults: { duplicate: 0.3 } });
        rc.msix.setup();
        const buf = rc.mem.alloc(RAM_BYTES, { perm: 'ro' });
        const data = Uint8Array.from({ length: RAM_BYTES }, (_, i) => (i * 13 + 5) & 0xff);
        rc.mem.write(buf.addr, data);
        expect(errCode(dma(rc, { dir: 'HOST_TO_RAM', host: buf.addr, ram: 0, len: RAM_BYTES, irq: 0 }))).toBe(0);
        rc.settle({ quiet: 2000 });
        expect(rc.injector.counts.duplicate).toBeGreaterThan(0);
        const unexpected = field('CPL_UNEXPECTED', 'COUNT').get(rc.bar(0).read32(OFF('CPL_UNEXPECTED')));
        expect(unexpected).toBe(rc.injector.counts.duplicate);
        expect(same(ramRead(rc, 0, RAM_BYTES), data)).toBe(true);
      },
    );

    seededTest('random faults by rate: every failed transfer matches an injected fault, reproducibly', (seed) => {
      const { rc } = boot(seed, { faults: { ur: 0.04, ca: 0.04 } });
      rc.msix.setup();
      const buf = rc.mem.alloc(0x4000);
      let failed = 0;
      for (let i = 0; i < 10; i++) {
        const before = { ...rc.injector.counts };
        const code = errCode(dma(rc, { dir: 'HOST_TO_RAM', host: buf.addr, ram: 0, len: 0x4000, irq: 1 }));
        rc.settle({ quiet: 3000 });
        const ur = rc.injector.counts.ur - before.ur;
        const ca = rc.injector.counts.ca - before.ca;
        if (ur + ca === 0) expect(code).toBe(0);
        else {
          failed++;
          expect([DmaError.UNSUPPORTED_REQUEST, DmaError.COMPLETER_ABORT]).toContain(code);
        }
      }
      expect(failed).toBeLessThanOrEqual(10);
    });

    test('bus mastering off: the transfer is refused and the device sends nothing (the RC would flag it)', () => {
      const { rc } = boot(6);
      rc.msix.setup();
      rc.cfgWrite16(PCI_COMMAND, PCI_COMMAND_MEMORY);
      const buf = rc.mem.alloc(4096);
      const st = dma(rc, { dir: 'RAM_TO_HOST', host: buf.addr, ram: 0, len: 512 });
      expect(errCode(st)).toBe(DmaError.BUS_MASTER_DISABLED);
      expect(rc.stats().fromDevice.MWr).toBeUndefined();
    });

    test('DMA into host memory the IOMMU did not grant is caught by the RC', () => {
      const { rc } = boot(7);
      rc.msix.setup();
      const ro = rc.mem.alloc(4096, { name: 'tx-ring', perm: 'ro' });
      let e: unknown;
      try {
        dma(rc, { dir: 'RAM_TO_HOST', host: ro.addr + 4n, ram: 4, len: 64 });
      } catch (err) {
        e = err;
      }
      expect(e).toBeInstanceOf(PcieViolation);
      expect((e as PcieViolation).code).toBe('dma-permission');
      expect((e as Error).message).toMatch(/DMA write of 64 bytes at 0x[0-9a-f]+: region "tx-ring"/);
    });
  });
});
