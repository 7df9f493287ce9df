// The common configuration structure (struct virtio_pci_common_cfg) and the device status machine: feature
// windows, device_status with reset, FEATURES_OK acceptance, config_msix_vector, and the per-queue fields. Every
// field's offset and width come from regmap.ts COMMON_CFG; its behaviour is below, each open point decided in
// choices.ts.
import { queueNotifyOff, type VirtioPciLayout } from '../../../gen/virtio/layout';
import {
  COMMON_CFG,
  STATUS,
  VIRTIO_MSI_NO_VECTOR,
  featureDef,
  featureNames,
  type RegField,
} from '../../../gen/virtio/regmap';
import type { FieldPort } from './fields';
import type { QueueState, TransportEvent } from './handover';

/** What the common configuration needs from the rest of the model. */
export interface CommonHost {
  emit(ev: TransportEvent): void;
  /** A virtio reset started: interrupts and device configuration return to their reset state. */
  resetSideEffects(): void;
  /** Can `vector` be mapped (for the configuration when queue is undefined)? */
  vectorAssignable(vector: number, queue?: number): boolean;
  readonly configGeneration: number;
}

export interface CommonOptions {
  /** Offered features (bit mask). */
  offered: bigint;
  /** Features FEATURES_OK additionally requires the driver to accept (e.g. ACCESS_PLATFORM). */
  required: bigint;
  /**
   * How long a reset takes: 'external' = until the data plane calls completeReset(); a number N = the first N
   * reads of device_status (queue_reset) after the reset still see it in progress (0: done at once).
   */
  resetReads: number | 'external';
  queueResetReads: number | 'external';
}

/** Driver-writable status bits (SUSPEND and 0x20 are not implemented; DEVICE_NEEDS_RESET is the device's). */
const DRIVER_STATUS_BITS = STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.DRIVER_OK | STATUS.FEATURES_OK | STATUS.FAILED;

export class CommonConfig {
  private deviceFeatureSelect = 0;
  private driverFeatureSelect = 0;
  /** Mirrors what the driver wrote (choices.ts "driverFeatureMirror"). */
  driverFeatures = 0n;
  msixConfig = VIRTIO_MSI_NO_VECTOR;
  private statusReg = 0;
  queueSelect = 0;
  readonly queues: QueueState[];
  /**
   * A reset in progress: the status reads `previousStatus` until it completes, which is when the data plane is
   * quiet (`quiesced`: at once, after `readsLeft` status reads, or when it says so) and no DMA is outstanding.
   */
  private reset: { previousStatus: number; readsLeft: number | 'external'; quiesced: boolean } | undefined;
  /** The data plane has DMA outstanding (DataPlaneInputs.setDmaOutstanding). */
  private dmaOutstanding = false;
  private readonly queueResetReadsLeft = new Map<number, number | 'external'>();
  /** Why the last FEATURES_OK was refused (for messages). */
  lastRefusal: string | undefined;
  /** Selector values sampled at the start of the current access. */
  private sel = { queue: 0, dfs: 0, gfs: 0 };

  constructor(
    private readonly layout: VirtioPciLayout,
    private readonly opts: CommonOptions,
    private readonly host: CommonHost,
  ) {
    this.queues = Array.from({ length: layout.queues.count }, (_x, index) => this.freshQueue(index));
  }

  private freshQueue(index: number): QueueState {
    return {
      index,
      size: this.layout.queues.maxSize,
      msixVector: VIRTIO_MSI_NO_VECTOR,
      enabled: false,
      desc: 0n,
      driver: 0n,
      device: 0n,
      resetPending: false,
    };
  }

  // ---- state the rest of the model reads

