// testdev DMA through the simulator: host -> RAM (memory reads, completions split at the RCB and
// reordered across tags) and RAM -> host (memory writes), byte-granular, at several MRRS/MPS settings,
// with the request shapes checked; the error paths; and MSI-X messages (masking, PBA, function mask).
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { PcieCapReg, Status } from '../../gen/pcie/cfg_space';
import { DmaError } from '../../gen/pcie/dma_common';
import { field, MSIX_PBA_OFFSET, MSIX_TABLE_OFFSET, RAM_BYTES, RAM_OFFSET, reg } from '../../gen/testdev/regs';
import { testdevParams, type TestdevWidth } from '../../gen/testdev/top';
import { type MemReadTlp, memReqByteRange, type Tlp } from '../../tb/pcie/tlp';
import { enumerate, generateTestdev, Host, MSI_WINDOW, prng, testSeed } from './support';

const hosts: Host[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.close();
});

const BAR0 = 0x2_4000_0000n;
const BAR2 = 0xfeb0_0000n;
const R = (name: string) => BAR0 + BigInt(reg(name).offset);
const RAM = BAR0 + BigInt(RAM_OFFSET);

interface Transfer {
  dir: 'HOST_TO_RAM' | 'RAM_TO_HOST';
  host: bigint;
  ram: number;
  len: number;
  irq?: number; // MSI-X vector
}

/** Programs and starts a transfer, waits for its end; returns DMA_STATUS. */
function dma(h: Host, t: Transfer, maxCycles = 400_000): number {
  startDma(h, t);
  return waitDma(h, maxCycles);
}
function startDma(h: Host, t: Transfer): void {
  h.write64(R('DMA_HOST_ADDR_LO'), t.host);
  h.write32(R('DMA_RAM_OFFSET'), t.ram);
  h.write32(R('DMA_LENGTH'), t.len);
  const ctl = field('DMA_CONTROL', 'DIR');
  h.write32(
    R('DMA_CONTROL'),
    ctl.put(ctl.values![t.dir]) | (t.irq !== undefined ? field('DMA_CONTROL', 'IRQ_EN').put(1) | field('DMA_CONTROL', 'VECTOR').put(t.irq) : 0),
  );
  h.write32(R('DMA_DOORBELL'), field('DMA_DOORBELL', 'START').put(1));
}
function waitDma(h: Host, maxCycles = 400_000): number {
  h.idle(2);
  h.pump(() => h.sim.peek('dma_busy') === 0n, maxCycles);
  const st = h.read32(R('DMA_STATUS'));
  expect(field('DMA_STATUS', 'BUSY').get(st)).toBe(0);
  expect(field('DMA_STATUS', 'DONE').get(st), 'DONE').toBe(1);
  return st;
}
const errCode = (st: number) => (field('DMA_STATUS', 'ERROR').get(st) ? field('DMA_STATUS', 'ERR_CODE').get(st) : 0);

