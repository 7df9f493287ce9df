// The packed ring, driver side, as drivers/virtio/virtio_ring.c's *_packed functions do it: descriptors written
// in ring order with the avail/used flag bits of the driver's wrap counter, the head's flags written last
// (virtio_wmb), buffer ids from a free list threaded through desc_extra[].next, used descriptors found by their
// flags against the used wrap counter kept in bit 15 of last_used_idx, and the two event suppression structures
// (off_wrap, flags). IN_ORDER follows the "virtio_ring: add in order support" series: the buffer id is the
// head's ring position and one used descriptor may stand for a batch.
import type { Region } from '../../pcie/hostmem';
import {
  DESC_SIZE,
  PACKED,
  PACKED_AVAIL,
  PACKED_USED,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_PACKED_EVENT_F_WRAP_CTR,
  VRING_PACKED_EVENT_FLAG_DESC,
  VRING_PACKED_EVENT_FLAG_DISABLE,
  VRING_PACKED_EVENT_FLAG_ENABLE,
  vringNeedEvent,
  type Sg,
} from './defs';
import { VirtqueueBase, type AddResult, type UsedBuffer, type VirtqueueOptions } from './virtqueue';

interface DescState<T> {
  data: T | undefined;
  indir: Region | undefined;
  /** Descriptors the buffer took in the ring (1 with an indirect table). */
  num: number;
  /** The last desc_extra entry of the buffer's id list. */
  last: number;
  totalLen: number;
}

const WRAP_BIT = 1 << VRING_PACKED_EVENT_F_WRAP_CTR;
/** packed_used_wrap_counter / packed_last_used: last_used_idx keeps the used wrap counter in bit 15. */
const usedWrap = (lastUsedIdx: number): number => (lastUsedIdx >> VRING_PACKED_EVENT_F_WRAP_CTR) & 1;
const usedPos = (lastUsedIdx: number): number => lastUsedIdx & (WRAP_BIT - 1);

export class PackedVirtqueue<T> extends VirtqueueBase<T> {
  readonly packed = true;
  private readonly desc: bigint;
  /** Driver event suppression structure (the driver writes it). */
  private readonly driverEvent: bigint;
  /** Device event suppression structure (the device writes it). */
  private readonly deviceEvent: bigint;
  private availWrapCounter = 1;
  private availUsedFlags = PACKED_AVAIL;
  private nextAvailIdx = 0;
  private eventFlagsShadow = VRING_PACKED_EVENT_FLAG_ENABLE;
  private readonly state: DescState<T>[];
  /** desc_extra[].next: the free list of buffer ids. */
  private readonly extraNext: number[];
  private batchLast: { id: number; len: number } | undefined;

  constructor(opts: VirtqueueOptions<T>) {
    super(opts, true);
    this.desc = opts.ring.desc;
    this.driverEvent = opts.ring.driver;
    this.deviceEvent = opts.ring.device;
    this.state = Array.from({ length: this.num }, () => ({
      data: undefined,
      indir: undefined,
      num: 0,
      last: 0,
      totalLen: 0,
    }));
    this.extraNext = Array.from({ length: this.num }, (_, i) => (i + 1) % this.num);
    this.initState();
  }

  /** virtqueue_init's packed part and virtqueue_vring_init_packed. */
  private initState(): void {
    // The used wrap counter starts at 1, as the driver's.
    this.lastUsedIdx = WRAP_BIT;
    this.nextAvailIdx = 0;
    this.availWrapCounter = 1;
    this.availUsedFlags = PACKED_AVAIL;
    this.eventFlagsShadow = VRING_PACKED_EVENT_FLAG_ENABLE;
    if (!this.callback) {
      this.eventFlagsShadow = VRING_PACKED_EVENT_FLAG_DISABLE;
      this.mem.writeU16(this.driverEvent + 2n, this.eventFlagsShadow);
    }
  }