  /** device_status as the device holds it (0 during a reset in progress). */
  get status(): number {
    return this.statusReg;
  }
  get resetInProgress(): boolean {
    return this.reset !== undefined;
  }
  get featuresOk(): boolean {
    return (this.statusReg & STATUS.FEATURES_OK) !== 0;
  }
  get driverOk(): boolean {
    return (this.statusReg & STATUS.DRIVER_OK) !== 0;
  }
  /** The negotiated features: the driver's once FEATURES_OK was accepted. */
  get negotiated(): bigint {
    return this.featuresOk ? this.driverFeatures : 0n;
  }
  negotiatedHas(name: string): boolean {
    return this.has(this.negotiated, name);
  }
  private has(mask: bigint, name: string): boolean {
    return ((mask >> BigInt(featureDef(name, this.layout.deviceType).bit)) & 1n) === 1n;
  }

  /** Samples the selectors: call before every access to the structure (choices.ts "partialWrites"). */
  beginAccess(): void {
    this.sel = { queue: this.queueSelect, dfs: this.deviceFeatureSelect, gfs: this.driverFeatureSelect };
  }

  /** Everything a reset in progress may still do now (for a checker that sees the device finish earlier). */
  pendingCompletions(): { what: string; complete: () => void }[] {
    const out: { what: string; complete: () => void }[] = [];
    // A device that shows its reset complete while DMA is outstanding is wrong: no such explanation is offered.
    if (this.reset && !this.dmaOutstanding)
      out.push({ what: 'the device reset completed', complete: () => this.completeReset() });
    for (const q of this.queues)
      if (q.resetPending)
        out.push({ what: `the reset of queue ${q.index} completed`, complete: () => this.completeQueueReset(q.index) });
    return out;
  }

  // ---- reset

  /** Starts a virtio reset (device_status = 0, or FLR with `hard`). */
  startReset(cause: 'status' | 'flr'): void {
    const previousStatus = this.reset ? this.reset.previousStatus : this.statusReg;
    this.statusReg = 0;
    this.deviceFeatureSelect = 0;
    this.driverFeatureSelect = 0;
    this.driverFeatures = 0n;
    this.msixConfig = VIRTIO_MSI_NO_VECTOR;
    this.queueSelect = 0;
    this.queueResetReadsLeft.clear();
    for (let i = 0; i < this.queues.length; i++) this.queues[i] = this.freshQueue(i);
    this.lastRefusal = undefined;
    this.host.resetSideEffects();
    this.host.emit({ kind: 'device-reset', cause });
    // Nothing to quiesce unless the data plane may have been running (DRIVER_OK): a status reset and an FLR alike
    // (choices.ts "statusDuringReset", "flr"). Either way the reset waits for outstanding DMA.
    const reads = this.opts.resetReads;
    const quiesced = !(previousStatus & STATUS.DRIVER_OK) || reads === 0;
    this.reset = { previousStatus, readsLeft: reads, quiesced };
    this.finishReset();
  }

  /** The data plane says the reset it was asked for is done (DataPlaneInputs.completeReset). */
  completeReset(): void {
    if (!this.reset) return;
    this.reset.quiesced = true;
    this.finishReset();
  }

  /** DataPlaneInputs.setDmaOutstanding: a reset does not complete while the data plane has DMA outstanding. */
  setDmaOutstanding(outstanding: boolean): void {
    this.dmaOutstanding = outstanding;
    this.finishReset();
  }

  get transactionsPending(): boolean {
    return this.dmaOutstanding;
  }

  private finishReset(): void {
    if (!this.reset || !this.reset.quiesced || this.dmaOutstanding) return;
    this.reset = undefined;
    this.host.emit({ kind: 'reset-complete' });
  }

  completeQueueReset(q: number): void {
    const qs = this.queues[q];
    if (!qs?.resetPending) return;
    this.queues[q] = this.freshQueue(q);
    this.queueResetReadsLeft.delete(q);
    this.host.emit({ kind: 'queue-reset-complete', queue: q });
  }

  // ---- status

  /** choices.ts "statusDuringReset". */
  private readStatus(): number {
    return this.reset ? this.reset.previousStatus : this.statusReg;
  }

  /** A committed read of device_status counts towards the end of a reset in progress. */
  private countStatusRead(): void {
    const r = this.reset;
    if (!r || r.readsLeft === 'external') return;
    r.readsLeft--;
    if (r.readsLeft <= 0) this.completeReset();
  }

