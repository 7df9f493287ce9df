// The golden model's interrupt delivery (MSI-X masks, pending bits, Bus Master Enable; INTx from the ISR) and
// its checking API (predict / check with the reset-timing alternative, mismatches naming the register).
import { describe, expect, test } from 'vitest';
import { DEFAULT_LAYOUT } from '../../gen/virtio/layout';
import { COMMON, ISR, STATUS } from '../../gen/virtio/regmap';
import { PCI_COMMAND, PCI_MSIX_FLAGS, PCI_STATUS } from '../../tb/pcie/cfgspace';
import { leBytes } from '../../tb/pcie/hostmem';
import { GoldenMismatch } from '../../tb/virtio/golden/transport';
import { Poke } from './golden-helpers';

const L = DEFAULT_LAYOUT;
const T = L.msix.table.offset;
const MSIX = L.caps.at.msix! + PCI_MSIX_FLAGS;

/** A device at DRIVER_OK with bus mastering, MSI-X enabled and every vector programmed (masked unless `unmask`). */
function running(unmask = true): Poke {
  const p = new Poke(L);
  p.setCfg(PCI_COMMAND, 0x6, 2);
  p.setCfg(MSIX, 0x8000, 2);
  for (let v = 0; v < L.msix.vectors; v++) {
    p.setBar(0, T + 16 * v, 0xfee0_0000 + (v << 12), 4);
    p.setBar(0, T + 16 * v + 8, 0x4000 + v, 4);
    if (unmask) p.setBar(0, T + 16 * v + 12, 0, 4);
  }
  p.driverOk();
  return p;
}
const msix = (p: Poke) =>
  p.g.interruptLog.filter((e) => e.kind === 'msix').map((e) => (e.kind === 'msix' ? e.vector : -1));
const pba = (p: Poke) => Number(p.bar(0, L.msix.pba.offset, 4));