  /** virtqueue_reinit_packed: both event structures and the descriptor ring zeroed ("reset the desc.flags"). */
  protected reinit(): void {
    this.mem.fill(this.deviceEvent, 4);
    this.mem.fill(this.driverEvent, 4);
    this.mem.fill(this.desc, DESC_SIZE * this.num);
    this.batchLast = undefined;
    this.initState();
  }

  private d(i: number): bigint {
    return this.desc + BigInt(DESC_SIZE * i);
  }

  /** Past the end of the ring: back to 0 with both flag bits and the wrap counter flipped. */
  private advance(i: number): number {
    if (++i < this.num) return i;
    this.availUsedFlags ^= PACKED_AVAIL | PACKED_USED;
    this.availWrapCounter ^= 1;
    return 0;
  }

  add(out: readonly Sg[], inn: readonly Sg[], data: T): AddResult {
    const totalSg = this.checkSgs(out, inn);
    if (this.broken) return 'EIO';
    // segment c is out[c], then inn[c - out.length] (plain loops: this runs per request)
    let totalLen = 0;
    for (const s of out) totalLen += s.len;
    for (const s of inn) totalLen += s.len;
    const head = this.nextAvailIdx;
    if (this.useIndirect(totalSg)) return this.addIndirect(data, totalLen, out, inn);
    if (this.numFreeV < totalSg) return 'ENOSPC';
    const id = this.inOrder ? head : this.freeHead;
    let curr = id;
    let prev = id;
    let i = head;
    let headFlags = 0;
    for (let c = 0; c < totalSg; c++) {
      const w = c >= out.length;
      const s = w ? inn[c - out.length] : out[c];
      const flags = this.availUsedFlags | (c + 1 === totalSg ? 0 : VRING_DESC_F_NEXT) | (w ? VRING_DESC_F_WRITE : 0);
      if (i === head) headFlags = flags;
      else this.mem.writeU16(this.d(i) + BigInt(PACKED.flags), flags);
      this.mem.writeU64(this.d(i) + BigInt(PACKED.addr), s.addr);
      this.mem.writeU32(this.d(i) + BigInt(PACKED.len), s.len);
      this.mem.writeU16(this.d(i) + BigInt(PACKED.id), id);
      prev = curr;
      if (!this.inOrder) curr = this.extraNext[curr];
      i = this.advance(i);
    }
    this.numFreeV -= totalSg;
    this.nextAvailIdx = i;
    if (!this.inOrder) this.freeHead = curr;
    this.setState(id, totalSg, data, undefined, prev, totalLen);
    // "A driver MUST NOT make the first descriptor in the list available before all subsequent descriptors
    // comprising the list are made available." (virtio_wmb, then the head's flags)
    this.mem.writeU16(this.d(head) + BigInt(PACKED.flags), headFlags);
    this.numAdded += totalSg;
    this.observer?.added?.(this, data, out, inn, undefined);
    return 'ok';
  }

  /** virtqueue_add_indirect_packed */
  private addIndirect(data: T, totalLen: number, out: readonly Sg[], inn: readonly Sg[]): AddResult {
    const head = this.nextAvailIdx;
    if (this.numFreeV < 1) return 'ENOSPC';
    const id = this.inOrder ? head : this.freeHead;
    const n = out.length + inn.length;
    const bytes = new Uint8Array(DESC_SIZE * n);
    const v = new DataView(bytes.buffer);
    // Entries carry flags (WRITE or 0), addr and len; Linux leaves their id unset (kmalloc'ed): here 0.
    for (let j = 0; j < n; j++) {
      const w = j >= out.length;
      const s = w ? inn[j - out.length] : out[j];
      v.setBigUint64(DESC_SIZE * j + PACKED.addr, s.addr, true);
      v.setUint32(DESC_SIZE * j + PACKED.len, s.len, true);
      v.setUint16(DESC_SIZE * j + PACKED.flags, w ? VRING_DESC_F_WRITE : 0, true);
    }
    const table = this.mem.alloc(bytes.length, { align: 16, perm: 'ro', name: `vq${this.index}.indirect` });
    table.write(0, bytes);
    this.mem.writeU64(this.d(head) + BigInt(PACKED.addr), table.addr);
    this.mem.writeU32(this.d(head) + BigInt(PACKED.len), bytes.length);
    this.mem.writeU16(this.d(head) + BigInt(PACKED.id), id);
    this.mem.writeU16(this.d(head) + BigInt(PACKED.flags), VRING_DESC_F_INDIRECT | this.availUsedFlags);
    this.numFreeV -= 1;
    this.nextAvailIdx = this.advance(head);
    if (!this.inOrder) this.freeHead = this.extraNext[id];
    this.setState(id, 1, data, table, id, totalLen);
    this.numAdded += 1;
    this.observer?.added?.(this, data, out, inn, table);
    return 'ok';
  }

