// Malformed devices the driver model must refuse or tolerate exactly as Linux's vp_modern_probe does, made by
// damaging the golden model's configuration space after it is built (GoldenOptions.patchConfig). Each refusal
// names the capability, field or offset at fault and the kernel function whose check it is.
import { describe, expect, test } from 'vitest';
import { DEFAULT_LAYOUT, QEMU_LAYOUT, validateLayout, type VirtioPciLayout } from '../../gen/virtio/layout';
import { VIRTIO_CAP_FIELD, VIRTIO_PCI_CAP } from '../../gen/virtio/regmap';
import type { PciConfigSpace } from '../../tb/virtio/golden/cfgspace';
import { VirtioPciDriver, type VirtioDriverOptions } from '../../tb/virtio/driver/driver';
import { VirtioProbeError } from '../../tb/virtio/driver/errors';
import { bench, RING_RESET_LAYOUT } from './support';

const put32 = (c: PciConfigSpace, o: number, v: number) => {
  for (let i = 0; i < 4; i++) c.poke(o + i, (v >>> (8 * i)) & 0xff);
};

function probe(layout: VirtioPciLayout, patch: (c: PciConfigSpace) => void, opts: VirtioDriverOptions = {}) {
  const b = bench(layout, 7, { patchConfig: patch });
  const drv = new VirtioPciDriver(b.rc, opts);
  return { drv, run: () => drv.probe() };
}

function refusal(
  layout: VirtioPciLayout,
  patch: (c: PciConfigSpace) => void,
  opts: VirtioDriverOptions = {},
): VirtioProbeError {
  try {
    probe(layout, patch, opts).run();
  } catch (e) {
    if (e instanceof VirtioProbeError) return e;
    throw e;
  }
  throw new Error('the probe succeeded');
}

const L = DEFAULT_LAYOUT;
const cap = (k: 'common' | 'notify' | 'isr' | 'device' | 'pciCfg', l = L) => l.caps.at[k]!;
/** Links an extra 16-byte vendor capability at 0xec in front of the list (the default layout leaves 0xe8..0xff free). */
function insertCap(c: PciConfigSpace, cfgType: number, bar: number, offset: number, length: number): void {
  const at = 0xec;
  c.poke(at, 0x09);
  c.poke(at + 1, c.u8(0x34));
  c.poke(at + 2, 16);
  c.poke(at + VIRTIO_CAP_FIELD.CFG_TYPE, cfgType);
  c.poke(at + VIRTIO_CAP_FIELD.BAR, bar);
  put32(c, at + VIRTIO_CAP_FIELD.OFFSET, offset);
  put32(c, at + VIRTIO_CAP_FIELD.LENGTH, length);
  c.poke(0x34, at);
}

describe('refused', () => {
  test('a common configuration capability with BAR 6 is ignored: no common configuration, leave for legacy', () => {
    const e = refusal(L, (c) => c.poke(cap('common') + VIRTIO_CAP_FIELD.BAR, 6));
    expect(e.errno).toBe('ENODEV');
    expect(e.linux).toBe('vp_modern_probe');
    expect(e.message).toMatch(/no usable common configuration capability: leaving for legacy driver/);
  });

  test('a device configuration of length 0 (virtio_pci: bad capability len 0)', () => {
    const e = refusal(L, (c) => put32(c, cap('device') + VIRTIO_CAP_FIELD.LENGTH, 0));
    expect(e.message).toBe(
      'virtio-pci: capability at 0xc4 (cfg_type 4, device): bad capability len 0 (>0 expected) (-EINVAL, as vp_modern_map_capability)',
    );
  });

  test('a common configuration shorter than virtio 1.0 struct virtio_pci_common_cfg', () => {
    const e = refusal(L, (c) => put32(c, cap('common') + VIRTIO_CAP_FIELD.LENGTH, 0x30));
    expect(e.message).toMatch(/capability at 0x90 \(cfg_type 1, common\): bad capability len 48 \(>=56 expected\)/);
  });

  test('a common configuration too short for the negotiated RING_RESET (Linux 6.5+ vp_check_common_size); 6.1 accepts it', () => {
    const short = (c: PciConfigSpace) => put32(c, cap('common') + VIRTIO_CAP_FIELD.LENGTH, 0x38);
    const e = refusal(RING_RESET_LAYOUT, short);
    expect(e.linux).toBe('vp_check_common_size');
    expect(e.message).toMatch(
      /common cfg size\(56\) does not match the feature VIRTIO_F_RING_RESET \(needs 60 bytes, to the end of queue_reset\)/,
    );
    const ok = probe(RING_RESET_LAYOUT, short, { checkCommonSize: false }).run();
    expect(ok.features).toContain('VIRTIO_F_RING_RESET');
  });

  test('a misaligned common configuration offset', () => {
    const e = refusal(L, (c) => put32(c, cap('common') + VIRTIO_CAP_FIELD.OFFSET, 0x2));
    expect(e.message).toMatch(/capability at 0x90 \(cfg_type 1, common\): offset 0x2 not aligned to 4/);
  });

  test('a structure whose minimum does not fit in its BAR', () => {
    const e = refusal(L, (c) => put32(c, cap('common') + VIRTIO_CAP_FIELD.OFFSET, 0x3fe0));
    expect(e.message).toMatch(/map virtio 56@0x3fe0 out of range on bar 0 length 0x4000/);
  });

  test('a structure in a BAR the function does not have (BAR2 unassigned)', () => {
    const e = refusal(L, (c) => c.poke(cap('isr') + VIRTIO_CAP_FIELD.BAR, 2));
    expect(e.message).toMatch(/capability list: missing capabilities 144\/0\/160/);
  });

  test('a doorbell beyond the notify region (notify_off_multiplier too large for the length)', () => {
    const e = refusal(L, (c) => put32(c, cap('notify') + VIRTIO_CAP_FIELD.NOTIFY_OFF_MULTIPLIER, 0x1000));
    expect(e.linux).toBe('vp_modern_map_vq_notify');
    expect(e.message).toMatch(/queue 1: bad notification offset 1 \(x 4096\) for queue 1 > 8/);
  });

  test('a device ID outside 0x1000..0x107f, and no device configuration for virtio-blk', () => {
    expect(refusal(L, (c) => c.poke(0x03, 0x11)).message).toMatch(/device ID: 0x1142 is outside 0x1000\.\.0x107f/);
    const e = refusal(L, (c) => c.poke(cap('device') + VIRTIO_CAP_FIELD.CFG_TYPE, 7));
    expect(e.linux).toBe('virtblk_probe');
    expect(e.message).toMatch(/config access disabled/);
  });

  test('no PCI_CFG capability: the spec requires one (Linux itself does not look)', () => {
    const hide = (c: PciConfigSpace) => c.poke(cap('pciCfg') + VIRTIO_CAP_FIELD.CFG_TYPE, VIRTIO_PCI_CAP.VENDOR_CFG);
    expect(refusal(L, hide).message).toMatch(
      /PCI_CFG capability \(cfg_type 5\): missing \(the device MUST present one\)/,
    );
    expect(probe(L, hide, { checkPciCfg: false }).run().setup.mode).toBe('msix-per-vq');
  });
});

