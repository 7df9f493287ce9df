// The TypeScript model endpoint (tb/pcie/modeldev.ts) behind the root complex: what the scenario suites do not pin
// down (found by mutation testing, see docs/mutation.md): read-only registers, MSI-X at reset and while disabled or
// without bus mastering, the DMA engine's start conditions, tags, failures and counters, config byte enables.
import { describe, expect, test } from 'vitest';
import { CompletionStatusError } from '../../tb/pcie/errors';
import { TapLink } from '../../tb/pcie/link';
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
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { CplStatus, decodeTlp, encodeTlp, type MemReadTlp } from '../../tb/pcie/tlp';

function boot(rcOpts: RootComplexOptions = {}, devOpts: ModelEndpointOptions = {}) {
  const dev = new ModelEndpoint(devOpts);
  const tap = new TapLink(dev);
  const rc = new RootComplex(tap, { seed: 11, ...rcOpts });
  rc.enumerate();
  return { dev, tap, rc, b0: rc.bar(0) };
}

/** Starts a DMA without waiting for it. */
function start(rc: RootComplex, ctrl: number, host: bigint, devOff: number, len: number): void {
  const b0 = rc.bar(0);
  b0.write64(R.DMA_HOST_LO, host);
  b0.write32(R.DMA_DEV, devOff);
  b0.write32(R.DMA_LEN, len);
  b0.write32(R.DMA_CTRL, ctrl);
}

function finish(rc: RootComplex): number {
  const b0 = rc.bar(0);
  for (let i = 0; i < 500; i++) {
    const st = b0.read32(R.DMA_STATUS);
    if (!(st & DMA_STATUS.BUSY)) return st;
    rc.runFor(200);
  }
  throw new Error('DMA never finished');
}

/** The device's memory reads (DMA), as the tap saw them. */
const mrds = (tap: TapLink) =>
  tap.fromDevice.map((raw) => decodeTlp(raw)).filter((t): t is MemReadTlp => t.type === 'MRd');

describe('registers', () => {
  test('ID, DMA_DONE_COUNT and the PBA are read-only; the bytes next to them are not', () => {
    const { rc, b0 } = boot();
    b0.write32(R.ID, 0);
    b0.write32(R.DMA_DONE_COUNT, 0x1234);
    b0.write32(R.MSIX_PBA, 0xff);
    b0.write32(R.SCRATCH, 0x5555_aaaa);
    expect([b0.read32(R.ID), b0.read32(R.DMA_DONE_COUNT), b0.read32(R.MSIX_PBA), b0.read32(R.SCRATCH)]).toEqual([
      MODEL_ID,
      0,
      0,
      0x5555_aaaa,
    ]);
    expect(rc.cfgRead16(0x06) & 0x10).toBe(0x10);
  });

  test('every byte of the PBA is read-only, also the bits past the last vector', () => {
    for (const msixVectors of [8, 4]) {
      const { b0 } = boot({}, { msixVectors });
      b0.write32(R.MSIX_PBA, 0xffff_ffff);
      b0.write32(R.MSIX_PBA + 4, 0xffff_ffff);
      expect([b0.read32(R.MSIX_PBA), b0.read32(R.MSIX_PBA + 4)], `${msixVectors} vectors`).toEqual([0, 0]);
    }
  });

  test('every MSI-X vector is masked at reset, and nothing outside the table is', () => {
    const { b0 } = boot();
    for (let v = 0; v < 8; v++) expect(b0.read32(R.MSIX_TABLE + 16 * v + 12), `vector ${v}`).toBe(1);
    expect(b0.read32(R.MSIX_TABLE + 16 * 8 + 12)).toBe(0);
    expect(b0.read32(R.MSIX_TABLE - 4)).toBe(0);
    expect(b0.read32(R.MSIX_TABLE + 4)).toBe(0);
  });

  test('memory decoding off: reads get UR; an unassigned BAR decodes nothing', () => {
    const { rc, b0 } = boot();
    const scratch = rc.bar(4).address;
    rc.cfgWrite32(0x20, 0); // BAR4 unassigned
    expect(() => rc.memRead(0x100n, 4)).toThrow(CompletionStatusError);
    rc.cfgWrite32(0x20, Number(scratch));
    expect(rc.memRead(scratch, 4)).toEqual(new Uint8Array(4));
    const cmd = rc.cfgRead16(0x04);
    rc.cfgWrite16(0x04, cmd & ~2);
    expect(() => b0.read32(R.ID)).toThrow(CompletionStatusError);
  });

  test('a partial last dword writes only its enabled bytes; writes to SRAM start nothing', () => {
    const { rc, dev, b0 } = boot();
    rc.msix.setup();
    dev.sram.fill(0xee, 0, 16);
    const b2 = rc.bar(2);
    b2.write(0, new Uint8Array([1, 2, 3, 4, 5, 6]));
    rc.flush(b2.address);
    expect(Array.from(dev.sram.subarray(0, 8))).toEqual([1, 2, 3, 4, 5, 6, 0xee, 0xee]);
    // A DMA with DMA_CTRL left holding a direction: a write to the same offset of BAR2 does not restart it.
    start(rc, DMA_TO_DEVICE, rc.mem.alloc(64).addr, 0, 64);
    finish(rc);
    b2.write32(R.DMA_CTRL, 1);
    rc.bar(4).write32(R.DMA_CTRL, 1);
    rc.flush(b2.address);
    finish(rc);
    expect(b0.read32(R.DMA_DONE_COUNT)).toBe(1);
  });

  test('a one-byte write to DMA_CTRL starts a DMA, as does a write that covers it from below', () => {
    const { rc, b0 } = boot();
    const host = rc.mem.alloc(64).addr;
    b0.write64(R.DMA_HOST_LO, host);
    b0.write32(R.DMA_LEN, 16);
    b0.write8(R.DMA_CTRL, DMA_TO_DEVICE);
    finish(rc);
    expect(b0.read32(R.DMA_DONE_COUNT)).toBe(1);
    b0.write(R.DMA_CTRL - 2, new Uint8Array([0, 0, DMA_TO_DEVICE, 0])); // DMA_LEN's top half, DMA_CTRL's bottom
    finish(rc);
    expect(b0.read32(R.DMA_DONE_COUNT)).toBe(2);
  });
});

