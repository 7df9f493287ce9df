// Fault injection on the device's reads (tb/pcie/inject.ts): what the device receives for each fault, on a
// scripted link, traffic checked TLP by TLP; then against the TypeScript endpoint model.
import { describe, expect, test } from 'vitest';
import { PCI_EXP_DEVCTL2_10BIT_TAG_REQ_EN } from '../../tb/pcie/cfgspace';
import type { ReadFault } from '../../tb/pcie/inject';
import { DMA_STATUS, DMA_TO_DEVICE, MODEL_REGS as R, ModelEndpoint } from '../../tb/pcie/modeldev';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { CplStatus, type CplDTlp, type CplTlp } from '../../tb/pcie/tlp';
import { seededTest } from '../support/seeds';
import { DEV, mrd, setup, violation } from './crafted';

/** The completions the RC scheduled, in the order the link delivers them (by cycle, FIFO among equals). */
function delivered(link: ReturnType<typeof setup>['link']) {
  return link.sent
    .map((s, i) => ({ ...s, i }))
    .filter((s) => s.tlp.type === 'CplD' || s.tlp.type === 'Cpl')
    .sort((a, b) => a.at - b.at || a.i - b.i)
    .map((s) => s.tlp as CplTlp | CplDTlp);
}

describe('duplicate completions', () => {
  test('a repeated completion that is not the last follows itself at once, while the read is outstanding', () => {
    const { rc, link, from, buf } = setup({ split: 'rcb', rcb: 64, cplGap: { min: 3, max: 3 } });
    rc.setFaults({ onRead: () => ({ action: 'duplicate', completion: 1 }) });
    from(mrd(buf.addr, 64, 5), 100); // 256 bytes at RCB 64: four completions
    const c = delivered(link);
    expect(c.map((t) => [t.tag, t.byteCount])).toEqual([
      [5, 256],
      [5, 192],
      [5, 192], // the repeat, before the read's last completion
      [5, 128],
      [5, 64],
    ]);
    expect(rc.injector.counts.duplicate).toBe(1);
    expect(rc.stats().completer.completionsSent).toBe(5);
  });

  test('the last completion is repeated where no request of the device can be: above its tags', () => {
    const { rc, link, from, buf } = setup({ split: 'rcb', rcb: 64 });
    rc.setFaults({ onRead: () => 'duplicate' });
    from(mrd(buf.addr, 32, 7), 100); // two completions
    const c = delivered(link);
    expect(c.map((t) => [t.tag, t.requesterId, t.byteCount])).toEqual([
      [7, DEV, 128],
      [7, DEV, 64],
      [7 | 0x200, DEV, 64], // Tag[9] set: never a tag of a device without 10-bit tags
    ]);
    // The same with an explicit target, and for a single-completion read.
    rc.setFaults({ onRead: () => ({ action: 'duplicate', completion: -1 }) });
    from(mrd(buf.addr, 1, 8), 200);
    expect(
      delivered(link)
        .slice(3)
        .map((t) => [t.tag, t.byteCount]),
    ).toEqual([
      [8, 4],
      [8 | 0x200, 4],
    ]);
  });

  test('with 10-bit tags every tag may be in use: the repeat goes to the next bus instead', () => {
    const { rc, link, from, buf } = setup({ split: 'max' });
    rc.shadow.noteRead(0x68, PCI_EXP_DEVCTL2_10BIT_TAG_REQ_EN);
    rc.setFaults({ onRead: () => 'duplicate' });
    from(mrd(buf.addr, 1, 300), 100);
    expect(delivered(link).map((t) => [t.tag, t.requesterId])).toEqual([
      [300, DEV],
      [300, DEV + 0x100],
    ]);
  });

  test("the tag is the device's again after the last real completion, not after the repeat", () => {
    const { rc, from, buf } = setup({ latency: { min: 20, max: 20 } });
    rc.setFaults({ onRead: () => 'duplicate' });
    from(mrd(buf.addr, 1, 9), 100); // completion at 120, its repeat at 121
    rc.setFaults({ onRead: undefined });
    from(mrd(buf.addr, 1, 9), 120);
    expect(rc.violations).toEqual([]);
  });

  test('a targeted fault is checked: a completion index needs an integer', () => {
    const { rc, from, buf } = setup();
    rc.setFaults({ onRead: () => ({ action: 'duplicate', completion: 0.5 }) });
    expect(() => from(mrd(buf.addr, 1, 1))).toThrow(/completion 0.5 is not an integer \(duplicate\)/);
    rc.setFaults({ onRead: () => ({ action: 'bogus' }) as never });
    expect(() => from(mrd(buf.addr, 1, 2))).toThrow(/onRead hook returned \{"action":"bogus"\}/);
  });

  seededTest('30% duplicates on a 16 KB transfer: the model endpoint gets the right data, no violation', (seed) => {
    const dev = new ModelEndpoint({ dmaTags: 8 });
    const rc = new RootComplex(dev, { seed, faults: { duplicate: 0.3 }, split: 'random' });
    rc.enumerate();
    rc.msix.setup();
    const host = rc.mem.alloc(0x4000, { perm: 'ro' });
    const data = Uint8Array.from({ length: 0x4000 }, (_, i) => (i * 13 + 5) & 0xff);
    rc.mem.write(host.addr, data);
    const b0 = rc.bar(0);
    b0.write64(R.DMA_HOST_LO, host.addr);
    b0.write32(R.DMA_DEV, 0);
    b0.write32(R.DMA_LEN, 0x4000);
    b0.write32(R.DMA_CTRL, DMA_TO_DEVICE | (1 << 8) | (1 << 16));
    rc.waitForInterrupt(1);
    rc.settle({ quiet: 100 });
    const st = b0.read32(R.DMA_STATUS);
    expect(rc.injector.counts.duplicate).toBeGreaterThan(0);
    expect(st & ~(DMA_STATUS.UNEXPECTED | DMA_STATUS.DONE)).toBe(0);
    expect(st & DMA_STATUS.UNEXPECTED).toBe(DMA_STATUS.UNEXPECTED);
    expect(Buffer.compare(Buffer.from(dev.sram.subarray(0, 0x4000)), Buffer.from(data))).toBe(0);
  });
});

