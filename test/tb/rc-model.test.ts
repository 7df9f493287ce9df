// The root complex against the TypeScript endpoint model (tb/pcie/modeldev.ts): enumeration,
// BAR sizing and assignment, capability walks, MMIO of every width and alignment, DMA of many
// lengths and offsets under completion splitting, latency and reordering, MSI-X, and the
// error-injection paths. The same scenarios run against the hardware testdev in testdev.test.ts.
import { describe, expect, test } from 'vitest';
import {
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_VNDR,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_EXT_CAP_ID_DSN,
  PCI_EXT_CAP_ID_VNDR,
} from '../../tb/pcie/cfgspace';
import { CompletionStatusError, PcieViolation } from '../../tb/pcie/errors';
import {
  DMA_FROM_DEVICE,
  DMA_IRQ,
  DMA_STATUS,
  DMA_TO_DEVICE,
  MODEL_ID,
  MODEL_REGS as R,
  ModelEndpoint,
  type ModelEndpointOptions,
} from '../../tb/pcie/modeldev';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { Rng } from '../../sim/random';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { decodeTlp, encodeTlp, type Tlp } from '../../tb/pcie/tlp';
import { forEachSeed } from '../support/seeds';
import { TapLink } from '../../tb/pcie/link';

function boot(rcOpts: RootComplexOptions = {}, devOpts: ModelEndpointOptions = {}, seed = 1) {
  const dev = new ModelEndpoint(devOpts);
  const tap = new TapLink(dev);
  const rc = new RootComplex(tap, { seed, ...rcOpts });
  const info = rc.enumerate();
  return { dev, tap, rc, info };
}

const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const hi28 = (v: number) => (v & ~0xf) >>> 0;

/** Starts a DMA on the model and waits for its interrupt (vector 1) or DONE; returns DMA_STATUS. */
function dma(rc: RootComplex, dir: number, host: bigint, devOff: number, len: number, viaIrq = true): number {
  const b0 = rc.bar(0);
  b0.write32(R.DMA_STATUS, 0x1fe);
  b0.write64(R.DMA_HOST_LO, host);
  b0.write32(R.DMA_DEV, devOff);
  b0.write32(R.DMA_LEN, len);
  b0.write32(R.DMA_CTRL, dir | (viaIrq ? DMA_IRQ | (1 << 16) : 0));
  if (viaIrq) {
    rc.waitForInterrupt(1, { timeout: 200_000 });
    return b0.read32(R.DMA_STATUS);
  }
  for (let i = 0; i < 1000; i++) {
    const st = b0.read32(R.DMA_STATUS);
    if (st & DMA_STATUS.DONE) return st;
    rc.runFor(100);
  }
  throw new Error('DMA never finished');
}

describe('the link', () => {
  test('the model endpoint reports when it has taken a TLP, after the ones queued before it', () => {
    const dev = new ModelEndpoint({ lanes: 8 });
    const got: number[] = [];
    const raw = (dws: number) =>
      encodeTlp({
        type: 'CplD',
        completerId: 0,
        requesterId: 0x100,
        tag: 1,
        status: 0,
        byteCount: dws * 4,
        lowerAddress: 0,
        data: new Uint8Array(dws * 4),
      });
    dev.sendTracked(raw(32), 10, (c) => got.push(c)); // 4 beats of 8 dwords
    dev.sendTracked(raw(1), 10, (c) => got.push(c)); // queued behind it
    dev.run({ cycles: 5 });
    expect(got).toEqual([]);
    dev.run({ cycles: 100 });
    expect(got).toEqual([14, 15]);
  });

  test('a TapLink reports deliveries when the link under it does, and records those TLPs too', () => {
    const tap = new TapLink(new ModelEndpoint());
    const got: number[] = [];
    const raw = encodeTlp({
      type: 'Cpl',
      completerId: 0,
      requesterId: 0x100,
      tag: 1,
      status: 1,
      byteCount: 4,
      lowerAddress: 0,
    });
    tap.sendTracked!(raw, 5, (c) => got.push(c));
    tap.run({ cycles: 20 });
    expect(got).toEqual([6]);
    expect(tap.toDevice).toEqual([{ raw, at: 5, sentAt: 0 }]);
    const plain = { cycle: 0, send: () => {}, run: () => ({ reason: 'cycles', cycles: 1 }), takeTx: () => [] };
    expect(new TapLink(plain).sendTracked).toBeUndefined();
  });
});

