// The golden model of the device side of one virtqueue (either format): it finds the next available buffer,
// walks its descriptor chain (indirect tables included) and validates it as virtio 1.2 requires, moves data
// between the chain's buffers and the device, writes used elements, and decides, from the driver's event
// suppression, whether a used buffer notification must follow. It also runs the device's side of available
// buffer notification suppression. Every memory access goes through a DmaPort, so a run leaves a trace of
// exactly what the device read and wrote.
//
// The interface is the one an RTL queue engine will be compared on:
//   next()      -> the next available chain (segments, id, descriptors taken) | a RingError | null (nothing new)
//   readData / writeData(chain, ...) -> the data DMA of a request
//   complete(chain, len)  -> queue a used element
//   publish()   -> the used elements written, the index/flags that publish them, and the notification decision
import {
  DESC_SIZE,
  PACKED,
  PACKED_AVAIL,
  PACKED_USED,
  SPLIT,
  USED_ELEM_SIZE,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_PACKED_EVENT_F_WRAP_CTR,
  VRING_PACKED_EVENT_FLAG_DESC,
  VRING_PACKED_EVENT_FLAG_DISABLE,
  VRING_PACKED_EVENT_FLAG_ENABLE,
  VRING_USED_F_NO_NOTIFY,
  checkQueueSize,
  vringNeedEvent,
  type RingAddresses,
  type RingFeatures,
} from './defs';
import { le16, le32, le64, u16le, u32le, type DmaPort } from './dma';
import { DmaFault } from '../../pcie/hostmem';

/** The malformed-ring cases the model detects, each a violation of a virtio 1.2 driver requirement. */
export type RingErrorKind =
  /** split: avail->idx moved more than the queue size past the last buffer the device took. */
  | 'avail-idx-jump'
  /** split: an available ring entry names a descriptor outside the table. */
  | 'head-out-of-range'
  /** split: a next field outside the table (or outside the indirect table). */
  | 'next-out-of-range'
  /** a chain longer than the queue size (or an indirect chain longer than its table): a loop. */
  | 'chain-too-long'
  /** INDIRECT without VIRTIO_F_INDIRECT_DESC. */
  | 'indirect-not-negotiated'
  /** INDIRECT and NEXT both set. */
  | 'indirect-with-next'
  /** INDIRECT inside an indirect table. */
  | 'indirect-in-indirect'
  /** an indirect table whose length is 0 or not a multiple of 16. */
  | 'indirect-bad-length'
  /** a device-readable descriptor after a device-writable one. */
  | 'readable-after-writable'
  /** a chain of more than 2^32 bytes. */
  | 'chain-too-big'
  /** IN_ORDER: descriptors not used in ring order (split head or next, indirect next). */
  | 'in-order-violation'
  /** packed: a descriptor of a chain after the first is not available. */
  | 'desc-not-available'
  /** the device was asked to write a buffer it does not have room in, or completes out of order under IN_ORDER. */
  | 'device-misuse'
  /** a ring or buffer access outside memory granted to the device (UR / CA on a real bus). */
  | 'dma-fault'
  /** a buffer the device type cannot complete at all (e.g. virtio-blk without room for the status byte). */
  | 'bad-request';

export class RingError extends Error {
  constructor(
    readonly kind: RingErrorKind,
    readonly queue: number,
    /** Where: the ring position or descriptor. */
    readonly where: string,
    detail: string,
  ) {
    super(`virtqueue ${queue}: ${kind} at ${where}: ${detail}`);
    this.name = 'RingError';
  }
}

export interface ChainSegment {
  readonly addr: bigint;
  readonly len: number;
  /** Device-writable. */
  readonly write: boolean;
}

/** An available buffer as the device found it. */
export interface Chain {
  /** The id the used element must carry (split: the head's index; packed: the buffer id). */
  readonly id: number;
  /** split: the available ring index it came from; packed: the ring position of its first descriptor. */
  readonly avail: number;
  /** Ring descriptors it occupies (1 for an indirect buffer): how far a packed device skips. */
  readonly descs: number;
  readonly indirect: boolean;
  readonly segments: readonly ChainSegment[];
  readonly readable: number;
  readonly writable: number;
}

