// The driver side of a virtqueue as Linux's drivers/virtio/virtio_ring.c presents it to device drivers: the
// format-independent entry points (virtqueue_add_sgs, virtqueue_kick, virtqueue_get_buf, the callback controls,
// vring_interrupt) over a format's operations (split.ts, packed.ts). Ring memory is the host memory of tb/pcie,
// read and written with the CPU-side accessors: the driver is the host.
import type { HostMemory, Region } from '../../pcie/hostmem';
import { checkQueueSize, type RingAddresses, type RingFeatures, type Sg } from './defs';

/** What virtqueue_add_sgs returns: 0, or the negative errno's name. */
export type AddResult = 'ok' | 'ENOSPC' | 'EIO';

/** A used buffer handed back: the token given to add(), and the used length. */
export interface UsedBuffer<T> {
  readonly data: T;
  readonly len: number;
  /**
   * Whether `len` came from a used element the device wrote. With IN_ORDER a device may return a batch with one
   * element; Linux then reports the other buffers' total length (readable and writable bytes alike).
   */
  readonly lenFromDevice: boolean;
}

/** Hears what the driver grants and takes back (for invariant checkers). */
export interface DriverObserver<T> {
  /** A buffer was made available: its segments, and its indirect table if it has one. */
  added?(vq: Virtqueue<T>, data: T, out: readonly Sg[], inn: readonly Sg[], indirect: Region | undefined): void;
  /** A buffer came back through get_buf (or detach_unused_buf: `len` undefined). */
  returned?(vq: Virtqueue<T>, data: T, len: number | undefined, lenFromDevice: boolean): void;
}

export interface VirtqueueOptions<T> {
  mem: HostMemory;
  index?: number;
  ring: RingAddresses;
  features: RingFeatures;
  /** vq->notify: rings the doorbell; false means the transport failed (the queue breaks). */
  notify: (vq: Virtqueue<T>) => boolean;
  /** vq->callback (NULL: the driver asks for no used buffer notifications at all). */
  callback?: (vq: Virtqueue<T>) => void;
  /** A device driver that passes per-buffer context (virtqueue_add_inbuf_ctx) disables indirect descriptors. */
  context?: boolean;
  observer?: DriverObserver<T>;
}

/** The ring-format operations (virtqueue_ops in newer kernels). */
export interface Virtqueue<T> {
  readonly index: number;
  readonly num: number;
  readonly packed: boolean;
  /** vq->vq.num_free: descriptors free. */
  readonly numFree: number;
  /** vq->broken and why (BAD_RING's message). */
  readonly broken: boolean;
  readonly brokenReason: string | undefined;
  /** virtqueue_add_sgs with the out (device-readable) and in (device-writable) segments flattened. */
  add(out: readonly Sg[], inn: readonly Sg[], data: T): AddResult;
  kickPrepare(): boolean;
  /** virtqueue_notify */
  notify(): boolean;
  /**
   * vring_notification_data: the 32 bits a driver writes with VIRTIO_F_NOTIFICATION_DATA: the queue index, and
   * in the high half the next available position (split: avail->idx; packed: the next descriptor's offset with
   * the driver's wrap counter in bit 15).
   */
  notificationData(): number;
  /** virtqueue_kick: kickPrepare() then notify() if needed; false if the notify failed. */
  kick(): boolean;
  getBuf(): UsedBuffer<T> | null;
  disableCb(): void;
  enableCbPrepare(): number;
  poll(lastUsedIdx: number): boolean;
  /** virtqueue_enable_cb: false if buffers are already pending (the caller must poll again). */
  enableCb(): boolean;
  enableCbDelayed(): boolean;
  detachUnusedBuf(): T | null;
  /**
   * virtqueue_reset's ring half (after the transport's queue_reset): every buffer still out detached (handed to
   * `recycle`), then the ring memory and state as after creation (virtqueue_reinit_split / _packed).
   */
  reset(recycle?: (data: T) => void): void;
  /** vring_interrupt: false for IRQ_NONE (nothing used). */
  interrupt(): boolean;
  moreUsed(): boolean;
}

