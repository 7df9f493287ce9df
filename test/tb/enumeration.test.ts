// Enumeration (tb/pcie/enumerate.ts) of the TypeScript endpoint model with its configuration space edited into
// the shapes a device may come in: no device, other header types, BARs it cannot have, capability lists that
// point into the header or loop, extended capabilities linked badly, MSI-X structures outside their BAR, windows
// too small; and the options that leave steps out. Written for behaviour the mutation run (npm run mutate) found
// untested.
import { describe, expect, test } from 'vitest';
import { PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY } from '../../tb/pcie/cfgspace';
import { ModelEndpoint, type ModelEndpointOptions } from '../../tb/pcie/modeldev';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';

const put32 = (b: Uint8Array, o: number, v: number) => new DataView(b.buffer).setUint32(o, v >>> 0, true);

/** A model whose configuration space `edit` changed before the RC enumerates it. */
function device(edit: (cfg: Uint8Array) => void, devOpts: ModelEndpointOptions = {}, rcOpts: RootComplexOptions = {}) {
  const dev = new ModelEndpoint(devOpts);
  edit(dev.cfg);
  const rc = new RootComplex(dev, { seed: 1, ...rcOpts });
  return { dev, rc };
}
const enumerated = (edit: (cfg: Uint8Array) => void, devOpts: ModelEndpointOptions = {}) => {
  const { rc, dev } = device(edit, devOpts);
  return { rc, dev, info: rc.enumerate() };
};
const refused = (edit: (cfg: Uint8Array) => void, message: RegExp, rcOpts: RootComplexOptions = {}) =>
  expect(() => device(edit, {}, rcOpts).rc.enumerate()).toThrow(message);