/** Device RAM through MMIO, 64 bytes per read. */
function ramRead(h: Host, off: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; ) {
    const k = Math.min(64 - ((off + i) & 63), n - i); // never across a 64-byte (so 4 KB) boundary
    out.set(h.memRead(RAM + BigInt(off + i), k), i);
    i += k;
  }
  return out;
}
function ramFill(h: Host, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length; off += 128) h.memWrite(RAM + BigInt(off), bytes.subarray(off, off + 128));
}
const randomBytes = (rand: () => number, n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
const hex = (v: bigint | number) => `0x${v.toString(16)}`;

function checkReadShapes(reads: MemReadTlp[], mrrs: number, len: number): void {
  let bytes = 0;
  reads.forEach((r, i) => {
    const range = memReqByteRange(r);
    expect(range.bytes, `MRd ${hex(r.address)} len ${r.length} over MRRS ${mrrs}`).toBeLessThanOrEqual(mrrs);
    if (i > 0) expect(range.addr % BigInt(mrrs), `MRd ${hex(range.addr)}: requests after the first start MRRS-aligned`).toBe(0n);
    bytes += range.bytes;
  });
  expect(bytes, 'the requests cover the transfer exactly').toBe(len);
}

describe.each([64, 256] as TestdevWidth[])('testdev_w%i DMA', (W) => {
  let ports = '';
  beforeAll(() => {
    ports = generateTestdev(W);
  });
  const open = (opts: { seed?: number; mps?: number; mrrs?: number; busMaster?: boolean } = {}) => {
    const h = new Host(ports, { seed: opts.seed });
    hosts.push(h);
    enumerate(h, { bar0: BAR0, bar2: BAR2, mps: opts.mps, mrrs: opts.mrrs, busMaster: opts.busMaster });
    return h;
  };

  test('host -> RAM: byte-granular reads, RCB-split reordered completions, several tags in flight', () => {
    const seed = testSeed();
    const rand = prng(seed);
    const cases: { mrrs: number; len: number; host: bigint; ram: number }[] = [];
    const lens = [1, 2, 3, 4, 5, 63, 64, 65, 129, 300, 511, 512, 513, 1000, 2049, 4096, 5000];
    for (const len of lens) {
      const mrrs = [0, 1, 2, 5][Math.floor(rand() * 4)];
      const ram = Math.floor(rand() * (RAM_BYTES - len));
      // Host address with the same offset mod 4, sometimes above 4 GB, sometimes just below a 4 KB boundary.
      let host = (BigInt(Math.floor(rand() * 0x4000_0000)) << 2n) | BigInt(ram & 3);
      if (rand() < 0.3) host += 0x3_0000_0000n;
      if (rand() < 0.3) host = (host | 0xfffn) - 0xfn - BigInt(Math.floor(rand() * 64) & ~3) + BigInt(ram & 3);
      cases.push({ mrrs, len, host, ram });
    }
    cases.push({ mrrs: 2, len: RAM_BYTES, host: 0x1_0000_0003n - 3n, ram: 0 });
    const byMrrs = new Map<number, typeof cases>();
    for (const c of cases) byMrrs.set(c.mrrs, [...(byMrrs.get(c.mrrs) ?? []), c]);
    let most = 0;
    let reads = 0;
    let cpls = 0;
    let overtaking = 0;
    for (const [mrrs, list] of byMrrs) {
      const h = open({ seed, mrrs });
      const before = randomBytes(rand, RAM_BYTES);
      ramFill(h, before);
      const model = before.slice();
      for (const c of list) {
        const what = `${c.len} bytes host ${hex(c.host)} -> RAM ${hex(c.ram)}, MRRS ${128 << mrrs} (seed ${seed})`;
        const src = randomBytes(rand, c.len);
        h.hostWrite(c.host, src);
        const nReads = h.reads.length;
        const st = dma(h, { dir: 'HOST_TO_RAM', host: c.host, ram: c.ram, len: c.len });
        expect(errCode(st), what).toBe(0);
        checkReadShapes(h.reads.slice(nReads), 128 << mrrs, c.len);
        model.set(src, c.ram);
        const lo = Math.max(0, c.ram - 8);
        const hi = Math.min(RAM_BYTES, c.ram + c.len + 8);
        expect(Array.from(ramRead(h, lo, hi - lo)), what).toEqual(Array.from(model.subarray(lo, hi)));
      }
      most = Math.max(most, h.peakReadsInFlight);
      reads += h.reads.length;
      cpls += h.completionsSent;
      overtaking += h.completionsOvertaking;
    }
    expect(cpls, 'completions split at the 64-byte RCB').toBeGreaterThan(reads * 1.5);
    expect(overtaking, 'completions that overtook those of older requests').toBeGreaterThan(10);
    expect(most, 'read requests outstanding at once').toBe(testdevParams(W).readTags);
  });

  test('RAM -> host: byte-granular writes split at MPS and 4 KB', () => {
    const seed = testSeed();
    const rand = prng(seed);
    for (const mps of [0, 1, 2]) {
      const h = open({ seed, mps });
      const ram = randomBytes(rand, RAM_BYTES);
      ramFill(h, ram);
      for (const len of [1, 2, 3, 4, 7, 64, 127, 128, 129, 500, 4096, 4097, 9000]) {
        const off = Math.floor(rand() * (RAM_BYTES - len));
        let host = (BigInt(Math.floor(rand() * 0x4000_0000)) << 2n) | BigInt(off & 3);
        if (rand() < 0.4) host += 0x5_0000_0000n;
        const what = `${len} bytes RAM ${hex(off)} -> host ${hex(host)}, MPS ${128 << mps} (seed ${seed})`;
        const guard = randomBytes(rand, len + 16);
        h.hostWrite(host - 8n, guard);
        const nSent = h.sent.length;
        const st = dma(h, { dir: 'RAM_TO_HOST', host, ram: off, len });
        expect(errCode(st), what).toBe(0);
        const expected = guard.slice();
        expected.set(ram.subarray(off, off + len), 8);
        expect(Array.from(h.hostRead(host - 8n, len + 16)), what).toEqual(Array.from(expected));
        const writes = h.sent.slice(nSent).filter((t): t is Extract<Tlp, { type: 'MWr' }> => t.type === 'MWr');
        for (const wr of writes) {
          expect(wr.data.length, `${what}: MWr over MPS`).toBeLessThanOrEqual(128 << mps);
        }
        expect(writes.length, what).toBeGreaterThanOrEqual(Math.ceil(len / (128 << mps)));
      }
    }
  });

  test('errors: bus master disabled, bad parameters, UR, CA, poisoned, timeout, unexpected tag; recovery', () => {
    const h = open({ busMaster: false });
    const ok = { dir: 'HOST_TO_RAM' as const, host: 0x8000_1000n, ram: 0x100, len: 1000 };
    expect(errCode(dma(h, ok))).toBe(DmaError.BUS_MASTER_DISABLED);
    expect(errCode(dma(h, { ...ok, dir: 'RAM_TO_HOST' }))).toBe(DmaError.BUS_MASTER_DISABLED);
    expect(h.sent.filter((t) => t.type === 'MRd' || t.type === 'MWr'), 'no request without bus mastering').toEqual([]);
    h.cfgWrite(0x04, (1 << 1) | (1 << 2) | (1 << 6)); // + Parity Error Response
    expect(errCode(dma(h, { ...ok, ram: 0x101 })), 'offset differs mod 4').toBe(DmaError.BAD_PARAMS);
    expect(errCode(dma(h, { ...ok, ram: RAM_BYTES - 999 })), 'past the RAM').toBe(DmaError.BAD_PARAMS);
    const empty = dma(h, { ...ok, len: 0 });
    expect(errCode(empty), 'zero length completes at once').toBe(0);

    const faultOnce = (f: 'ur' | 'ca' | 'poison' | 'drop' | 'bad-tag') => {
      let done = false;
      h.fault = (r) => (!done && r.address > ok.host ? ((done = true), f) : undefined);
    };
    faultOnce('ur');
    expect(errCode(dma(h, ok))).toBe(DmaError.UNSUPPORTED_REQUEST);
    faultOnce('ca');
    expect(errCode(dma(h, ok))).toBe(DmaError.COMPLETER_ABORT);
    faultOnce('poison');
    expect(errCode(dma(h, ok))).toBe(DmaError.POISONED);
    const status = h.cfgRead(0x04) >>> 16;
    expect(status & Status.ReceivedMasterAbort, 'Received Master Abort').toBe(Status.ReceivedMasterAbort);
    expect(status & Status.ReceivedTargetAbort, 'Received Target Abort').toBe(Status.ReceivedTargetAbort);
    expect(status & Status.DetectedParityError, 'Detected Parity Error').toBe(Status.DetectedParityError);
    expect(status & Status.MasterDataParityError, 'Master Data Parity Error').toBe(Status.MasterDataParityError);
    h.cfgWrite(0x04, (Status.ReceivedMasterAbort | Status.ReceivedTargetAbort) << 16 | (1 << 1) | (1 << 2) | (1 << 6));
    expect((h.cfgRead(0x04) >>> 16) & (Status.ReceivedMasterAbort | Status.ReceivedTargetAbort), 'RW1C').toBe(0);

    h.write32(R('DMA_TIMEOUT'), 3000);
    faultOnce('drop');
    const devsta = () => h.cfgRead(0x40 + PcieCapReg.DevSta - 2) >>> 16;
    expect(devsta() & 0x20, 'Transactions Pending clear while idle').toBe(0);
    startDma(h, ok);
    h.idle(500);
    expect(devsta() & 0x20, 'Transactions Pending while a read waits for its completion').toBe(0x20);
    expect(errCode(waitDma(h))).toBe(DmaError.TIMEOUT);
    expect(devsta() & 0x20, 'Transactions Pending clear after the timeout').toBe(0);
    faultOnce('bad-tag');
    expect(errCode(dma(h, ok)), 'the real request then times out').toBe(DmaError.TIMEOUT);
    expect(h.read32(R('CPL_UNEXPECTED')), 'stray completions counted').toBeGreaterThan(0);
    h.write32(R('CPL_UNEXPECTED'), 0);
    expect(h.read32(R('CPL_UNEXPECTED'))).toBe(0);

    // Everything recovered: a clean transfer works and leaves no error.
    h.fault = undefined;
    const src = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);
    h.hostWrite(ok.host, src);
    expect(errCode(dma(h, ok))).toBe(0);
    expect(Array.from(ramRead(h, ok.ram, 1000))).toEqual(Array.from(src));
  });

  test('MSI-X: a message at the end of a transfer, after its data; masking, PBA, function mask, disable', () => {
    const h = open();
    const msixCtl = 0x80;
    const entry = (v: number) => BAR2 + BigInt(MSIX_TABLE_OFFSET + 16 * v);
    for (let v = 0; v < 4; v++) {
      h.write64(entry(v), MSI_WINDOW + 0x1000n * BigInt(v + 1));
      h.write32(entry(v) + 8n, 0x4020 + v);
      h.write32(entry(v) + 12n, 0); // unmask
    }
    const pba = () => h.read32(BAR2 + BigInt(MSIX_PBA_OFFSET));
    const fire = (v: number) => h.write32(R('IRQ_TEST'), field('IRQ_TEST', 'VECTOR').put(v));

    // Disabled: nothing is sent or pended.
    fire(0);
    h.idle(100);
    expect(h.msi).toEqual([]);
    expect(pba()).toBe(0);

    h.cfgWrite(msixCtl, 1 << 31); // MSI-X Enable
    const src = Uint8Array.from({ length: 700 }, (_, i) => i & 0xff);
    h.hostWrite(0x9000_0000n, src);
    expect(errCode(dma(h, { dir: 'HOST_TO_RAM', host: 0x9000_0000n, ram: 0, len: 700, irq: 1 }))).toBe(0);
    h.idle(50);
    expect(h.msi.map((x) => [x.address, x.data])).toEqual([[MSI_WINDOW + 0x2000n, 0x4021]]);
    // A write transfer's message comes after all of its data (posted writes stay in order).
    const nSent = h.sent.length;
    expect(errCode(dma(h, { dir: 'RAM_TO_HOST', host: 0x9100_0000n, ram: 0, len: 700, irq: 3 }))).toBe(0);
    h.idle(50);
    const after = h.sent.slice(nSent).filter((t) => t.type === 'MWr');
    expect(after.length).toBeGreaterThan(1);
    const lastMsg = after[after.length - 1];
    expect(lastMsg.type === 'MWr' && lastMsg.address, 'the MSI-X write is last').toBe(MSI_WINDOW + 0x4000n);
    expect(Array.from(h.hostRead(0x9100_0000n, 700))).toEqual(Array.from(src));

    // Vector masked: pending in the PBA, sent on unmask.
    h.msi.length = 0;
    h.write32(entry(2) + 12n, 1);
    fire(2);
    h.idle(100);
    expect(h.msi).toEqual([]);
    expect(pba(), 'pending bit of vector 2').toBe(1 << 2);
    h.write32(entry(2) + 12n, 0);
    h.idle(100);
    expect(h.msi.map((x) => x.data)).toEqual([0x4022]);
    expect(pba()).toBe(0);

    // Function mask: everything pends until it is cleared.
    h.msi.length = 0;
    h.cfgWrite(msixCtl, (1 << 31) | (1 << 30));
    fire(0);
    fire(3);
    h.idle(100);
    expect(h.msi).toEqual([]);
    expect(pba()).toBe(0b1001);
    h.cfgWrite(msixCtl, 1 << 31);
    h.idle(100);
    expect(h.msi.map((x) => x.data).sort()).toEqual([0x4020, 0x4023]);
    expect(pba()).toBe(0);
  });
});
