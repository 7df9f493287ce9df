// testdev DMA through the root complex model: host -> RAM (memory reads; completions delayed, split at
// the RCB and reordered across tags) and RAM -> host (memory writes), byte-granular, at several MRRS/MPS
// settings, with the request shapes checked; the error paths (bus mastering off, bad parameters, UR, CA,
// poisoned data, completion timeout, unexpected completions, Transactions Pending); and MSI-X messages
// (masking, PBA, function mask, disable, ordering after the data).
import { afterEach, beforeAll, describe, expect } from 'vitest';
import { CapOffset, PcieCapReg, Status } from '../../gen/pcie/cfg_space';
import { DmaError } from '../../gen/pcie/dma_common';
import { field, MSIX_PBA_OFFSET, MSIX_TABLE_OFFSET, MSIX_VECTORS, RAM_BYTES } from '../../gen/testdev/regs';
import { TESTDEV_WIDTHS, testdevParams } from '../../gen/testdev/top';
import {
  PCI_COMMAND,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_PARITY,
  PCI_STATUS,
} from '../../tb/pcie/cfgspace';
import type { ReadAction, ReadFault, ReadHook } from '../../tb/pcie/inject';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { Rng } from '../../sim/random';
import { decodeTlp, type MemReadTlp, memReqByteRange, type MemWriteTlp, type Tlp } from '../../tb/pcie/tlp';
import { seededTest } from '../support/seeds';
import type { TapLink } from '../../tb/pcie/link';
import {
  boot,
  buildSim,
  closeBenches,
  dma,
  errCode,
  fromDevice,
  OFF,
  ramRead,
  ramWrite,
  same,
  startDma,
  testdevPorts,
  waitDma,
} from './support';

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

afterEach(closeBenches);

const isRead = (t: Tlp): t is MemReadTlp => t.type === 'MRd';
const isWrite = (t: Tlp): t is MemWriteTlp => t.type === 'MWr';

/** A transfer's reads: none over MRRS, those after the first MRRS-aligned, covering the transfer exactly. */
function checkReadShapes(reads: MemReadTlp[], mrrs: number, len: number): void {
  let bytes = 0;
  reads.forEach((r, i) => {
    const range = memReqByteRange(r);
    expect(range.bytes, `MRd ${hex(r.address)} len ${r.length} over MRRS ${mrrs}`).toBeLessThanOrEqual(mrrs);
    if (i > 0)
      expect(range.addr % BigInt(mrrs), `MRd ${hex(range.addr)}: requests after the first start MRRS-aligned`).toBe(0n);
    bytes += range.bytes;
  });
  expect(bytes, 'the requests cover the transfer exactly').toBe(len);
}

/**
 * Completions the RC sent for the device's reads that overtook a completion of an older read (one
 * still not fully answered), from the link's record: a completion belongs to the latest read of its tag
 * sent before it (the RC flags a tag reused before its last completion was due).
 */
function overtaking(tap: TapLink): number {
  const reads: { tag: number; cycle: number; left: number }[] = [];
  for (const raw of tap.fromDevice) {
    if (((raw.hdr[0] >>> 24) & 0xdf) !== 0) continue; // MRd 3DW/4DW only
    reads.push({ tag: decodeTlp(raw).tag, cycle: raw.cycle ?? 0, left: 0 });
  }
  const cpls: { read: number; at: number }[] = [];
  for (const { raw, at } of tap.toDevice) {
    const t = decodeTlp(raw);
    if (t.type !== 'Cpl' && t.type !== 'CplD') continue;
    let read = reads.length - 1;
    while (read >= 0 && !(reads[read].tag === t.tag && reads[read].cycle < at)) read--;
    reads[read].left++;
    cpls.push({ read, at });
  }
  cpls.sort((a, b) => a.at - b.at); // the order the device receives them (stable among equal cycles)
  let oldest = 0;
  let n = 0;
  for (const c of cpls) {
    while (reads[oldest].left === 0) oldest++;
    if (oldest < c.read) n++;
    reads[c.read].left--;
  }
  return n;
}

/** A host address with the given offset mod 4, below the MSI window; sometimes above 4 GB or just below a 4 KB boundary. */
function hostAddr(rng: Rng, mod4: number, above4G: number, near4K: number): bigint {
  let host = (BigInt(rng.int(0x400, 0x3f00_0000)) << 2n) | BigInt(mod4);
  if (rng.chance(above4G)) host += 0x3_0000_0000n;
  if (rng.chance(near4K)) host = (host | 0xfffn) - 0xfn - BigInt(rng.int(0, 63) & ~3) + BigInt(mod4);
  return host;
}

