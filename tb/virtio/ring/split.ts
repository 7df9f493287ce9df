// The split ring, driver side, as drivers/virtio/virtio_ring.c's *_split functions do it: a free list of
// descriptors threaded through desc_extra[].next, heads published in the available ring and made visible by
// avail->idx, used elements read after used->idx (virtio_rmb), used_event / avail->flags for used buffer
// notifications and avail_event / used->flags for kicks. IN_ORDER follows Jason Wang's "virtio_ring: add in order
// support" series (descriptors consumed in ring order, one used element may stand for a batch of buffers).
import type { Region } from '../../pcie/hostmem';
import {
  DESC_SIZE,
  SPLIT,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_USED_F_NO_NOTIFY,
  vringNeedEvent,
  type Sg,
} from './defs';
import { VirtqueueBase, type AddResult, type UsedBuffer, type VirtqueueOptions } from './virtqueue';

interface DescState<T> {
  data: T | undefined;
  /** The indirect table (kmalloc'ed, then DMA-mapped), if the buffer used one. */
  indir: Region | undefined;
  /** IN_ORDER: the buffer's total length, reported for buffers a batched used element stands for. */
  totalLen: number;
  /** IN_ORDER: descriptors the buffer took (detach_buf_split_in_order walks them again). */
  descs: number;
}

interface DescExtra {
  addr: bigint;
  len: number;
  flags: number;
  next: number;
}

export class SplitVirtqueue<T> extends VirtqueueBase<T> {
  readonly packed = false;
  private readonly desc: bigint;
  private readonly avail: bigint;
  private readonly used: bigint;
  private availFlagsShadow = 0;
  private availIdxShadow = 0;
  private readonly state: DescState<T>[];
  private readonly extra: DescExtra[];
  /** IN_ORDER: the used element of the batch being handed out (vq->batch_last), if any. */
  private batchLast: { id: number; len: number } | undefined;

  constructor(opts: VirtqueueOptions<T>) {
    super(opts, false);
    this.desc = opts.ring.desc;
    this.avail = opts.ring.driver;
    this.used = opts.ring.device;
    this.state = Array.from({ length: this.num }, () => ({ data: undefined, indir: undefined, totalLen: 0, descs: 0 }));
    // vring_alloc_desc_extra: next = i + 1, the last wrapping to 0 (what IN_ORDER's "next is x + 1" needs).
    this.extra = Array.from({ length: this.num }, (_, i) => ({ addr: 0n, len: 0, flags: 0, next: (i + 1) % this.num }));
    this.initShadows();
  }

  /** virtqueue_vring_init_split: no callback, tell the other side not to bother us. */
  private initShadows(): void {
    this.availFlagsShadow = 0;
    this.availIdxShadow = 0;
    if (!this.callback) {
      this.availFlagsShadow |= VRING_AVAIL_F_NO_INTERRUPT;
      if (!this.event) this.mem.writeU16(this.avail + BigInt(SPLIT.availFlags), this.availFlagsShadow);
    }
  }

  /** virtqueue_reinit_split: indices, flags and event fields zeroed, then the shadows as at creation. */
  protected reinit(): void {
    for (const a of [SPLIT.availFlags, SPLIT.availIdx, SPLIT.usedEvent(this.num)])
      this.mem.writeU16(this.avail + BigInt(a), 0);
    for (const a of [SPLIT.usedFlags, SPLIT.usedIdx, SPLIT.availEvent(this.num)])
      this.mem.writeU16(this.used + BigInt(a), 0);
    this.lastUsedIdx = 0;
    this.batchLast = undefined;
    // The free list survives (everything was detached onto it); IN_ORDER starts again at descriptor 0.
    if (this.inOrder) this.freeHead = 0;
    this.initShadows();
  }

  private descAddr(i: number): bigint {
    return this.desc + BigInt(SPLIT.desc(i));
  }

  /** virtqueue_add_desc_split into the ring (extra[] updated, next from the free list). */
  private addDescRing(i: number, addr: bigint, len: number, flags: number): number {
    const d = this.descAddr(i);
    this.mem.writeU16(d + 12n, flags);
    this.mem.writeU64(d, addr);
    this.mem.writeU32(d + 8n, len);
    const next = this.extra[i].next;
    this.mem.writeU16(d + 14n, next);
    const x = this.extra[i];
    x.addr = addr;
    x.len = len;
    x.flags = flags;
    return next;
  }

