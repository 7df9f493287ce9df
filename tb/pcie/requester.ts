/**
 * The root complex as requester: configuration reads/writes (type 0) and MMIO reads/writes
 * to the device, with tags it manages and completions matched by tag.
 *
 * Requests start at once and return a Pending handle; the pump completes it when the
 * device's completions arrive (or fails it on UR/CA, after bounded CRS retries, on poisoned
 * data, or on completion timeout). Large MMIO accesses are split as a real RC would: reads
 * at options.maxMmioRead (default the MRRS), writes at the device's MPS, neither across a 4 KB
 * boundary.
 */
import { ReadReassembly } from './completions';
import type { RcCore } from './core';
import { CompletionStatusError, RcTimeoutError, sketchRaw, type TlpContext } from './errors';
import type { RawTlp } from '../../sim/raw';
import {
  Attr,
  CplStatus,
  decodeTlp,
  describeTlp,
  formatPcieId,
  type CfgReadTlp,
  type CfgWriteTlp,
  type CplDTlp,
  type CplTlp,
  type MemReadTlp,
  type MemWriteTlp,
} from './tlp';

/** A request in flight; `done` once it completed or failed. */
export class Pending<T> {
  done = false;
  value?: T;
  error?: Error;
  /** Cycle it finished. */
  finishedAt?: number;
  private readonly listeners: ((p: Pending<T>) => void)[] = [];
  constructor(readonly what: string) {}
  /** The value, or throws the error; throws if not done yet. */
  result(): T {
    if (!this.done) throw new Error(`rc: ${this.what} has not completed yet (pump the RC, or use rc.wait())`);
    if (this.error) throw this.error;
    return this.value as T;
  }
  /** Called once when it finishes (at once if it already has). */
  then(f: (p: Pending<T>) => void): this {
    if (this.done) f(this);
    else this.listeners.push(f);
    return this;
  }
  /** @internal */
  resolve(v: T, cycle: number): void {
    if (this.done) return;
    this.done = true;
    this.value = v;
    this.finishedAt = cycle;
    for (const f of this.listeners.splice(0)) f(this);
  }
  /** @internal */
  reject(e: Error, cycle: number): void {
    if (this.done) return;
    this.done = true;
    this.error = e;
    this.finishedAt = cycle;
    for (const f of this.listeners.splice(0)) f(this);
  }
}

type Req = CfgReadTlp | CfgWriteTlp | MemReadTlp;

/** A completion as the raw request API hands it back. */
export type Completion = CplTlp | CplDTlp;

interface InFlight {
  tag: number;
  /** A description of the request, computed when a message needs it. */
  readonly desc: string;
  sentAt: number;
  deadline: number;
  finish(cpl: Completion | null, err: Error | null, cycle: number): void;
}

/** A request the RC built (config, MMIO read): its completions are checked against it. */
interface TypedRequest extends InFlight {
  kind: 'typed';
  tlp: Req;
  crsLeft: number;
  reasm?: ReadReassembly;
}

/** A request sent as given (rawRequest): its completions are collected unchecked. */
interface RawRequest extends InFlight {
  kind: 'raw';
  /** Takes a completion; true once it was the request's last. */
  collect(t: Completion): boolean;
}

type Outstanding = TypedRequest | RawRequest;

export interface RequesterStats {
  cfgReads: number;
  cfgWrites: number;
  mmioReads: number;
  mmioReadBytes: number;
  mmioWrites: number;
  mmioWriteBytes: number;
  crsRetries: number;
  timeouts: number;
}

const TAGS = 256;
const ADDRESS_LIMIT = 1n << 64n;

