// The layout of a virtio-pci function as a generator parameter: BARs, where each virtio structure and the MSI-X
// table/PBA live in them, where each capability sits in configuration space, the MSI-X vector count, the queues,
// the device type and the features offered. Pure data plus its validation; the RTL generator (later), the C
// header and docs (gen/virtio/docs.ts) and the testbench (tb/virtio) all read the same object.
//
// Three presets:
//  - DEFAULT_LAYOUT: this project's choice for an FPGA (see docs/virtio-transport.md "Layouts"): one 64-bit
//    non-prefetchable BAR0 of 16 KB in four 4 KB pages: common + ISR + device configuration packed in page 0,
//    doorbells alone in page 1, MSI-X table in page 2, PBA in page 3.
//  - PTILE_LAYOUT: the capability offsets Intel's P-Tile hard IP uses for its built-in VirtIO capabilities
//    (P-Tile Avalon-ST user guide 683059, "PF/VF Capability Link List"), over the default BAR layout.
//  - QEMU_LAYOUT: software-shaped, as QEMU's hw/virtio/virtio-pci.c builds a modern virtio-pci device on a
//    PCI Express bus (virtio_pci_realize, virtio_pci_device_plugged): MSI-X alone in a 4 KB 32-bit BAR1,
//    the structures 4 KB apart in a 16 KB 64-bit prefetchable BAR4, capabilities allocated first-fit from 0x40
//    and linked newest first.
import { createHash } from 'node:crypto';
import { stableJson } from '../hdl/names';
import {
  COMMON_CFG_SIZE_1_0,
  DEVICE_TYPES,
  VIRTIO_CAP_SIZE,
  commonLengthNeeded,
  featureDef,
  type DeviceTypeName,
} from './regmap';

export interface BarDef {
  /** BAR number 0..5 (a 64-bit BAR also takes index + 1). */
  readonly index: number;
  /** Bytes, a power of two, at least 128. */
  readonly size: number;
  readonly bits: 32 | 64;
  readonly prefetchable: boolean;
}

/** A structure in a BAR, as its virtio capability describes it. */
export interface Region {
  readonly bar: number;
  readonly offset: number;
  readonly length: number;
}

export interface NotifyRegion extends Region {
  /** notify_off_multiplier: queue q's doorbell is at offset + queue_notify_off(q) * multiplier. */
  readonly multiplier: number;
}

export interface MsixPlacement {
  /** Table Size: vectors 1..2048. */
  readonly vectors: number;
  readonly table: { readonly bar: number; readonly offset: number };
  readonly pba: { readonly bar: number; readonly offset: number };
}

/** The capabilities in the standard list (0x40..0xff). */
export type CapKind = 'pm' | 'pcie' | 'msix' | 'common' | 'notify' | 'isr' | 'device' | 'pciCfg';

export const VIRTIO_CAP_KINDS = ['common', 'notify', 'isr', 'device', 'pciCfg'] as const;
export type VirtioCapKind = (typeof VIRTIO_CAP_KINDS)[number];

/** Bytes each capability takes (PCIe capability v2: 0x3c; PM: 8; MSI-X: 12). */
export const CAP_SIZE: Readonly<Record<CapKind, number>> = {
  pm: 8,
  pcie: 0x3c,
  msix: 12,
  common: VIRTIO_CAP_SIZE.generic,
  notify: VIRTIO_CAP_SIZE.notify,
  isr: VIRTIO_CAP_SIZE.generic,
  device: VIRTIO_CAP_SIZE.generic,
  pciCfg: VIRTIO_CAP_SIZE.pciCfg,
};

export interface CapPlacement {
  /** Offset of each capability (pm optional; device present iff the layout has a device region). */
  readonly at: Readonly<Partial<Record<CapKind, number>>>;
  /** List order from the Capabilities Pointer (default: by offset). */
  readonly order?: readonly CapKind[];
  /** cap_len of a virtio capability when it is longer than the structure (padding a driver must accept). */
  readonly capLen?: Readonly<Partial<Record<VirtioCapKind, number>>>;
}

