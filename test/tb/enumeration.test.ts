// Enumeration (tb/pcie/enumerate.ts) of the TypeScript endpoint model with its configuration space edited into
// the shapes a device may come in: no device, other header types, BARs it cannot have, capability lists that
// point into the header or loop, extended capabilities linked badly, MSI-X structures outside their BAR, windows
// too small; and the options that leave steps out. Written for behaviour the mutation run (npm run mutate) found
// untested.
import { describe, expect, test } from 'vitest';
import { PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY } from '../../tb/pcie/cfgspace';
import { ModelEndpoint, type ModelEndpointOptions } from '../../tb/pcie/modeldev';
import { ScriptLink } from './support';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import type { RawTlp } from '../../sim/raw';
import { CplStatus, decodeTlp } from '../../tb/pcie/tlp';

const put32 = (b: Uint8Array, o: number, v: number) => new DataView(b.buffer).setUint32(o, v >>> 0, true);

/** A model whose configuration space (and its writable bits) `edit` changed before the RC enumerates it. */
function device(
  edit: (cfg: Uint8Array, wmask: Uint8Array) => void,
  devOpts: ModelEndpointOptions = {},
  rcOpts: RootComplexOptions = {},
) {
  const dev = new ModelEndpoint(devOpts);
  edit(dev.cfg, dev.wmask);
  const rc = new RootComplex(dev, { seed: 1, ...rcOpts });
  return { dev, rc };
}
const enumerated = (edit: (cfg: Uint8Array, wmask: Uint8Array) => void, devOpts: ModelEndpointOptions = {}) => {
  const { rc, dev } = device(edit, devOpts);
  return { rc, dev, info: rc.enumerate() };
};
const refused = (
  edit: (cfg: Uint8Array, wmask: Uint8Array) => void,
  message: RegExp,
  rcOpts: RootComplexOptions = {},
) => expect(() => device(edit, {}, rcOpts).rc.enumerate()).toThrow(message);

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

  test('a version 1 PCI Express capability has no Device Capabilities 2 to read', () => {
    const { info } = enumerated((c) => (c[0x42] = 0x01), {});
    expect(info.pcie).toMatchObject({ version: 1, devcap2: 0, tenBitTagRequesterSupported: false });
    expect(info.tenBitTags).toBe(false);
  });

  test("the MPS programmed is the smaller of the RC's and the device's", () => {
    expect(enumerated(() => {}, { mpsSupported: 128 }).info.mps).toBe(128);
    expect(enumerated(() => {}, { mpsSupported: 4096 }).info.mps).toBe(256);
  });
});

describe('setDeviceControl on an enumerated device', () => {
  test('changes only the settings given, in the device and in the shadow', () => {
    const { rc, dev } = enumerated(() => {});
    rc.setDeviceControl({ mps: 128 });
    expect([dev.mps, dev.mrrs, rc.shadow.mps, rc.shadow.mrrs, rc.shadow.extTags]).toEqual([128, 512, 128, 512, true]);
    rc.setDeviceControl({ mrrs: 1024, extTags: false });
    expect([dev.mps, dev.mrrs, rc.shadow.mrrs, rc.shadow.extTags]).toEqual([128, 1024, 1024, false]);
    expect(dev.cfg[0x49] & 0x01).toBe(0); // Extended Tag Field Enable clear
    rc.setDeviceControl({ extTags: true });
    expect([dev.cfg[0x49] & 0x01, rc.shadow.extTags ? 1 : 0]).toEqual([1, 1]);
    rc.setDeviceControl({ tenBitTags: true });
    expect([dev.cfg[0x69] & 0x10, rc.shadow.tenBitTags]).toEqual([0x10, true]);
    rc.setDeviceControl({ tenBitTags: false });
    expect([dev.cfg[0x69] & 0x10, rc.shadow.tenBitTags]).toEqual([0, false]);
    rc.setDeviceControl({ busMaster: false });
    expect([dev.cfg[PCI_COMMAND] & PCI_COMMAND_MASTER, rc.shadow.busMaster.value]).toEqual([0, false]);
    expect(dev.cfg[PCI_COMMAND] & PCI_COMMAND_MEMORY).toBe(PCI_COMMAND_MEMORY);
    rc.setDeviceControl({ busMaster: true });
    expect([dev.cfg[PCI_COMMAND] & PCI_COMMAND_MASTER, rc.shadow.busMaster.value]).toEqual([PCI_COMMAND_MASTER, true]);
    expect([dev.mps, dev.mrrs]).toEqual([128, 1024]);
    expect(() => rc.setDeviceControl({ mps: 384 })).toThrow(/MPS 384/);
    expect(() => rc.setDeviceControl({ mrrs: 8192 })).toThrow(/MRRS 8192/);
  });
});