describe('enumeration', () => {
  test('IDs, BAR sizing and natural-alignment assignment in the 32- and 64-bit windows, capabilities, device control', () => {
    const { rc, info, dev } = boot();
    expect(info).toMatchObject({
      vendorId: 0x1234,
      deviceId: 0x5678,
      revision: 1,
      classCode: 0xff0000,
      headerType: 0,
      multiFunction: false,
      subsystemVendorId: 0x1af4,
      subsystemId: 1,
    });
    const [b0, b1, b2, b3, b4, b5] = info.bars;
    expect(b0).toMatchObject({ kind: 'mem64', prefetchable: false, size: 0x4000n });
    expect(b2).toMatchObject({ kind: 'mem64', prefetchable: true, size: 0x1_0000n });
    expect(b4).toMatchObject({ kind: 'mem32', prefetchable: false, size: 0x1000n });
    expect([b1, b3, b5]).toEqual([undefined, undefined, undefined]);
    // Non-prefetchable BARs below 4 GB (even 64-bit ones), prefetchable 64-bit above; all naturally aligned.
    for (const b of [b0!, b2!, b4!]) expect(b.address % b.size).toBe(0n);
    expect(b0!.address).toBeGreaterThanOrEqual(0xc000_0000n);
    expect(b0!.address + b0!.size).toBeLessThanOrEqual(0xfe00_0000n);
    expect(b4!.address < 1n << 32n).toBe(true);
    expect(b2!.address).toBeGreaterThanOrEqual(0x40_0000_0000n);
    // What the device holds.
    expect(hi28(u32(dev.cfg, 0x10))).toBe(Number(b0!.address & 0xffff_fff0n));
    expect(u32(dev.cfg, 0x1c)).toBe(Number(b2!.address >> 32n));
    expect(dev.cfg[4] & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)).toBe(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    // Capability walks.
    expect(info.capList).toEqual([
      { id: PCI_CAP_ID_EXP, offset: 0x40 },
      { id: PCI_CAP_ID_MSIX, offset: 0x80 },
      { id: PCI_CAP_ID_VNDR, offset: 0x90 },
    ]);
    expect(Object.fromEntries(info.extCaps)).toEqual({ [PCI_EXT_CAP_ID_DSN]: 0x100, [PCI_EXT_CAP_ID_VNDR]: 0x140 });
    expect(info.pcie).toMatchObject({
      offset: 0x40,
      version: 2,
      mpsSupported: 512,
      extTagSupported: true,
      tenBitTagRequesterSupported: true,
    });
    // MPS = min(RC 256, device 512); MRRS 512; extended tags on; 10-bit tags off by default; RCB 64 (bit clear).
    expect(info).toMatchObject({ mps: 256, mrrs: 512, extTags: true, tenBitTags: false });
    expect(dev.mps).toBe(256);
    expect(dev.mrrs).toBe(512);
    expect(dev.cfg[0x50] & 8).toBe(0);
    expect(info.msix).toMatchObject({
      offset: 0x80,
      tableSize: 8,
      tableBir: 0,
      tableOffset: 0x2000,
      pbaBir: 0,
      pbaOffset: 0x3000,
      tableAddress: b0!.address + 0x2000n,
    });
    expect(rc.bar(0).read32(R.ID)).toBe(MODEL_ID);
    expect(() => rc.bar(1)).toThrow(/BAR 1 is not implemented/);
  });

  test('options: RCB 128, 10-bit tags, MPS/MRRS, everything below 4 GB', () => {
    const { info, dev } = boot({ rcb: 128, tenBitTags: true, mps: 128, mrrs: 256 });
    expect(dev.cfg[0x50] & 8).toBe(8);
    expect(dev.cfg[0x69] & 0x10).toBe(0x10);
    expect(info).toMatchObject({ mps: 128, mrrs: 256, tenBitTags: true });
    const low = new RootComplex(new ModelEndpoint(), { seed: 1 });
    expect(low.enumerate({ below4G: true }).bars[2]!.address < 1n << 32n).toBe(true);
  });

  test('config requests answered with CRS are retried; too many CRS is an error', () => {
    const { info, rc } = boot({ crsRetries: 5, crsDelay: 100 }, { crs: 3 });
    expect(info.vendorId).toBe(0x1234);
    expect(rc.stats().requester.crsRetries).toBe(3);
    const rc2 = new RootComplex(new ModelEndpoint({ crs: 10 }), { seed: 1, crsRetries: 4 });
    expect(() => rc2.enumerate()).toThrow(/CfgRd0 .* completed with CRS .*still CRS after 4 retries/);
  });
});

