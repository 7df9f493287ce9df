// Finding and mapping the virtio structures the way Linux's drivers/virtio/virtio_pci_modern_dev.c does
// (vp_modern_probe, virtio_pci_find_capability, vp_modern_map_capability), on top of the capability walk of
// drivers/pci/pci.c (pci_find_capability / pci_find_next_capability). Every check cites the function it mirrors.
import {
  PCI_CAPABILITY_LIST,
  PCI_CAP_ID_VNDR,
  PCI_CAP_LIST_NEXT,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
} from '../../pcie/cfgspace';
import type { BarInfo, DeviceInfo } from '../../pcie/enumerate';
import type { RootComplex } from '../../pcie/rootcomplex';
import {
  COMMON_CFG_SIZE_1_0,
  VIRTIO_CAP_FIELD,
  VIRTIO_PCI_CAP,
  VIRTIO_PCI_MODERN_DEVICE_ID_BASE,
  VIRTIO_PCI_VENDOR_ID,
  commonField,
  fieldEnd,
} from '../../../gen/virtio/regmap';
import { VirtioProbeError } from './errors';

export const PAGE_SIZE = 4096;
/** sizeof(struct virtio_pci_modern_common_cfg) in Linux 6.1: up to queue_reset. */
export const MODERN_COMMON_CFG_SIZE = fieldEnd(commonField('queue_reset'));
/** pci_find_capability gives up after this many entries (PCI_FIND_CAP_TTL): a looped list ends. */
const PCI_FIND_CAP_TTL = 48;

const CFG_TYPE_NAMES: Record<number, string> = {
  [VIRTIO_PCI_CAP.COMMON_CFG]: 'common',
  [VIRTIO_PCI_CAP.NOTIFY_CFG]: 'notify',
  [VIRTIO_PCI_CAP.ISR_CFG]: 'isr',
  [VIRTIO_PCI_CAP.DEVICE_CFG]: 'device',
  [VIRTIO_PCI_CAP.PCI_CFG]: 'pci-cfg',
  [VIRTIO_PCI_CAP.SHARED_MEMORY_CFG]: 'shared-memory',
  [VIRTIO_PCI_CAP.VENDOR_CFG]: 'vendor',
};

export function capName(off: number, cfgType: number): string {
  return `capability at 0x${off.toString(16)} (cfg_type ${cfgType}, ${CFG_TYPE_NAMES[cfgType] ?? 'reserved'})`;
}

/** A structure mapped into the driver's view: BAR, offset inside it, mapped length, and the bus address. */
export interface Mapping {
  readonly cap: number;
  readonly bar: number;
  readonly offset: number;
  readonly length: number;
  readonly address: bigint;
}

/** struct virtio_pci_modern_device, as far as the model needs it. */
export interface ModernDevice {
  /** virtio device ID and the subsystem vendor (mdev->id). */
  readonly id: { readonly device: number; readonly vendor: number };
  /** Bit per BAR a virtio capability uses (mdev->modern_bars). */
  modernBars: number;
  readonly common: Mapping;
  readonly isr: Mapping;
  /** notify_off_multiplier and the notify capability; `base` when the whole region fits one page. */
  readonly notify: { readonly cap: number; readonly multiplier: number; readonly base?: Mapping };
  readonly device?: Mapping;
  /** The PCI_CFG capability (the spec makes it mandatory; Linux does not look for it). */
  readonly pciCfg?: number;
  /** Vendor capabilities the search passed over, and why (diagnostics). */
  readonly skipped: readonly { readonly cap: number; readonly reason: string }[];
}

/** pci_find_capability + pci_find_next_capability for PCI_CAP_ID_VNDR: the vendor capabilities in list order. */
export function vendorCapabilities(rc: RootComplex): number[] {
  const out: number[] = [];
  if (!(rc.cfgRead16(PCI_STATUS) & PCI_STATUS_CAP_LIST)) return out;
  let pos = rc.cfgRead8(PCI_CAPABILITY_LIST);
  for (let ttl = PCI_FIND_CAP_TTL; ttl > 0; ttl--) {
    if (pos < 0x40) break;
    pos &= ~3;
    const ent = rc.cfgRead16(pos);
    const id = ent & 0xff;
    if (id === 0xff) break;
    if (id === PCI_CAP_ID_VNDR) out.push(pos);
    pos = rc.cfgRead8(pos + PCI_CAP_LIST_NEXT);
  }
  return out;
}