  /** choices.ts "statusSticky". */
  private writeStatus(v: number): void {
    if (v === 0) return this.startReset('status');
    if (this.reset) return; // choices.ts "statusWritesDuringReset"
    const old = this.statusReg;
    let next = old | (v & DRIVER_STATUS_BITS);
    if (next & STATUS.FEATURES_OK && !(old & STATUS.FEATURES_OK)) {
      const why = this.featureSetProblem(this.driverFeatures);
      this.lastRefusal = why;
      if (why) next &= ~STATUS.FEATURES_OK;
    }
    this.statusReg = next;
    if (next & STATUS.FEATURES_OK && !(old & STATUS.FEATURES_OK))
      this.host.emit({ kind: 'features-ok', features: this.driverFeatures });
    if (next & STATUS.DRIVER_OK && !(old & STATUS.DRIVER_OK)) this.host.emit({ kind: 'driver-ok' });
  }

  /** The device sets DEVICE_NEEDS_RESET (a fatal error). */
  setNeedsReset(): void {
    this.statusReg |= STATUS.DEVICE_NEEDS_RESET;
  }

  /** Why the device cannot honour a feature set (undefined if it can). */
  featureSetProblem(f: bigint): string | undefined {
    const type = this.layout.deviceType;
    if (!this.has(f, 'VIRTIO_F_VERSION_1')) return 'VIRTIO_F_VERSION_1 was not accepted';
    const extra = f & ~this.opts.offered;
    if (extra) return `${featureNames(extra, type).join(', ')} accepted but not offered`;
    const missing = this.opts.required & ~f;
    if (missing) return `${featureNames(missing, type).join(', ')} must be accepted`;
    for (const name of featureNames(f, type)) {
      for (const r of featureDef(name, type).requires ?? [])
        if (!this.has(f, r)) return `${name} accepted without ${r}, which it requires`;
    }
    return undefined;
  }

  // ---- the structure as fields

  ports(): FieldPort[] {
    return COMMON_CFG.map((f) => this.port(f));
  }

