// The layout parameter: the presets are valid and say what their sources say; every kind of bad layout is refused
// with an error naming the layout, the item and the numbers, and all problems are reported at once.
import { describe, expect, test } from 'vitest';
import {
  DEFAULT_LAYOUT,
  LayoutError,
  PRESETS,
  PTILE_LAYOUT,
  QEMU_LAYOUT,
  capOrder,
  layoutProblems,
  validateLayout,
  type VirtioPciLayout,
} from '../../gen/virtio/layout';
import { COMMON, commonLengthNeeded, featureMask, featureNames } from '../../gen/virtio/regmap';

const bad = (change: Partial<VirtioPciLayout>, base = DEFAULT_LAYOUT): string[] =>
  layoutProblems({ ...base, ...change });

describe('presets', () => {
  test.each(PRESETS.map((p) => [p.name, p] as const))('%s validates', (_n, p) => {
    expect(layoutProblems(p)).toEqual([]);
  });

  test('P-Tile preset places the capabilities where the P-Tile user guide publishes them', () => {
    expect(PTILE_LAYOUT.caps.at).toEqual({
      pm: 0x40,
      common: 0x48,
      notify: 0x58,
      pcie: 0x70,
      msix: 0xb0,
      isr: 0xbc,
      device: 0xcc,
      pciCfg: 0xdc,
    });
    expect(capOrder(PTILE_LAYOUT)).toEqual(['pm', 'common', 'notify', 'pcie', 'msix', 'isr', 'device', 'pciCfg']);
  });

  test('QEMU preset: structures 4 KB apart in a 64-bit prefetchable BAR4, MSI-X alone in BAR1, list newest first', () => {
    const q = QEMU_LAYOUT;
    expect([q.common.offset, q.isr.offset, q.device!.offset, q.notify.offset]).toEqual([0, 0x1000, 0x2000, 0x3000]);
    expect(q.bars).toContainEqual({ index: 4, size: 0x4000, bits: 64, prefetchable: true });
    expect(q.msix.table).toEqual({ bar: 1, offset: 0 });
    expect(capOrder(q)[0]).toBe('msix');
  });

  test('default: one 64-bit non-prefetchable BAR, MSI-X table and PBA on pages of their own', () => {
    const d = DEFAULT_LAYOUT;
    expect(d.bars).toEqual([{ index: 0, size: 0x4000, bits: 64, prefetchable: false }]);
    expect(d.msix.table.offset % 4096).toBe(0);
    expect(d.msix.pba.offset % 4096).toBe(0);
    expect(d.notify.offset).toBe(0x1000);
    // Long enough for queue_reset, so a data plane that adds RING_RESET keeps the layout.
    expect(d.common.length).toBe(commonLengthNeeded([...d.features, 'VIRTIO_F_RING_RESET']));
  });
});