/** A used element the device wrote. */
export interface UsedElement {
  readonly id: number;
  readonly len: number;
  /** split: used ring index (16-bit); packed: ring position. */
  readonly at: number;
  /** Buffers it returns (more than one for an IN_ORDER batch). */
  readonly buffers: number;
}

export interface PublishResult {
  readonly used: readonly UsedElement[];
  /** Whether the driver's event suppression requires a used buffer notification now. */
  readonly notify: boolean;
}

export interface DeviceQueueOptions {
  readonly index?: number;
  readonly ring: RingAddresses;
  readonly features: RingFeatures;
  readonly dma: DmaPort;
}

const WRAP = 1 << VRING_PACKED_EVENT_F_WRAP_CTR;
const TWO_POW_32 = 2 ** 32;

interface RawDesc {
  addr: bigint;
  len: number;
  /** split: next; packed: buffer id. */
  nextOrId: number;
  flags: number;
}

/**
 * Where bytes [off, off + len) of a chain's device-writable (or device-readable) bytes are: one piece per
 * descriptor they touch (host address, position in the range, length), in chain order, empty ones left out.
 */
export function chainPieces(
  chain: Pick<Chain, 'segments'>,
  write: boolean,
  off: number,
  len: number,
): { addr: bigint; pos: number; n: number }[] {
  const out: { addr: bigint; pos: number; n: number }[] = [];
  let skip = off;
  let pos = 0;
  for (const s of chain.segments) {
    if (s.write !== write || pos >= len) continue;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, len - pos);
    out.push({ addr: s.addr + BigInt(skip), pos, n });
    pos += n;
    skip = 0;
  }
  return out;
}

export class DeviceQueue {
  readonly index: number;
  readonly num: number;
  readonly features: RingFeatures;
  private readonly ring: RingAddresses;
  private readonly dma: DmaPort;
  /** The error that stopped the queue (a device needing reset). */
  failed: RingError | undefined;
  // Available side.
  /** split: the next available ring index to read (16-bit). packed: the next ring position. */
  private lastAvail = 0;
  /** packed: the driver wrap counter expected at lastAvail. */
  private availWrap = 1;
  /** IN_ORDER split: the head the next buffer must start at. */
  private expectHead = 0;
  // Used side.
  /** split: used->idx as the device last wrote it. packed: the next used position. */
  private usedIdx = 0;
  private usedWrap = 1;
  /** Chains taken and not yet completed, oldest first (IN_ORDER requires completion in this order). */
  private readonly inflight: Chain[] = [];
  private readonly pending: { chain: Chain; len: number }[] = [];
  /** Whether the device currently asks for available buffer notifications. */
  notifyEnabled = true;
  /** Used positions published since the last notification decision. */
  private unsignalled = 0;

  constructor(opts: DeviceQueueOptions) {
    checkQueueSize(opts.ring.num, opts.features.packed);
    this.index = opts.index ?? 0;
    this.num = opts.ring.num;
    this.ring = opts.ring;
    this.features = opts.features;
    this.dma = opts.dma;
  }

  /** Chains taken and not completed. */
  get inflightCount(): number {
    return this.inflight.length;
  }

  // ---- memory helpers ----

  private rd(addr: bigint, len: number, purpose: Parameters<DmaPort['read']>[2]): Uint8Array {
    return this.dma.read(addr, len, purpose, this.index);
  }
  private wr(addr: bigint, data: Uint8Array, purpose: Parameters<DmaPort['write']>[2]): void {
    this.dma.write(addr, data, purpose, this.index);
  }

  private fail(kind: RingErrorKind, where: string, detail: string): RingError {
    this.failed = new RingError(kind, this.index, where, detail);
    return this.failed;
  }

  /** Runs `f`, turning a DMA fault into the queue's failure. */
  private guard<R>(where: string, f: () => R): R | RingError {
    try {
      return f();
    } catch (e) {
      if (e instanceof RingError) return e;
      if (e instanceof DmaFault) return this.fail('dma-fault', where, e.message);
      throw e;
    }
  }