describe('MMIO', () => {
  test('every width 1/2/4/8 at every byte alignment, into SRAM (BAR2) and scratch (BAR4)', () => {
    forEachSeed((seed) => {
      const rng = new Rng(seed);
      const { rc, dev } = boot({}, {}, seed);
      for (const [bar, mem] of [
        [2, dev.sram],
        [4, dev.scratch],
      ] as const) {
        const h = rc.bar(bar);
        for (const width of [1, 2, 4, 8] as const) {
          for (let off = 0x100; off < 0x108; off++) {
            const v = rng.bytes(width);
            h.write(off, v);
            // The read is ordered behind the posted write, so once it returns the write has landed.
            expect(Array.from(h.read(off, width)), `BAR${bar} read ${width}@${off}`).toEqual(Array.from(v));
            expect(Array.from(mem.subarray(off, off + width)), `BAR${bar} write ${width}@${off}`).toEqual(
              Array.from(v),
            );
          }
        }
        h.write32(0x40, 0xdeadbeef);
        expect(h.read32(0x40)).toBe(0xdeadbeef);
        expect(h.read16(0x42)).toBe(0xdead);
        expect(h.read8(0x41)).toBe(0xbe);
        h.write64(0x48, 0x0123_4567_89ab_cdefn);
        expect(h.read64(0x48)).toBe(0x0123_4567_89ab_cdefn);
        h.write16(0x51, 0xabcd); // crosses a dword: a 2 DW write with BEs 1000b/0001b
        expect(h.read16(0x51)).toBe(0xabcd);
      }
      // The 8-byte write at offset 7 needs 3 DW.
      const mwr = dev.received.filter((t) => t.type === 'MWr').map((t) => t as Extract<Tlp, { type: 'MWr' }>);
      expect(mwr.some((t) => t.data.length === 12 && t.firstBe === 0x8 && t.lastBe === 0x7)).toBe(true);
    });
  });

  test('large accesses are split at MRRS (reads), MPS (writes) and 4 KB, at any offset', () => {
    forEachSeed((seed) => {
      const rng = new Rng(seed);
      const { rc, dev } = boot({ mps: 256, mrrs: 512 }, {}, seed);
      const h = rc.bar(2);
      for (let k = 0; k < 30; k++) {
        const len = k === 0 ? 0x1_0000 : rng.int(1, 6000);
        const off = k === 0 ? 0 : rng.int(0, 0x1_0000 - len);
        const data = rng.bytes(len);
        const n0 = dev.received.length;
        h.write(off, data);
        const back = h.read(off, len);
        expect(Buffer.compare(Buffer.from(back), Buffer.from(data)), `len ${len} at ${off}`).toBe(0);
        expect(Buffer.compare(Buffer.from(dev.sram.subarray(off, off + len)), Buffer.from(data))).toBe(0);
        for (const t of dev.received.slice(n0)) {
          if (t.type === 'MWr') expect(t.data.length).toBeLessThanOrEqual(256);
          if (t.type === 'MRd') expect(t.length * 4).toBeLessThanOrEqual(512);
        }
      }
    });
  });

  test('reads and writes of an unassigned address: UR for the read, the write is dropped', () => {
    const { rc } = boot();
    let err: unknown;
    try {
      rc.read32(0xd000_0000n);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CompletionStatusError);
    expect((err as CompletionStatusError).status).toBe('UR');
    rc.write32(0xd000_0000n, 1);
    rc.flush(rc.bar(0).address); // zero-length read: the posted write has landed
  });

  test('non-blocking requests: several in flight, completed by the pump', () => {
    const { rc } = boot();
    const h = rc.bar(2);
    h.write(
      0,
      Uint8Array.from({ length: 256 }, (_, i) => i),
    );
    const ps = [0, 64, 128, 192].map((o) => h.startRead(o, 64));
    expect(ps.every((p) => !p.done)).toBe(true);
    rc.waitFor('four reads', () => ps.every((p) => p.done));
    ps.forEach((p, i) => expect(p.result()[0]).toBe(i * 64));
    expect(() => h.startRead(0, 4).result()).toThrow(/has not completed yet/);
  });
});