export class Requester {
  readonly stats: RequesterStats = {
    cfgReads: 0,
    cfgWrites: 0,
    mmioReads: 0,
    mmioReadBytes: 0,
    mmioWrites: 0,
    mmioWriteBytes: 0,
    crsRetries: 0,
    timeouts: 0,
  };
  private readonly slots: (Outstanding | undefined)[] = new Array(TAGS).fill(undefined);
  private nextTag = 0;
  /** The requests in flight (the non-empty slots), for cheap timeout scans. */
  private readonly live = new Set<Outstanding>();
  /** Requests waiting for a free tag, each a function that issues it. */
  private readonly queue: (() => void)[] = [];
  /** Tags whose request timed out: a late completion for them is reported as such. */
  private readonly timedOut = new Map<number, string>();

  constructor(private readonly rc: RcCore) {}

  /** Requests sent and not yet completed, plus those waiting for a tag. */
  get outstanding(): number {
    return this.live.size + this.queue.length;
  }

  // ---- configuration ----

  cfgRead(offset: number, size: 1 | 2 | 4 = 4): Pending<number> {
    const be = byteEnables(offset, size, 'config read');
    const p = new Pending<number>(`config read of ${size} byte${size > 1 ? 's' : ''} at 0x${offset.toString(16)}`);
    const tlp: CfgReadTlp = {
      type: 'CfgRd0',
      completerId: this.rc.opts.deviceId,
      offset: offset & 0xffc,
      firstBe: be,
      requesterId: this.rc.opts.rcId,
      tag: 0,
    };
    this.stats.cfgReads++;
    this.issue(tlp, this.rc.now, this.rc.opts.crsRetries, (cpl, err, cycle) => {
      if (err) return p.reject(err, cycle);
      const dw = cpl!.type === 'CplD' ? u32(cpl!.data) : 0;
      this.rc.shadow.noteRead(offset, dw, be);
      const shift = 8 * (offset & 3);
      p.resolve(size === 4 ? dw : (dw >>> shift) & ((1 << (8 * size)) - 1), cycle);
    });
    return p;
  }

