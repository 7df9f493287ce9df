// A driver model of Linux's virtio-pci + virtio-blk, for testing a device without a kernel. probe() follows
// virtio_pci_probe (virtio_pci_common.c) -> virtio_pci_modern_probe / vp_modern_probe -> register_virtio_device
// (virtio.c: reset, ACKNOWLEDGE) -> virtio_dev_probe (DRIVER, features, FEATURES_OK) -> virtblk_probe (config
// reads, init_vq -> vp_find_vqs, DRIVER_OK); remove() follows virtblk_remove (reset, del_vqs) -> virtio_dev_remove
// -> virtio_pci_remove. Each step names the kernel function it mirrors; a failure throws VirtioProbeError naming
// the capability, field or offset at fault, after setting FAILED where Linux does.
import { PCI_COMMAND, PCI_COMMAND_MASTER, PCI_EXT_CAP_ID_SRIOV } from '../../pcie/cfgspace';
import type { DeviceInfo } from '../../pcie/enumerate';
import { MsgCode } from '../../pcie/tlp';
import type { RootComplex } from '../../pcie/rootcomplex';
import {
  DEVICE_TYPES,
  ISR,
  STATUS,
  COMMON,
  featureDef,
  featureNames,
  type DeviceTypeName,
} from '../../../gen/virtio/regmap';
import { modernProbe, type ModernDevice } from './caps';
import { CommonIo } from './commonio';
import { VirtioProbeError } from './errors';
import { LINUX_BLK_FEATURES, negotiate } from './features';
import { windowRead } from './pcicfg';
import { delVqs, findVqs, type VqSetup } from './vqs';

export interface VirtioDriverOptions {
  /** The device driver's feature table (default: Linux 6.1 virtio-blk's). */
  driverFeatures?: readonly string[];
  /** nr_cpu_ids: virtio-blk uses min(cpus, num_queues) queues. Default 4. */
  cpus?: number;
  /** MSI-X allowed (false: as with pci=nomsi). Default true. */
  msix?: boolean;
  /** The platform requires VIRTIO_F_ACCESS_PLATFORM (virtio_check_mem_acc_cb, e.g. SEV/TDX guests). Default false. */
  platformAccess?: boolean;
  /** vp_check_common_size of Linux 6.5+ (the common configuration long enough for the features). Default true. */
  checkCommonSize?: boolean;
  /** Beyond Linux: require the PCI_CFG capability and check a read through it. Default true. */
  checkPciCfg?: boolean;
  /** device_status reads to wait for a reset to complete. Default 1000. */
  resetPolls?: number;
  /** Beyond Linux: offered features the driver declines (NegotiationOptions.decline). Default none. */
  declineFeatures?: readonly string[];
}

export interface ProbeResult {
  readonly deviceType: DeviceTypeName;
  readonly features: readonly string[];
  readonly setup: VqSetup;
  readonly capacity?: bigint;
}

const TYPE_BY_ID = new Map(Object.values(DEVICE_TYPES).map((t) => [t.id, t]));

export class VirtioPciDriver {
  readonly opts: Required<VirtioDriverOptions>;
  dev?: DeviceInfo;
  mdev?: ModernDevice;
  io?: CommonIo;
  features = 0n;
  setup?: VqSetup;
  type?: DeviceTypeName;
  /** The steps taken, each with the kernel function it mirrors. */
  readonly trace: string[] = [];
  private seenMessages = 0;

  constructor(
    readonly rc: RootComplex,
    opts: VirtioDriverOptions = {},
  ) {
    this.opts = {
      driverFeatures: opts.driverFeatures ?? LINUX_BLK_FEATURES,
      cpus: opts.cpus ?? 4,
      msix: opts.msix ?? true,
      platformAccess: opts.platformAccess ?? false,
      checkCommonSize: opts.checkCommonSize ?? true,
      checkPciCfg: opts.checkPciCfg ?? true,
      resetPolls: opts.resetPolls ?? 1000,
      declineFeatures: opts.declineFeatures ?? [],
    };
  }