export interface PcieParams {
  /** Max_Payload_Size supported, bytes (128..4096). */
  readonly mpsSupported: number;
  readonly extTag: boolean;
  /** Function Level Reset capability (needed for VFIO passthrough). */
  readonly flr: boolean;
  /** Link Capabilities: max speed code (1 = 2.5 GT/s .. 4 = 16 GT/s) and width. */
  readonly linkSpeed: number;
  readonly linkWidth: number;
}

export interface VirtioPciLayout {
  readonly name: string;
  readonly deviceType: DeviceTypeName;
  readonly revision: number;
  readonly subsystemVendorId: number;
  readonly subsystemId: number;
  readonly bars: readonly BarDef[];
  readonly common: Region;
  readonly notify: NotifyRegion;
  readonly isr: Region;
  /** The device-specific configuration (absent only for device types without one). */
  readonly device?: Region;
  readonly msix: MsixPlacement;
  readonly queues: { readonly count: number; readonly maxSize: number };
  /** Offered feature names (regmap.ts TRANSPORT_FEATURES and the device type's). */
  readonly features: readonly string[];
  readonly caps: CapPlacement;
  readonly pcie: PcieParams;
}

/** A layout that cannot be built; the message names the layout, the item and the numbers. */
export class LayoutError extends Error {
  constructor(
    readonly layout: string,
    readonly problems: readonly string[],
  ) {
    super(`virtio layout '${layout}': ${problems.length === 1 ? problems[0] : '\n  ' + problems.join('\n  ')}`);
    this.name = 'LayoutError';
  }
}

const hex = (n: number) => `0x${n.toString(16)}`;
const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Bytes of the MSI-X table and PBA for `vectors` vectors (PBA: one bit per vector, in QWORDs). */
export function msixTableBytes(vectors: number): number {
  return 16 * vectors;
}
export function msixPbaBytes(vectors: number): number {
  return 8 * Math.ceil(vectors / 64);
}

/** Queue q's queue_notify_off: the index (each queue its own doorbell). */
export function queueNotifyOff(q: number): number {
  return q;
}

/** Bytes of the notify region needed for `count` queues (each doorbell 2 bytes, or 4 with NOTIFICATION_DATA). */
export function notifyLengthNeeded(layout: Pick<VirtioPciLayout, 'queues' | 'notify' | 'features'>): number {
  const doorbell = layout.features.includes('VIRTIO_F_NOTIFICATION_DATA') ? 4 : 2;
  return queueNotifyOff(layout.queues.count - 1) * layout.notify.multiplier + doorbell;
}

/** The capability list in order. */
export function capOrder(layout: VirtioPciLayout): CapKind[] {
  const present = (Object.keys(layout.caps.at) as CapKind[]).filter((k) => layout.caps.at[k] !== undefined);
  return layout.caps.order ? [...layout.caps.order] : present.sort((a, b) => layout.caps.at[a]! - layout.caps.at[b]!);
}

/** cap_len of a capability as the device presents it. */
export function capLength(layout: VirtioPciLayout, kind: CapKind): number {
  const pad = (layout.caps.capLen as Partial<Record<CapKind, number>> | undefined)?.[kind];
  return pad ?? CAP_SIZE[kind];
}

/** PCI device ID of the layout's device type. */
export function pciDeviceId(layout: VirtioPciLayout): number {
  return 0x1040 + DEVICE_TYPES[layout.deviceType].id;
}

/** The BAR definition of a BAR number (undefined for the upper half of a 64-bit BAR or an unused BAR). */
export function barOf(layout: VirtioPciLayout, index: number): BarDef | undefined {
  return layout.bars.find((b) => b.index === index);
}