describe('enumeration, more shapes', () => {
  const u32 = (b: Uint8Array, o: number) => new DataView(b.buffer).getUint32(o, true);

  test('registers enumeration does not program keep their values', () => {
    const { rc, dev } = device(() => {});
    const before = [0x0c, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24].map((o) => u32(dev.cfg, o));
    rc.enumerate({ assign: false });
    expect([0x0c, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24].map((o) => u32(dev.cfg, o))).toEqual(before);
  });

  test('a nonzero CardBus CIS Pointer is not a seventh BAR', () => {
    expect(enumerated((c) => put32(c, 0x28, 0x01)).info.bars.length).toBeLessThanOrEqual(6);
  });

  test('an I/O BAR is sized but not assigned, and cannot hold the MSI-X table', () => {
    const io = (c: Uint8Array) => (c[0x20] = 0x01);
    const { info } = enumerated(io);
    expect(info.bars[4]).toEqual({ index: 4, kind: 'io', prefetchable: false, size: 0x1000n, address: 0n });
    refused((c) => (io(c), put32(c, 0x84, 0x2004)), /MSI-X table is in BAR 4, which is not a memory BAR/);
  });

  test('BAR sizes: a power of two of at least 16 bytes; equal sizes placed in BAR order', () => {
    const size32 = (w: Uint8Array, size: number) => put32(w, 0x20, ~(size - 1) & 0xffff_fff0);
    const sixteen = enumerated((_c, w) => size32(w, 16)).info;
    expect(sixteen.bars[4]).toMatchObject({ kind: 'mem32', size: 16n });
    refused(
      (_c, w) => put32(w, 0x20, 0xffff_eff0),
      /BAR 4: all-ones write reads back address mask 0xffffeff0, which is not a power-of-two size of at least 16 bytes/,
    );
    // BAR 4 as big as BAR 0 (16 KB, both below 4 GB): BAR 0 first.
    const tie = device((_c, w) => size32(w, 0x4000), {}, { mem32: { base: 0xc000_0000n, limit: 0xc000_8000n } });
    const bars = tie.rc.enumerate().bars;
    expect([bars[0]!.address, bars[4]!.address]).toEqual([0xc000_0000n, 0xc000_4000n]);
  });

  test('below 4 GB every memory BAR is placed biggest first; a prefetchable 32-bit BAR stays there too', () => {
    const low = device(() => {}).rc.enumerate({ below4G: true }).bars;
    expect([low[2]!.address, low[0]!.address, low[4]!.address]).toEqual([0xc000_0000n, 0xc001_0000n, 0xc001_4000n]);
    const pf = enumerated((c) => (c[0x20] = 0x08)).info.bars[4]!;
    expect(pf).toMatchObject({ kind: 'mem32', prefetchable: true });
    expect(pf.address).toBeGreaterThanOrEqual(0xc000_0000n);
    expect(pf.address).toBeLessThan(0xfe00_0000n);
  });

  test('capability IDs that occur twice: the first one counts; a device without MSI-X', () => {
    const { info } = enumerated((c) => {
      c[0x90] = 0x11; // the vendor-specific capability claims to be MSI-X
      put32(c, 0x140, 0x0003 | (1 << 16)); // a second Device Serial Number, the last one
    });
    expect(info.caps.get(0x11)).toBe(0x80);
    expect(info.capList.map((c) => c.id)).toEqual([0x10, 0x11, 0x11]);
    expect(info.extCaps.get(0x0003)).toBe(0x100);
    expect(info.extCapList.map((c) => c.offset)).toEqual([0x100, 0x140]);
    const { rc, info: none } = enumerated((c) => (c[0x41] = 0x90));
    expect([none.msix, rc.shadow.msixCap]).toEqual([undefined, undefined]);
  });

  test('without configurePcie the RC still reads Device Control (2), and its checks use the values', () => {
    const { rc, dev } = device((c) => {
      c[0x48] |= 1 << 5; // MPS 256 at reset
      c[0x69] |= 0x01; // IDO Request Enable
    });
    const info = rc.enumerate({ configurePcie: false });
    expect([info.mps, dev.mps, rc.shadow.idoRequests]).toEqual([256, 256, true]);
  });

  test('extended and 10-bit tags only where both the device and the RC support them', () => {
    const noExt = enumerated((c) => (c[0x44] &= ~0x20));
    expect([noExt.info.extTags, noExt.dev.cfg[0x49] & 1]).toEqual([false, 0]);
    const rcNoExt = device(() => {}, {}, { extTags: false }).rc.enumerate();
    expect(rcNoExt.extTags).toBe(false);
    const no10 = device((c) => put32(c, 0x64, 0x0001_0000), {}, { tenBitTags: true });
    expect(no10.rc.enumerate().tenBitTags).toBe(false);
    expect(device(() => {}, {}, { tenBitTags: true }).rc.enumerate().tenBitTags).toBe(true);
  });

  test('Link Control: the RCB bit as the RC uses it, the other bits kept', () => {
    const lnk = (c: Uint8Array, w: Uint8Array) => {
      c[0x50] = 0x48; // RCB set at reset, Common Clock Configuration set
      w[0x50] |= 0x40;
    };
    expect(enumerated(lnk).dev.cfg[0x50]).toBe(0x40);
    const rcb128 = device(lnk, {}, { rcb: 128 });
    rcb128.rc.enumerate();
    expect(rcb128.dev.cfg[0x50]).toBe(0x48);
  });

  test('setDeviceControl reads back what the device holds; a bad size changes nothing', () => {
    const { rc, dev } = enumerated((_c, w) => {
      w[0x69] = 0; // 10-Bit Tag Requester Enable hardwired to 0
      w[0x49] &= ~0x01; // Extended Tag Field Enable hardwired to 0
    });
    rc.setDeviceControl({ tenBitTags: true, extTags: true });
    expect([rc.shadow.tenBitTags, rc.shadow.extTags]).toEqual([false, false]);
    rc.setDeviceControl({ tenBitTags: false });
    expect(() => rc.setDeviceControl({ busMaster: false, mps: 384 })).toThrow(/MPS 384/);
    expect(dev.cfg[PCI_COMMAND] & PCI_COMMAND_MASTER).toBe(PCI_COMMAND_MASTER);
    const stated = new RootComplex(new ScriptLink(), { device: {} });
    expect(() => stated.setDeviceControl({ mps: 384 })).toThrow(/MPS 384/);
    expect(stated.shadow.mps).toBe(256);
  });

  test('a setDeviceControl without 10-bit tags leaves them as they are', () => {
    const { rc, dev } = enumerated(() => {});
    rc.setDeviceControl({ tenBitTags: true });
    rc.setDeviceControl({ mps: 128 });
    expect([dev.cfg[0x69] & 0x10, rc.shadow.tenBitTags]).toEqual([0x10, true]);
  });

  test('enumeration errors are EnumerationErrors', () => {
    const { rc } = device((c) => put32(c, 0, 0xffff_ffff));
    expect(() => rc.enumerate()).toThrow(expect.objectContaining({ name: 'EnumerationError' }));
  });

  test('an unimplemented BAR 0 cannot hold the MSI-X table', () => {
    refused((c, w) => {
      put32(c, 0x10, 0);
      put32(c, 0x14, 0);
      put32(w, 0x10, 0);
      put32(w, 0x14, 0);
    }, /MSI-X table is in BAR 0, which is not a memory BAR/);
  });

  test("assigning a 32-bit BAR leaves the next BAR's address alone", () => {
    // BAR 5 a 32-bit BAR of 16 KB, placed before the smaller BAR 4 next to it.
    const { info, dev } = enumerated((_c, w) => put32(w, 0x24, ~0x3fff & 0xffff_fff0));
    expect(info.bars[5]).toMatchObject({ kind: 'mem32', size: 0x4000n });
    expect(BigInt(u32(dev.cfg, 0x24))).toBe(info.bars[5]!.address);
    expect(BigInt(u32(dev.cfg, 0x20))).toBe(info.bars[4]!.address);
  });

  test('setDeviceControl keeps the other bits of Device Control 2', () => {
    const { rc, dev } = enumerated((c, w) => {
      c[0x69] |= 0x01; // IDO Request Enable, set and writable
      w[0x69] |= 0x01;
    });
    rc.setDeviceControl({ tenBitTags: true });
    expect(dev.cfg[0x69] & 0x11).toBe(0x11);
  });

  test('the Command register keeps the bits enumeration does not manage', () => {
    const { dev } = enumerated((c) => (c[0x05] |= 0x01)); // SERR# Enable, set at reset (writable)
    expect(dev.cfg[0x05] & 0x01).toBe(0x01);
  });

  test('extended configuration space answered with UR: none at 0x100, an error past it', () => {
    /** The model, answering config reads at `from` and above with Unsupported Request. */
    class UrAbove extends ModelEndpoint {
      constructor(private readonly from: number) {
        super();
      }
      protected override receive(raw: RawTlp): void {
        const t = decodeTlp(raw);
        if (t.type !== 'CfgRd0' || t.offset < this.from) return super.receive(raw);
        const ur = { completerId: this.id, requesterId: t.requesterId, tag: t.tag, byteCount: 4, lowerAddress: 0 };
        this.emit({ type: 'Cpl', ...ur, status: CplStatus.UR });
      }
    }
    const info = new RootComplex(new UrAbove(0x100), { seed: 1 }).enumerate();
    expect([info.extCapList, info.msix?.tableSize]).toEqual([[], 8]);
    expect(() => new RootComplex(new UrAbove(0x140), { seed: 1 }).enumerate()).toThrow(/CfgRd0 .*0x140.* UR|UR.*0x140/);
  });
});
