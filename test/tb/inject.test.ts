// Fault injection on the device's reads (tb/pcie/inject.ts): what the device receives for each fault, on a
// scripted link, traffic checked TLP by TLP; then against the TypeScript endpoint model.
import { describe, expect, test } from 'vitest';
import { PCI_EXP_DEVCTL2_10BIT_TAG_REQ_EN } from '../../tb/pcie/cfgspace';
import { DMA_STATUS, DMA_TO_DEVICE, MODEL_REGS as R, ModelEndpoint } from '../../tb/pcie/modeldev';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import type { CplDTlp, CplTlp } from '../../tb/pcie/tlp';
import { seededTest } from '../support/seeds';
import { DEV, mrd, setup } from './crafted';

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
