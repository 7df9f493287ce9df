// The root complex as completer (tb/pcie/completer.ts), through RootComplex: what the scenario suites do not pin
// down (found by mutation testing, see docs/mutation.md): Address Type refusals with ATS enabled, when completions
// go out and what they carry under aimed faults, zero-length requests, writes with gaps in their byte enables,
// writes into the MSI window, and the statistics.
import { describe, expect, test } from 'vitest';
import { PCI_ATS_CTRL_ENABLE } from '../../tb/pcie/cfgspace';
import { CplStatus } from '../../tb/pcie/tlp';
import { DEV, mrd, mwr, setup } from './crafted';

const UNMAPPED = 0x7000_0000n;

describe('device requests, as completer', () => {
  test('with ATS enabled: AT 11b is refused, AT 01b (a Translation Request) only suits reads', () => {
    const { from, buf, rc, link } = setup({ violations: 'record' });
    rc.shadow.atsCap = 0x100;
    rc.shadow.noteWrite(0x104, 0xc, PCI_ATS_CTRL_ENABLE << 16, 0);
    from(mrd(buf.addr, 1, 1, { at: 3 }), 10);
    from(mwr(buf.addr, 4, { at: 1 }), 11);
    from(mrd(buf.addr, 1, 2, { at: 1 }), 12);
    expect(rc.violations.map((v) => [v.code, v.reason.replace(/ \(seed \d+\)$/, '')])).toEqual([
      ['address-type', 'MRd with AT 11b (reserved)'],
      ['address-type', 'MWr with AT 01b (translation request): only reads ask for translations'],
      ['unsupported', 'MRd with AT 01b (translation request): the model has no translation agent'],
    ]);
    expect(rc.mem.read(buf.addr, 4).every((b) => b === 0)).toBe(true); // the write was dropped
    link.cycle = 100;
    expect(link.sentOf('Cpl').map((c) => [c.tag, c.status])).toEqual([
      [1, CplStatus.UR],
      [2, CplStatus.UR],
    ]);
  });

  test('a refused read reads no memory, and a fault aimed at one of its completions does not split its UR', () => {
    const { from, rc, link, buf } = setup({
      violations: 'record',
      onRead: () => ({ action: 'poison', completion: 1 }),
    });
    from(mrd(UNMAPPED, 128, 1, { at: 3 }), 10); // 512 bytes, 4 completions at MPS 128
    expect(rc.violations.map((v) => v.code)).toEqual(['address-type']);
    from(mrd(buf.addr, 128, 2, { at: 3 }), 11);
    expect(rc.stats().completer).toMatchObject({ dmaReads: 0, dmaReadBytes: 0, completionsSent: 2 });
    link.cycle = 100;
    expect(
      link.sent.map(({ tlp: t }) => (t.type === 'Cpl' ? [t.type, t.tag, t.status, t.byteCount] : [t.type])),
    ).toEqual([
      ['Cpl', 1, CplStatus.UR, 512],
      ['Cpl', 2, CplStatus.UR, 512],
    ]);
  });

  test('a zero-length read touches no memory: answered with one CplD even where nothing is mapped', () => {
    const { from, rc, link } = setup();
    from(mrd(UNMAPPED, 1, 1, { firstBe: 0 }), 10);
    link.cycle = 100;
    expect(link.sentOf('CplD').map((c) => [c.tag, c.status, c.byteCount])).toEqual([[1, CplStatus.SC, 1]]);
    expect(rc.stats().completer).toMatchObject({ dmaReads: 0, dmaReadBytes: 0, completionsSent: 1 });
  });

  test('a read: statistics, the latency hook sees each read numbered, the gap comes between completions only', () => {
    const seen: number[] = [];
    const { from, rc, link, buf } = setup({
      latency: (r) => (seen.push(r.index), 20),
      cplGap: { min: 5, max: 5 },
    });
    from(mrd(buf.addr, 128, 1), 100);
    from(mrd(buf.addr, 1, 2), 100);
    expect(seen).toEqual([0, 1]);
    expect(rc.stats().completer).toMatchObject({ dmaReads: 2, dmaReadBytes: 516, completionsSent: 5 });
    link.cycle = 200;
    expect(link.sentOf('CplD').map((c) => [c.tag, c.at])).toEqual([
      [1, 120],
      [1, 125],
      [1, 130],
      [1, 135],
      [2, 120],
    ]);
  });

  test('a read is outstanding until its last completion reached the device; a dropped one until the timeout', () => {
    const { from, rc, link, buf } = setup({ deviceCompletionTimeout: 1000 });
    link.deliveryDelay = 7;
    from(mrd(buf.addr, 64, 1), 100); // completions at 120 and 120, the last delivered at 127
    expect([126, 127].map((c) => rc.completer.outstandingAt(c))).toEqual([1, 0]);
    rc.setFaults({ onRead: () => 'drop' });
    from(mrd(buf.addr, 1, 2), 200);
    from(mrd(buf.addr, 1, 3), 300);
    expect([1199, 1200, 1299, 1300].map((c) => rc.completer.outstandingAt(c))).toEqual([2, 1, 1, 0]);
  });

  test('poison aimed at the first completion poisons that one only', () => {
    const { from, link, buf } = setup({ onRead: () => ({ action: 'poison', completion: 0 }) });
    from(mrd(buf.addr, 128, 1), 10);
    link.cycle = 100;
    expect(link.sentOf('CplD').map((c) => c.ep ?? false)).toEqual([true, false, false, false]);
  });

  test('UR aimed at a completion: the completions before it, then one UR; counted', () => {
    const { from, rc, link, buf } = setup({ onRead: () => ({ action: 'ur', completion: 2 }) });
    from(mrd(buf.addr, 128, 1), 10);
    link.cycle = 100;
    expect(link.sent.map(({ tlp: t }) => (t.type === 'Cpl' || t.type === 'CplD' ? [t.type, t.byteCount] : []))).toEqual(
      [
        ['CplD', 512],
        ['CplD', 384],
        ['Cpl', 256],
      ],
    );
    expect(rc.stats().completer.completionsSent).toBe(3);
  });

  test('a duplicate is counted as a CplD sent, and the RC stays busy until its stray copy is out', () => {
    const { from, rc, link, buf } = setup({ onRead: () => 'duplicate' });
    link.cycle = 100;
    from(mrd(buf.addr, 1, 1), 100);
    expect(rc.stats().toDevice).toEqual({ CplD: { tlps: 2, bytes: 8 } });
    expect(rc.stats().completer.completionsSent).toBe(2);
    link.cycle = 121; // the completion at 120, its stray copy at 121
    expect(rc.idle).toBe(false);
    link.cycle = 122;
    expect(rc.idle).toBe(true);
    const early = setup({ onRead: () => ({ action: 'duplicate', completion: 0 }) });
    early.from(mrd(early.buf.addr, 64, 1), 10); // 2 completions, the first repeated
    expect(early.rc.stats().toDevice).toEqual({ CplD: { tlps: 3, bytes: 384 } });
  });

  test('an unsupported request is counted among the completions sent', () => {
    const { from, rc } = setup({ violations: 'record' });
    from({ type: 'CfgRd0', completerId: 0x200, offset: 0, firstBe: 0xf, requesterId: DEV, tag: 1 }, 10);
    expect(rc.stats().completer.completionsSent).toBe(1);
  });
});

