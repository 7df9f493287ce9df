// The virtio-pci register description, ONE representation for everything built from it: the RTL decode (a later
// generator), docs/virtio-layout.md and include/virtio_fpga.h (gen/virtio/docs.ts), the golden model and the
// driver model (tb/virtio), which never hard-code an offset or a bit position.
//
// Pure data: nothing of the DSL but its located parameter errors (gen/hdl/params). Sources: OASIS virtio 1.2/1.3 (transport-pci.tex "Virtio Structure PCI
// Capabilities", content.tex "Device Status Field", "Reserved Feature Bits"; device-types/blk, device-types/net)
// and Linux include/uapi/linux/virtio_pci.h, virtio_config.h, virtio_blk.h, virtio_net.h.
import { paramError } from '../hdl/params';

/** PCI IDs (transport-pci.tex "PCI Device Discovery"): a modern-only device is 0x1040 + virtio device ID. */
export const VIRTIO_PCI_VENDOR_ID = 0x1af4;
export const VIRTIO_PCI_MODERN_DEVICE_ID_BASE = 0x1040;

/** cfg_type of the virtio vendor capabilities (VIRTIO_PCI_CAP_*). Any other value is reserved. */
export const VIRTIO_PCI_CAP = {
  COMMON_CFG: 1,
  NOTIFY_CFG: 2,
  ISR_CFG: 3,
  DEVICE_CFG: 4,
  PCI_CFG: 5,
  SHARED_MEMORY_CFG: 8,
  VENDOR_CFG: 9,
} as const;

/** Byte offsets inside struct virtio_pci_cap and its extensions (VIRTIO_PCI_CAP_* in virtio_pci.h). */
export const VIRTIO_CAP_FIELD = {
  VNDR: 0,
  NEXT: 1,
  LEN: 2,
  CFG_TYPE: 3,
  BAR: 4,
  ID: 5,
  OFFSET: 8,
  LENGTH: 12,
  /** struct virtio_pci_notify_cap: notify_off_multiplier. */
  NOTIFY_OFF_MULTIPLIER: 16,
  /** struct virtio_pci_cfg_cap: pci_cfg_data[4]. */
  PCI_CFG_DATA: 16,
} as const;

/** Sizes of the capability structures (cap_len the device presents at least). */
export const VIRTIO_CAP_SIZE = { generic: 16, notify: 20, pciCfg: 20 } as const;

/** device_status bits (content.tex "Device Status Field"; VIRTIO_CONFIG_S_* in virtio_config.h). */
export const STATUS = {
  ACKNOWLEDGE: 0x01,
  DRIVER: 0x02,
  DRIVER_OK: 0x04,
  FEATURES_OK: 0x08,
  SUSPEND: 0x10,
  DEVICE_NEEDS_RESET: 0x40,
  FAILED: 0x80,
} as const;

/** ISR status bits (transport-pci.tex "ISR status capability"). */
export const ISR = { QUEUE: 0x1, CONFIG: 0x2 } as const;

/** The value of config_msix_vector / queue_msix_vector meaning "no vector" (VIRTIO_MSI_NO_VECTOR). */
export const VIRTIO_MSI_NO_VECTOR = 0xffff;

/**
 * The longest memory read of the BAR structures the device answers, in dwords: one completion that fits the
 * smallest Max_Payload_Size (128 bytes). Longer reads get Completer Abort (tb/virtio/golden/choices.ts
 * "longReads"); drivers read at most 8 bytes at a time.
 */
export const MAX_MMIO_READ_DW = 32;

// ---------------------------------------------------------------------------------------------------------------
// Feature bits

export type DeviceTypeName = 'net' | 'blk';

export interface FeatureDef {
  readonly name: string;
  readonly bit: number;
  /** 'transport' for the reserved range (content.tex "Reserved Feature Bits"), else the device type. */
  readonly scope: 'transport' | DeviceTypeName;
  readonly summary: string;
  /** Features this one needs (a device must not offer it without them; a driver must not accept it alone). */
  readonly requires?: readonly string[];
  /** The common-configuration field this feature makes the driver use (its length must reach the field's end). */
  readonly commonField?: string;
}

const feat = (
  scope: FeatureDef['scope'],
  name: string,
  bit: number,
  summary: string,
  extra: Partial<Pick<FeatureDef, 'requires' | 'commonField'>> = {},
): FeatureDef => ({ name, bit, scope, summary, ...extra });