  // ---- available side ----

  /** Whether a new buffer is available (reads avail->idx, or the next packed descriptor's flags). */
  hasAvailable(): boolean {
    if (this.failed) return false;
    const r = this.guard('avail', () => {
      if (this.features.packed) {
        const f = le16(this.rd(this.descAddr(this.lastAvail) + BigInt(PACKED.flags), 2, 'desc'));
        return this.packedAvailable(f, this.availWrap);
      }
      return le16(this.rd(this.ring.driver + BigInt(SPLIT.availIdx), 2, 'avail-idx')) !== this.lastAvail;
    });
    return r === true;
  }

  /** Takes the next available buffer: its chain, a RingError (the queue stops), or null when there is none. */
  next(): Chain | RingError | null {
    if (this.failed) return this.failed;
    const r = this.guard(`avail ${this.lastAvail}`, () =>
      this.features.packed ? this.nextPacked() : this.nextSplit(),
    );
    if (r instanceof RingError) return (this.failed ??= r);
    if (r) this.inflight.push(r);
    return r;
  }

  private descAddr(i: number): bigint {
    return this.ring.desc + BigInt(DESC_SIZE * i);
  }

  private static parse(b: Uint8Array, o = 0): RawDesc {
    return { addr: le64(b, o), len: le32(b, o + 8), nextOrId: le16(b, o + 14), flags: le16(b, o + 12) };
  }

  private static parsePacked(b: Uint8Array, o = 0): RawDesc {
    return {
      addr: le64(b, o),
      len: le32(b, o + 8),
      nextOrId: le16(b, o + PACKED.id),
      flags: le16(b, o + PACKED.flags),
    };
  }

  private nextSplit(): Chain | RingError | null {
    const availIdx = le16(this.rd(this.ring.driver + BigInt(SPLIT.availIdx), 2, 'avail-idx'));
    const ahead = (availIdx - this.lastAvail) & 0xffff;
    if (ahead === 0) return null;
    if (ahead > this.num)
      return this.fail(
        'avail-idx-jump',
        `avail idx ${availIdx}`,
        `${ahead} buffers past ${this.lastAvail} in a queue of ${this.num}`,
      );
    // Ring entries are read after avail->idx (the device's read barrier).
    const slot = this.lastAvail & (this.num - 1);
    const head = le16(this.rd(this.ring.driver + BigInt(SPLIT.availRing(slot)), 2, 'avail-ring'));
    const where = `avail ${this.lastAvail} (head ${head})`;
    if (head >= this.num) return this.fail('head-out-of-range', where, `head ${head} in a queue of ${this.num}`);
    if (this.features.inOrder && head !== this.expectHead)
      return this.fail(
        'in-order-violation',
        where,
        `head ${head}, descriptors must be used in ring order from ${this.expectHead}`,
      );
    const segs: ChainSegment[] = [];
    let i = head;
    let descs = 0;
    let indirect = false;
    for (;;) {
      if (++descs > this.num) return this.fail('chain-too-long', where, `more than ${this.num} descriptors: a loop`);
      const d = DeviceQueue.parse(this.rd(this.descAddr(i), DESC_SIZE, 'desc'));
      if (d.flags & VRING_DESC_F_INDIRECT) {
        const e = this.walkSplitIndirect(d, `${where} desc ${i}`, segs);
        if (e) return e;
        indirect = true;
        break;
      }
      const e = this.addSeg(segs, d, `${where} desc ${i}`);
      if (e) return e;
      if (!(d.flags & VRING_DESC_F_NEXT)) break;
      if (d.nextOrId >= this.num)
        return this.fail('next-out-of-range', `${where} desc ${i}`, `next ${d.nextOrId} in a queue of ${this.num}`);
      if (this.features.inOrder && d.nextOrId !== (i + 1) % this.num)
        return this.fail(
          'in-order-violation',
          `${where} desc ${i}`,
          `next ${d.nextOrId}, expected ${(i + 1) % this.num}`,
        );
      i = d.nextOrId;
    }
    const chain = this.makeChain(head, this.lastAvail, descs, indirect, segs);
    if (chain instanceof RingError) return chain;
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    if (this.features.inOrder) this.expectHead = (head + descs) % this.num;
    return chain;
  }