describe('validation', () => {
  test('regions: outside the BAR, overlapping, misaligned, too short', () => {
    expect(bad({ device: { bar: 0, offset: 0x3fe0, length: 0x60 } }).join('\n')).toMatch(
      /device: 0x3fe0 \+ 0x60 runs past the end of BAR0 \(0x4000 bytes\)/,
    );
    expect(bad({ isr: { bar: 0, offset: 0x38, length: 4 } }).join('\n')).toMatch(
      /common \[0x0\.\.0x3c\) overlaps isr \[0x38\.\.0x3c\) in BAR0/,
    );
    expect(bad({ common: { bar: 0, offset: 0x2, length: 0x3c } }).join('\n')).toMatch(
      /common: offset 0x2 is not 4-byte aligned/,
    );
    expect(bad({ common: { bar: 0, offset: 0, length: 0x34 } }).join('\n')).toMatch(
      /common: length 0x34 is shorter than the structure needs \(0x38\)/,
    );
    expect(bad({ device: { bar: 0, offset: 0x100, length: 0x10 } }).join('\n')).toMatch(
      /device: length 0x10 is shorter/,
    );
    expect(bad({ notify: { bar: 0, offset: 0x1000, length: 4, multiplier: 4 } }).join('\n')).toMatch(
      /notify: length 0x4 is shorter than the structure needs \(0x6\)/,
    );
    expect(bad({ notify: { bar: 0, offset: 0x1001, length: 8, multiplier: 4 } }).join('\n')).toMatch(/2-byte aligned/);
  });

  test('BARs and their references', () => {
    expect(bad({ common: { bar: 6, offset: 0, length: 0x3c } }).join('\n')).toMatch(/common: BAR6 is not one of/);
    expect(bad({ bars: [{ index: 5, size: 0x4000, bits: 64, prefetchable: false }] }).join('\n')).toMatch(
      /BAR5: a 64-bit BAR needs BAR6/,
    );
    expect(
      bad({
        bars: [
          { index: 0, size: 0x4000, bits: 64, prefetchable: false },
          { index: 1, size: 0x1000, bits: 32, prefetchable: false },
        ],
      }).join('\n'),
    ).toMatch(/BAR1: BAR slot 1 is already used by BAR0/);
    expect(bad({ bars: [{ index: 0, size: 0x3000, bits: 64, prefetchable: false }] }).join('\n')).toMatch(
      /size 0x3000 is not a power of two/,
    );
  });

  test('MSI-X: its own 4 KB page, fits the BAR, QWORD aligned, 1..2048 vectors', () => {
    expect(bad({ msix: { ...DEFAULT_LAYOUT.msix, table: { bar: 0, offset: 0x800 } } }).join('\n')).toMatch(
      /share a 4 KB page of BAR0 \(PCIe: MSI-X structures need their own\)/,
    );
    expect(bad({ msix: { ...DEFAULT_LAYOUT.msix, pba: { bar: 0, offset: 0x3004 } } }).join('\n')).toMatch(
      /msix pba: offset 0x3004 is not QWORD aligned/,
    );
    expect(bad({ msix: { ...DEFAULT_LAYOUT.msix, vectors: 4096 } }).join('\n')).toMatch(/4096 vectors/);
  });

  test('capabilities: inside 0x40..0xff, DWORD aligned, no overlap, all placed, order complete', () => {
    const at = DEFAULT_LAYOUT.caps.at;
    expect(bad({ caps: { at: { ...at, pciCfg: 0xf0 } } }).join('\n')).toMatch(
      /pciCfg at 0xf0 \(\+0x14\) must be DWORD aligned inside 0x40\.\.0xff/,
    );
    expect(bad({ caps: { at: { ...at, isr: 0xa2 } } }).join('\n')).toMatch(/isr at 0xa2/);
    expect(bad({ caps: { at: { ...at, isr: 0xa4 } } }).join('\n')).toMatch(
      /notify at 0xa0 overlaps isr at 0xa4|isr at 0xa4 overlaps notify/,
    );
    expect(bad({ caps: { at: { ...at, pciCfg: undefined } } }).join('\n')).toMatch(
      /the pciCfg capability has no offset/,
    );
    expect(bad({ caps: { at, order: ['pcie', 'msix'] } }).join('\n')).toMatch(/must list each placed capability/);
    expect(bad({ caps: { at, capLen: { common: 12 } } }).join('\n')).toMatch(
      /common cap_len 12 is shorter than its structure \(16\)/,
    );
  });

  test('features: VERSION_1, known names, dependencies; the notify multiplier', () => {
    expect(bad({ features: ['VIRTIO_BLK_F_SEG_MAX'] }).join('\n')).toMatch(/VIRTIO_F_VERSION_1 must be offered/);
    expect(bad({ features: ['VIRTIO_F_VERSION_1', 'VIRTIO_F_WARP_DRIVE'] }).join('\n')).toMatch(
      /unknown virtio feature VIRTIO_F_WARP_DRIVE for a blk device/,
    );
    expect(bad({ features: ['VIRTIO_F_VERSION_1', 'VIRTIO_BLK_F_CONFIG_WCE'] }).join('\n')).toMatch(
      /VIRTIO_BLK_F_CONFIG_WCE is offered without VIRTIO_BLK_F_FLUSH, which it requires/,
    );
    expect(bad({ notify: { ...DEFAULT_LAYOUT.notify, multiplier: 3 } }).join('\n')).toMatch(
      /multiplier 3 must be 0 or a power of two/,
    );
    const nd = bad({
      features: [...DEFAULT_LAYOUT.features, 'VIRTIO_F_NOTIFICATION_DATA'],
      notify: { bar: 0, offset: 0x1002, length: 8, multiplier: 2 },
    }).join('\n');
    expect(nd).toMatch(/notify: offset 0x1002 is not 4-byte aligned/);
    expect(nd).toMatch(/multiplier 2 must be 0 or a power of two that is a multiple of 4/);
  });

  test('a layout with several problems reports them all, naming the layout', () => {
    const l = { ...DEFAULT_LAYOUT, name: 'broken', revision: 0, isr: { bar: 3, offset: 0, length: 0 } };
    expect(() => validateLayout(l)).toThrow(LayoutError);
    try {
      validateLayout(l);
    } catch (e) {
      const err = e as LayoutError;
      expect(err.problems.length).toBeGreaterThanOrEqual(2);
      expect(err.message).toMatch(/^virtio layout 'broken':/);
      expect(err.message).toMatch(/isr: BAR3 is not one of the layout's BARs/);
      expect(err.message).toMatch(/revision 0/);
    }
  });
});

describe('register description', () => {
  test('common configuration offsets are virtio_pci.h VIRTIO_PCI_COMMON_*', () => {
    expect(COMMON).toMatchObject({
      device_feature_select: 0,
      device_feature: 4,
      driver_feature_select: 8,
      driver_feature: 12,
      config_msix_vector: 16,
      num_queues: 18,
      device_status: 20,
      config_generation: 21,
      queue_select: 22,
      queue_size: 24,
      queue_msix_vector: 26,
      queue_enable: 28,
      queue_notify_off: 30,
      queue_desc: 32,
      queue_driver: 40,
      queue_device: 48,
      queue_notify_data: 56,
      queue_reset: 58,
    });
  });

  test('the common configuration length a feature set needs', () => {
    expect(commonLengthNeeded(['VIRTIO_F_VERSION_1'])).toBe(0x38);
    expect(commonLengthNeeded(['VIRTIO_F_NOTIF_CONFIG_DATA'])).toBe(0x3a);
    expect(commonLengthNeeded(['VIRTIO_F_RING_RESET'])).toBe(0x3c);
  });

  test('feature masks and names round-trip', () => {
    const m = featureMask(DEFAULT_LAYOUT.features, 'blk');
    expect(featureNames(m, 'blk').sort()).toEqual([...DEFAULT_LAYOUT.features].sort());
    expect(featureNames(1n << 50n, 'blk')).toEqual(['bit 50']);
  });
});