/** Every problem with a layout (empty if it is valid). */
export function layoutProblems(l: VirtioPciLayout): string[] {
  const p: string[] = [];
  const type = DEVICE_TYPES[l.deviceType];
  if (!type) return [`device type '${l.deviceType}' is not one of ${Object.keys(DEVICE_TYPES).join(', ')}`];

  // ---- BARs
  const taken = new Map<number, string>();
  for (const b of l.bars) {
    const what = `BAR${b.index}`;
    if (!Number.isInteger(b.index) || b.index < 0 || b.index > 5) p.push(`${what}: BAR number must be 0..5`);
    if (!isPow2(b.size) || b.size < 128) p.push(`${what}: size ${hex(b.size)} is not a power of two >= 0x80`);
    if (b.bits === 64 && b.index > 4) p.push(`${what}: a 64-bit BAR needs BAR${b.index + 1}, which does not exist`);
    if (b.bits !== 32 && b.bits !== 64) p.push(`${what}: bits must be 32 or 64`);
    for (const i of b.bits === 64 ? [b.index, b.index + 1] : [b.index]) {
      if (taken.has(i)) p.push(`${what}: BAR slot ${i} is already used by ${taken.get(i)}`);
      taken.set(i, what);
    }
  }

  // ---- features
  const offered = new Set<string>();
  for (const n of l.features) {
    try {
      featureDef(n, l.deviceType);
      offered.add(n);
    } catch (e) {
      p.push(`features: ${(e as Error).message}`);
    }
  }
  if (!offered.has('VIRTIO_F_VERSION_1')) p.push('features: VIRTIO_F_VERSION_1 must be offered (modern device)');
  for (const n of offered) {
    for (const r of featureDef(n, l.deviceType).requires ?? [])
      if (!offered.has(r)) p.push(`features: ${n} is offered without ${r}, which it requires`);
  }
  const notifData = offered.has('VIRTIO_F_NOTIFICATION_DATA');

  // ---- regions
  const regions: { what: string; bar: number; offset: number; length: number }[] = [];
  const region = (what: string, r: Region | undefined, minLength: number, align: number) => {
    if (!r) return;
    const bar = barOf(l, r.bar);
    if (!bar) {
      p.push(`${what}: BAR${r.bar} is not one of the layout's BARs (${l.bars.map((b) => b.index).join(', ')})`);
      return;
    }
    if (!Number.isInteger(r.offset) || r.offset < 0) p.push(`${what}: offset ${r.offset} is not a byte offset`);
    if (r.offset % align) p.push(`${what}: offset ${hex(r.offset)} is not ${align}-byte aligned`);
    if (r.length < minLength)
      p.push(`${what}: length ${hex(r.length)} is shorter than the structure needs (${hex(minLength)})`);
    if (r.offset + r.length > bar.size)
      p.push(`${what}: ${hex(r.offset)} + ${hex(r.length)} runs past the end of BAR${r.bar} (${hex(bar.size)} bytes)`);
    regions.push({ what, bar: r.bar, offset: r.offset, length: r.length });
  };
  region('common', l.common, Math.max(COMMON_CFG_SIZE_1_0, commonLengthNeeded([...offered])), 4);
  region('isr', l.isr, 1, 1);
  if (l.queues.count >= 1) region('notify', l.notify, notifyLengthNeeded(l), notifData ? 4 : 2);
  if (l.device) region('device', l.device, type.configSize, 4);
  else if (type.configSize > 0) p.push(`device: a ${l.deviceType} device has a device configuration: give its region`);
  const m = l.notify.multiplier;
  if (notifData ? !(m === 0 || (isPow2(m) && m % 4 === 0)) : !(m === 0 || (isPow2(m) && m % 2 === 0)))
    p.push(`notify: multiplier ${m} must be 0 or a power of two${notifData ? ' that is a multiple of 4' : ' >= 2'}`);

  // ---- MSI-X
  const v = l.msix.vectors;
  if (!Number.isInteger(v) || v < 1 || v > 2048) p.push(`msix: ${v} vectors: Table Size allows 1..2048`);
  const msixPart = (what: string, at: { bar: number; offset: number }, bytes: number) => {
    const bar = barOf(l, at.bar);
    if (!bar) return p.push(`${what}: BAR${at.bar} is not one of the layout's BARs`);
    if (at.offset % 8) p.push(`${what}: offset ${hex(at.offset)} is not QWORD aligned (BIR takes bits 2:0)`);
    if (at.offset + bytes > bar.size)
      p.push(`${what}: ${hex(at.offset)} + ${hex(bytes)} runs past the end of BAR${at.bar} (${hex(bar.size)} bytes)`);
    regions.push({ what, bar: at.bar, offset: at.offset, length: bytes });
  };
  msixPart('msix table', l.msix.table, msixTableBytes(v));
  msixPart('msix pba', l.msix.pba, msixPbaBytes(v));

  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const a = regions[i];
      const b = regions[j];
      if (a.bar !== b.bar) continue;
      if (a.offset < b.offset + b.length && b.offset < a.offset + a.length)
        p.push(
          `${a.what} [${hex(a.offset)}..${hex(a.offset + a.length)}) overlaps ${b.what} [${hex(b.offset)}..${hex(b.offset + b.length)}) in BAR${a.bar}`,
        );
      // PCIe Base 6.x 7.7.2: MSI-X structures must not share a naturally aligned 4 KB range with other registers.
      const msix = (r: typeof a) => r.what.startsWith('msix');
      if (msix(a) !== msix(b)) {
        const pages = (r: typeof a) => [Math.floor(r.offset / 4096), Math.floor((r.offset + r.length - 1) / 4096)];
        const [a0, a1] = pages(a);
        const [b0, b1] = pages(b);
        if (a0 <= b1 && b0 <= a1)
          p.push(`${a.what} and ${b.what} share a 4 KB page of BAR${a.bar} (PCIe: MSI-X structures need their own)`);
      }
    }
  }

  // ---- queues
  if (!Number.isInteger(l.queues.count) || l.queues.count < 1 || l.queues.count > 0xffff)
    p.push(`queues: count ${l.queues.count} must be 1..65535`);
  if (!isPow2(l.queues.maxSize) || l.queues.maxSize > 32768)
    p.push(`queues: maxSize ${l.queues.maxSize} must be a power of two <= 32768 (split rings need one)`);

  // ---- capabilities
  const kinds = capOrder(l);
  for (const k of ['pcie', 'msix', 'common', 'notify', 'isr', 'pciCfg'] as const)
    if (l.caps.at[k] === undefined) p.push(`caps: the ${k} capability has no offset`);
  if ((l.caps.at.device !== undefined) !== (l.device !== undefined))
    p.push(`caps: the device capability must be placed exactly when there is a device region`);
  const placedKinds = (Object.keys(l.caps.at) as CapKind[]).filter((k) => l.caps.at[k] !== undefined);
  if (
    kinds.length !== placedKinds.length ||
    placedKinds.some((k) => !kinds.includes(k)) ||
    new Set(kinds).size !== kinds.length
  )
    p.push(`caps: order [${kinds.join(', ')}] must list each placed capability (${placedKinds.join(', ')}) once`);
  const spans: { k: CapKind; from: number; to: number }[] = [];
  for (const k of placedKinds) {
    const at = l.caps.at[k]!;
    const len = capLength(l, k);
    if (len < CAP_SIZE[k]) p.push(`caps: ${k} cap_len ${len} is shorter than its structure (${CAP_SIZE[k]})`);
    if (at % 4 || at < 0x40 || at + len > 0x100)
      p.push(`caps: ${k} at ${hex(at)} (+${hex(len)}) must be DWORD aligned inside 0x40..0xff`);
    spans.push({ k, from: at, to: at + len });
  }
  for (let i = 0; i < spans.length; i++)
    for (let j = i + 1; j < spans.length; j++)
      if (spans[i].from < spans[j].to && spans[j].from < spans[i].to)
        p.push(`caps: ${spans[i].k} at ${hex(spans[i].from)} overlaps ${spans[j].k} at ${hex(spans[j].from)}`);

  // ---- IDs and PCIe parameters
  if (l.revision < 1 || l.revision > 0xff) p.push(`revision ${l.revision}: a modern-only device needs 1..255`);
  for (const [what, v16] of [
    ['subsystemVendorId', l.subsystemVendorId],
    ['subsystemId', l.subsystemId],
  ] as const)
    if (!Number.isInteger(v16) || v16 < 0 || v16 > 0xffff) p.push(`${what} ${v16} is not 16 bits`);
  if (![128, 256, 512, 1024, 2048, 4096].includes(l.pcie.mpsSupported))
    p.push(`pcie: mpsSupported ${l.pcie.mpsSupported} is not 128..4096`);
  return p;
}