  /** The checks of a descriptor that refers to an indirect table (either format). */
  private checkIndirect(d: RawDesc, where: string): RingError | undefined {
    if (!this.features.indirect)
      return this.fail('indirect-not-negotiated', where, 'INDIRECT set without VIRTIO_F_INDIRECT_DESC');
    if (d.flags & VRING_DESC_F_NEXT) return this.fail('indirect-with-next', where, 'INDIRECT and NEXT both set');
    if (d.len === 0 || d.len % DESC_SIZE)
      return this.fail('indirect-bad-length', where, `table of ${d.len} bytes (a multiple of ${DESC_SIZE} > 0)`);
    // "A driver MUST NOT create a descriptor chain longer than the Queue Size": a longer table is refused before
    // it is fetched (a 4 GB table would otherwise be a 4 GB read).
    if (d.len / DESC_SIZE > this.num)
      return this.fail(
        'chain-too-long',
        where,
        `indirect table of ${d.len / DESC_SIZE} entries in a queue of ${this.num}`,
      );
    return undefined;
  }

  private walkSplitIndirect(d: RawDesc, where: string, segs: ChainSegment[]): RingError | undefined {
    const e = this.checkIndirect(d, where);
    if (e) return e;
    const n = d.len / DESC_SIZE;
    // The whole table in one read (a device fetches it as a block; the spec orders nothing inside it).
    const table = this.rd(d.addr, d.len, 'indirect');
    let j = 0;
    for (let count = 1; ; count++) {
      if (count > n) return this.fail('chain-too-long', `${where} indirect`, `more than ${n} entries: a loop`);
      const x = DeviceQueue.parse(table, DESC_SIZE * j);
      const w = `${where} indirect ${j}`;
      if (x.flags & VRING_DESC_F_INDIRECT)
        return this.fail('indirect-in-indirect', w, 'INDIRECT inside an indirect table');
      const e2 = this.addSeg(segs, x, w);
      if (e2) return e2;
      if (!(x.flags & VRING_DESC_F_NEXT)) return undefined;
      if (x.nextOrId >= n) return this.fail('next-out-of-range', w, `next ${x.nextOrId} in a table of ${n}`);
      if (this.features.inOrder && x.nextOrId !== j + 1)
        return this.fail('in-order-violation', w, `next ${x.nextOrId}, indirect entries must be sequential`);
      j = x.nextOrId;
    }
  }

  private addSeg(segs: ChainSegment[], d: RawDesc, where: string): RingError | undefined {
    const write = (d.flags & VRING_DESC_F_WRITE) !== 0;
    if (!write && segs.length && segs[segs.length - 1].write)
      return this.fail('readable-after-writable', where, 'a device-readable descriptor after a device-writable one');
    segs.push({ addr: d.addr, len: d.len, write });
    return undefined;
  }

  private makeChain(
    id: number,
    avail: number,
    descs: number,
    indirect: boolean,
    segs: ChainSegment[],
  ): Chain | RingError {
    let readable = 0;
    let writable = 0;
    for (const s of segs) {
      if (s.write) writable += s.len;
      else readable += s.len;
    }
    if (readable + writable > TWO_POW_32)
      return this.fail('chain-too-big', `avail ${avail}`, `${readable + writable} bytes (at most 2^32)`);
    return { id, avail, descs, indirect, segments: segs, readable, writable };
  }

  private packedAvailable(flags: number, wrap: number): boolean {
    const avail = (flags & PACKED_AVAIL) !== 0 ? 1 : 0;
    const used = (flags & PACKED_USED) !== 0 ? 1 : 0;
    return avail === wrap && used !== wrap;
  }