  private port(f: RegField): FieldPort {
    const base = { name: `common.${f.name}`, offset: f.offset, width: f.width };
    // choices.ts "absentQueueFields", "queueFieldsWhileEnabled"
    const q = () => (this.sel.queue < this.queues.length ? this.queues[this.sel.queue] : undefined);
    const qWritable = () => {
      const qs = q();
      return qs && !qs.enabled && !qs.resetPending ? qs : undefined;
    };
    // choices.ts "featureWindowsBeyond64Bits"
    const half = (v: bigint, sel: number) => (sel <= 1 ? (v >> BigInt(32 * sel)) & 0xffff_ffffn : 0n);
    switch (f.name) {
      case 'device_feature_select':
        return {
          ...base,
          get: () => BigInt(this.deviceFeatureSelect),
          set: (v) => void (this.deviceFeatureSelect = Number(v)),
        };
      case 'device_feature':
        return { ...base, get: () => half(this.opts.offered, this.sel.dfs) };
      case 'driver_feature_select':
        return {
          ...base,
          get: () => BigInt(this.driverFeatureSelect),
          set: (v) => void (this.driverFeatureSelect = Number(v)),
        };
      case 'driver_feature':
        return {
          ...base,
          get: () => half(this.driverFeatures, this.sel.gfs),
          set: (v) => {
            const sel = this.sel.gfs;
            if (sel > 1 || this.featuresOk || this.reset) return; // choices.ts "featuresLockedAfterFeaturesOk"
            const sh = BigInt(32 * sel);
            this.driverFeatures = (this.driverFeatures & ~(0xffff_ffffn << sh)) | (v << sh);
          },
        };
      case 'config_msix_vector':
        return {
          ...base,
          get: () => BigInt(this.msixConfig),
          set: (v) => void (this.msixConfig = this.mapVector(Number(v))),
        };
      case 'num_queues':
        return { ...base, get: () => BigInt(this.queues.length) };
      case 'device_status':
        return {
          ...base,
          get: () => BigInt(this.readStatus()),
          set: (v) => this.writeStatus(Number(v)),
          onRead: () => this.countStatusRead(),
        };
      case 'config_generation':
        return { ...base, get: () => BigInt(this.host.configGeneration) };
      case 'queue_select':
        return { ...base, get: () => BigInt(this.queueSelect), set: (v) => void (this.queueSelect = Number(v)) };
      case 'queue_size':
        return {
          ...base,
          get: () => BigInt(q()?.size ?? 0),
          set: (v) => {
            const qs = qWritable();
            if (qs && this.queueSizeValid(Number(v))) qs.size = Number(v);
          },
        };
      case 'queue_msix_vector':
        return {
          ...base,
          get: () => BigInt(q()?.msixVector ?? 0),
          set: (v) => {
            const qs = qWritable();
            if (qs) qs.msixVector = this.mapVector(Number(v), qs.index);
          },
        };
      case 'queue_enable':
        return {
          ...base,
          get: () => BigInt(q()?.enabled ? 1 : 0),
          set: (v) => {
            const qs = qWritable();
            if (!qs || v !== 1n) return; // choices.ts "queueEnableZero"
            qs.enabled = true;
            this.host.emit({ kind: 'queue-enable', queue: qs.index, state: { ...qs } });
          },
        };
      case 'queue_notify_off':
        return { ...base, get: () => BigInt(q() ? queueNotifyOff(q()!.index) : 0) };
      case 'queue_desc':
      case 'queue_driver':
      case 'queue_device': {
        const key = f.name.slice('queue_'.length) as 'desc' | 'driver' | 'device';
        return {
          ...base,
          get: () => q()?.[key] ?? 0n,
          set: (v) => {
            const qs = qWritable();
            if (qs) qs[key] = v;
          },
        };
      }
      case 'queue_notify_data':
        return { ...base, get: () => BigInt(q()?.index ?? 0) };
      case 'queue_reset': // choices.ts "featureGatedFields"
        return {
          ...base,
          get: () => BigInt(this.negotiatedHas('VIRTIO_F_RING_RESET') && q()?.resetPending ? 1 : 0),
          set: (v) => {
            const qs = q();
            if (!qs || v !== 1n || !this.negotiatedHas('VIRTIO_F_RING_RESET') || qs.resetPending) return;
            this.startQueueReset(qs);
          },
          onRead: () => this.countQueueResetRead(),
        };
      case 'admin_queue_index':
        return { ...base, get: () => BigInt(this.negotiatedHas('VIRTIO_F_ADMIN_VQ') ? this.queues.length : 0) };
      case 'admin_queue_num':
        return { ...base, get: () => 0n };
      default:
        throw new Error(`golden model: common configuration field ${f.name} has no behaviour`);
    }
  }

  /** choices.ts "invalidQueueSize". */
  private queueSizeValid(n: number): boolean {
    if (n < 1 || n > this.layout.queues.maxSize) return false;
    return this.has(this.driverFeatures, 'VIRTIO_F_RING_PACKED') || (n & (n - 1)) === 0;
  }

  /** choices.ts "unmappableVector". */
  private mapVector(v: number, queue?: number): number {
    if (v === VIRTIO_MSI_NO_VECTOR) return v;
    return v < this.layout.msix.vectors && this.host.vectorAssignable(v, queue) ? v : VIRTIO_MSI_NO_VECTOR;
  }

  private startQueueReset(qs: QueueState): void {
    qs.resetPending = true;
    this.host.emit({ kind: 'queue-reset', queue: qs.index });
    const reads = this.opts.queueResetReads;
    if (reads === 0) this.completeQueueReset(qs.index);
    else this.queueResetReadsLeft.set(qs.index, reads);
  }

  private countQueueResetRead(): void {
    const qs = this.sel.queue < this.queues.length ? this.queues[this.sel.queue] : undefined;
    if (!qs?.resetPending) return;
    const left = this.queueResetReadsLeft.get(qs.index);
    if (left === undefined || left === 'external') return;
    if (left <= 1) this.completeQueueReset(qs.index);
    else this.queueResetReadsLeft.set(qs.index, left - 1);
  }
}