/** Throws a LayoutError listing every problem; returns the layout otherwise. */
export function validateLayout<T extends VirtioPciLayout>(layout: T): T {
  const problems = layoutProblems(layout);
  if (problems.length) throw new LayoutError(layout.name, problems);
  return layout;
}

// ---------------------------------------------------------------------------------------------------------------
// Presets

const PCIE_DEFAULT: PcieParams = { mpsSupported: 512, extTag: true, flr: true, linkSpeed: 3, linkWidth: 8 };

/**
 * Offered by the FPGA presets: the transport features the control plane implements whole (gen/virtio/regs.ts
 * RTL_TRANSPORT_FEATURES), and what the block device reports. Features whose other half is the queue engine's
 * (RING_RESET, NOTIFICATION_DATA, the ring features) join when the data plane implements them.
 */
const FPGA_FEATURES = [
  'VIRTIO_F_VERSION_1',
  'VIRTIO_F_ACCESS_PLATFORM',
  'VIRTIO_F_RING_PACKED',
  'VIRTIO_F_ORDER_PLATFORM',
  'VIRTIO_BLK_F_SEG_MAX',
  'VIRTIO_BLK_F_BLK_SIZE',
  'VIRTIO_BLK_F_MQ',
];

const FPGA_BARS: BarDef[] = [{ index: 0, size: 0x4000, bits: 64, prefetchable: false }];
const FPGA_QUEUES = { count: 2, maxSize: 256 };