describe('MSI-X', () => {
  test('a queue interrupt goes to its vector with the programmed address and data', () => {
    const p = running();
    p.g.signalQueue(1);
    expect(p.g.interruptLog).toEqual([{ kind: 'msix', vector: 2, address: 0xfee0_2000n, data: 0x4002 }]);
  });

  test('a masked vector sets its pending bit and is delivered on unmask', () => {
    const p = running(false);
    p.g.signalQueue(0);
    expect(msix(p)).toEqual([]);
    expect(pba(p)).toBe(0b010);
    p.setBar(0, L.msix.pba.offset, 0, 4); // the PBA is read-only
    expect(pba(p)).toBe(0b010);
    p.setBar(0, T + 16 * 1 + 12, 0, 4);
    expect(msix(p)).toEqual([1]);
    expect(pba(p)).toBe(0);
  });

  test('the function mask holds every vector; clearing it delivers what is pending', () => {
    const p = running();
    p.setCfg(MSIX, 0xc000, 2);
    p.g.signalQueue(0);
    p.g.signalQueue(1);
    expect(msix(p)).toEqual([]);
    expect(pba(p)).toBe(0b110);
    p.setCfg(MSIX, 0x8000, 2);
    expect(msix(p)).toEqual([1, 2]);
  });

  test('no message without Bus Master Enable; sent when it is set again', () => {
    const p = running();
    p.setCfg(PCI_COMMAND, 0x2, 2);
    p.g.signalQueue(1);
    expect(msix(p)).toEqual([]);
    expect(pba(p)).toBe(0b100);
    p.setCfg(PCI_COMMAND, 0x6, 2);
    expect(msix(p)).toEqual([2]);
  });

  test('NO_VECTOR, a disabled queue, or no DRIVER_OK: no interrupt; a virtio reset clears pending bits', () => {
    const p = running(false);
    p.g.signalQueue(0);
    expect(pba(p)).toBe(0b010);
    p.setCommon('device_status', 0);
    expect(pba(p)).toBe(0);
    p.g.signalQueue(0);
    p.g.changeDeviceConfig('capacity', 5);
    expect(pba(p)).toBe(0);
    const q = running();
    q.setCommon('device_status', 0);
    q.setCommon('device_status', STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    q.negotiate(L.features);
    q.setCommon('queue_select', 0);
    q.setCommon('queue_enable', 1); // vector left at NO_VECTOR
    q.setCommon('device_status', 0x0f);
    q.g.signalQueue(0);
    q.g.signalQueue(1);
    expect(msix(q)).toEqual([]);
  });

  test('configuration changes: ISR configuration bit and the configuration vector; fatal errors too', () => {
    const p = running();
    p.g.changeDeviceConfig('capacity', 99);
    expect(msix(p)).toEqual([0]);
    expect(p.isr()).toBe(ISR.CONFIG);
    p.g.fatalError();
    expect(msix(p)).toEqual([0, 0]);
    expect((p.common('device_status') as number) & STATUS.DEVICE_NEEDS_RESET).toBeTruthy();
  });
});

describe('INTx (MSI-X disabled)', () => {
  const intx = (p: Poke) =>
    p.g.interruptLog.filter((e) => e.kind === 'intx').map((e) => (e.kind === 'intx' ? e.asserted : null));

  test('the ISR asserts INTA and sets Interrupt Status; reading it deasserts; INTx Disable masks', () => {
    const p = new Poke(L);
    p.setCfg(PCI_COMMAND, 0x6, 2);
    p.driverOk();
    p.g.signalQueue(1);
    expect(intx(p)).toEqual([true]);
    expect(p.cfg(PCI_STATUS, 2) & 0x8).toBe(0x8);
    p.g.signalQueue(0); // already asserted: no second message
    expect(p.isr()).toBe(ISR.QUEUE);
    expect(intx(p)).toEqual([true, false]);
    expect(p.cfg(PCI_STATUS, 2) & 0x8).toBe(0);
    p.setCfg(PCI_COMMAND, 0x406, 2); // Interrupt Disable
    p.g.changeDeviceConfig('capacity', 1);
    expect(intx(p)).toEqual([true, false]);
    expect(p.cfg(PCI_STATUS, 2) & 0x8).toBe(0x8); // status still shows it
    p.setCfg(PCI_COMMAND, 0x6, 2);
    expect(intx(p)).toEqual([true, false, true]);
    expect(p.isr()).toBe(ISR.CONFIG);
    expect(intx(p)).toEqual([true, false, true, false]);
  });
});

describe('checking API', () => {
  const status = { space: 'bar' as const, bar: 0, offset: L.common.offset + COMMON.device_status, size: 1 };

  test('check accepts the prediction and applies the read; a difference names the register', () => {
    const p = new Poke(L);
    p.g.interrupts.setIsr(ISR.QUEUE);
    const isr = { space: 'bar' as const, bar: 0, offset: L.isr.offset, size: 1 };
    p.g.check(isr, new Uint8Array([1]));
    expect(p.isr()).toBe(0); // the checked read cleared it
    expect(() => p.g.check(isr, new Uint8Array([2]))).toThrow(GoldenMismatch);
    expect(() => p.g.check(isr, new Uint8Array([2]))).toThrow(
      /read of BAR0\+0x40\+1 \(isr\): device returned 0x02, expected 0x00/,
    );
    expect(() => p.g.check({ space: 'cfg', offset: 0, size: 4 }, leBytes(0x1041_1af4n, 4))).toThrow(
      /read of config 0x0\+4 \(vendor ID\): device returned 0x10411af4, expected 0x10421af4/,
    );
  });

  test('a device that finishes a reset sooner than the model expects is accepted, and the model follows it', () => {
    const p = new Poke(L, { resetReads: 'external' });
    p.driverOk();
    p.setCommon('device_status', 0);
    p.g.check(status, new Uint8Array([0x0f])); // still resetting: fine
    p.g.check(status, new Uint8Array([0])); // done: fine
    expect(p.g.common.resetInProgress).toBe(false);
    expect(() => p.g.check(status, new Uint8Array([0x0f]))).toThrow(GoldenMismatch);
  });
});