  private nextPacked(): Chain | RingError | null {
    const start = this.lastAvail;
    let pos = start;
    let wrap = this.availWrap;
    const segs: ChainSegment[] = [];
    let descs = 0;
    let indirect = false;
    let id: number;
    for (;;) {
      const where = `desc ${pos}`;
      const d = DeviceQueue.parsePacked(this.rd(this.descAddr(pos), DESC_SIZE, 'desc'));
      if (!this.packedAvailable(d.flags, wrap)) {
        if (descs === 0) return null;
        return this.fail(
          'desc-not-available',
          where,
          `descriptor ${descs + 1} of the chain at ${start} is not available (flags 0x${d.flags.toString(16)})`,
        );
      }
      if (++descs > this.num) return this.fail('chain-too-long', where, `more than ${this.num} descriptors`);
      id = d.nextOrId;
      if (d.flags & VRING_DESC_F_INDIRECT) {
        const e = this.walkPackedIndirect(d, where, segs);
        if (e) return e;
        indirect = true;
      } else {
        const e = this.addSeg(segs, d, where);
        if (e) return e;
      }
      if (++pos >= this.num) {
        pos = 0;
        wrap ^= 1;
      }
      if (!(d.flags & VRING_DESC_F_NEXT)) break;
    }
    if (this.features.inOrder && id !== start)
      return this.fail(
        'in-order-violation',
        `desc ${start}`,
        `buffer id ${id}, IN_ORDER ids are the head's position ${start}`,
      );
    const chain = this.makeChain(id, start, descs, indirect, segs);
    if (chain instanceof RingError) return chain;
    this.lastAvail = pos;
    this.availWrap = wrap;
    return chain;
  }

  private walkPackedIndirect(d: RawDesc, where: string, segs: ChainSegment[]): RingError | undefined {
    const e = this.checkIndirect(d, where);
    if (e) return e;
    const n = d.len / DESC_SIZE;
    const table = this.rd(d.addr, d.len, 'indirect');
    // A packed indirect table is a plain array of len / 16 descriptors (no next fields to follow).
    for (let j = 0; j < n; j++) {
      const x = DeviceQueue.parsePacked(table, DESC_SIZE * j);
      const w = `${where} indirect ${j}`;
      if (x.flags & VRING_DESC_F_INDIRECT)
        return this.fail('indirect-in-indirect', w, 'INDIRECT inside an indirect table');
      const e2 = this.addSeg(segs, x, w);
      if (e2) return e2;
    }
    return undefined;
  }

  // ---- data ----

  /** Reads `len` bytes at offset `off` of the chain's device-readable bytes (throws RingError 'dma-fault'). */
  readData(chain: Chain, off: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.scatter(chain, false, off, len, (addr, pos, n) => out.set(this.rd(addr, n, 'data'), pos));
    return out;
  }

  /** Writes `data` at offset `off` of the chain's device-writable bytes. */
  writeData(chain: Chain, off: number, data: Uint8Array): void {
    this.scatter(chain, true, off, data.length, (addr, pos, n) => this.wr(addr, data.subarray(pos, pos + n), 'data'));
  }

  private scatter(
    chain: Chain,
    write: boolean,
    off: number,
    len: number,
    f: (addr: bigint, pos: number, n: number) => void,
  ): void {
    const room = write ? chain.writable : chain.readable;
    if (off < 0 || off + len > room)
      throw new RingError(
        'device-misuse',
        this.index,
        `buffer ${chain.id}`,
        `${len} bytes at ${off} of ${room} ${write ? 'writable' : 'readable'} bytes`,
      );
    for (const p of chainPieces(chain, write, off, len)) {
      try {
        f(p.addr, p.pos, p.n);
      } catch (e) {
        // A buffer outside granted memory (UR / CA on the bus): the queue stops, the caller sees the error.
        if (e instanceof DmaFault) throw this.fail('dma-fault', `buffer ${chain.id}`, e.message);
        throw e;
      }
    }
  }

  // ---- used side ----

  /** The device cannot complete `chain` at all: the queue stops (the device needs reset). */
  abort(chain: Chain, detail: string): RingError {
    const k = this.inflight.indexOf(chain);
    if (k >= 0) this.inflight.splice(k, 1);
    return this.fail('bad-request', `buffer ${chain.id}`, detail);
  }