export const DEFAULT_LAYOUT: VirtioPciLayout = validateLayout({
  name: 'default',
  deviceType: 'blk',
  revision: 1,
  subsystemVendorId: 0x1af4,
  subsystemId: 0x0040 + DEVICE_TYPES.blk.id,
  bars: FPGA_BARS,
  common: { bar: 0, offset: 0x0000, length: 0x3c },
  isr: { bar: 0, offset: 0x0040, length: 0x4 },
  device: { bar: 0, offset: 0x0100, length: DEVICE_TYPES.blk.configSize },
  notify: { bar: 0, offset: 0x1000, length: FPGA_QUEUES.count * 4, multiplier: 4 },
  msix: { vectors: FPGA_QUEUES.count + 1, table: { bar: 0, offset: 0x2000 }, pba: { bar: 0, offset: 0x3000 } },
  queues: FPGA_QUEUES,
  features: FPGA_FEATURES,
  caps: {
    at: { pcie: 0x40, pm: 0x7c, msix: 0x84, common: 0x90, notify: 0xa0, isr: 0xb4, device: 0xc4, pciCfg: 0xd4 },
  },
  pcie: PCIE_DEFAULT,
});

/** Intel P-Tile: the hard IP's VirtIO capability offsets (user guide 683059, PF capability link list). */
export const PTILE_LAYOUT: VirtioPciLayout = validateLayout({
  ...DEFAULT_LAYOUT,
  name: 'ptile',
  caps: {
    at: { pm: 0x40, common: 0x48, notify: 0x58, pcie: 0x70, msix: 0xb0, isr: 0xbc, device: 0xcc, pciCfg: 0xdc },
  },
  pcie: { ...PCIE_DEFAULT, linkSpeed: 4, linkWidth: 16 },
});

