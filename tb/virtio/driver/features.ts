// Feature negotiation as Linux does it: virtio_dev_probe (drivers/virtio/virtio.c) intersects the driver's table
// with the device's offer and keeps the transport bits; vp_finalize_features (virtio_pci_modern.c) lets the ring
// (vring_transport_features) and the PCI transport (vp_transport_features) keep what they understand, insists on
// VERSION_1, checks the common configuration is long enough for the features (vp_check_common_size, Linux 6.5+)
// and writes the result; virtio_features_ok sets FEATURES_OK and re-reads it.
import {
  STATUS,
  commonField,
  featureDef,
  featureMask,
  featureNames,
  fieldEnd,
  type DeviceTypeName,
} from '../../../gen/virtio/regmap';
import type { CommonIo } from './commonio';
import { VirtioProbeError } from './errors';

/** VIRTIO_TRANSPORT_F_START / _END of Linux 6.1's virtio_config.h. */
const TRANSPORT_F_START = 28;
const TRANSPORT_F_END = 41;

/** The transport bits vring_transport_features keeps (everything else in the range is cleared). */
const RING_UNDERSTANDS = [
  'VIRTIO_F_INDIRECT_DESC',
  'VIRTIO_F_EVENT_IDX',
  'VIRTIO_F_VERSION_1',
  'VIRTIO_F_ACCESS_PLATFORM',
  'VIRTIO_F_RING_PACKED',
  'VIRTIO_F_ORDER_PLATFORM',
];

/** Linux 6.1 drivers/block/virtio_blk.c `features[]`. */
export const LINUX_BLK_FEATURES = [
  'VIRTIO_BLK_F_SEG_MAX',
  'VIRTIO_BLK_F_SIZE_MAX',
  'VIRTIO_BLK_F_GEOMETRY',
  'VIRTIO_BLK_F_RO',
  'VIRTIO_BLK_F_BLK_SIZE',
  'VIRTIO_BLK_F_FLUSH',
  'VIRTIO_BLK_F_TOPOLOGY',
  'VIRTIO_BLK_F_CONFIG_WCE',
  'VIRTIO_BLK_F_MQ',
  'VIRTIO_BLK_F_DISCARD',
  'VIRTIO_BLK_F_WRITE_ZEROES',
  'VIRTIO_BLK_F_SECURE_ERASE',
];

export interface NegotiationOptions {
  type: DeviceTypeName;
  /** The device driver's feature table (names). */
  driverFeatures: readonly string[];
  /** The platform restricts memory access (virtio_check_mem_acc_cb: SEV, TDX, ...): ACCESS_PLATFORM is required. */
  platformAccess: boolean;
  /** Linux 6.5+ vp_check_common_size. */
  checkCommonSize: boolean;
  /** Mapped length of the common configuration (mdev->common_len). */
  commonLength: number;
  /** The function has an SR-IOV extended capability. */
  sriov: boolean;
  /**
   * Beyond Linux: features the driver declines although it knows them (as a kernel predating them would, e.g.
   * VIRTIO_F_RING_PACKED before 5.0), so tests reach every combination a device offers. Default none.
   */
  decline?: readonly string[];
}

export interface Negotiated {
  device: bigint;
  features: bigint;
}

const bit = (name: string, type: DeviceTypeName) => 1n << BigInt(featureDef(name, type).bit);

/** vp_get_features: device_feature_select 0 and 1. */
export function deviceFeatures(io: CommonIo): bigint {
  io.write('device_feature_select', 0);
  let f = BigInt(io.read('device_feature'));
  io.write('device_feature_select', 1);
  f |= BigInt(io.read('device_feature')) << 32n;
  return f;
}

/** vp_modern_set_features: driver_feature_select 0 and 1. */
function setDriverFeatures(io: CommonIo, f: bigint): void {
  io.write('driver_feature_select', 0);
  io.write('driver_feature', Number(f & 0xffff_ffffn));
  io.write('driver_feature_select', 1);
  io.write('driver_feature', Number(f >> 32n));
}

/** The steps of virtio_dev_probe from get_features to virtio_features_ok. Returns the negotiated set. */
export function negotiate(io: CommonIo, o: NegotiationOptions): Negotiated {
  const t = o.type;
  const device = deviceFeatures(io);
  // virtio_dev_probe: the driver's table, intersected; transport bits always preserved for finalize_features.
  let features = featureMask(o.driverFeatures, t) & device;
  for (let i = TRANSPORT_F_START; i < TRANSPORT_F_END; i++) if ((device >> BigInt(i)) & 1n) features |= 1n << BigInt(i);

  // vp_finalize_features: vring_transport_features clears transport bits the ring does not know...
  let keep = 0n;
  for (const n of RING_UNDERSTANDS) keep |= bit(n, t);
  for (let i = TRANSPORT_F_START; i < TRANSPORT_F_END; i++) {
    const b = 1n << BigInt(i);
    if (!(keep & b)) features &= ~b;
  }
  // ... vp_transport_features puts back what virtio-pci supports.
  if (device & bit('VIRTIO_F_SR_IOV', t) && o.sriov) features |= bit('VIRTIO_F_SR_IOV', t);
  if (device & bit('VIRTIO_F_RING_RESET', t)) features |= bit('VIRTIO_F_RING_RESET', t);
  if (!(features & bit('VIRTIO_F_VERSION_1', t)))
    throw new VirtioProbeError(
      'EINVAL',
      'vp_finalize_features',
      'common.device_feature',
      'device uses modern interface but does not have VIRTIO_F_VERSION_1',
    );
  if (o.checkCommonSize) {
    for (const [name, field] of [
      ['VIRTIO_F_NOTIF_CONFIG_DATA', 'queue_notify_data'],
      ['VIRTIO_F_RING_RESET', 'queue_reset'],
    ] as const) {
      const need = fieldEnd(commonField(field));
      if (features & bit(name, t) && o.commonLength < need)
        throw new VirtioProbeError(
          'EINVAL',
          'vp_check_common_size',
          'common configuration capability',
          `common cfg size(${o.commonLength}) does not match the feature ${name} (needs ${need} bytes, to the end of ${field})`,
        );
    }
  }
  if (o.decline?.length) features &= ~featureMask(o.decline, t);
  setDriverFeatures(io, features);

  // virtio_features_ok
  if (o.platformAccess) {
    for (const n of ['VIRTIO_F_VERSION_1', 'VIRTIO_F_ACCESS_PLATFORM'])
      if (!(features & bit(n, t)))
        throw new VirtioProbeError('ENODEV', 'virtio_features_ok', 'common.device_feature', `device must provide ${n}`);
  }
  io.addStatus(STATUS.FEATURES_OK);
  const status = io.status();
  if (!(status & STATUS.FEATURES_OK))
    throw new VirtioProbeError(
      'ENODEV',
      'virtio_features_ok',
      'common.device_status',
      `device refuses features: status 0x${status.toString(16)} after FEATURES_OK (driver features ${featureNames(features, t).join(', ')})`,
    );
  return { device, features };
}