  cfgWrite(offset: number, value: number, size: 1 | 2 | 4 = 4): Pending<void> {
    const be = byteEnables(offset, size, 'config write');
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** (8 * size))
      throw new RangeError(`rc: config write value ${value} does not fit ${size} byte(s)`);
    const p = new Pending<void>(`config write of ${size} byte${size > 1 ? 's' : ''} at 0x${offset.toString(16)}`);
    const dw = (value << (8 * (offset & 3))) >>> 0;
    const tlp: CfgWriteTlp = {
      type: 'CfgWr0',
      completerId: this.rc.opts.deviceId,
      offset: offset & 0xffc,
      firstBe: be,
      requesterId: this.rc.opts.rcId,
      tag: 0,
      data: new Uint8Array([dw & 0xff, (dw >>> 8) & 0xff, (dw >>> 16) & 0xff, dw >>> 24]),
    };
    this.rc.shadow.noteWrite(offset, be, dw, this.rc.now);
    this.stats.cfgWrites++;
    this.issue(tlp, this.rc.now, this.rc.opts.crsRetries, (_cpl, err, cycle) =>
      err ? p.reject(err, cycle) : p.resolve(undefined, cycle),
    );
    return p;
  }

  // ---- memory ----

  /** Reads `len` bytes at any alignment (0 = a zero-length read, used to flush posted writes). */
  memRead(addr: bigint, len: number): Pending<Uint8Array> {
    checkRange(addr, len);
    const p = new Pending<Uint8Array>(`MMIO read of ${len} byte${len === 1 ? '' : 's'} at 0x${addr.toString(16)}`);
    const out = new Uint8Array(len);
    const pieces = len === 0 ? [{ addr, len: 0 }] : splitAccess(addr, len, this.rc.opts.maxMmioRead);
    let left = pieces.length;
    this.stats.mmioReads += pieces.length;
    this.stats.mmioReadBytes += len;
    for (const piece of pieces) {
      const tlp = memReadTlp(piece.addr, piece.len, this.rc.opts.rcId);
      const reasm = new ReadReassembly(tlp, { rcb: this.rc.opts.deviceRcb, mps: this.rc.shadow.mps });
      this.issue(
        tlp,
        this.rc.now,
        0,
        (_cpl, err, cycle) => {
          if (p.done) return;
          if (err) return p.reject(err, cycle);
          if (piece.len > 0) out.set(reasm.data.subarray(0, piece.len), Number(piece.addr - addr));
          if (--left === 0) p.resolve(out, cycle);
        },
        reasm,
      );
    }
    return p;
  }

  /** Posted writes of `data` at any alignment, split at MPS and 4 KB. */
  memWrite(addr: bigint, data: Uint8Array): void {
    checkRange(addr, data.length);
    if (data.length === 0) throw new RangeError('rc: MMIO write of 0 bytes');
    for (const piece of splitAccess(addr, data.length, this.rc.shadow.mps)) {
      const off = Number(piece.addr - addr);
      const tlp = memWriteTlp(piece.addr, data.subarray(off, off + piece.len), this.rc.opts.rcId);
      this.rc.send(tlp);
      this.stats.mmioWrites++;
      this.stats.mmioWriteBytes += piece.len;
    }
  }

  // ---- completions from the device ----

  onCompletion(t: CplTlp | CplDTlp, cycle: number, ctx: TlpContext): void {
    const { rc } = this;
    const o = rc.opts;
    if (t.requesterId !== o.rcId) {
      rc.violation(
        'unexpected-completion',
        `completion for requester ${formatPcieId(t.requesterId)}, which is not the RC (${formatPcieId(o.rcId)})`,
        cycle,
        ctx,
      );
      return;
    }
    const slot = t.tag < TAGS ? this.slots[t.tag] : undefined;
    if (!slot) {
      const late = this.timedOut.get(t.tag);
      rc.violation(
        'unexpected-completion',
        late
          ? `completion for tag ${t.tag} after its request timed out (${late})`
          : `completion for tag ${t.tag}, which has no outstanding request`,
        cycle,
        ctx,
      );
      return;
    }
    if (slot.kind === 'raw') {
      if (slot.collect(t)) {
        this.release(slot);
        slot.finish(null, null, cycle);
      }
      return;
    }
    if (rc.shadow.idCaptured && t.completerId !== o.deviceId) {
      rc.violation(
        'completion-mismatch',
        `Completer ID ${formatPcieId(t.completerId)} is not the device's ${formatPcieId(o.deviceId)}`,
        cycle,
        ctx,
      );
    }
    // 2.2.9: a completion carries its request's TC and attributes (IDO excepted).
    const reqAttr = (slot.tlp.attr ?? 0) & 3;
    if ((t.tc ?? 0) !== (slot.tlp.tc ?? 0) || ((t.attr ?? 0) & 3) !== reqAttr) {
      rc.violation(
        'completion-mismatch',
        `TC ${t.tc ?? 0} / attributes ${(t.attr ?? 0) & 3} differ from the request's TC ${slot.tlp.tc ?? 0} / attributes ${reqAttr} (${slot.desc})`,
        cycle,
        ctx,
      );
    }
    if ((t.attr ?? 0) & Attr.IDO && !rc.shadow.idoCompletions) {
      rc.violation(
        'attributes',
        `${t.type} with attribute ID-Based Ordering (IDO Completion Enable is clear in Device Control 2)`,
        cycle,
        ctx,
      );
    }
    if (t.type === 'CplLk' || t.type === 'CplDLk') {
      rc.violation('completion-mismatch', `${t.type} for ${slot.desc}, which was not a locked read`, cycle, ctx);
      return;
    }

    const status = t.status;
    if (status === CplStatus.CRS) {
      if (slot.tlp.type === 'MRd') {
        rc.violation(
          'completion-mismatch',
          `CRS status for a memory read (${slot.desc}); only configuration requests may be completed with CRS`,
          cycle,
          ctx,
        );
      }
      this.release(slot);
      if (slot.crsLeft > 0 && slot.tlp.type !== 'MRd') {
        this.stats.crsRetries++;
        this.issue(slot.tlp, rc.now + o.crsDelay, slot.crsLeft - 1, slot.finish);
      } else {
        slot.finish(
          null,
          new CompletionStatusError('CRS', slot.desc, cycle, `still CRS after ${o.crsRetries} retries`),
          cycle,
        );
      }
      return;
    }
    if (status !== CplStatus.SC) {
      this.release(slot);
      slot.finish(null, new CompletionStatusError(status === CplStatus.UR ? 'UR' : 'CA', slot.desc, cycle), cycle);
      return;
    }

    if (slot.tlp.type === 'CfgRd0' || slot.tlp.type === 'CfgWr0') {
      const isRead = slot.tlp.type === 'CfgRd0';
      const problem =
        isRead && t.type !== 'CplD'
          ? 'a successful config read must be completed with a CplD'
          : !isRead && t.type !== 'Cpl'
            ? 'a config write must be completed with a Cpl (no data)'
            : t.type === 'CplD' && t.data.length !== 4
              ? `config read completed with ${t.data.length / 4} DW, expected 1`
              : t.byteCount !== 4
                ? `byte count ${t.byteCount}, expected 4 for a configuration request`
                : t.lowerAddress !== 0
                  ? `lower address 0x${t.lowerAddress.toString(16)}, expected 0 for a configuration request`
                  : null;
      this.release(slot);
      if (problem) {
        rc.violation('completion-mismatch', `${problem} (${slot.desc})`, cycle, ctx);
        slot.finish(null, new Error(`rc: ${slot.desc}: ${problem}`), cycle);
        return;
      }
      if (t.ep) return slot.finish(null, new CompletionStatusError('EP', slot.desc, cycle), cycle);
      slot.finish(t, null, cycle);
      return;
    }

    // Memory read.
    if (t.type !== 'CplD') {
      this.release(slot);
      rc.violation('completion-mismatch', `successful Cpl without data for ${slot.desc}`, cycle, ctx);
      slot.finish(null, new Error(`rc: ${slot.desc}: completed without data`), cycle);
      return;
    }
    const problem = slot.reasm!.accept(t);
    if (problem) {
      rc.violation(problem.code, `${problem.reason} (${slot.desc})`, cycle, ctx);
      return;
    }
    if (t.ep) {
      this.release(slot);
      slot.finish(null, new CompletionStatusError('EP', slot.desc, cycle), cycle);
      return;
    }
    if (slot.reasm!.done) {
      this.release(slot);
      slot.finish(t, null, cycle);
    }
  }

  /** Earliest completion deadline of the requests in flight (Infinity if none). */
  nextDeadline(): number {
    if (this.live.size === 0) return Infinity;
    let d = Infinity;
    for (const slot of this.live) if (slot.deadline < d) d = slot.deadline;
    return d;
  }

  /** Fails requests whose completion timeout passed. Returns how many. */
  checkTimeouts(now: number): number {
    if (this.live.size === 0) return 0;
    let expired: Outstanding[] | undefined;
    for (const slot of this.live) if (now >= slot.deadline) (expired ??= []).push(slot);
    if (!expired) return 0;
    let n = 0;
    for (const slot of expired) {
      n++;
      this.stats.timeouts++;
      this.release(slot);
      this.timedOut.set(slot.tag, `${slot.desc}, sent at cycle ${slot.sentAt}`);
      slot.finish(
        null,
        new RcTimeoutError(
          `completion of ${slot.desc} (tag ${slot.tag}, sent at cycle ${slot.sentAt})`,
          now,
          now - slot.sentAt,
        ),
        now,
      );
    }
    return n;
  }

  /** Sends queued requests now that tags are free. */
  drain(): void {
    while (this.queue.length && this.live.size < TAGS) this.queue.shift()!();
  }

  // ---- raw requests ----

  /**
   * Sends a non-posted request as given, with the RC's Requester ID and a tag of its own written into the
   * header, and collects its completions unchecked until the last one: any status other than SC, a Cpl, or a
   * CplD whose byte count fits in its payload. Fails with RcTimeoutError after `timeout` cycles.
   */
  rawRequest(raw: RawTlp, timeout: number): Pending<Completion[]> {
    const what = nonPostedRequest(raw);
    const p = new Pending<Completion[]>(`raw request ${what}`);
    const got: Completion[] = [];
    const start = (): void => {
      const tag = this.freeTag();
      const hdr = Uint32Array.from(raw.hdr);
      hdr[0] &= ~((1 << 23) | (1 << 19)); // Tag[9:8]: the RC's tags are 8-bit
      hdr[1] = ((this.rc.opts.rcId << 16) | (tag << 8) | (hdr[1] & 0xff)) >>> 0;
      const sent: RawTlp = { hdr, data: raw.data };
      const when = this.rc.now;
      this.track({
        kind: 'raw',
        tag,
        get desc() {
          return `raw request ${describeRaw(sent)}`;
        },
        sentAt: when,
        deadline: when + timeout,
        collect(t) {
          got.push(t);
          // Without data (an error status, or a write's completion) it is the only one.
          if (!('data' in t) || t.status !== CplStatus.SC) return true;
          return t.byteCount <= t.data.length - (t.lowerAddress & 3);
        },
        finish: (_cpl, err, cycle) => (err ? p.reject(err, cycle) : p.resolve(got, cycle)),
      });
      this.rc.sendRaw(sent, when);
    };
    if (this.live.size < TAGS) start();
    else this.queue.push(start);
    return p;
  }

  // ---- internals ----

  private issue(tlp: Req, at: number, crsLeft: number, finish: Outstanding['finish'], reasm?: ReadReassembly): void {
    if (this.live.size >= TAGS) {
      this.queue.push(() => this.issue(tlp, at, crsLeft, finish, reasm));
      return;
    }
    const tag = this.freeTag();
    const sent = { ...tlp, tag } as Req;
    const when = Math.max(at, this.rc.now);
    this.track({
      kind: 'typed',
      tag,
      tlp: sent,
      get desc() {
        return describeTlp(sent);
      },
      sentAt: when,
      deadline: when + this.rc.opts.completionTimeout,
      crsLeft,
      reasm,
      finish,
    });
    this.rc.send(sent, when);
  }

  /** The next free tag, round-robin (one must be free). */
  private freeTag(): number {
    let tag = this.nextTag;
    while (this.slots[tag]) tag = (tag + 1) % TAGS;
    this.nextTag = (tag + 1) % TAGS;
    return tag;
  }

  private track(slot: Outstanding): void {
    this.slots[slot.tag] = slot;
    this.timedOut.delete(slot.tag);
    this.live.add(slot);
  }

  private release(slot: Outstanding): void {
    if (this.slots[slot.tag] === slot) {
      this.slots[slot.tag] = undefined;
      this.live.delete(slot);
    }
  }
}