  /** Queues the used element of `chain` (`len`: bytes written); publish() writes it. */
  complete(chain: Chain, len: number): void {
    const k = this.inflight.indexOf(chain);
    if (k < 0) throw new RingError('device-misuse', this.index, `buffer ${chain.id}`, 'completed twice or never taken');
    if (this.features.inOrder && k !== 0)
      throw new RingError(
        'device-misuse',
        this.index,
        `buffer ${chain.id}`,
        'IN_ORDER: completed before older buffers',
      );
    if (len < 0 || len > chain.writable)
      throw new RingError(
        'device-misuse',
        this.index,
        `buffer ${chain.id}`,
        `used length ${len} of ${chain.writable} writable bytes`,
      );
    this.inflight.splice(k, 1);
    this.pending.push({ chain, len });
  }

  /**
   * Writes the queued used elements, then what publishes them (split: used->idx; packed: each element's flags
   * last), then reads the driver's event suppression to decide on a notification (publishUsed() then
   * notifyDecision()). With `batch` (IN_ORDER only) the queued buffers go back as one element carrying the last
   * one's id and length.
   */
  publish(opts: { batch?: boolean } = {}): PublishResult {
    const used = this.publishUsed(opts);
    return { used, notify: used.length > 0 && this.notifyDecision() };
  }

  /** The first half of publish(): the used elements and what publishes them, no notification decision yet. */
  publishUsed(opts: { batch?: boolean } = {}): UsedElement[] {
    const items = this.pending.splice(0);
    if (items.length === 0 || this.failed) return [];
    if (opts.batch && !this.features.inOrder)
      throw new RingError('device-misuse', this.index, 'publish', 'batched used elements need IN_ORDER');
    const groups = opts.batch ? [items] : items.map((x) => [x]);
    const r = this.guard('used', () =>
      this.features.packed ? this.writeUsedPacked(groups) : this.writeUsedSplit(groups),
    );
    if (r instanceof RingError) {
      this.failed ??= r;
      return [];
    }
    return r;
  }

  /**
   * Whether the used elements published since the last decision require a used buffer notification, from the
   * driver's suppression as it reads now: split avail->flags, or used_event with EVENT_IDX ("the device MUST send
   * a notification" when the used idx passes it); packed the driver event structure (ENABLE, DISABLE, or DESC:
   * did the used position pass off_wrap, computed as the driver computes kicks and vhost interrupts).
   */
  notifyDecision(): boolean {
    const advanced = this.unsignalled;
    this.unsignalled = 0;
    if (advanced === 0 || this.failed) return false;
    const r = this.guard('event suppression', () => {
      if (!this.features.packed) {
        if (this.features.eventIdx) {
          const ev = le16(this.rd(this.ring.driver + BigInt(SPLIT.usedEvent(this.num)), 2, 'used-event'));
          return vringNeedEvent(ev, this.usedIdx, (this.usedIdx - advanced) & 0xffff);
        }
        const flags = le16(this.rd(this.ring.driver + BigInt(SPLIT.availFlags), 2, 'avail-flags'));
        return !(flags & VRING_AVAIL_F_NO_INTERRUPT);
      }
      const ev = le32(this.rd(this.ring.driver, 4, 'driver-event'));
      const flags = ev >>> 16;
      if (flags === VRING_PACKED_EVENT_FLAG_DESC && this.features.eventIdx) {
        const offWrap = ev & 0xffff;
        let event = offWrap & (WRAP - 1);
        if (offWrap >> VRING_PACKED_EVENT_F_WRAP_CTR !== this.usedWrap) event = (event - this.num) & 0xffff;
        return vringNeedEvent(event, this.usedIdx, (this.usedIdx - advanced) & 0xffff);
      }
      // DESC without EVENT_IDX is reserved: treated as enabled.
      return flags !== VRING_PACKED_EVENT_FLAG_DISABLE;
    });
    if (r instanceof RingError) return false;
    return r;
  }