  private setState(id: number, num: number, data: T, indir: Region | undefined, last: number, totalLen: number): void {
    const st = this.state[id];
    st.num = num;
    st.data = data;
    st.indir = indir;
    st.last = last;
    st.totalLen = totalLen;
  }

  notificationData(): number {
    const next = (this.nextAvailIdx & 0x7fff) | (this.availWrapCounter << VRING_PACKED_EVENT_F_WRAP_CTR);
    return ((next << 16) | this.index) >>> 0;
  }

  kickPrepare(): boolean {
    // virtio_mb, then one 32-bit read of the device's event suppression structure (a consistent snapshot).
    const old = (this.nextAvailIdx - this.numAdded) & 0xffff;
    const nw = this.nextAvailIdx;
    this.numAdded = 0;
    const snapshot = this.mem.readU32(this.deviceEvent);
    const flags = snapshot >>> 16;
    if (flags !== VRING_PACKED_EVENT_FLAG_DESC) return flags !== VRING_PACKED_EVENT_FLAG_DISABLE;
    const offWrap = snapshot & 0xffff;
    const wrapCounter = offWrap >> VRING_PACKED_EVENT_F_WRAP_CTR;
    let eventIdx = offWrap & ~WRAP_BIT;
    if (wrapCounter !== this.availWrapCounter) eventIdx = (eventIdx - this.num) & 0xffff;
    return vringNeedEvent(eventIdx, nw, old);
  }

  /** is_used_desc_packed: avail == used == the wrap counter expected at that position. */
  private isUsedDesc(idx: number, wrap: number): boolean {
    const flags = this.mem.readU16(this.d(idx) + BigInt(PACKED.flags));
    const avail = (flags & PACKED_AVAIL) !== 0 ? 1 : 0;
    const used = (flags & PACKED_USED) !== 0 ? 1 : 0;
    return avail === used && used === wrap;
  }

  private moreUsedPlain(): boolean {
    return this.isUsedDesc(usedPos(this.lastUsedIdx), usedWrap(this.lastUsedIdx));
  }

  moreUsed(): boolean {
    if (this.inOrder && this.batchLast) return true;
    return this.moreUsedPlain();
  }

  /** detach_buf_packed(_in_order): the id back on the free list (not IN_ORDER), descriptors counted free. */
  private detach(id: number): void {
    const st = this.state[id];
    st.data = undefined;
    if (!this.inOrder) {
      this.extraNext[st.last] = this.freeHead;
      this.freeHead = id;
    }
    this.numFreeV += st.num;
    if (st.indir) {
      this.mem.unmap(st.indir);
      st.indir = undefined;
    }
  }