describe('enumeration of unusual configuration spaces', () => {
  test('no device: a Vendor ID of all ones or zero', () => {
    refused((c) => put32(c, 0, 0xffff_ffff), /^rc: enumeration: no device: vendor ID reads 0xffff$/);
    refused((c) => put32(c, 0, 0x1234_0000), /no device: vendor ID reads 0x0000/);
  });

  test('a type 1 header is refused; the multi-function bit is reported', () => {
    refused((c) => (c[0x0e] = 0x01), /header type 0x01 is not a type 0 \(endpoint\) header/);
    const { info } = enumerated((c) => (c[0x0e] = 0x80));
    expect([info.headerType, info.multiFunction]).toEqual([0, true]);
  });

  test('BARs with a reserved memory type, or a 64-bit BAR 5, are refused', () => {
    refused((c) => (c[0x10] = 0x02), /BAR 0: reserved memory type 01b/);
    refused((c) => (c[0x10] = 0x06), /BAR 0: reserved memory type 11b/);
    refused((c) => (c[0x24] = 0x04), /BAR 5 claims to be 64-bit, but there is no BAR 6 for its upper half/);
  });

  test('BARs that do not fit their window are refused; exactly fitting ones are placed', () => {
    // BAR 0 (16 KB) and BAR 4 (4 KB) go below 4 GB, biggest first.
    const fits = device(() => {}, {}, { mem32: { base: 0xc000_0000n, limit: 0xc000_5000n } });
    const bars = fits.rc.enumerate().bars;
    expect([bars[0]!.address, bars[4]!.address]).toEqual([0xc000_0000n, 0xc000_4000n]);
    refused(() => {}, /BAR 4 \(4096 bytes\) does not fit the 32-bit window \[0xc0000000, 0xc0004fff\)/, {
      mem32: { base: 0xc000_0000n, limit: 0xc000_4fffn },
    });
    refused(() => {}, /BAR 2 \(65536 bytes\) does not fit the 64-bit window/, {
      mem64: { base: 0x40_0000_0000n, limit: 0x40_0000_8000n },
    });
  });

  test('capability lists: none, a pointer into the header, a loop', () => {
    const none = enumerated((c) => (c[0x06] &= ~0x10)).info; // Capabilities List bit clear
    expect([none.capList, none.extCapList, none.pcie, none.msix]).toEqual([[], [], undefined, undefined]);
    refused((c) => (c[0x34] = 0x3c), /capability pointer 0x3c points into the header \(must be 0x40\.\.0xfc\)/);
    refused((c) => (c[0x91] = 0x40), /capability list loops back to 0x40 \(after 0x40 -> 0x80 -> 0x90\)/);
    // The low two bits of a pointer are reserved: ignored.
    expect(enumerated((c) => (c[0x34] = 0x43)).info.capList[0]).toEqual({ id: 0x10, offset: 0x40 });
  });

  test('extended capabilities: none, a link to nothing, a loop, a link below 0x100', () => {
    expect(enumerated((c) => put32(c, 0x100, 0)).info.extCapList).toEqual([]);
    expect(enumerated((c) => put32(c, 0x100, 0xffff_ffff)).info.extCapList).toEqual([]);
    const linked = (next: number) => (c: Uint8Array) => put32(c, 0x140, 0x000b | (1 << 16) | (next << 20));
    refused(linked(0x180), /extended capability at 0x180 reads 0x00000000 but was linked from the previous one/);
    refused(linked(0x100), /extended capability list loops back to 0x100/);
    refused(linked(0x0fc), /extended capability at 0x140 links to 0x0fc, below 0x100/);
    const { info } = enumerated(() => {});
    expect(info.extCapList).toEqual([
      { id: 0x0003, version: 1, offset: 0x100 },
      { id: 0x000b, version: 1, offset: 0x140 },
    ]);
  });

  test('a function without a PCI Express capability: no extended capabilities, no Device Control to program', () => {
    const { rc, info } = enumerated((c) => (c[0x34] = 0x80)); // the list starts at MSI-X
    expect([info.pcie, info.mps, info.extCapList]).toEqual([undefined, undefined, []]);
    expect(info.msix?.tableSize).toBe(8);
    expect(() => rc.setDeviceControl({ mps: 128 })).toThrow(
      /setDeviceControl: the enumerated device has no PCI Express capability to program/,
    );
  });

  test('MSI-X table and PBA must lie in a memory BAR, within its size (exactly at the end is fine)', () => {
    // The table (8 entries, 128 bytes) at the last 128 bytes of BAR 0 (16 KB).
    const { info } = enumerated((c) => put32(c, 0x84, 0x3f80));
    expect(info.msix).toMatchObject({ tableOffset: 0x3f80, tableAddress: info.bars[0]!.address + 0x3f80n });
    refused(
      (c) => put32(c, 0x84, 0x3f88),
      /MSI-X table \(128 bytes at offset 0x3f88\) does not fit BAR 0 of 16384 bytes/,
    );
    refused((c) => put32(c, 0x84, 0x2001), /MSI-X table is in BAR 1, which is not a memory BAR/);
    refused((c) => put32(c, 0x88, 0x4000), /MSI-X PBA \(8 bytes at offset 0x4000\) does not fit BAR 0/);
    // The PBA in the last qword: fits for 8 vectors; 65 vectors need two qwords.
    const pbaAtEnd = (c: Uint8Array) => put32(c, 0x88, 0x3ff8);
    expect(enumerated(pbaAtEnd).info.msix?.pbaOffset).toBe(0x3ff8);
    expect(() => device(pbaAtEnd, { msixVectors: 65 }).rc.enumerate()).toThrow(
      /MSI-X PBA \(16 bytes at offset 0x3ff8\) does not fit BAR 0/,
    );
  });

  test('options leave steps out: no BAR addresses, no decoding or bus mastering, Device Control as it was', () => {
    const { rc, dev } = device(() => {});
    const info = rc.enumerate({ assign: false, memory: false, busMaster: false, configurePcie: false });
    expect(info.bars.filter((b) => b).map((b) => b!.address)).toEqual([0n, 0n, 0n]);
    expect(info.msix).toMatchObject({ tableAddress: 0n, pbaAddress: 0n });
    expect(rc.shadow.msixTable).toBeUndefined();
    expect(dev.cfg[PCI_COMMAND] & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)).toBe(0);
    expect([dev.mps, dev.mrrs, info.mps, info.mrrs]).toEqual([128, 512, 128, 512]); // the reset values
    expect(dev.cfg[0x50] & 8).toBe(0);
  });
});