describe('DMA', () => {
  test('host->device and device->host, many lengths and offsets incl. 4 KB boundaries, split and reordered completions', () => {
    forEachSeed((seed) => {
      const rng = new Rng(seed);
      const { rc, dev, tap } = boot(
        { latency: { min: 30, max: 400 }, split: 'random', mps: 256, mrrs: 512 },
        { dmaTags: 32 },
        seed,
      );
      rc.msix.setup();
      const host = rc.mem.alloc(0x6000, { name: 'dma', above4G: rng.chance(0.5) });
      const cases: [number, number][] = [
        [0, 1],
        [0xffd, 6], // across a 4 KB boundary by a few bytes
        [0xfff, 1],
        [0x1000 - 64, 128],
        [3, 4096],
        [0x800, 0x2000],
      ];
      for (let i = 0; i < 20; i++) {
        const len = rng.int(1, 5000);
        cases.push([rng.int(0, 0x6000 - len), len]);
      }
      for (const [off, len] of cases) {
        const devOff = rng.int(0, 0x1_0000 - len);
        // host -> device
        const src = rng.bytes(len);
        rc.mem.write(host.addr + BigInt(off), src);
        expect(dma(rc, DMA_TO_DEVICE, host.addr + BigInt(off), devOff, len) & 0x1fc, `to device ${len}@${off}`).toBe(0);
        expect(
          Buffer.compare(Buffer.from(dev.sram.subarray(devOff, devOff + len)), Buffer.from(src)),
          `to device ${len}@${off}`,
        ).toBe(0);
        // device -> host, into a fresh pattern so stray bytes show
        rc.mem.fill(host.addr, 0x6000, 0xee);
        dev.sram.set(rng.bytes(len), devOff);
        expect(dma(rc, DMA_FROM_DEVICE, host.addr + BigInt(off), devOff, len) & 0x1fc).toBe(0);
        const got = rc.mem.read(host.addr, 0x6000);
        expect(
          Buffer.compare(
            Buffer.from(got.subarray(off, off + len)),
            Buffer.from(dev.sram.subarray(devOff, devOff + len)),
          ),
        ).toBe(0);
        expect(
          got.subarray(0, off).every((b) => b === 0xee) && got.subarray(off + len).every((b) => b === 0xee),
          'bytes outside the buffer untouched',
        ).toBe(true);
      }
      // Completion splitting and reordering really happened, and latency was respected.
      // Each CplD is sent while the RC processes its read: match it to the latest read of its tag seen by then.
      const reads = tap.fromDevice.map((r) => ({ t: decodeTlp(r), cycle: r.cycle! })).filter((x) => x.t.type === 'MRd');
      const cpls = tap.toDevice
        .map((s) => ({ t: decodeTlp(s.raw), at: s.at, sentAt: s.sentAt }))
        .filter((x) => x.t.type === 'CplD');
      expect(cpls.length).toBeGreaterThan(reads.length);
      const firstAt = new Map<{ cycle: number }, number>();
      for (const c of cpls) {
        let req: (typeof reads)[number] | undefined;
        for (const r of reads) if (r.t.tag === c.t.tag && r.cycle <= c.sentAt) req = r;
        expect(c.at - req!.cycle, 'completion latency').toBeGreaterThanOrEqual(30);
        if (!firstAt.has(req!)) firstAt.set(req!, c.at);
      }
      // Reordering: some later read was answered before an earlier one.
      const order = [...firstAt.entries()].sort((a, b) => a[0].cycle - b[0].cycle).map(([, at]) => at);
      let inversions = 0;
      for (let i = 1; i < order.length; i++) if (order[i] < Math.max(...order.slice(0, i))) inversions++;
      expect(inversions).toBeGreaterThan(0);
      expect(rc.stats().completer.dmaReadBytes).toBe(cases.reduce((n, [, l]) => n + l, 0));
    });
  });

  test("DMA lands in a caller's shared buffer mapped into host memory (the bridge case)", () => {
    const { rc, dev } = boot();
    rc.msix.setup();
    const shared = new SharedArrayBuffer(0x2000);
    const view = new Uint8Array(shared);
    const region = rc.mem.map(0x3_0000_0000n, shared, 'rw', 'guest-ram');
    view.set(
      Uint8Array.from({ length: 0x1000 }, (_, i) => (i * 13) & 0xff),
      0x800,
    );
    expect(dma(rc, DMA_TO_DEVICE, region.addr + 0x800n, 0x100, 0x1000) & 0x1fc).toBe(0);
    expect(
      Buffer.compare(Buffer.from(dev.sram.subarray(0x100, 0x1100)), Buffer.from(view.subarray(0x800, 0x1800))),
    ).toBe(0);
    dev.sram.fill(0x5a, 0, 0x100);
    expect(dma(rc, DMA_FROM_DEVICE, region.addr + 0x10n, 0, 0x100) & 0x1fc).toBe(0);
    expect(view.subarray(0x10, 0x110).every((b) => b === 0x5a)).toBe(true);
  });

  test('in-order mode keeps completions in request order', () => {
    const { rc, tap } = boot({ reorder: false, latency: { min: 20, max: 300 } });
    rc.msix.setup();
    const host = rc.mem.alloc(0x4000);
    expect(dma(rc, DMA_TO_DEVICE, host.addr, 0, 0x4000) & 0x1fc).toBe(0);
    const at = tap.toDevice.filter((s) => decodeTlp(s.raw).type === 'CplD').map((s) => s.at);
    expect(at).toEqual([...at].sort((a, b) => a - b));
  });

  test('DMA into memory the device may not touch is caught, naming the region', () => {
    const { rc } = boot();
    rc.msix.setup();
    const ro = rc.mem.alloc(4096, { name: 'tx-only', perm: 'ro' });
    expect(() => dma(rc, DMA_FROM_DEVICE, ro.addr + 100n, 0, 64)).toThrow(
      /dma-permission: DMA write of 64 bytes at .*"tx-only"/,
    );
  });
});