  getBuf(): UsedBuffer<T> | null {
    if (this.broken) return null;
    let pos = usedPos(this.lastUsedIdx);
    let wrap = usedWrap(this.lastUsedIdx);
    let id: number;
    let len: number;
    let fromDevice = true;
    if (this.inOrder) {
      if (!this.batchLast) {
        if (!this.moreUsedPlain()) return null;
        // virtio_rmb: id and len only after the flags showed the descriptor used.
        this.batchLast = {
          id: this.mem.readU16(this.d(pos) + BigInt(PACKED.id)),
          len: this.mem.readU32(this.d(pos) + BigInt(PACKED.len)),
        };
      }
      id = pos;
      if (this.batchLast.id === pos) {
        len = this.batchLast.len;
        this.batchLast = undefined;
      } else {
        if (this.batchLast.id >= this.num) return this.badRing(`id ${this.batchLast.id} out of range`);
        len = this.state[pos].totalLen;
        fromDevice = false;
      }
    } else {
      if (!this.moreUsedPlain()) return null;
      id = this.mem.readU16(this.d(pos) + BigInt(PACKED.id));
      len = this.mem.readU32(this.d(pos) + BigInt(PACKED.len));
      if (id >= this.num) return this.badRing(`id ${id} out of range`);
    }
    const data = this.state[id].data;
    if (data === undefined) return this.badRing(`id ${id} is not a head!`);
    this.detach(id);
    // The next used descriptor is past every descriptor of this buffer.
    pos += this.state[id].num;
    if (pos >= this.num) {
      pos -= this.num;
      wrap ^= 1;
    }
    this.lastUsedIdx = pos | (wrap << VRING_PACKED_EVENT_F_WRAP_CTR);
    if (this.eventFlagsShadow === VRING_PACKED_EVENT_FLAG_DESC) this.mem.writeU16(this.driverEvent, this.lastUsedIdx);
    this.observer?.returned?.(this, data, len, fromDevice);
    return { data, len, lenFromDevice: fromDevice };
  }

  disableCb(): void {
    if (this.eventFlagsShadow === VRING_PACKED_EVENT_FLAG_DISABLE) return;
    this.eventFlagsShadow = VRING_PACKED_EVENT_FLAG_DISABLE;
    if (this.eventTriggered) return;
    this.mem.writeU16(this.driverEvent + 2n, this.eventFlagsShadow);
  }

  /** Flags from DISABLE back to DESC (EVENT_IDX) or ENABLE, after off_wrap was written (virtio_wmb). */
  private reenable(): void {
    if (this.eventFlagsShadow !== VRING_PACKED_EVENT_FLAG_DISABLE) return;
    this.eventFlagsShadow = this.event ? VRING_PACKED_EVENT_FLAG_DESC : VRING_PACKED_EVENT_FLAG_ENABLE;
    this.mem.writeU16(this.driverEvent + 2n, this.eventFlagsShadow);
  }

  protected enableCbPrepareFormat(): number {
    if (this.event) this.mem.writeU16(this.driverEvent, this.lastUsedIdx);
    this.reenable();
    return this.lastUsedIdx;
  }

  protected pollFormat(offWrap: number): boolean {
    return this.isUsedDesc(usedPos(offWrap), usedWrap(offWrap));
  }

  protected enableCbDelayedFormat(): boolean {
    if (this.event) {
      // "TODO: tune this threshold": 3/4 of the descriptors in use, counted from the next used position.
      const bufs = Math.floor(((this.num - this.numFreeV) * 3) / 4);
      let wrap = usedWrap(this.lastUsedIdx);
      let pos = usedPos(this.lastUsedIdx) + bufs;
      if (pos >= this.num) {
        pos -= this.num;
        wrap ^= 1;
      }
      this.mem.writeU16(this.driverEvent, pos | (wrap << VRING_PACKED_EVENT_F_WRAP_CTR));
    }
    this.reenable();
    // virtio_mb: the suppression structure is written before the ring is checked again.
    return !this.moreUsedPlain();
  }

  detachUnusedBuf(): T | null {
    for (let i = 0; i < this.num; i++) {
      const data = this.state[i].data;
      if (data === undefined) continue;
      this.detach(i);
      this.observer?.returned?.(this, data, undefined, false);
      return data;
    }
    if (this.numFreeV !== this.num)
      throw new Error(`vq${this.index}: detach_unused_buf left ${this.num - this.numFreeV} descriptors`);
    return null;
  }
}