/** The state both formats keep in struct vring_virtqueue outside their union. */
export abstract class VirtqueueBase<T> implements Virtqueue<T> {
  readonly index: number;
  readonly num: number;
  abstract readonly packed: boolean;
  protected readonly mem: HostMemory;
  protected readonly indirect: boolean;
  protected readonly event: boolean;
  protected readonly inOrder: boolean;
  protected readonly observer: DriverObserver<T> | undefined;
  protected readonly callback: ((vq: Virtqueue<T>) => void) | undefined;
  private readonly notifyFn: (vq: Virtqueue<T>) => boolean;
  protected numFreeV: number;
  protected freeHead = 0;
  protected numAdded = 0;
  protected lastUsedIdx = 0;
  protected eventTriggered = false;
  protected brokenV: string | undefined;

  constructor(opts: VirtqueueOptions<T>, packed: boolean) {
    checkQueueSize(opts.ring.num, packed);
    this.mem = opts.mem;
    this.index = opts.index ?? 0;
    this.num = opts.ring.num;
    // __vring_new_virtqueue_*: indirect only without per-buffer context.
    this.indirect = opts.features.indirect && !opts.context;
    this.event = opts.features.eventIdx;
    this.inOrder = opts.features.inOrder;
    this.observer = opts.observer;
    this.callback = opts.callback;
    this.notifyFn = opts.notify;
    this.numFreeV = this.num;
  }

  get numFree(): number {
    return this.numFreeV;
  }
  get broken(): boolean {
    return this.brokenV !== undefined;
  }
  get brokenReason(): string | undefined {
    return this.brokenV;
  }

  /** BAD_RING (non-DEBUG build): the queue is marked broken and stays so. */
  protected badRing(msg: string): null {
    this.brokenV ??= `vq${this.index}: ${msg}`;
    return null;
  }

  /** virtqueue_use_indirect: more than one segment, and at least one descriptor free. */
  protected useIndirect(totalSg: number): boolean {
    return this.indirect && totalSg > 1 && this.numFreeV > 0;
  }

  abstract add(out: readonly Sg[], inn: readonly Sg[], data: T): AddResult;
  abstract kickPrepare(): boolean;
  abstract notificationData(): number;
  abstract getBuf(): UsedBuffer<T> | null;
  abstract disableCb(): void;
  protected abstract enableCbPrepareFormat(): number;
  protected abstract pollFormat(lastUsedIdx: number): boolean;
  protected abstract enableCbDelayedFormat(): boolean;
  abstract detachUnusedBuf(): T | null;
  protected abstract reinit(): void;

  reset(recycle?: (data: T) => void): void {
    for (let d = this.detachUnusedBuf(); d !== null; d = this.detachUnusedBuf()) recycle?.(d);
    // virtqueue_init
    this.numFreeV = this.num;
    this.eventTriggered = false;
    this.numAdded = 0;
    this.reinit();
  }
  abstract moreUsed(): boolean;

  notify(): boolean {
    if (this.broken) return false;
    if (!this.notifyFn(this)) {
      this.brokenV ??= `vq${this.index}: notify failed`;
      return false;
    }
    return true;
  }

  kick(): boolean {
    return this.kickPrepare() ? this.notify() : true;
  }

  enableCbPrepare(): number {
    this.eventTriggered = false;
    return this.enableCbPrepareFormat();
  }

  poll(lastUsedIdx: number): boolean {
    if (this.broken) return false;
    return this.pollFormat(lastUsedIdx);
  }

  enableCb(): boolean {
    return !this.poll(this.enableCbPrepare());
  }

  enableCbDelayed(): boolean {
    this.eventTriggered = false;
    return this.enableCbDelayedFormat();
  }

  interrupt(): boolean {
    if (!this.moreUsed()) return false;
    if (this.broken) return true;
    // "Just a hint for performance: so it's ok that this can be racy!"
    if (this.event) this.eventTriggered = true;
    this.callback?.(this);
    return true;
  }

  /** Segments checked the way a scatterlist guarantees them (Linux would BUG on an empty list). */
  protected checkSgs(out: readonly Sg[], inn: readonly Sg[]): number {
    const total = out.length + inn.length;
    if (total === 0) throw new Error(`vq${this.index}: add: no segments (BUG_ON(total_sg == 0))`);
    for (let k = 0; k < total; k++) {
      const sg = k < out.length ? out[k] : inn[k - out.length];
      if (!Number.isInteger(sg.len) || sg.len < 0 || sg.len > 0xffff_ffff)
        throw new RangeError(`vq${this.index}: add: segment length ${sg.len} does not fit a descriptor's 32 bits`);
    }
    return total;
  }
}