  private step(fn: string, what: string): void {
    this.trace.push(`${fn}: ${what}`);
  }

  /** The whole probe; returns what was negotiated and set up. */
  probe(): ProbeResult {
    const rc = this.rc;
    // virtio_pci_probe: pci_enable_device (the PCI core enumerated the function), then the modern probe.
    const dev = (this.dev = rc.device ?? rc.enumerate());
    const mdev = (this.mdev = modernProbe(rc, dev));
    this.step(
      'vp_modern_probe',
      `common@BAR${mdev.common.bar}+0x${mdev.common.offset.toString(16)} (${mdev.common.length} B)`,
    );
    const type = TYPE_BY_ID.get(mdev.id.device);
    if (!type)
      throw new VirtioProbeError(
        'ENODEV',
        'virtio_bus match',
        'device ID',
        `no model driver for virtio device ${mdev.id.device}`,
      );
    this.type = type.name;
    if (this.opts.checkPciCfg) this.checkPciCfgWindow(mdev);
    rc.cfgWrite16(PCI_COMMAND, rc.cfgRead16(PCI_COMMAND) | PCI_COMMAND_MASTER); // pci_set_master
    const io = (this.io = new CommonIo(rc, mdev.common));

    // register_virtio_device: "We always start by resetting the device, in case a previous driver messed it up."
    const polls = io.reset(this.opts.resetPolls);
    this.step('vp_reset', `device_status read 0 after ${polls} read(s)`);
    io.addStatus(STATUS.ACKNOWLEDGE);
    try {
      return this.devProbe(io, dev, mdev, type.name);
    } catch (e) {
      if (e instanceof VirtioProbeError) io.addStatus(STATUS.FAILED); // virtio_dev_probe: err
      throw e;
    }
  }

  /** virtio_dev_probe + virtblk_probe. */
  private devProbe(io: CommonIo, dev: DeviceInfo, mdev: ModernDevice, type: DeviceTypeName): ProbeResult {
    io.addStatus(STATUS.DRIVER);
    const n = negotiate(io, {
      type,
      driverFeatures: this.opts.driverFeatures,
      platformAccess: this.opts.platformAccess,
      checkCommonSize: this.opts.checkCommonSize,
      commonLength: mdev.common.length,
      sriov: dev.extCaps.has(PCI_EXT_CAP_ID_SRIOV),
      decline: this.opts.declineFeatures,
    });
    this.features = n.features;
    this.step('virtio_features_ok', `FEATURES_OK kept with ${featureNames(n.features, type).join(', ')}`);
    // virtblk_probe: config space access is required (vp_get is NULL without a device capability).
    if (!mdev.device)
      throw new VirtioProbeError(
        'EINVAL',
        'virtblk_probe',
        'device configuration capability',
        'config access disabled',
      );
    if (this.has('VIRTIO_BLK_F_SEG_MAX')) this.configRead('seg_max');
    // init_vq
    let nvqs = 1;
    if (this.has('VIRTIO_BLK_F_MQ')) {
      nvqs = Number(this.configRead('num_queues'));
      if (!nvqs)
        throw new VirtioProbeError('EINVAL', 'init_vq', 'device.num_queues', 'MQ advertised but zero queues reported');
    }
    nvqs = Math.min(this.opts.cpus, nvqs);
    this.setup = findVqs(
      { rc: this.rc, dev, mdev, io, packed: this.has('VIRTIO_F_RING_PACKED'), msix: this.opts.msix },
      nvqs,
    );
    this.step(
      'vp_find_vqs',
      `${nvqs} queue(s), ${this.setup.mode}${this.setup.fallbacks.length ? ` after: ${this.setup.fallbacks.join('; ')}` : ''}`,
    );
    // virtio_device_ready
    io.setStatus(io.status() | STATUS.DRIVER_OK);
    this.step('virtio_device_ready', `device_status 0x${io.status().toString(16)}`);
    const capacity = this.configRead('capacity');
    if (this.has('VIRTIO_BLK_F_BLK_SIZE')) this.configRead('blk_size');
    return { deviceType: type, features: featureNames(n.features, type), setup: this.setup, capacity };
  }