  add(out: readonly Sg[], inn: readonly Sg[], data: T): AddResult {
    const totalSg = this.checkSgs(out, inn);
    if (this.broken) return 'EIO';
    const head = this.freeHead;
    const indirect = this.useIndirect(totalSg);
    const descsUsed = indirect ? 1 : totalSg;
    if (this.numFreeV < descsUsed) {
      // "for historical reasons, we force a notify here if there are outgoing parts to the buffer"
      if (out.length) this.notify();
      return 'ENOSPC';
    }
    // segment j is out[j], then inn[j - out.length] (plain loops: this runs per request)
    let totalLen = 0;
    let table: Region | undefined;
    let i = head;
    let prev = head;
    if (indirect) {
      // alloc_indirect_split: next = i + 1 in every entry; the table is filled, then mapped for the device.
      const bytes = new Uint8Array(DESC_SIZE * totalSg);
      const v = new DataView(bytes.buffer);
      for (let j = 0; j < totalSg; j++) {
        const w = j >= out.length;
        const s = w ? inn[j - out.length] : out[j];
        const flags =
          j === totalSg - 1 ? (w ? VRING_DESC_F_WRITE : 0) : VRING_DESC_F_NEXT | (w ? VRING_DESC_F_WRITE : 0);
        v.setBigUint64(DESC_SIZE * j, s.addr, true);
        v.setUint32(DESC_SIZE * j + 8, s.len, true);
        v.setUint16(DESC_SIZE * j + 12, flags, true);
        v.setUint16(DESC_SIZE * j + 14, (j + 1) & 0xffff, true);
        totalLen += s.len;
      }
      table = this.mem.alloc(bytes.length, { align: 16, perm: 'ro', name: `vq${this.index}.indirect` });
      table.write(0, bytes);
      this.addDescRing(head, table.addr, bytes.length, VRING_DESC_F_INDIRECT);
    } else {
      for (let j = 0; j < totalSg; j++) {
        const w = j >= out.length;
        const s = w ? inn[j - out.length] : out[j];
        prev = i;
        i = this.addDescRing(i, s.addr, s.len, VRING_DESC_F_NEXT | (w ? VRING_DESC_F_WRITE : 0));
        totalLen += s.len;
      }
      // "Last one doesn't continue."
      const f = this.extra[prev].flags & ~VRING_DESC_F_NEXT;
      this.mem.writeU16(this.descAddr(prev) + 12n, f);
      this.extra[prev].flags = f;
    }
    this.numFreeV -= descsUsed;
    if (this.inOrder) this.freeHead = (this.freeHead + descsUsed) % this.num;
    else this.freeHead = indirect ? this.extra[head].next : i;
    const st = this.state[head];
    st.data = data;
    st.indir = table;
    st.totalLen = totalLen;
    st.descs = descsUsed;
    // The head goes in the available ring; avail->idx moves after it (virtio_wmb).
    const slot = this.availIdxShadow & (this.num - 1);
    this.mem.writeU16(this.avail + BigInt(SPLIT.availRing(slot)), head);
    this.availIdxShadow = (this.availIdxShadow + 1) & 0xffff;
    this.mem.writeU16(this.avail + BigInt(SPLIT.availIdx), this.availIdxShadow);
    this.numAdded++;
    this.observer?.added?.(this, data, out, inn, table);
    // "This is very unlikely, but theoretically possible. Kick just in case."
    if (this.numAdded === 0xffff) this.kick();
    return 'ok';
  }

  notificationData(): number {
    return ((this.availIdxShadow << 16) | this.index) >>> 0;
  }

  kickPrepare(): boolean {
    // virtio_mb: the available entries are exposed before avail_event / used->flags is read.
    const old = (this.availIdxShadow - this.numAdded) & 0xffff;
    const nw = this.availIdxShadow;
    this.numAdded = 0;
    if (this.event) return vringNeedEvent(this.mem.readU16(this.used + BigInt(SPLIT.availEvent(this.num))), nw, old);
    return !(this.mem.readU16(this.used + BigInt(SPLIT.usedFlags)) & VRING_USED_F_NO_NOTIFY);
  }

  /** detach_buf_split / detach_buf_split_in_order: the chain back on the free list, its indirect table freed. */
  private detach(head: number): void {
    const st = this.state[head];
    st.data = undefined;
    let i = head;
    // The chain is walked through the ring's own NEXT flags, as Linux does.
    while (this.mem.readU16(this.descAddr(i) + 12n) & VRING_DESC_F_NEXT) {
      i = this.inOrder ? (i + 1) % this.num : this.extra[i].next;
      this.numFreeV++;
    }
    if (!this.inOrder) {
      this.extra[i].next = this.freeHead;
      this.freeHead = head;
    }
    this.numFreeV++;
    if (st.indir) {
      this.mem.unmap(st.indir);
      st.indir = undefined;
    }
  }

  private moreUsedPlain(): boolean {
    return this.lastUsedIdx !== this.mem.readU16(this.used + BigInt(SPLIT.usedIdx));
  }

  moreUsed(): boolean {
    if (this.inOrder && this.batchLast) return true;
    return this.moreUsedPlain();
  }

  /** The next head IN_ORDER expects: the oldest buffer still out (descriptors are taken in ring order). */
  private inOrderNextHead(): number {
    return (this.freeHead + this.numFreeV) % this.num;
  }