/** Device-independent feature bits (24..41 as virtio 1.2/1.3 define them). */
export const TRANSPORT_FEATURES: readonly FeatureDef[] = [
  feat('transport', 'VIRTIO_F_INDIRECT_DESC', 28, 'indirect descriptors'),
  feat('transport', 'VIRTIO_F_EVENT_IDX', 29, 'used_event / avail_event notification suppression'),
  feat('transport', 'VIRTIO_F_VERSION_1', 32, 'compliance with virtio 1.x (the modern interface)'),
  feat('transport', 'VIRTIO_F_ACCESS_PLATFORM', 33, 'device DMA goes through the platform (IOMMU) translation'),
  feat('transport', 'VIRTIO_F_RING_PACKED', 34, 'packed virtqueue layout'),
  feat('transport', 'VIRTIO_F_IN_ORDER', 35, 'buffers used in the order they were made available'),
  feat(
    'transport',
    'VIRTIO_F_ORDER_PLATFORM',
    36,
    'memory accesses ordered as the platform orders them (real hardware)',
  ),
  feat('transport', 'VIRTIO_F_SR_IOV', 37, 'SR-IOV virtual functions'),
  feat('transport', 'VIRTIO_F_NOTIFICATION_DATA', 38, '32-bit available buffer notifications carrying ring position'),
  feat('transport', 'VIRTIO_F_NOTIF_CONFIG_DATA', 39, 'notifications carry queue_notify_data instead of the index', {
    commonField: 'queue_notify_data',
  }),
  feat('transport', 'VIRTIO_F_RING_RESET', 40, 'per-queue reset through queue_reset', { commonField: 'queue_reset' }),
  feat('transport', 'VIRTIO_F_ADMIN_VQ', 41, 'administration virtqueues (virtio 1.3)', {
    commonField: 'admin_queue_num',
  }),
];

/** virtio-blk feature bits (device-types/blk "Feature bits"). */
export const BLK_FEATURES: readonly FeatureDef[] = [
  feat('blk', 'VIRTIO_BLK_F_SIZE_MAX', 1, 'size_max: the largest segment'),
  feat('blk', 'VIRTIO_BLK_F_SEG_MAX', 2, 'seg_max: segments per request'),
  feat('blk', 'VIRTIO_BLK_F_GEOMETRY', 4, 'legacy disk geometry'),
  feat('blk', 'VIRTIO_BLK_F_RO', 5, 'read-only device'),
  feat('blk', 'VIRTIO_BLK_F_BLK_SIZE', 6, 'blk_size: logical block size'),
  feat('blk', 'VIRTIO_BLK_F_FLUSH', 9, 'cache flush command'),
  feat('blk', 'VIRTIO_BLK_F_TOPOLOGY', 10, 'optimal I/O alignment and size'),
  feat('blk', 'VIRTIO_BLK_F_CONFIG_WCE', 11, 'writeback field toggles the cache mode', {
    requires: ['VIRTIO_BLK_F_FLUSH'],
  }),
  feat('blk', 'VIRTIO_BLK_F_MQ', 12, 'num_queues request queues'),
  feat('blk', 'VIRTIO_BLK_F_DISCARD', 13, 'discard command'),
  feat('blk', 'VIRTIO_BLK_F_WRITE_ZEROES', 14, 'write zeroes command'),
  feat('blk', 'VIRTIO_BLK_F_LIFETIME', 15, 'storage lifetime information'),
  feat('blk', 'VIRTIO_BLK_F_SECURE_ERASE', 16, 'secure erase command'),
  feat('blk', 'VIRTIO_BLK_F_ZONED', 17, 'zoned block device'),
];

/** virtio-net feature bits the configuration layout depends on (device-types/net), for the next device type. */
export const NET_FEATURES: readonly FeatureDef[] = [
  feat('net', 'VIRTIO_NET_F_CSUM', 0, 'device handles packets with partial checksum'),
  feat('net', 'VIRTIO_NET_F_GUEST_CSUM', 1, 'driver handles packets with partial checksum'),
  feat('net', 'VIRTIO_NET_F_MTU', 3, 'mtu field valid'),
  feat('net', 'VIRTIO_NET_F_MAC', 5, 'mac field valid'),
  feat('net', 'VIRTIO_NET_F_GUEST_TSO4', 7, 'driver can receive TSOv4', { requires: ['VIRTIO_NET_F_GUEST_CSUM'] }),
  feat('net', 'VIRTIO_NET_F_STATUS', 16, 'status field valid'),
  feat('net', 'VIRTIO_NET_F_CTRL_VQ', 17, 'control virtqueue'),
  feat('net', 'VIRTIO_NET_F_MQ', 22, 'max_virtqueue_pairs field valid', { requires: ['VIRTIO_NET_F_CTRL_VQ'] }),
  feat('net', 'VIRTIO_NET_F_SPEED_DUPLEX', 63, 'speed and duplex fields valid'),
];