describe('faults inside one read: aimed at its k-th completion', () => {
  /** A 256-byte read at RCB 64, answered in four completions (byte counts 256, 192, 128, 64). */
  function fourCompletions(fault: ReadFault, opts: RootComplexOptions = {}) {
    const s = setup({ split: 'rcb', rcb: 64, cplGap: { min: 2, max: 2 }, ...opts });
    s.rc.setFaults({ onRead: () => fault });
    s.from(mrd(s.buf.addr, 64, 5), 100);
    return { ...s, cpls: delivered(s.link) };
  }
  const shape = (t: CplTlp | CplDTlp) =>
    [t.type, t.status, t.byteCount, t.lowerAddress, t.type === 'CplD' ? t.data.length : 0, t.ep ? 'EP' : ''] as const;

  test('poison: only that completion carries EP', () => {
    const { cpls, rc } = fourCompletions({ action: 'poison', completion: 1 });
    expect(cpls.map((t) => t.ep)).toEqual([false, true, false, false]);
    expect(rc.injector.counts.poison).toBe(1);
    expect(fourCompletions({ action: 'poison', completion: -1 }).cpls.map((t) => t.ep)).toEqual([
      false,
      false,
      false,
      true,
    ]);
    expect(fourCompletions({ action: 'poison' }).cpls.every((t) => t.ep)).toBe(true);
  });

  test('drop: that completion is lost, the others come; the tag stays taken until the device can time out', () => {
    const { cpls, from, buf, rc } = fourCompletions(
      { action: 'drop', completion: 2 },
      { deviceCompletionTimeout: 900 },
    );
    expect(cpls.map((t) => t.byteCount)).toEqual([256, 192, 64]);
    rc.setFaults({ onRead: undefined });
    violation(
      () => from(mrd(buf.addr, 1, 5), 999),
      'tag-reuse',
      /lost one of its completions \(fault injection: drop\); its tag is free once the device's completion timeout can have fired, at cycle 1000/,
    );
    const late = fourCompletions({ action: 'drop', completion: 2 }, { deviceCompletionTimeout: 900 });
    late.rc.setFaults({ onRead: undefined });
    late.from(mrd(buf.addr, 1, 5), 1000);
  });

  test('UR / CA after some data: k completions with data, then the error completion for the rest', () => {
    const ur = fourCompletions({ action: 'ur', completion: 2 });
    expect(ur.cpls.map(shape)).toEqual([
      ['CplD', CplStatus.SC, 256, 0x00, 64, ''],
      ['CplD', CplStatus.SC, 192, 0x40, 64, ''],
      ['Cpl', CplStatus.UR, 128, 0x00, 0, ''], // the rest: 128 bytes from address ...080 (lower address 7 bits)
    ]);
    const ca = fourCompletions({ action: 'ca', completion: 9 }); // past the end: the last one
    expect(ca.cpls.map((t) => [t.type, t.status, t.byteCount])).toEqual([
      ['CplD', CplStatus.SC, 256],
      ['CplD', CplStatus.SC, 192],
      ['CplD', CplStatus.SC, 128],
      ['Cpl', CplStatus.CA, 64],
    ]);
    const first = fourCompletions({ action: 'ur', completion: 0 }); // the same as a plain UR
    expect(first.cpls.map(shape)).toEqual([['Cpl', CplStatus.UR, 256, 0, 0, '']]);
    // The tag is free once the error completion is delivered.
    ur.rc.setFaults({ onRead: undefined });
    violation(() => ur.from(mrd(ur.buf.addr, 1, 5), 100 + 20 + 2 + 2 - 1), 'tag-reuse');
    ur.from(mrd(ur.buf.addr, 1, 5), 100 + 20 + 2 + 2 + 30);
  });

  test('an unaligned read: the UR completion carries the lower address of the next byte', () => {
    const s = setup({ split: 'rcb', rcb: 64 });
    s.rc.setFaults({ onRead: () => ({ action: 'ur', completion: 1 }) });
    s.from(mrd(s.buf.addr + 0x30n, 16, 1, { firstBe: 0b1100, lastBe: 0b0011 }), 100); // bytes 0x32..0x6d
    expect(delivered(s.link).map((t) => [t.type, t.byteCount, t.lowerAddress])).toEqual([
      ['CplD', 60, 0x32],
      ['Cpl', 46, 0x40],
    ]);
  });

  test.each([
    ['poison', { action: 'poison', completion: 1 }, DMA_STATUS.POISON],
    ['drop', { action: 'drop', completion: 1 }, DMA_STATUS.BAD_CPL], // the next completion shows the gap
    ['UR after data', { action: 'ur', completion: 1 }, DMA_STATUS.UR],
    ['CA after data', { action: 'ca', completion: 2 }, DMA_STATUS.CA],
  ] as [string, ReadFault, number][])('the model endpoint notices %s in one split of one read', (_, fault, bit) => {
    const dev = new ModelEndpoint({ completionTimeout: 3000 });
    const rc = new RootComplex(dev, {
      seed: 3,
      split: 'rcb',
      deviceCompletionTimeout: 3000,
      onRead: (r) => (r.index === 1 ? fault : undefined),
    });
    rc.enumerate();
    rc.msix.setup();
    const host = rc.mem.alloc(0x1000, { perm: 'ro' });
    const b0 = rc.bar(0);
    b0.write64(R.DMA_HOST_LO, host.addr);
    b0.write32(R.DMA_DEV, 0);
    b0.write32(R.DMA_LEN, 2048); // four reads at MRRS 512, each in eight completions
    b0.write32(R.DMA_CTRL, DMA_TO_DEVICE | (1 << 8) | (1 << 16));
    rc.waitForInterrupt(1);
    expect(b0.read32(R.DMA_STATUS) & bit).toBe(bit);
    expect(rc.injector.counts[fault.action]).toBe(1);
  });
});