describe('tolerated', () => {
  test('a BAR-6 duplicate ahead of the real common configuration is skipped, the real one used', () => {
    const { drv, run } = probe(L, (c) => insertCap(c, VIRTIO_PCI_CAP.COMMON_CFG, 6, 0, 0x3c));
    run();
    expect(drv.mdev!.common.cap).toBe(cap('common'));
    expect(drv.mdev!.skipped).toContainEqual({ cap: 0xec, reason: 'BAR 6 is reserved (0..5 are BARs)' });
  });

  test('unknown (reserved) cfg_types are skipped', () => {
    const { drv, run } = probe(L, (c) => insertCap(c, 7, 0, 0x800, 16));
    run();
    expect(drv.mdev!.skipped).toContainEqual({ cap: 0xec, reason: 'cfg_type 7 is reserved' });
  });

  test('capabilities longer than their structure (cap_len padding)', () => {
    const padded = validateLayout({
      ...L,
      name: 'padded',
      caps: {
        at: { pcie: 0x40, pm: 0x7c, msix: 0x84, common: 0x90, notify: 0xa8, isr: 0xc0, device: 0xd0, pciCfg: 0xe0 },
        capLen: { common: 24, notify: 24, pciCfg: 24 },
      },
    });
    const { run } = probe(padded, () => undefined);
    expect(run().setup.mode).toBe('msix-per-vq');
  });

  test('structure lengths far beyond the structure and the BAR: mapped up to what is needed, doorbells per queue', () => {
    const q = QEMU_LAYOUT;
    const { drv, run } = probe(q, (c) => {
      for (const k of ['common', 'notify', 'isr', 'device'] as const)
        put32(c, cap(k, q) + VIRTIO_CAP_FIELD.LENGTH, 0x10000);
    });
    run();
    expect(drv.mdev!.common.length).toBe(0x3c); // sizeof(struct virtio_pci_modern_common_cfg)
    expect(drv.mdev!.device!.length).toBe(0x1000); // PAGE_SIZE
    expect(drv.mdev!.notify.base).toBeUndefined(); // too big to map at once: per queue
    expect(drv.setup!.vqs.map((v) => v.notify - drv.mdev!.common.address)).toEqual([0x3000n, 0x3004n]);
  });

  test('a looped capability list ends (PCI_FIND_CAP_TTL) and the probe still finds everything', () => {
    // The RC's enumeration refuses loops, so the loop is made after it, in both models.
    const b = bench(L, 7);
    b.rc.enumerate();
    for (const g of [b.device, b.link.golden]) g.cfg.poke(cap('pciCfg') + 1, 0x40);
    expect(new VirtioPciDriver(b.rc).probe().setup.mode).toBe('msix-per-vq');
  });
});