  /** virtblk_remove -> virtio_dev_remove -> virtio_pci_remove. */
  remove(): void {
    const io = this.need(this.io, 'probe first');
    io.reset(this.opts.resetPolls); // virtio_reset_device
    if (this.setup && this.mdev && this.dev)
      delVqs({ rc: this.rc, dev: this.dev, mdev: this.mdev, io, packed: false, msix: this.opts.msix }, this.setup);
    this.setup = undefined;
    const st = io.status();
    if (st !== 0)
      throw new VirtioProbeError(
        'EBUSY',
        'virtio_dev_remove',
        'common.device_status',
        `0x${st.toString(16)} after the driver's reset`,
      );
    io.addStatus(STATUS.ACKNOWLEDGE); // "Acknowledge the device's existence again."
    // pci_disable_device: bus mastering off.
    this.rc.cfgWrite16(PCI_COMMAND, this.rc.cfgRead16(PCI_COMMAND) & ~PCI_COMMAND_MASTER);
    this.step('virtio_pci_remove', 'reset, queues deleted, vectors freed, bus mastering off');
  }

  has(name: string): boolean {
    const t = this.need(this.type, 'probe first');
    // Remembered per feature set and type: kick() asks on every doorbell, and a lookup by name is a search.
    if (this.hasFor.features !== this.features || this.hasFor.type !== t)
      this.hasFor = { features: this.features, type: t, known: new Map() };
    let v = this.hasFor.known.get(name);
    if (v === undefined)
      this.hasFor.known.set(name, (v = ((this.features >> BigInt(featureDef(name, t).bit)) & 1n) === 1n));
    return v;
  }
  private hasFor: { features: bigint; type: DeviceTypeName | undefined; known: Map<string, boolean> } = {
    features: -1n,
    type: undefined,
    known: new Map(),
  };

  private need<T>(v: T | undefined, why: string): T {
    if (v === undefined) throw new Error(`virtio driver model: ${why}`);
    return v;
  }

  /**
   * virtio_cread: 1/2/4-byte fields are one read (vp_get); 8-byte fields two 32-bit reads inside a
   * config_generation loop (__virtio_cread_many). Reading past the mapped structure is a bug (BUG_ON in vp_get).
   */
  configRead(name: string): bigint {
    const mdev = this.need(this.mdev, 'probe first');
    const io = this.need(this.io, 'probe first');
    const map = this.need(mdev.device, 'no device configuration');
    const f = DEVICE_TYPES[this.type!].config.find((x) => x.name === name);
    if (!f) throw new Error(`virtio driver model: no ${this.type} configuration field ${name}`);
    if (f.offset + f.width > map.length)
      throw new VirtioProbeError(
        'EINVAL',
        'vp_get',
        `device.${name}`,
        `offset ${f.offset} + ${f.width} > device_len ${map.length}`,
      );
    const a = map.address + BigInt(f.offset);
    const rc = this.rc;
    if (f.width === 1) return BigInt(rc.read8(a));
    if (f.width === 2) return BigInt(rc.read16(a));
    if (f.width === 4) return BigInt(rc.read32(a));
    for (let tries = 0; tries < 100; tries++) {
      const before = io.read('config_generation');
      const v = BigInt(rc.read32(a)) | (BigInt(rc.read32(a + 4n)) << 32n);
      if (io.read('config_generation') === before) return v;
    }
    throw new VirtioProbeError('ETIMEDOUT', '__virtio_cread_many', `device.${name}`, 'config_generation kept changing');
  }