/** QEMU's modern virtio-blk-pci on a PCIe port (hw/virtio/virtio-pci.c; lspci shows the same offsets). */
export const QEMU_LAYOUT: VirtioPciLayout = validateLayout({
  name: 'qemu',
  deviceType: 'blk',
  revision: 1,
  subsystemVendorId: 0x1af4,
  subsystemId: 0x1100,
  bars: [
    { index: 1, size: 0x1000, bits: 32, prefetchable: false },
    { index: 4, size: 0x4000, bits: 64, prefetchable: true },
  ],
  common: { bar: 4, offset: 0x0000, length: 0x1000 },
  isr: { bar: 4, offset: 0x1000, length: 0x1000 },
  device: { bar: 4, offset: 0x2000, length: 0x1000 },
  // QEMU: notify.size = virtio_pci_queue_mem_mult (4) * VIRTIO_QUEUE_MAX (1024).
  notify: { bar: 4, offset: 0x3000, length: 0x1000, multiplier: 4 },
  // msix_init_exclusive_bar: table at 0, PBA at half the 4 KB BAR.
  msix: { vectors: 3, table: { bar: 1, offset: 0x000 }, pba: { bar: 1, offset: 0x800 } },
  queues: { count: 2, maxSize: 256 },
  features: [
    'VIRTIO_F_INDIRECT_DESC',
    'VIRTIO_F_EVENT_IDX',
    'VIRTIO_F_VERSION_1',
    'VIRTIO_F_RING_RESET',
    'VIRTIO_BLK_F_SEG_MAX',
    'VIRTIO_BLK_F_GEOMETRY',
    'VIRTIO_BLK_F_BLK_SIZE',
    'VIRTIO_BLK_F_FLUSH',
    'VIRTIO_BLK_F_TOPOLOGY',
    'VIRTIO_BLK_F_CONFIG_WCE',
    'VIRTIO_BLK_F_MQ',
    'VIRTIO_BLK_F_DISCARD',
    'VIRTIO_BLK_F_WRITE_ZEROES',
  ],
  caps: {
    // pci_add_capability puts each new capability at the head of the list: realize adds PCIe (0x40) and PM,
    // device_plugged adds common, ISR, device, notify, the PCI_CFG window, then msix_init_exclusive_bar MSI-X.
    at: { pcie: 0x40, pm: 0x7c, common: 0x84, isr: 0x94, device: 0xa4, notify: 0xb4, pciCfg: 0xc8, msix: 0xdc },
    order: ['msix', 'pciCfg', 'notify', 'device', 'isr', 'common', 'pm', 'pcie'],
  },
  pcie: PCIE_DEFAULT,
});

export const PRESETS: readonly VirtioPciLayout[] = [DEFAULT_LAYOUT, PTILE_LAYOUT, QEMU_LAYOUT];

/**
 * What a module name built from a layout's name must add when the endpoint is also given device configuration
 * values or feature lists (gen/virtio/regs.ts, gen/virtio/top.ts): a hash of them, empty when none is given (the
 * plain endpoints keep their names).
 */
export function endpointConfigTag(p: {
  deviceConfig?: object;
  requiredFeatures?: readonly string[];
  dataPlaneFeatures?: readonly string[];
  staticDeviceConfig?: boolean;
}): string {
  const own = { c: p.deviceConfig, r: p.requiredFeatures, d: p.dataPlaneFeatures };
  const hash =
    own.c === undefined && own.r === undefined && own.d === undefined
      ? ''
      : `_c${createHash('sha256').update(stableJson(own)).digest('hex').slice(0, 8)}`;
  return hash + (p.staticDeviceConfig ? '_sdc' : '');
}
