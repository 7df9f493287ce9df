// MsixController (tb/pcie/msix.ts) against the TypeScript endpoint model: the order of the Message Control writes
// while programming, partial setups, 64-bit message addresses, the PBA beyond 32 vectors, and the checks on
// vectors and on the device. Written for behaviour the mutation run (npm run mutate) found untested.
import { describe, expect, test, vi } from 'vitest';
import { PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL } from '../../tb/pcie/cfgspace';
import { MODEL_REGS as R, ModelEndpoint, type ModelEndpointOptions } from '../../tb/pcie/modeldev';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import type { EnumerateOptions } from '../../tb/pcie/enumerate';

function boot(devOpts: ModelEndpointOptions = {}, enumOpts: EnumerateOptions = {}) {
  const rc = new RootComplex(new ModelEndpoint(devOpts), { seed: 1 });
  rc.enumerate(enumOpts);
  return rc;
}

const messageControl = (rc: RootComplex) => rc.cfgRead(rc.msix.info.offset + PCI_MSIX_FLAGS, 2);

describe('MsixController', () => {
  test('setup programs the table with the function masked and MSI-X enabled, then clears the function mask', () => {
    const rc = boot();
    const writes: number[] = [];
    const cfgWrite = rc.cfgWrite.bind(rc);
    vi.spyOn(rc, 'cfgWrite').mockImplementation((off, v, size) => {
      if (off === rc.msix.info.offset + PCI_MSIX_FLAGS)
        writes.push(v & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL));
      return cfgWrite(off, v, size);
    });
    rc.msix.setup();
    expect(writes).toEqual([PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, PCI_MSIX_FLAGS_ENABLE]);
  });

  test('setControl sets and clears MSI-X Enable and Function Mask independently', () => {
    const rc = boot();
    const both = PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL;
    for (const [enable, mask] of [
      [true, true],
      [false, true],
      [true, false],
      [false, false],
    ]) {
      rc.msix.setControl(enable, mask);
      expect(messageControl(rc) & both).toBe(
        (enable ? PCI_MSIX_FLAGS_ENABLE : 0) | (mask ? PCI_MSIX_FLAGS_MASKALL : 0),
      );
    }
    // The table size (read-only low bits) is left as it was.
    expect(messageControl(rc) & 0x7ff).toBe(7);
  });

  test('setup of some vectors programs and unmasks those, masks the rest; none at all is allowed', () => {
    const rc = boot();
    rc.msix.setup({ vectors: 3 });
    for (let v = 0; v < 8; v++) expect(rc.msix.readEntry(v).masked, `vector ${v}`).toBe(v >= 3);
    expect(rc.msix.readEntry(2)).toEqual({ ...rc.msix.defaultMessage(2), masked: false });
    rc.msix.setup({ vectors: 0 });
    for (let v = 0; v < 8; v++) expect(rc.msix.readEntry(v).masked).toBe(true);
    expect(messageControl(rc) & PCI_MSIX_FLAGS_ENABLE).toBe(PCI_MSIX_FLAGS_ENABLE);
    // masked: programmed but left masked.
    rc.msix.setup({ masked: true });
    expect(rc.msix.readEntry(4)).toEqual({ ...rc.msix.defaultMessage(4), masked: true });
    expect(() => rc.msix.setup({ vectors: 9 })).toThrow(/9 MSI-X vectors requested, the table has 8/);
    expect(() => rc.msix.setup({ vectors: -1 })).toThrow(RangeError);
  });

  test('program() writes a 64-bit address into its own entry only, unmasked unless asked', () => {
    const rc = boot();
    rc.msix.setup({ masked: true });
    const msg = { address: 0x1_2345_6000n, data: 0xabcd };
    rc.msix.program(3, msg);
    expect(rc.msix.readEntry(3)).toEqual({ ...msg, masked: false });
    // The neighbours keep their entries (and stay masked).
    expect(rc.msix.readEntry(2)).toEqual({ ...rc.msix.defaultMessage(2), masked: true });
    expect(rc.msix.readEntry(4)).toEqual({ ...rc.msix.defaultMessage(4), masked: true });
    rc.msix.program(5, msg, true);
    expect(rc.msix.readEntry(5).masked).toBe(true);
    rc.msix.unmask(5);
    expect(rc.msix.readEntry(5).masked).toBe(false);
    rc.msix.mask(5);
    expect(rc.msix.readEntry(5).masked).toBe(true);
    // The device sends the programmed 64-bit message.
    rc.msix.program(1, { address: rc.opts.msiBase + 0x10n, data: 0x77 });
    rc.bar(0).write32(R.IRQ, 1);
    expect(rc.waitForInterrupt(1)).toMatchObject({ vector: 1, data: 0x77 });
  });

  test('pending bits of vectors beyond the first PBA dword', () => {
    const rc = boot({ msixVectors: 40 });
    rc.msix.setup();
    rc.msix.mask(33);
    rc.bar(0).write32(R.IRQ, 33);
    rc.runFor(2000);
    expect(rc.msix.pending(33)).toBe(true);
    expect(rc.msix.pending(1)).toBe(false);
    expect(rc.msix.pending(32)).toBe(false);
    rc.msix.unmask(33);
    expect(rc.waitForInterrupt(33).vector).toBe(33);
    expect(rc.msix.pending(33)).toBe(false);
  });

  test('vector numbers outside the table are refused', () => {
    const rc = boot();
    rc.msix.setup();
    for (const v of [8, -1, 1.5]) {
      expect(() => rc.msix.pending(v)).toThrow(new RangeError(`rc: MSI-X vector ${v} outside the table of 8`));
      expect(() => rc.msix.mask(v)).toThrow(RangeError);
      expect(() => rc.msix.readEntry(v)).toThrow(RangeError);
    }
    expect(rc.msix.pending(7)).toBe(false);
  });

  test('without enumeration, without the capability, or with the table BAR unassigned', () => {
    const fresh = new RootComplex(new ModelEndpoint(), { seed: 1 });
    expect(() => fresh.msix.setup()).toThrow(/no MSI-X capability \(enumerate first\)/);
    const rc = boot();
    rc.device = { ...rc.device!, msix: undefined };
    expect(() => rc.msix.setup()).toThrow(/^rc: the device has no MSI-X capability$/);
    const unassigned = boot({}, { assign: false, memory: false });
    expect(() => unassigned.msix.setup()).toThrow(/MSI-X table BAR is not assigned/);
  });
});