describe('device writes, as completer', () => {
  test('a zero-length write touches no memory, even where nothing is mapped', () => {
    const { from, rc } = setup();
    from(mwr(UNMAPPED, 4, { firstBe: 0 }), 10);
    expect(rc.stats().completer).toMatchObject({ dmaWrites: 0, dmaWriteBytes: 0 });
  });

  test('writes of one and two dwords write only the enabled bytes, gaps included', () => {
    const { from, rc, buf } = setup();
    rc.mem.write(buf.addr, new Uint8Array(16).fill(0x11));
    from(mwr(buf.addr, 8, { firstBe: 0x1, lastBe: 0x8 }), 10);
    from(mwr(buf.addr + 8n, 4, { firstBe: 0x9 }), 11);
    expect(Array.from(rc.mem.read(buf.addr, 12))).toEqual([
      0xa5, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0xa5, 0xa5, 0x11, 0x11, 0xa5,
    ]);
    expect(rc.stats().completer).toMatchObject({ dmaWrites: 2, dmaWriteBytes: 12 });
  });

  test('a write into the MSI window must be one whole dword', () => {
    const { from, rc } = setup({ violations: 'record' });
    const msi = rc.opts.msiBase;
    from(mwr(msi, 4, { firstBe: 0x7 }), 10);
    from(mwr(msi, 8), 11);
    expect(rc.violations.map((v) => [v.code, /got (\d) DW with first BE (\d+)b/.exec(v.reason)?.slice(1)])).toEqual([
      ['msix', ['1', '0111']],
      ['msix', ['2', '1111']],
    ]);
    expect(rc.stats().completer.interrupts).toBe(0);
  });
});