  /** vp_notify: the queue index written to its doorbell. */
  /**
   * vp_notify: queue q's doorbell with its index (16 bits), or with VIRTIO_F_NOTIFICATION_DATA
   * (vp_notify_with_data) the 32 bits `data` of the ring driver's notificationData().
   */
  kick(q: number, data?: number): void {
    const vq = this.need(this.setup, 'no queues').vqs[q];
    if (!vq) throw new RangeError(`virtio driver model: no queue ${q}`);
    if (!this.has('VIRTIO_F_NOTIFICATION_DATA')) return this.rc.write16(vq.notify, q);
    if (data === undefined) throw new Error(`virtio driver model: queue ${q}: NOTIFICATION_DATA needs the ring's data`);
    if ((data & 0xffff) !== q)
      throw new Error(`virtio driver model: queue ${q}: notification data 0x${data.toString(16)}`);
    this.rc.write32(vq.notify, data);
  }

  /** The MSI-X vector a queue's interrupts arrive on (undefined with INTx). */
  queueVector(q: number): number | undefined {
    const s = this.need(this.setup, 'no queues');
    return s.mode === 'intx' ? undefined : s.vqs[q].msixVector;
  }

  /**
   * Waits for the next interrupt of queue q: its MSI-X message, or (INTx) an Assert_INTA message followed by the
   * ISR read of vp_interrupt, which must show the queue bit; returns the ISR value read (0 with MSI-X).
   */
  waitQueueInterrupt(q: number, timeout = 100_000): number {
    const v = this.queueVector(q);
    if (v !== undefined) {
      this.rc.waitForInterrupt(v, { timeout });
      return 0;
    }
    return this.waitIntx(ISR.QUEUE, timeout);
  }

  /** Waits for a configuration interrupt (vector 0, or INTx with the ISR configuration bit). */
  waitConfigInterrupt(timeout = 100_000): number {
    if (this.need(this.setup, 'no queues').mode !== 'intx') {
      this.rc.waitForInterrupt(0, { timeout });
      return 0;
    }
    return this.waitIntx(ISR.CONFIG, timeout);
  }

  /** vp_interrupt: an asserted INTx, then the ISR read (which clears it and deasserts INTx). */
  private waitIntx(bit: number, timeout: number): number {
    const rc = this.rc;
    const asserted = () => {
      for (let i = this.seenMessages; i < rc.messages.length; i++) {
        if (rc.messages[i].tlp.code === MsgCode.Assert_INTA) {
          this.seenMessages = i + 1;
          return true;
        }
      }
      return false;
    };
    rc.waitFor('Assert_INTA', asserted, { timeout });
    const isr = rc.read8(this.need(this.mdev, 'probe first').isr.address);
    if (!(isr & bit))
      throw new VirtioProbeError(
        'EINVAL',
        'vp_interrupt',
        'isr',
        `ISR 0x${isr.toString(16)} lacks bit 0x${bit.toString(16)}`,
      );
    return isr;
  }

  /** Beyond Linux: the PCI_CFG window must exist and read what MMIO reads. */
  private checkPciCfgWindow(mdev: ModernDevice): void {
    const where = 'PCI_CFG capability (cfg_type 5)';
    const spec = 'virtio spec "PCI configuration access capability"';
    if (mdev.pciCfg === undefined)
      throw new VirtioProbeError('EINVAL', spec, where, 'missing (the device MUST present one)');
    const off = mdev.common.offset + COMMON.num_queues; // read-only, no side effects
    const viaWindow = windowRead(this.rc, mdev.pciCfg, mdev.common.bar, off, 2);
    const viaMmio = this.rc.read16(mdev.common.address + BigInt(COMMON.num_queues));
    if (viaWindow !== viaMmio)
      throw new VirtioProbeError(
        'EINVAL',
        spec,
        where,
        `num_queues reads ${viaWindow} through the window, ${viaMmio} by MMIO`,
      );
  }
}