  private writeUsedSplit(groups: { chain: Chain; len: number }[][]): UsedElement[] {
    const used: UsedElement[] = [];
    let idx = this.usedIdx;
    for (const g of groups) {
      const last = g[g.length - 1];
      const slot = idx & (this.num - 1);
      const e = new Uint8Array(USED_ELEM_SIZE);
      e.set(u32le(last.chain.id), 0);
      e.set(u32le(last.len), 4);
      this.wr(this.ring.device + BigInt(SPLIT.usedRing(slot)), e, 'used-elem');
      used.push({ id: last.chain.id, len: last.len, at: idx, buffers: g.length });
      idx = (idx + g.length) & 0xffff;
      this.unsignalled += g.length;
    }
    // used->idx after the elements (the device's write barrier).
    this.wr(this.ring.device + BigInt(SPLIT.usedIdx), u16le(idx), 'used-idx');
    this.usedIdx = idx;
    return used;
  }

  private writeUsedPacked(groups: { chain: Chain; len: number }[][]): UsedElement[] {
    const used: UsedElement[] = [];
    for (const g of groups) {
      const last = g[g.length - 1];
      const at = this.usedIdx;
      const d = this.descAddr(at);
      this.wr(d + BigInt(PACKED.len), u32le(last.len), 'used-elem');
      this.wr(d + BigInt(PACKED.id), u16le(last.chain.id), 'used-elem');
      // Used: AVAIL and USED both equal to the used wrap counter; WRITE when the length means something.
      const flags = (this.usedWrap ? PACKED_AVAIL | PACKED_USED : 0) | (last.len ? VRING_DESC_F_WRITE : 0);
      this.wr(d + BigInt(PACKED.flags), u16le(flags), 'used-elem');
      used.push({ id: last.chain.id, len: last.len, at, buffers: g.length });
      // The next used descriptor goes past every descriptor the buffers took.
      const skip = g.reduce((a, x) => a + x.chain.descs, 0);
      this.unsignalled += skip;
      this.usedIdx += skip;
      if (this.usedIdx >= this.num) {
        this.usedIdx -= this.num;
        this.usedWrap ^= 1;
      }
    }
    return used;
  }

  // ---- available buffer notification suppression (the device's side) ----

  /**
   * Asks for available buffer notifications (kicks) or not: split without EVENT_IDX through used->flags; with it
   * through avail_event (set to the next index the device will read; disabling writes nothing, as QEMU does);
   * packed through the device event structure (DESC at the next position with EVENT_IDX, else ENABLE / DISABLE).
   */
  setNotify(enabled: boolean): void {
    this.notifyEnabled = enabled;
    this.guard('notify suppression', () => {
      if (this.features.packed) {
        if (!enabled) this.wr(this.ring.device + 2n, u16le(VRING_PACKED_EVENT_FLAG_DISABLE), 'device-event');
        else if (this.features.eventIdx) {
          this.wr(
            this.ring.device,
            u16le(this.lastAvail | (this.availWrap << VRING_PACKED_EVENT_F_WRAP_CTR)),
            'device-event',
          );
          this.wr(this.ring.device + 2n, u16le(VRING_PACKED_EVENT_FLAG_DESC), 'device-event');
        } else this.wr(this.ring.device + 2n, u16le(VRING_PACKED_EVENT_FLAG_ENABLE), 'device-event');
      } else if (this.features.eventIdx) {
        if (enabled)
          this.wr(this.ring.device + BigInt(SPLIT.availEvent(this.num)), u16le(this.lastAvail), 'avail-event');
      } else
        this.wr(this.ring.device + BigInt(SPLIT.usedFlags), u16le(enabled ? 0 : VRING_USED_F_NO_NOTIFY), 'used-flags');
    });
  }

  /** Back to the state after queue enable (device reset or queue reset). */
  reset(): void {
    this.failed = undefined;
    this.lastAvail = 0;
    this.availWrap = 1;
    this.expectHead = 0;
    this.usedIdx = 0;
    this.usedWrap = 1;
    this.inflight.length = 0;
    this.pending.length = 0;
    this.notifyEnabled = true;
    this.unsignalled = 0;
  }
}