/** The request a raw TLP is, by its Fmt/Type; throws unless it is a non-posted request. */
function nonPostedRequest(raw: RawTlp): string {
  if (!(raw.hdr instanceof Uint32Array) || raw.hdr.length !== 4 || !(raw.data instanceof Uint32Array))
    throw new TypeError('rc: rawRequest: a raw TLP is { hdr: Uint32Array(4), data: Uint32Array }');
  const fmt = raw.hdr[0] >>> 29;
  const type = (raw.hdr[0] >>> 24) & 0x1f;
  const data = (fmt & 0b010) !== 0;
  const name =
    type === 0b00000 && !data
      ? 'MRd'
      : type === 0b00001 && !data
        ? 'MRdLk'
        : type === 0b00010
          ? data
            ? 'IOWr'
            : 'IORd'
          : type === 0b00100 || type === 0b00101
            ? `Cfg${data ? 'Wr' : 'Rd'}${type & 1}`
            : type >= 0b01100 && type <= 0b01110 && data
              ? ['FetchAdd', 'Swap', 'CAS'][type - 0b01100]
              : undefined;
  if (fmt >= 0b100 || name === undefined)
    throw new Error(
      `rc: rawRequest: Fmt=${fmt.toString(2).padStart(3, '0')}b Type=${type.toString(2).padStart(5, '0')}b is not a non-posted request (it gets no completion: use sendRaw)`,
    );
  return name;
}