describe('config space', () => {
  test('only the enabled bytes of a config write change; status errors are RW1C; error bits set add to the rest', () => {
    const { rc } = boot({ onRead: () => 'ur' });
    start(rc, DMA_TO_DEVICE, rc.mem.alloc(64).addr, 0, 64);
    expect(finish(rc) & DMA_STATUS.UR).toBe(DMA_STATUS.UR);
    expect(rc.cfgRead16(0x06)).toBe(0x2010); // received master abort, capability list
    const cmd = rc.cfgRead16(0x04);
    rc.cfgWrite16(0x06, 0x2000);
    expect([rc.cfgRead16(0x06), rc.cfgRead16(0x04)]).toEqual([0x0010, cmd]);
  });
});

describe('MSI-X', () => {
  test('a vector number past the table, or MSI-X disabled: no message, nothing pending', () => {
    const { rc, b0 } = boot();
    b0.write32(R.IRQ, 1); // MSI-X disabled
    rc.runFor(500);
    rc.msix.setup();
    rc.runFor(500);
    expect(rc.takeInterrupts()).toEqual([]);
    expect(rc.msix.pending(1)).toBe(false);
    b0.write32(R.IRQ, 8);
    rc.runFor(500);
    expect([rc.takeInterrupts(), rc.violations]).toEqual([[], []]);
  });

  test('without bus mastering a message waits as pending, and goes out when it is enabled', () => {
    const { rc, b0 } = boot();
    rc.msix.setup();
    const cmd = rc.cfgRead16(0x04);
    rc.cfgWrite16(0x04, cmd & ~4);
    b0.write32(R.IRQ, 3);
    rc.runFor(500);
    expect(rc.takeInterrupts()).toEqual([]);
    expect(rc.msix.pending(3)).toBe(true);
    rc.cfgWrite16(0x04, cmd);
    expect(rc.waitForInterrupt(3).vector).toBe(3);
  });
});