export const ALL_FEATURES: readonly FeatureDef[] = [...TRANSPORT_FEATURES, ...BLK_FEATURES, ...NET_FEATURES];

/** The features a device of this type may offer: the transport's and its own. */
export function featuresOf(type: DeviceTypeName): readonly FeatureDef[] {
  return [...TRANSPORT_FEATURES, ...DEVICE_TYPES[type].features];
}

/** The definition of a feature name for a device type; an unknown name is an error naming the choices. */
export function featureDef(name: string, type: DeviceTypeName): FeatureDef {
  const f = featuresOf(type).find((x) => x.name === name);
  if (!f) throw paramError(`unknown virtio feature ${name} for a ${type} device`);
  return f;
}

/** A feature set as a 64-bit mask (bigint). */
export function featureMask(names: readonly string[], type: DeviceTypeName): bigint {
  let m = 0n;
  for (const n of names) m |= 1n << BigInt(featureDef(n, type).bit);
  return m;
}

/** The names of the bits of `mask` (unknown bits as "bit N"), lowest first. */
export function featureNames(mask: bigint, type: DeviceTypeName): string[] {
  const out: string[] = [];
  for (let b = 0; b < 64; b++) {
    if (!((mask >> BigInt(b)) & 1n)) continue;
    out.push(featuresOf(type).find((f) => f.bit === b)?.name ?? `bit ${b}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Register fields

export type FieldAccess = 'ro' | 'rw';

/**
 * What a field does, for the RTL decode and the golden model:
 *  - plain: a value (read-only constant, or read-write storage);
 *  - select: a selector the following window fields depend on (device_feature_select, queue_select);
 *  - feature-window: 32 bits of a 64-bit feature set, chosen by a select field;
 *  - status: device_status (writing 0 resets, FEATURES_OK may be refused);
 *  - generation: config_generation;
 *  - vector: an MSI-X vector number (NO_VECTOR when it cannot be assigned);
 *  - queue: per-queue configuration, writable only while the queue is disabled;
 *  - queue-enable, queue-reset: per-queue control.
 */
export type FieldKind =
  'plain' | 'select' | 'feature-window' | 'status' | 'generation' | 'vector' | 'queue' | 'queue-enable' | 'queue-reset';

export interface RegField {
  readonly name: string;
  /** Byte offset in the structure. */
  readonly offset: number;
  /** Bytes: 1, 2, 4, or 8 (a 64-bit field is two 32-bit halves, low first, each accessible alone). */
  readonly width: 1 | 2 | 4 | 8;
  /** For the driver. */
  readonly access: FieldAccess;
  readonly kind: FieldKind;
  /** 'device' fields are about the whole device; 'queue' fields about the queue queue_select names. */
  readonly scope: 'device' | 'queue';
  /** The feature that makes the field exist (it reads 0 and ignores writes otherwise, see tb/virtio/golden/choices). */
  readonly feature?: string;
  /** The virtio spec version that added it. */
  readonly since: '1.0' | '1.2' | '1.3';
  /** The name Linux uses (VIRTIO_PCI_COMMON_* in virtio_pci.h), for the C header. */
  readonly linux?: string;
  readonly reset: string;
  readonly summary: string;
}

const cf = (
  name: string,
  offset: number,
  width: RegField['width'],
  access: FieldAccess,
  kind: FieldKind,
  scope: RegField['scope'],
  reset: string,
  summary: string,
  extra: Partial<Pick<RegField, 'feature' | 'since' | 'linux'>> = {},
): RegField => ({ name, offset, width, access, kind, scope, reset, summary, since: '1.0', ...extra });

/** struct virtio_pci_common_cfg, every field of virtio 1.2, plus the two virtio 1.3 admin-queue fields. */
export const COMMON_CFG: readonly RegField[] = [
  cf('device_feature_select', 0x00, 4, 'rw', 'select', 'device', '0', 'selects bits 32n..32n+31 for device_feature', {
    linux: 'DFSELECT',
  }),
  cf('device_feature', 0x04, 4, 'ro', 'feature-window', 'device', 'offered', 'offered feature bits (0 for n > 1)', {
    linux: 'DF',
  }),
  cf('driver_feature_select', 0x08, 4, 'rw', 'select', 'device', '0', 'selects bits 32n..32n+31 for driver_feature', {
    linux: 'GFSELECT',
  }),
  cf('driver_feature', 0x0c, 4, 'rw', 'feature-window', 'device', '0', 'accepted feature bits', { linux: 'GF' }),
  cf('config_msix_vector', 0x10, 2, 'rw', 'vector', 'device', 'NO_VECTOR', 'MSI-X vector of configuration changes', {
    linux: 'MSIX',
  }),
  cf('num_queues', 0x12, 2, 'ro', 'plain', 'device', 'queues', 'number of virtqueues', { linux: 'NUMQ' }),
  cf('device_status', 0x14, 1, 'rw', 'status', 'device', '0', 'device status; writing 0 resets the device', {
    linux: 'STATUS',
  }),
  cf('config_generation', 0x15, 1, 'ro', 'generation', 'device', '0', 'changes when device configuration changes', {
    linux: 'CFGGENERATION',
  }),
  cf('queue_select', 0x16, 2, 'rw', 'select', 'device', '0', 'the queue the queue_* fields refer to', {
    linux: 'Q_SELECT',
  }),
  cf('queue_size', 0x18, 2, 'rw', 'queue', 'queue', 'max size', 'queue size (0: no such queue)', { linux: 'Q_SIZE' }),
  cf('queue_msix_vector', 0x1a, 2, 'rw', 'vector', 'queue', 'NO_VECTOR', 'MSI-X vector of the queue', {
    linux: 'Q_MSIX',
  }),
  cf('queue_enable', 0x1c, 2, 'rw', 'queue-enable', 'queue', '0', '1: the queue is enabled', { linux: 'Q_ENABLE' }),
  cf(
    'queue_notify_off',
    0x1e,
    2,
    'ro',
    'plain',
    'queue',
    'per queue',
    'doorbell offset in notify_off_multiplier units',
    {
      linux: 'Q_NOFF',
    },
  ),
  cf('queue_desc', 0x20, 8, 'rw', 'queue', 'queue', '0', 'descriptor area address', { linux: 'Q_DESC' }),
  cf('queue_driver', 0x28, 8, 'rw', 'queue', 'queue', '0', 'driver area (available ring) address', {
    linux: 'Q_AVAIL',
  }),
  cf('queue_device', 0x30, 8, 'rw', 'queue', 'queue', '0', 'device area (used ring) address', { linux: 'Q_USED' }),
  cf('queue_notify_data', 0x38, 2, 'ro', 'plain', 'queue', 'per queue', 'notification value of the queue', {
    feature: 'VIRTIO_F_NOTIF_CONFIG_DATA',
    since: '1.2',
    linux: 'Q_NDATA',
  }),
  cf('queue_reset', 0x3a, 2, 'rw', 'queue-reset', 'queue', '0', 'write 1: reset the queue; reads 1 until done', {
    feature: 'VIRTIO_F_RING_RESET',
    since: '1.2',
    linux: 'Q_RESET',
  }),
  cf('admin_queue_index', 0x3c, 2, 'ro', 'plain', 'device', '0', 'first administration virtqueue', {
    feature: 'VIRTIO_F_ADMIN_VQ',
    since: '1.3',
  }),
  cf('admin_queue_num', 0x3e, 2, 'ro', 'plain', 'device', '0', 'number of administration virtqueues', {
    feature: 'VIRTIO_F_ADMIN_VQ',
    since: '1.3',
  }),
];

export function commonField(name: string): RegField {
  const f = COMMON_CFG.find((x) => x.name === name);
  if (!f) throw paramError(`no common configuration field ${name}`);
  return f;
}

/** Offset of every common configuration field by name (the testbench's offsets). */
export const COMMON: Readonly<Record<string, number>> = Object.fromEntries(COMMON_CFG.map((f) => [f.name, f.offset]));

/** sizeof(struct virtio_pci_common_cfg) of virtio 1.0: the length Linux 6.1 requires (vp_modern_probe). */
export const COMMON_CFG_SIZE_1_0 = 0x38;

/** The end of a field (offsetofend), the common-configuration length a feature that uses it needs. */
export function fieldEnd(f: RegField): number {
  return f.offset + f.width;
}

/** The common-configuration length the offered (or negotiated) features need: virtio 1.0's, plus their fields. */
export function commonLengthNeeded(features: readonly string[]): number {
  let n = COMMON_CFG_SIZE_1_0;
  for (const name of features) {
    const f = TRANSPORT_FEATURES.find((x) => x.name === name);
    if (f?.commonField) n = Math.max(n, fieldEnd(commonField(f.commonField)));
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// Device-specific configuration layouts

export interface DeviceCfgField {
  readonly name: string;
  readonly offset: number;
  readonly width: 1 | 2 | 4 | 8;
  readonly access: FieldAccess;
  /** The feature that makes the field meaningful (it is readable whenever the feature is offered). */
  readonly feature?: string;
  readonly summary: string;
}

const df = (
  name: string,
  offset: number,
  width: DeviceCfgField['width'],
  summary: string,
  feature?: string,
  access: FieldAccess = 'ro',
): DeviceCfgField => ({ name, offset, width, access, feature, summary });

/** struct virtio_blk_config (virtio 1.2 device-types/blk; Linux uapi virtio_blk.h). */
export const BLK_CONFIG: readonly DeviceCfgField[] = [
  df('capacity', 0x00, 8, 'capacity in 512-byte sectors'),
  df('size_max', 0x08, 4, 'largest segment in bytes', 'VIRTIO_BLK_F_SIZE_MAX'),
  df('seg_max', 0x0c, 4, 'segments per request', 'VIRTIO_BLK_F_SEG_MAX'),
  df('geometry.cylinders', 0x10, 2, 'cylinders', 'VIRTIO_BLK_F_GEOMETRY'),
  df('geometry.heads', 0x12, 1, 'heads', 'VIRTIO_BLK_F_GEOMETRY'),
  df('geometry.sectors', 0x13, 1, 'sectors per track', 'VIRTIO_BLK_F_GEOMETRY'),
  df('blk_size', 0x14, 4, 'logical block size in bytes', 'VIRTIO_BLK_F_BLK_SIZE'),
  df('topology.physical_block_exp', 0x18, 1, 'log2 logical blocks per physical block', 'VIRTIO_BLK_F_TOPOLOGY'),
  df('topology.alignment_offset', 0x19, 1, 'first aligned logical block', 'VIRTIO_BLK_F_TOPOLOGY'),
  df('topology.min_io_size', 0x1a, 2, 'suggested minimum I/O size in blocks', 'VIRTIO_BLK_F_TOPOLOGY'),
  df('topology.opt_io_size', 0x1c, 4, 'optimal I/O size in blocks', 'VIRTIO_BLK_F_TOPOLOGY'),
  df('writeback', 0x20, 1, 'cache mode: 0 writethrough, 1 writeback', 'VIRTIO_BLK_F_CONFIG_WCE', 'rw'),
  df('num_queues', 0x22, 2, 'number of request queues', 'VIRTIO_BLK_F_MQ'),
  df('max_discard_sectors', 0x24, 4, 'discard: sectors per segment', 'VIRTIO_BLK_F_DISCARD'),
  df('max_discard_seg', 0x28, 4, 'discard: segments per command', 'VIRTIO_BLK_F_DISCARD'),
  df('discard_sector_alignment', 0x2c, 4, 'discard: alignment in sectors', 'VIRTIO_BLK_F_DISCARD'),
  df('max_write_zeroes_sectors', 0x30, 4, 'write zeroes: sectors per segment', 'VIRTIO_BLK_F_WRITE_ZEROES'),
  df('max_write_zeroes_seg', 0x34, 4, 'write zeroes: segments per command', 'VIRTIO_BLK_F_WRITE_ZEROES'),
  df('write_zeroes_may_unmap', 0x38, 1, 'write zeroes may deallocate', 'VIRTIO_BLK_F_WRITE_ZEROES'),
  df('max_secure_erase_sectors', 0x3c, 4, 'secure erase: sectors per segment', 'VIRTIO_BLK_F_SECURE_ERASE'),
  df('max_secure_erase_seg', 0x40, 4, 'secure erase: segments per command', 'VIRTIO_BLK_F_SECURE_ERASE'),
  df('secure_erase_sector_alignment', 0x44, 4, 'secure erase: alignment in sectors', 'VIRTIO_BLK_F_SECURE_ERASE'),
  df('zoned.zone_sectors', 0x48, 4, 'zone size in sectors', 'VIRTIO_BLK_F_ZONED'),
  df('zoned.max_open_zones', 0x4c, 4, 'open zones limit', 'VIRTIO_BLK_F_ZONED'),
  df('zoned.max_active_zones', 0x50, 4, 'active zones limit', 'VIRTIO_BLK_F_ZONED'),
  df('zoned.max_append_sectors', 0x54, 4, 'zone append limit in sectors', 'VIRTIO_BLK_F_ZONED'),
  df('zoned.write_granularity', 0x58, 4, 'write granularity in bytes', 'VIRTIO_BLK_F_ZONED'),
  df('zoned.model', 0x5c, 1, 'zoned model', 'VIRTIO_BLK_F_ZONED'),
];

/** struct virtio_net_config (virtio 1.2 device-types/net). */
export const NET_CONFIG: readonly DeviceCfgField[] = [
  df('mac', 0x00, 1, 'MAC address byte 0 (six bytes 0x00..0x05)', 'VIRTIO_NET_F_MAC'),
  df('mac[1]', 0x01, 1, 'MAC address byte 1', 'VIRTIO_NET_F_MAC'),
  df('mac[2]', 0x02, 1, 'MAC address byte 2', 'VIRTIO_NET_F_MAC'),
  df('mac[3]', 0x03, 1, 'MAC address byte 3', 'VIRTIO_NET_F_MAC'),
  df('mac[4]', 0x04, 1, 'MAC address byte 4', 'VIRTIO_NET_F_MAC'),
  df('mac[5]', 0x05, 1, 'MAC address byte 5', 'VIRTIO_NET_F_MAC'),
  df('status', 0x06, 2, 'link status', 'VIRTIO_NET_F_STATUS'),
  df('max_virtqueue_pairs', 0x08, 2, 'receive/transmit queue pairs', 'VIRTIO_NET_F_MQ'),
  df('mtu', 0x0a, 2, 'maximum MTU', 'VIRTIO_NET_F_MTU'),
  df('speed', 0x0c, 4, 'link speed in Mbit/s', 'VIRTIO_NET_F_SPEED_DUPLEX'),
  df('duplex', 0x10, 1, 'duplex', 'VIRTIO_NET_F_SPEED_DUPLEX'),
  df('rss_max_key_size', 0x11, 1, 'RSS key size'),
  df('rss_max_indirection_table_length', 0x12, 2, 'RSS indirection table length'),
  df('supported_hash_types', 0x14, 4, 'supported hash types'),
];

export interface DeviceTypeDef {
  readonly name: DeviceTypeName;
  /** Virtio device ID (content.tex "Device Types"); the PCI device ID is 0x1040 + this. */
  readonly id: number;
  /** 24-bit PCI class code (base, sub, prog-if), as QEMU presents this device type. */
  readonly classCode: number;
  readonly config: readonly DeviceCfgField[];
  /** sizeof the configuration structure (fields plus trailing padding). */
  readonly configSize: number;
  readonly features: readonly FeatureDef[];
}

/** The device types, keyed by name. virtio-net's entry is here so its configuration structure fits next to blk's. */
export const DEVICE_TYPES: Readonly<Record<DeviceTypeName, DeviceTypeDef>> = {
  net: { name: 'net', id: 1, classCode: 0x020000, config: NET_CONFIG, configSize: 0x18, features: NET_FEATURES },
  blk: { name: 'blk', id: 2, classCode: 0x010000, config: BLK_CONFIG, configSize: 0x60, features: BLK_FEATURES },
};

/** Device configuration values, field name -> value (the RTL's reset values, the golden model's initial ones). */
export type DeviceConfigValues = Readonly<Record<string, bigint | number>>;

/**
 * The values a device of this type reports unless its builder gives others: a 512 MiB virtio-blk disk of 512-byte
 * blocks taking up to 126 segments per request. num_queues (blk) and max_virtqueue_pairs (net) follow the queue
 * count. Fields left out read 0.
 */
export function deviceConfigDefaults(type: DeviceTypeName, queueCount: number): DeviceConfigValues {
  if (type === 'blk') return { capacity: 0x10_0000, seg_max: 126, blk_size: 512, num_queues: queueCount };
  return { max_virtqueue_pairs: Math.max(1, Math.floor(queueCount / 2)) };
}