/** A raw TLP for messages: decoded if it decodes (leniently), else sketched from its header. */
function describeRaw(raw: RawTlp): string {
  try {
    return describeTlp(decodeTlp(raw, { strict: false }));
  } catch {
    return sketchRaw(raw);
  }
}

// ---- request building helpers (exported for tests) ----

function u32(b: Uint8Array): number {
  return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
}

function byteEnables(offset: number, size: number, what: string): number {
  if (!Number.isInteger(offset) || offset < 0 || offset > 0xfff)
    throw new RangeError(`rc: ${what} offset 0x${offset.toString(16)} outside 0..0xfff`);
  if (size !== 1 && size !== 2 && size !== 4) throw new RangeError(`rc: ${what} size must be 1, 2 or 4, got ${size}`);
  if ((offset & 3) + size > 4)
    throw new RangeError(`rc: ${what} of ${size} bytes at 0x${offset.toString(16)} crosses a dword`);
  return ((1 << size) - 1) << (offset & 3);
}

function checkRange(addr: bigint, len: number): void {
  if (typeof addr !== 'bigint' || addr < 0n)
    throw new RangeError(`rc: address ${String(addr)} is not a non-negative bigint`);
  if (!Number.isSafeInteger(len) || len < 0) throw new RangeError(`rc: length ${len} is not a non-negative integer`);
  if (addr + BigInt(len) > ADDRESS_LIMIT)
    throw new RangeError(`rc: access of ${len} bytes at 0x${addr.toString(16)} runs past the 64-bit address space`);
}