/** The BAR's resource as Linux knows it after enumeration (pci_resource_len / flags). */
function resource(dev: DeviceInfo, bar: number): BarInfo | undefined {
  const b = dev.bars[bar];
  return b && b.size > 0n ? b : undefined;
}

/**
 * virtio_pci_find_capability: the first vendor capability of `cfgType` whose BAR is a standard BAR (0..5) with a
 * memory or I/O resource. Capabilities with a reserved BAR value are ignored (spec: the driver MUST ignore
 * them), as are those of other or unknown cfg_types.
 */
export function findCapability(
  rc: RootComplex,
  dev: DeviceInfo,
  caps: readonly number[],
  cfgType: number,
  mdev: { modernBars: number; skipped: { cap: number; reason: string }[] },
): number {
  for (const pos of caps) {
    const type = rc.cfgRead8(pos + VIRTIO_CAP_FIELD.CFG_TYPE);
    const bar = rc.cfgRead8(pos + VIRTIO_CAP_FIELD.BAR);
    if (bar >= 6) {
      if (type === cfgType) mdev.skipped.push({ cap: pos, reason: `BAR ${bar} is reserved (0..5 are BARs)` });
      continue;
    }
    if (type !== cfgType) continue;
    if (resource(dev, bar)) {
      mdev.modernBars |= 1 << bar;
      return pos;
    }
    mdev.skipped.push({ cap: pos, reason: `BAR${bar} has no resource` });
  }
  return 0;
}

/**
 * vp_modern_map_capability: reads bar/offset/length of the capability at `off` and checks them: the BAR is one
 * the search accepted; `length` exceeds `start` and leaves at least `minlen`; start + offset does not wrap;
 * the offset is aligned; the structure's first `minlen` bytes lie inside the BAR. The mapping is `size` bytes
 * at most (longer capabilities are tolerated) and, as pci_iomap_range does, never past the BAR's end.
 */
export function mapCapability(
  rc: RootComplex,
  dev: DeviceInfo,
  modernBars: number,
  off: number,
  minlen: number,
  align: number,
  start: number,
  size: number,
): Mapping {
  const fn = 'vp_modern_map_capability';
  const bar = rc.cfgRead8(off + VIRTIO_CAP_FIELD.BAR);
  let offset = rc.cfgRead32(off + VIRTIO_CAP_FIELD.OFFSET);
  let length = rc.cfgRead32(off + VIRTIO_CAP_FIELD.LENGTH);
  const where = capName(off, rc.cfgRead8(off + VIRTIO_CAP_FIELD.CFG_TYPE));
  if (bar >= 6 || !(modernBars & (1 << bar)))
    throw new VirtioProbeError('EINVAL', fn, where, `bar unexpectedly changed to ${bar}`);
  if (length <= start)
    throw new VirtioProbeError('EINVAL', fn, where, `bad capability len ${length} (>${start} expected)`);
  if (length - start < minlen)
    throw new VirtioProbeError('EINVAL', fn, where, `bad capability len ${length} (>=${minlen} expected)`);
  length -= start;
  if (start + offset > 0xffff_ffff)
    throw new VirtioProbeError('EINVAL', fn, where, `map wrap-around ${start}+${offset}`);
  offset += start;
  if (offset & (align - 1))
    throw new VirtioProbeError('EINVAL', fn, where, `offset 0x${offset.toString(16)} not aligned to ${align}`);
  if (length > size) length = size;
  const res = resource(dev, bar)!;
  if (minlen + offset > Number(res.size))
    throw new VirtioProbeError(
      'EINVAL',
      fn,
      where,
      `map virtio ${minlen}@0x${offset.toString(16)} out of range on bar ${bar} length 0x${res.size.toString(16)}`,
    );
  // pci_iomap_range: the mapping ends at the BAR's end.
  length = Math.min(length, Number(res.size) - offset);
  if (res.address === 0n)
    throw new VirtioProbeError('ENOMEM', fn, where, `unable to map virtio ${length}@${offset} on bar ${bar}`);
  return { cap: off, bar, offset, length, address: res.address + BigInt(offset) };
}