describe('the DMA engine', () => {
  test('counts, interrupts only when asked, ignores a bad direction and a start while busy', () => {
    const { rc, tap, b0 } = boot({ latency: { min: 2000, max: 2000 } });
    rc.msix.setup();
    const host = rc.mem.alloc(0x100).addr;
    start(rc, DMA_FROM_DEVICE, host, 0, 64); // no DMA_IRQ
    finish(rc);
    expect(b0.read32(R.DMA_DONE_COUNT)).toBe(1);
    start(rc, 3, host, 0, 64);
    start(rc, 0, host, 0, 64);
    rc.runFor(500);
    expect(b0.read32(R.DMA_DONE_COUNT)).toBe(1);
    start(rc, DMA_TO_DEVICE | DMA_IRQ | (2 << 16), host, 0, 64);
    b0.write32(R.DMA_CTRL, DMA_TO_DEVICE | DMA_IRQ | (2 << 16)); // busy: ignored
    expect(rc.waitForInterrupt(2).vector).toBe(2);
    rc.runFor(3000);
    expect(b0.read32(R.DMA_DONE_COUNT)).toBe(2);
    expect(mrds(tap)).toHaveLength(1);
    expect(rc.takeInterrupts()).toEqual([]);
    // A status write leaves the busy and done bits it does not clear.
    b0.write32(R.DMA_STATUS, DMA_STATUS.NO_BME);
    expect(b0.read32(R.DMA_STATUS) & DMA_STATUS.DONE).toBe(DMA_STATUS.DONE);
  });

  test('the length is cut at the end of the SRAM', () => {
    const { rc, tap } = boot();
    start(rc, DMA_TO_DEVICE, rc.mem.alloc(0x1000).addr, 0xfff0, 0x100);
    finish(rc);
    expect(mrds(tap).map((t) => t.length)).toEqual([4]);
  });

  test('without bus mastering: done at once with NO_BME', () => {
    const { rc, tap } = boot();
    rc.cfgWrite16(0x04, rc.cfgRead16(0x04) & ~4);
    start(rc, DMA_TO_DEVICE, 0x1000_0000n, 0, 64);
    expect(finish(rc) & (DMA_STATUS.NO_BME | DMA_STATUS.DONE)).toBe(DMA_STATUS.NO_BME | DMA_STATUS.DONE);
    expect(mrds(tap)).toEqual([]);
  });

  test('tags: at most 32 without extended tags, up to dmaTags with them', () => {
    for (const extTags of [false, true]) {
      const { rc, tap } = boot({ extTags, mrrs: 128, latency: { min: 5000, max: 5000 } }, { dmaTags: 64 });
      start(rc, DMA_TO_DEVICE, rc.mem.alloc(80 * 128).addr, 0, 80 * 128);
      finish(rc);
      expect(Math.max(...mrds(tap).map((t) => t.tag)), `extTags ${extTags}`).toBe(extTags ? 63 : 31);
    }
  });

  test('after a failed read no more are issued; poisoned data is not stored', () => {
    const { rc, tap } = boot({ onRead: () => 'ur', mrrs: 128 }, { dmaTags: 1 });
    start(rc, DMA_TO_DEVICE, rc.mem.alloc(512).addr, 0, 512);
    finish(rc);
    expect(mrds(tap)).toHaveLength(1);
    const p = boot({ onRead: () => 'poison' });
    const host = p.rc.mem.alloc(256);
    p.rc.mem.write(host.addr, new Uint8Array(256).fill(0x5a));
    start(p.rc, DMA_TO_DEVICE, host.addr, 0, 256);
    expect(finish(p.rc) & DMA_STATUS.POISON).toBe(DMA_STATUS.POISON);
    expect(p.dev.sram.subarray(0, 256).every((b) => b === 0)).toBe(true);
  });

  test('a malformed TLP is dropped', () => {
    const { rc, dev, b0 } = boot();
    const before = dev.received.length;
    const wr = encodeTlp({
      type: 'MWr',
      address: b0.address + BigInt(R.SCRATCH),
      firstBe: 0xf,
      lastBe: 0xf,
      requesterId: 0,
      tag: 0,
      data: new Uint8Array(8).fill(0x11),
    });
    rc.sendRaw({ hdr: wr.hdr, data: wr.data.subarray(0, 1) }); // Length 2, one dword of data
    rc.runFor(50);
    expect(dev.received).toHaveLength(before);
    expect(b0.read32(R.SCRATCH)).toBe(0);
  });

  test('a completion for another requester, or without data, is not taken as the read', () => {
    const { rc, dev, tap, b0 } = boot({ latency: { min: 3000, max: 3000 }, violations: 'record' });
    start(rc, DMA_TO_DEVICE, rc.mem.alloc(64).addr, 0, 64);
    rc.runFor(200);
    const tag = mrds(tap)[0].tag;
    rc.sendUnexpectedCompletion({ tag, requesterId: 0x0200 });
    rc.runFor(100);
    expect(b0.read32(R.DMA_STATUS) & (DMA_STATUS.UNEXPECTED | DMA_STATUS.BAD_CPL)).toBe(DMA_STATUS.UNEXPECTED);
    expect(rc.cfgRead16(0x4a) & 1).toBe(1); // correctable error detected
    rc.send({
      type: 'Cpl',
      completerId: 0,
      requesterId: dev.id,
      tag,
      status: CplStatus.SC,
      byteCount: 64,
      lowerAddress: 0,
    });
    expect(finish(rc) & DMA_STATUS.BAD_CPL).toBe(DMA_STATUS.BAD_CPL);
  });
});