/** Cuts [addr, addr+len) into pieces of at most `max` bytes, none crossing a 4 KB boundary. */
export function splitAccess(addr: bigint, len: number, max: number): { addr: bigint; len: number }[] {
  const out: { addr: bigint; len: number }[] = [];
  let a = addr;
  let left = len;
  while (left > 0) {
    const toPage = 4096 - Number(a & 0xfffn);
    // Keep pieces dword-aligned after the first, and at most `max` bytes of dwords.
    const dwBytes = max - Number(a & 3n);
    const n = Math.min(left, toPage, dwBytes);
    out.push({ addr: a, len: n });
    a += BigInt(n);
    left -= n;
  }
  return out;
}

/** Dword address, length and byte enables of a byte range (len 0: a zero-length read). */
export function byteRangeToDwords(
  addr: bigint,
  len: number,
): { address: bigint; length: number; firstBe: number; lastBe: number } {
  const address = addr & ~3n;
  if (len === 0) return { address, length: 1, firstBe: 0, lastBe: 0 };
  const lead = Number(addr & 3n);
  const length = Math.ceil((lead + len) / 4);
  const endOff = (lead + len - 1) % 4; // index of the last byte within the last dword
  const lastMask = (2 << endOff) - 1;
  const firstMask = (0xf << lead) & 0xf;
  if (length === 1) return { address, length, firstBe: firstMask & lastMask, lastBe: 0 };
  return { address, length, firstBe: firstMask, lastBe: lastMask };
}

export function memReadTlp(addr: bigint, len: number, requesterId: number): MemReadTlp {
  return { type: 'MRd', ...byteRangeToDwords(addr, len), requesterId, tag: 0 };
}

export function memWriteTlp(addr: bigint, bytes: Uint8Array, requesterId: number): MemWriteTlp {
  const d = byteRangeToDwords(addr, bytes.length);
  const data = new Uint8Array(d.length * 4);
  data.set(bytes, Number(addr & 3n));
  return { type: 'MWr', address: d.address, firstBe: d.firstBe, lastBe: d.lastBe, requesterId, tag: 0, data };
}