describe.each(TESTDEV_WIDTHS)('testdev_w%i DMA', (W) => {
  let ports = '';
  beforeAll(() => {
    ports = testdevPorts(W);
    buildSim(ports);
  });
  const open = (seed: number, rcOpts: RootComplexOptions = {}, busMaster = true) => {
    const tb = boot(ports, seed, rcOpts);
    tb.rc.enumerate({ busMaster });
    return tb;
  };

  seededTest('host -> RAM: byte-granular reads, RCB-split reordered completions, several tags in flight', (seed) => {
    const rng = new Rng(seed);
    const cases: { mrrs: number; len: number; host: bigint; ram: number }[] = [];
    for (const len of [1, 2, 3, 4, 5, 63, 64, 65, 129, 300, 511, 512, 513, 1000, 2049, 4096, 5000]) {
      const ram = rng.int(0, RAM_BYTES - len - 1);
      cases.push({ mrrs: rng.pick([128, 256, 512, 4096]), len, host: hostAddr(rng, ram & 3, 0.3, 0.3), ram });
    }
    cases.push({ mrrs: 512, len: RAM_BYTES, host: 0x1_0000_0000n - 0x1f80n, ram: 0 }); // 3DW then 4DW requests
    let most = 0;
    let reads = 0;
    let cpls = 0;
    let rcbReads = 0;
    let rcbCpls = 0;
    let overtook = 0;
    for (const [g, mrrs] of [128, 256, 512, 4096].entries()) {
      // Every other MRRS: completions at every 64-byte RCB; else at random RCBs (up to MPS).
      const split = g % 2 === 0 ? 'rcb' : 'random';
      let peak = 0;
      const inFlight: ReadHook = (r) => {
        peak = Math.max(peak, rc.completer.outstandingAt(r.cycle) + 1); // reads whose last completion is still due, and this one
        return undefined;
      };
      const { rc, tap } = open(seed + g, { mrrs, split, onRead: inFlight });
      const model = rng.bytes(RAM_BYTES);
      ramWrite(rc, 0, model);
      for (const c of cases.filter((c) => c.mrrs === mrrs)) {
        const what = `${c.len} bytes host ${hex(c.host)} -> RAM ${hex(c.ram)}, MRRS ${mrrs}`;
        const src = rng.bytes(c.len);
        // Just the transfer, up to the end of its last dword: tb/pcie/completer.ts (since 618f683) copies the
        // trailing dword of a read whole from host memory, not only its enabled bytes. Those are checked below.
        const end = (c.host + BigInt(c.len) + 3n) & ~3n;
        const region = rc.mem.alloc(Number(end - c.host), { at: c.host, perm: 'ro', name: 'src' });
        region.write(0, src);
        const n = tap.fromDevice.length;
        expect(errCode(dma(rc, { dir: 'HOST_TO_RAM', host: c.host, ram: c.ram, len: c.len })), what).toBe(0);
        checkReadShapes(fromDevice(tap, n).filter(isRead), mrrs, c.len);
        rc.mem.unmap(region);
        model.set(src, c.ram);
        const lo = Math.max(0, c.ram - 8);
        const hi = Math.min(RAM_BYTES, c.ram + c.len + 8);
        expect(same(ramRead(rc, lo, hi - lo), model.subarray(lo, hi)), what).toBe(true);
      }
      const s = rc.stats();
      reads += s.fromDevice.MRd?.tlps ?? 0;
      cpls += s.toDevice.CplD?.tlps ?? 0;
      if (split === 'rcb') {
        rcbReads += s.fromDevice.MRd?.tlps ?? 0;
        rcbCpls += s.toDevice.CplD?.tlps ?? 0;
      }
      overtook += overtaking(tap);
      most = Math.max(most, peak);
    }
    expect(reads).toBeGreaterThan(0);
    expect(cpls, 'completions split').toBeGreaterThan(reads);
    expect(rcbCpls, 'completions split at the 64-byte RCB').toBeGreaterThan(rcbReads * 1.5);
    expect(overtook, 'completions that overtook those of older requests').toBeGreaterThan(10);
    expect(most, 'read requests outstanding at once').toBe(testdevParams(W).readTags);
  });

  seededTest('host -> RAM under heavy rx idle: tags reused only after their last completion was taken', (seed) => {
    // The simulator reports when each read's last completion reached the device, so the RC holds the tag
    // until then (not until the completion's scheduled cycle): a reuse before the device took the last beat
    // would throw here.
    const rng = new Rng(seed);
    const tb = boot(ports, seed, { mrrs: 128, latency: { min: 20, max: 60 } }, { rxIdle: 0.8 });
    const { rc, tap } = tb;
    rc.enumerate();
    expect(rc.deliveryReports).toBe(true);
    const src = rng.bytes(6000);
    const buf = rc.mem.alloc(src.length, { perm: 'ro' });
    buf.write(0, src);
    expect(errCode(dma(rc, { dir: 'HOST_TO_RAM', host: buf.addr, ram: 0, len: src.length }))).toBe(0);
    expect(same(ramRead(rc, 0, src.length), src)).toBe(true);
    const reads = fromDevice(tap).filter(isRead);
    expect(reads.length, 'tags were reused').toBeGreaterThan(testdevParams(W).readTags);
  });

  seededTest(
    'one split completion of a read lost: TIMEOUT, the pieces after it counted as unexpected; a repeated one dropped',
    (seed) => {
      // Reads of 512 bytes at 64-byte-aligned host addresses, split at every 64-byte RCB: 8 completions each.
      const { rc } = open(seed, { mrrs: 512, split: 'rcb', deviceCompletionTimeout: 3000 });
      const b0 = rc.bar(0);
      b0.write32(OFF('DMA_TIMEOUT'), 3000);
      const unexpected = () => field('CPL_UNEXPECTED', 'COUNT').get(b0.read32(OFF('CPL_UNEXPECTED')));
      const buf = rc.mem.alloc(2048, { perm: 'ro' });
      const t = { dir: 'HOST_TO_RAM' as const, host: buf.addr, ram: 0, len: 2048 }; // 4 reads
      /** The second read from now on gets `action`. */
      const faultSecondRead = (action: ReadAction | ReadFault) => {
        let reads = 0;
        rc.setFaults({ onRead: () => (reads++ === 1 ? action : 'ok') });
      };
      const fresh = () => {
        const data = new Rng(seed).bytes(2048);
        rc.mem.write(buf.addr, data);
        ramWrite(rc, 0, new Uint8Array(2048));
        return data;
      };

      for (const k of [0, 3, 6, 7]) {
        fresh();
        faultSecondRead({ action: 'drop', completion: k });
        expect(errCode(dma(rc, t)), `completion ${k} of 8 lost: the read never completes`).toBe(DmaError.TIMEOUT);
        rc.settle({ quiet: 500 });
        expect(rc.injector.counts.drop, `completion ${k}`).toBe(1 + [0, 3, 6, 7].indexOf(k));
        expect(unexpected(), `completion ${k} lost: the ${7 - k} after it are out of sequence`).toBe(7 - k);
        b0.write32(OFF('CPL_UNEXPECTED'), 0);
      }

      // A repeat of a split that is not the last: the same bytes again, out of sequence, dropped and counted.
      const data = fresh();
      faultSecondRead({ action: 'duplicate', completion: 2 });
      expect(errCode(dma(rc, t))).toBe(0);
      expect(same(ramRead(rc, 0, 2048), data)).toBe(true);
      expect(unexpected()).toBe(1);

      // Recovered: a clean transfer.
      rc.setFaults({ onRead: undefined });
      const again = fresh();
      expect(errCode(dma(rc, t))).toBe(0);
      expect(same(ramRead(rc, 0, 2048), again)).toBe(true);
    },
  );

  seededTest('RAM -> host: byte-granular writes split at MPS and 4 KB', (seed) => {
    const rng = new Rng(seed);
    for (const mps of [128, 256, 512]) {
      const { rc, tap } = open(seed + mps, { mps });
      expect(rc.device!.mps).toBe(mps);
      const ram = rng.bytes(RAM_BYTES);
      ramWrite(rc, 0, ram);
      for (const len of [1, 2, 3, 4, 7, 64, 127, 128, 129, 500, 4096, 4097, 9000]) {
        const off = rng.int(0, RAM_BYTES - len - 1);
        const host = hostAddr(rng, off & 3, 0.4, 0);
        const what = `${len} bytes RAM ${hex(off)} -> host ${hex(host)}, MPS ${mps}`;
        // 8 guard bytes either side: the device may write them (the region allows it), but must not.
        const region = rc.mem.alloc(len + 16, { at: host - 8n, name: 'dst' });
        const guard = rng.bytes(len + 16);
        region.write(0, guard);
        const n = tap.fromDevice.length;
        expect(errCode(dma(rc, { dir: 'RAM_TO_HOST', host, ram: off, len })), what).toBe(0);
        const expected = guard.slice();
        expected.set(ram.subarray(off, off + len), 8);
        expect(same(region.read(0, len + 16), expected), what).toBe(true);
        rc.mem.unmap(region);
        const writes = fromDevice(tap, n).filter(isWrite);
        for (const wr of writes) expect(wr.data.length, `${what}: MWr over MPS`).toBeLessThanOrEqual(mps);
        expect(writes.length, what).toBeGreaterThanOrEqual(Math.ceil(len / mps));
      }
    }
  });

  seededTest(
    'errors: bus master disabled, bad parameters, UR, CA, poisoned, timeout, unexpected completion; recovery',
    (seed) => {
      const { rc } = open(seed, { deviceCompletionTimeout: 3000 }, false); // the DMA_TIMEOUT set below
      const buf = rc.mem.alloc(4096, { name: 'src', perm: 'ro' });
      const ok = { dir: 'HOST_TO_RAM' as const, host: buf.addr, ram: 0x100, len: 1000 }; // two reads at MRRS 512
      expect(errCode(dma(rc, ok))).toBe(DmaError.BUS_MASTER_DISABLED);
      expect(errCode(dma(rc, { ...ok, dir: 'RAM_TO_HOST' }))).toBe(DmaError.BUS_MASTER_DISABLED);
      const s = rc.stats().fromDevice;
      expect([s.MRd, s.MWr], 'no request without bus mastering').toEqual([undefined, undefined]);
      const command = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY;
      rc.cfgWrite16(PCI_COMMAND, command);
      expect(errCode(dma(rc, { ...ok, ram: 0x101 })), 'offset differs mod 4').toBe(DmaError.BAD_PARAMS);
      expect(errCode(dma(rc, { ...ok, ram: RAM_BYTES - 999 })), 'past the RAM').toBe(DmaError.BAD_PARAMS);
      expect(errCode(dma(rc, { ...ok, len: 0 })), 'zero length completes at once').toBe(0);

      /** The second read of the next transfer gets `action` (the first completes normally). */
      const faultOnce = (action: ReadAction, also?: (r: Parameters<ReadHook>[0]) => void) => {
        let done = false;
        rc.setFaults({
          onRead: (r) => {
            if (done || r.tlp.address <= ok.host) return undefined;
            done = true;
            also?.(r);
            return action;
          },
        });
      };
      const faulted = (action: ReadAction) => {
        faultOnce(action);
        const code = errCode(dma(rc, ok));
        rc.settle({ quiet: 1000 }); // whatever the device still has in flight is answered
        return code;
      };
      expect(faulted('ur')).toBe(DmaError.UNSUPPORTED_REQUEST);
      expect(faulted('ca')).toBe(DmaError.COMPLETER_ABORT);
      expect(faulted('poison')).toBe(DmaError.POISONED);
      const status = rc.cfgRead16(PCI_STATUS);
      expect(status & Status.ReceivedMasterAbort, 'Received Master Abort').toBe(Status.ReceivedMasterAbort);
      expect(status & Status.ReceivedTargetAbort, 'Received Target Abort').toBe(Status.ReceivedTargetAbort);
      expect(status & Status.DetectedParityError, 'Detected Parity Error').toBe(Status.DetectedParityError);
      expect(status & Status.MasterDataParityError, 'Master Data Parity Error').toBe(Status.MasterDataParityError);
      rc.cfgWrite32(PCI_COMMAND, (((Status.ReceivedMasterAbort | Status.ReceivedTargetAbort) << 16) | command) >>> 0);
      expect(rc.cfgRead16(PCI_STATUS) & (Status.ReceivedMasterAbort | Status.ReceivedTargetAbort), 'RW1C').toBe(0);

      // Completion timeout, with Transactions Pending while the dropped read waits.
      const b0 = rc.bar(0);
      b0.write32(OFF('DMA_TIMEOUT'), 3000);
      const devsta = () => rc.cfgRead16(CapOffset.PciExpress + PcieCapReg.DevSta);
      expect(devsta() & 0x20, 'Transactions Pending clear while idle').toBe(0);
      faultOnce('drop');
      startDma(rc, ok);
      rc.runFor(500);
      expect(devsta() & 0x20, 'Transactions Pending while a read waits for its completion').toBe(0x20);
      expect(errCode(waitDma(rc))).toBe(DmaError.TIMEOUT);
      expect(devsta() & 0x20, 'Transactions Pending clear after the timeout').toBe(0);
      expect(rc.injector.counts.drop).toBe(1);

      // A completion with the wrong tag instead of the right one: counted as unexpected, and the read times out.
      faultOnce('drop', (r) => rc.sendUnexpectedCompletion({ tag: (r.tlp.tag + 100) & 0xff, atCycle: r.cycle + 40 }));
      expect(errCode(dma(rc, ok)), 'the real request then times out').toBe(DmaError.TIMEOUT);
      const unexpected = () => field('CPL_UNEXPECTED', 'COUNT').get(b0.read32(OFF('CPL_UNEXPECTED')));
      expect(unexpected(), 'stray completions counted').toBeGreaterThan(0);
      b0.write32(OFF('CPL_UNEXPECTED'), 0);
      expect(unexpected()).toBe(0);

      // Everything recovered: a clean transfer works and leaves no error.
      rc.setFaults({ onRead: undefined });
      rc.settle();
      const src = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);
      rc.mem.write(ok.host, src);
      expect(errCode(dma(rc, ok))).toBe(0);
      expect(same(ramRead(rc, ok.ram, 1000), src)).toBe(true);
    },
  );

  seededTest(
    'MSI-X: a message at the end of a transfer, after its data; masking, PBA, function mask, disable',
    (seed) => {
      const { rc, tap } = open(seed);
      const b0 = rc.bar(0);
      const b2 = rc.bar(2);
      // Programmed by hand through BAR2 (a 64-bit write for the address), MSI-X still disabled.
      const entry = (v: number) => MSIX_TABLE_OFFSET + 16 * v;
      const msg = (v: number) => ({ address: rc.opts.msiBase + 0x1000n * BigInt(v + 1), data: 0x4020 + v });
      for (let v = 0; v < MSIX_VECTORS; v++) {
        b2.write64(entry(v), msg(v).address);
        b2.write32(entry(v) + 8, msg(v).data);
        b2.write32(entry(v) + 12, 0); // unmask
      }
      const pba = () => b2.read32(MSIX_PBA_OFFSET);
      const fire = (v: number) => b0.write32(OFF('IRQ_TEST'), field('IRQ_TEST', 'VECTOR').put(v));
      const taken = () => rc.takeInterrupts().map((e) => [e.address, e.data]);

      // Disabled: nothing is sent (the RC would flag it) or pended.
      fire(0);
      rc.runFor(100);
      expect(taken()).toEqual([]);
      expect(pba()).toBe(0);

      rc.msix.setControl(true, false);
      const src = Uint8Array.from({ length: 700 }, (_, i) => i & 0xff);
      const buf = rc.mem.alloc(700, { perm: 'ro' });
      buf.write(0, src);
      const seen = rc.interrupts.length;
      expect(errCode(dma(rc, { dir: 'HOST_TO_RAM', host: buf.addr, ram: 0, len: 700, irq: 1 }))).toBe(0);
      rc.runFor(50);
      expect(rc.interrupts.slice(seen).map((e) => [e.vector, e.address, e.data])).toEqual([
        [1, msg(1).address, msg(1).data],
      ]);
      // A write transfer's message comes after all of its data (posted writes stay in order).
      const dst = rc.mem.alloc(700, { perm: 'wo' });
      const n = tap.fromDevice.length;
      expect(errCode(dma(rc, { dir: 'RAM_TO_HOST', host: dst.addr, ram: 0, len: 700, irq: 3 }))).toBe(0);
      rc.runFor(50);
      const after = fromDevice(tap, n).filter(isWrite);
      expect(after.length).toBeGreaterThan(1);
      expect(after.at(-1)!.address, 'the MSI-X write is last').toBe(msg(3).address);
      expect(same(dst.read(0, 700), src)).toBe(true);
      expect(taken()).toEqual([]);

      // Vector masked: pending in the PBA, sent on unmask.
      b2.write32(entry(2) + 12, 1);
      fire(2);
      rc.runFor(100);
      expect(taken()).toEqual([]);
      expect(pba(), 'pending bit of vector 2').toBe(1 << 2);
      b2.write32(entry(2) + 12, 0);
      rc.runFor(100);
      expect(taken()).toEqual([[msg(2).address, msg(2).data]]);
      expect(pba()).toBe(0);

      // Function mask: everything pends until it is cleared.
      rc.msix.setControl(true, true);
      fire(0);
      fire(3);
      rc.runFor(100);
      expect(taken()).toEqual([]);
      expect(pba()).toBe(0b1001);
      rc.msix.setControl(true, false);
      rc.runFor(100);
      expect(
        rc
          .takeInterrupts()
          .map((e) => e.data)
          .sort(),
      ).toEqual([msg(0).data, msg(3).data]);
      expect(pba()).toBe(0);
    },
  );
});