  getBuf(): UsedBuffer<T> | null {
    if (this.broken) return null;
    const lastUsed = this.lastUsedIdx & (this.num - 1);
    // the used element's address (not a closure: tsx names every closure with a defineProperty, per call)
    const elem = this.used + BigInt(SPLIT.usedRing(lastUsed));
    let id: number;
    let len: number;
    let fromDevice = true;
    if (this.inOrder) {
      if (!this.batchLast) {
        if (!this.moreUsedPlain()) return null;
        // virtio_rmb: the element is read only after used->idx showed it.
        this.batchLast = { id: this.mem.readU32(elem), len: this.mem.readU32(elem + 4n) };
      }
      id = this.inOrderNextHead();
      if (this.batchLast.id === id) {
        len = this.batchLast.len;
        this.batchLast = undefined;
      } else {
        if (this.batchLast.id >= this.num) return this.badRing(`id ${this.batchLast.id} out of range`);
        len = this.state[id].totalLen;
        fromDevice = false;
      }
    } else {
      if (!this.moreUsedPlain()) return null;
      id = this.mem.readU32(elem);
      len = this.mem.readU32(elem + 4n);
      if (id >= this.num) return this.badRing(`id ${id} out of range`);
    }
    const data = this.state[id].data;
    if (data === undefined) return this.badRing(`id ${id} is not a head!`);
    this.detach(id);
    this.lastUsedIdx = (this.lastUsedIdx + 1) & 0xffff;
    // "If we expect an interrupt for the next entry, tell host by writing event index" (virtio_store_mb).
    if (!(this.availFlagsShadow & VRING_AVAIL_F_NO_INTERRUPT))
      this.mem.writeU16(this.avail + BigInt(SPLIT.usedEvent(this.num)), this.lastUsedIdx);
    this.observer?.returned?.(this, data, len, fromDevice);
    return { data, len, lenFromDevice: fromDevice };
  }

  disableCb(): void {
    if (this.availFlagsShadow & VRING_AVAIL_F_NO_INTERRUPT) return;
    this.availFlagsShadow |= VRING_AVAIL_F_NO_INTERRUPT;
    // "If device triggered an event already it won't trigger one again: no need to disable."
    if (this.eventTriggered) return;
    // With EVENT_IDX Linux writes used_event = 0 ("this is a hack").
    if (this.event) this.mem.writeU16(this.avail + BigInt(SPLIT.usedEvent(this.num)), 0);
    else this.mem.writeU16(this.avail + BigInt(SPLIT.availFlags), this.availFlagsShadow);
  }

  /** Clears NO_INTERRUPT in the shadow (and in avail->flags without EVENT_IDX). */
  private unsuppress(): void {
    if (!(this.availFlagsShadow & VRING_AVAIL_F_NO_INTERRUPT)) return;
    this.availFlagsShadow &= ~VRING_AVAIL_F_NO_INTERRUPT;
    if (!this.event) this.mem.writeU16(this.avail + BigInt(SPLIT.availFlags), this.availFlagsShadow);
  }

  protected enableCbPrepareFormat(): number {
    this.unsuppress();
    this.mem.writeU16(this.avail + BigInt(SPLIT.usedEvent(this.num)), this.lastUsedIdx);
    return this.lastUsedIdx;
  }

  protected pollFormat(lastUsedIdx: number): boolean {
    return (lastUsedIdx & 0xffff) !== this.mem.readU16(this.used + BigInt(SPLIT.usedIdx));
  }

  protected enableCbDelayedFormat(): boolean {
    this.unsuppress();
    // "TODO: tune this threshold": interrupt after 3/4 of the outstanding buffers.
    const bufs = Math.floor((((this.availIdxShadow - this.lastUsedIdx) & 0xffff) * 3) / 4);
    this.mem.writeU16(this.avail + BigInt(SPLIT.usedEvent(this.num)), (this.lastUsedIdx + bufs) & 0xffff);
    const usedIdx = this.mem.readU16(this.used + BigInt(SPLIT.usedIdx));
    return ((usedIdx - this.lastUsedIdx) & 0xffff) <= bufs;
  }

  detachUnusedBuf(): T | null {
    for (let i = 0; i < this.num; i++) {
      const data = this.state[i].data;
      if (data === undefined) continue;
      this.detach(i);
      this.availIdxShadow = (this.availIdxShadow - 1) & 0xffff;
      this.mem.writeU16(this.avail + BigInt(SPLIT.availIdx), this.availIdxShadow);
      this.observer?.returned?.(this, data, undefined, false);
      return data;
    }
    if (this.numFreeV !== this.num)
      throw new Error(`vq${this.index}: detach_unused_buf left ${this.num - this.numFreeV} descriptors`);
    return null;
  }
}