/** vp_modern_probe: IDs, the four structures Linux maps, the notify multiplier; the PCI_CFG capability too. */
export function modernProbe(rc: RootComplex, dev: DeviceInfo): ModernDevice {
  const fn = 'vp_modern_probe';
  // virtio_pci_id_table matches the vendor; vp_modern_probe owns 0x1000..0x107f.
  if (dev.vendorId !== VIRTIO_PCI_VENDOR_ID)
    throw new VirtioProbeError(
      'ENODEV',
      'virtio_pci_id_table',
      'vendor ID',
      `0x${dev.vendorId.toString(16)} is not 0x1af4`,
    );
  if (dev.deviceId < 0x1000 || dev.deviceId > 0x107f)
    throw new VirtioProbeError('ENODEV', fn, 'device ID', `0x${dev.deviceId.toString(16)} is outside 0x1000..0x107f`);
  const device = dev.deviceId < VIRTIO_PCI_MODERN_DEVICE_ID_BASE ? dev.subsystemId : dev.deviceId - 0x1040;
  const st = { modernBars: 0, skipped: [] as { cap: number; reason: string }[] };
  const caps = vendorCapabilities(rc);
  const common = findCapability(rc, dev, caps, VIRTIO_PCI_CAP.COMMON_CFG, st);
  if (!common)
    throw new VirtioProbeError(
      'ENODEV',
      fn,
      'capability list',
      'no usable common configuration capability: leaving for legacy driver',
    );
  const isr = findCapability(rc, dev, caps, VIRTIO_PCI_CAP.ISR_CFG, st);
  const notify = findCapability(rc, dev, caps, VIRTIO_PCI_CAP.NOTIFY_CFG, st);
  if (!isr || !notify)
    throw new VirtioProbeError('EINVAL', fn, 'capability list', `missing capabilities ${common}/${isr}/${notify}`);
  const deviceCap = findCapability(rc, dev, caps, VIRTIO_PCI_CAP.DEVICE_CFG, st);
  const pciCfg = caps.find((c) => rc.cfgRead8(c + VIRTIO_CAP_FIELD.CFG_TYPE) === VIRTIO_PCI_CAP.PCI_CFG);
  for (const c of caps) {
    const t = rc.cfgRead8(c + VIRTIO_CAP_FIELD.CFG_TYPE);
    if (!CFG_TYPE_NAMES[t]) st.skipped.push({ cap: c, reason: `cfg_type ${t} is reserved` });
  }

  const map = (off: number, minlen: number, align: number, start: number, size: number) =>
    mapCapability(rc, dev, st.modernBars, off, minlen, align, start, size);
  const commonMap = map(common, COMMON_CFG_SIZE_1_0, 4, 0, MODERN_COMMON_CFG_SIZE);
  const isrMap = map(isr, 1, 1, 0, 1);
  const multiplier = rc.cfgRead32(notify + VIRTIO_CAP_FIELD.NOTIFY_OFF_MULTIPLIER);
  const notifyLength = rc.cfgRead32(notify + VIRTIO_CAP_FIELD.LENGTH);
  const notifyOffset = rc.cfgRead32(notify + VIRTIO_CAP_FIELD.OFFSET);
  // Small notify regions are mapped whole now; others one queue at a time (vp_modern_map_vq_notify).
  const base = notifyLength + (notifyOffset % PAGE_SIZE) <= PAGE_SIZE ? map(notify, 2, 2, 0, notifyLength) : undefined;
  const deviceMap = deviceCap ? map(deviceCap, 0, 4, 0, PAGE_SIZE) : undefined;
  return {
    id: { device, vendor: dev.subsystemVendorId },
    modernBars: st.modernBars,
    common: commonMap,
    isr: isrMap,
    notify: { cap: notify, multiplier, base },
    device: deviceMap,
    pciCfg,
    skipped: st.skipped,
  };
}

/**
 * vp_modern_map_vq_notify: the doorbell address of a queue. With the region mapped whole, the doorbell must fit
 * in it; otherwise the capability is mapped again at offset queue_notify_off * multiplier.
 */
export function mapQueueNotify(
  rc: RootComplex,
  dev: DeviceInfo,
  mdev: ModernDevice,
  queue: number,
  notifyOff: number,
): bigint {
  const off = notifyOff * mdev.notify.multiplier;
  const base = mdev.notify.base;
  if (base) {
    if (off + 2 > base.length)
      throw new VirtioProbeError(
        'ENOMEM',
        'vp_modern_map_vq_notify',
        `queue ${queue}`,
        `bad notification offset ${notifyOff} (x ${mdev.notify.multiplier}) for queue ${queue} > ${base.length}`,
      );
    return base.address + BigInt(off);
  }
  return mapCapability(rc, dev, mdev.modernBars, mdev.notify.cap, 2, 2, off, 2).address;
}