describe('MSI-X', () => {
  test('programming, interrupt capture per vector, masking with pending bits, function mask', () => {
    const { rc } = boot();
    rc.msix.setup();
    for (let v = 0; v < 8; v++) {
      const e = rc.msix.readEntry(v);
      expect(e).toEqual({ ...rc.msix.defaultMessage(v), masked: false });
    }
    const b0 = rc.bar(0);
    b0.write32(R.IRQ, 5);
    const ev = rc.waitForInterrupt();
    expect(ev).toMatchObject({ vector: 5, data: 0x4005, address: rc.opts.msiBase + (5n << 12n) });
    // Masked: no message, the pending bit is set; unmasking delivers it.
    rc.msix.mask(6);
    b0.write32(R.IRQ, 6);
    rc.runFor(2000);
    expect(rc.takeInterrupts()).toEqual([]);
    expect(rc.msix.pending(6)).toBe(true);
    rc.msix.unmask(6);
    expect(rc.waitForInterrupt(6).vector).toBe(6);
    expect(rc.msix.pending(6)).toBe(false);
    // Function mask holds every vector.
    rc.msix.setControl(true, true);
    b0.write32(R.IRQ, 2);
    b0.write32(R.IRQ, 3);
    rc.runFor(2000);
    expect(rc.takeInterrupts()).toEqual([]);
    rc.msix.setControl(true, false);
    rc.runFor(2000);
    expect(
      rc
        .takeInterrupts()
        .map((e) => e.vector)
        .sort(),
    ).toEqual([2, 3]);
    // An external listener (as a bridge to a real kernel would use).
    const seen: number[] = [];
    const off = rc.onInterrupt((e) => seen.push(e.vector));
    b0.write32(R.IRQ, 7);
    rc.waitForInterrupt(7);
    off();
    expect(seen).toEqual([7]);
  });

  test('a device that ignores the mask is caught', () => {
    const { rc } = boot({}, { quirks: { ignoreMask: true } });
    rc.msix.setup();
    rc.msix.mask(1);
    rc.runFor(200); // past the grace period for a mask in flight
    rc.bar(0).write32(R.IRQ, 1);
    expect(() => rc.runFor(2000)).toThrow(/msix: MSI-X message for masked vector 1/);
  });
});

describe('error injection', () => {
  const statusBit = (rc: RootComplex) => rc.cfgRead(0x06, 2);

  test.each([
    ['ur', DMA_STATUS.UR, 0x2000],
    ['ca', DMA_STATUS.CA, 0x1000],
    ['poison', DMA_STATUS.POISON, 0x8000],
    ['drop', DMA_STATUS.TIMEOUT, 0],
  ] as const)('%s on a DMA read sets the device error status', (action, dmaBit, pciStatus) => {
    const { rc } = boot(
      { onRead: (r) => (r.index === 2 ? action : 'ok'), deviceCompletionTimeout: 3000 },
      { completionTimeout: 3000 },
    );
    rc.msix.setup();
    const host = rc.mem.alloc(8192);
    const st = dma(rc, DMA_TO_DEVICE, host.addr, 0, 8192);
    expect(st & 0x1fc).toBe(dmaBit);
    if (pciStatus) expect(statusBit(rc) & pciStatus).toBe(pciStatus);
    expect(rc.injector.counts[action]).toBe(1);
    // The RC still works afterwards.
    rc.setFaults({ onRead: undefined });
    expect(dma(rc, DMA_TO_DEVICE, host.addr, 0, 8192) & 0x1fc).toBe(0);
  });

  test('duplicate completions are flagged by the device as unexpected', () => {
    const { rc } = boot({ onRead: (r) => (r.index === 0 ? 'duplicate' : 'ok') });
    rc.msix.setup();
    const host = rc.mem.alloc(4096);
    rc.mem.write(
      host.addr,
      Uint8Array.from({ length: 256 }, (_, i) => i),
    );
    const st = dma(rc, DMA_TO_DEVICE, host.addr, 0, 256);
    rc.runFor(1000);
    expect((st | rc.bar(0).read32(R.DMA_STATUS)) & DMA_STATUS.UNEXPECTED).toBe(DMA_STATUS.UNEXPECTED);
  });

  test('a completion the device never asked for is flagged as unexpected', () => {
    const { rc } = boot();
    const b0 = rc.bar(0);
    expect(b0.read32(R.DMA_STATUS) & DMA_STATUS.UNEXPECTED).toBe(0);
    rc.sendUnexpectedCompletion({ tag: 77 });
    rc.settle({ quiet: 100 });
    expect(b0.read32(R.DMA_STATUS) & DMA_STATUS.UNEXPECTED).toBe(DMA_STATUS.UNEXPECTED);
    b0.write32(R.DMA_STATUS, DMA_STATUS.UNEXPECTED);
    rc.sendUnexpectedCompletion({ tag: 3, status: 'UR' });
    rc.settle({ quiet: 100 });
    expect(b0.read32(R.DMA_STATUS) & DMA_STATUS.UNEXPECTED).toBe(DMA_STATUS.UNEXPECTED);
  });

  test('random faults by probability are reproducible from the seed', () => {
    const run = (seed: number) => {
      const { rc } = boot({ faults: { ur: 0.05, ca: 0.05, poison: 0.05 } }, {}, seed);
      rc.msix.setup();
      const host = rc.mem.alloc(0x4000);
      const out: number[] = [];
      for (let i = 0; i < 12; i++) out.push(dma(rc, DMA_TO_DEVICE, host.addr, 0, 0x4000) & 0x1fc);
      return { out, counts: { ...rc.injector.counts } };
    };
    forEachSeed((seed) => {
      const a = run(seed);
      const b = run(seed);
      expect(a).toEqual(b);
      expect(a.counts.ok + a.counts.ur + a.counts.ca + a.counts.poison).toBe(12 * 32);
    });
  });

  test('a device exceeding MPS is caught by the RC check', () => {
    const { rc } = boot({ mps: 128 }, { quirks: { ignoreMps: true } });
    rc.msix.setup();
    const host = rc.mem.alloc(4096);
    let err: unknown;
    try {
      dma(rc, DMA_FROM_DEVICE, host.addr, 0, 1024);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PcieViolation);
    expect((err as PcieViolation).code).toBe('mps');
  });

  test('a device splitting its completions at 64 B is caught (endpoint RCB is 128 B)', () => {
    const { rc } = boot({}, { quirks: { rcb64: true } });
    rc.bar(2).read(0, 64); // one RCB: fine
    // 512 bytes from offset 96 at MPS 256: the first completion ends at 320, a 64 B but not a 128 B boundary.
    expect(() => rc.bar(2).read(96, 512)).toThrow(
      /rcb: partial completion .* not on a 128-byte read completion boundary/,
    );
  });
});
