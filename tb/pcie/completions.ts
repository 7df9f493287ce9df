/**
 * Read completions, both directions, as pure functions (no simulator):
 *  - splitReadCompletions: how a completer answers a memory read: CplDs ending on Read
 *    Completion Boundaries, none above Max_Payload_Size, each with the remaining Byte Count
 *    and the Lower Address of its first byte (PCIe base spec 2.2.9, 2.3.1.1).
 *  - ReadReassembly: the requester's side: checks each completion of a read against the
 *    same rules and gathers the bytes.
 */
import { highestBe, lowestBe, memReqByteRange, readCompletionByteCount, type CplDTlp } from './tlp';
import type { Rng } from '../../sim/random';
import type { ViolationCode } from './errors';

/** The parts of a memory read that decide its completions. */
export interface ReadShape {
  /** Dword-aligned address. */
  address: bigint;
  /** Dwords, 1..1024. */
  length: number;
  firstBe: number;
  lastBe: number;
}

/**
 * How to cut a read into completions:
 *  - 'max': as few as possible (each up to MPS, partial ones ending on an RCB)
 *  - 'rcb': at every RCB boundary (what many root complexes do with a 64-byte RCB)
 *  - 'random': at a random choice of allowed boundaries (needs `rng`)
 */
export type SplitMode = 'max' | 'rcb' | 'random';

export interface SplitOptions {
  /** Read Completion Boundary in bytes: 64 or 128 for a root complex (128 for endpoints). */
  rcb: number;
  /** Max_Payload_Size in bytes (128..4096); must be at least the RCB. */
  mps: number;
  mode?: SplitMode;
  rng?: Rng;
}

/** One completion of a split read. */
export interface CplChunk {
  /** Byte offset of the chunk's first dword from the request's (dword) address. */
  offset: number;
  lengthDw: number;
  /** Bytes still to be returned, this completion included (1..4096). */
  byteCount: number;
  /** Address bits 6:0 of the first byte this completion returns. */
  lowerAddress: number;
  /** Bytes of the request this completion actually returns (enabled range; 1 for a zero-length read). */
  carried: number;
}

/**
 * A read's completions as columns (CplChunk's fields, one entry per completion): what splitReadCompletionsInto()
 * fills, reused from read to read by a completer (no object per completion).
 */
export class CplChunkTable {
  count = 0;
  offset = new Int32Array(16);
  lengthDw = new Int32Array(16);
  byteCount = new Int32Array(16);
  lowerAddress = new Int32Array(16);
  carried = new Int32Array(16);
  /** Entry `i` as a CplChunk. */
  chunk(i: number): CplChunk {
    return {
      offset: this.offset[i],
      lengthDw: this.lengthDw[i],
      byteCount: this.byteCount[i],
      lowerAddress: this.lowerAddress[i],
      carried: this.carried[i],
    };
  }
  /** Appends a completion (growing the columns when full). */
  push(offset: number, lengthDw: number, byteCount: number, lowerAddress: number, carried: number): void {
    const i = this.count++;
    if (i === this.offset.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(2 * a.length);
        b.set(a);
        return b;
      };
      this.offset = grow(this.offset);
      this.lengthDw = grow(this.lengthDw);
      this.byteCount = grow(this.byteCount);
      this.lowerAddress = grow(this.lowerAddress);
      this.carried = grow(this.carried);
    }
    this.offset[i] = offset;
    this.lengthDw[i] = lengthDw;
    this.byteCount[i] = byteCount;
    this.lowerAddress[i] = lowerAddress;
    this.carried[i] = carried;
  }
}

/** The completions a completer sends for a memory read, in the order it must send them (increasing address). */
export function splitReadCompletions(req: ReadShape, opts: SplitOptions): CplChunk[] {
  const t = splitReadCompletionsInto(req, opts, new CplChunkTable());
  const chunks: CplChunk[] = [];
  for (let i = 0; i < t.count; i++) chunks.push(t.chunk(i));
  return chunks;
}

/** splitReadCompletions() into `out` (emptied first; returned): the same completions, the same draws of `opts.rng`. */
export function splitReadCompletionsInto(req: ReadShape, opts: SplitOptions, out: CplChunkTable): CplChunkTable {
  const { rcb, mps } = opts;
  if (rcb !== 64 && rcb !== 128) throw new RangeError(`RCB must be 64 or 128 bytes, got ${rcb}`);
  if (!(mps >= 128 && mps <= 4096 && (mps & (mps - 1)) === 0))
    throw new RangeError(`MPS must be a power of two in 128..4096, got ${mps}`);
  if (mps < rcb) throw new RangeError(`MPS ${mps} is below the RCB ${rcb}`);
  const mode = opts.mode ?? 'max';
  if (mode === 'random' && !opts.rng) throw new Error("split mode 'random' needs an rng");
  const { length, firstBe, lastBe } = req;
  const start = Number(req.address & 0xfffn); // position within the 4 KB page is all that matters
  const end = start + 4 * length;
  const total = readCompletionByteCount(length, firstBe, lastBe);
  const zeroLength = length === 1 && firstBe === 0;
  const lead = zeroLength ? 0 : lowestBe(firstBe);
  const trim = zeroLength ? 0 : 3 - highestBe(length === 1 ? firstBe : lastBe);

  out.count = 0;
  let cur = start;
  let sent = 0;
  while (cur < end) {
    const nextRcb = Math.floor(cur / rcb) * rcb + rcb;
    const maxEnd = end <= cur + mps ? end : Math.floor((cur + mps) / rcb) * rcb;
    let chunkEnd: number;
    if (mode === 'max') chunkEnd = maxEnd;
    else if (mode === 'rcb') chunkEnd = Math.min(maxEnd, nextRcb);
    else {
      // Any RCB boundary after cur up to maxEnd, or maxEnd itself: the same draw as
      // rng.pick([nextRcb, nextRcb + rcb, ..., maxEnd]) without building the list.
      const between = nextRcb < maxEnd ? Math.ceil((maxEnd - nextRcb) / rcb) : 0;
      const k = Math.floor(opts.rng!.next() * (between + 1));
      chunkEnd = k < between ? nextRcb + k * rcb : maxEnd;
    }
    const first = cur === start;
    const last = chunkEnd === end;
    const carried = zeroLength ? 1 : chunkEnd - cur - (first ? lead : 0) - (last ? trim : 0);
    out.push(
      cur - start,
      (chunkEnd - cur) / 4,
      total - sent,
      // completionLowerAddress(req.address, firstBe) from the page offset (lowestBe(0) = 0 = lead for zero length)
      first ? (start & 0x7c) | lead : cur & 0x7f,
      carried,
    );
    sent += carried;
    cur = chunkEnd;
  }
  return out;
}

export interface ReassemblyProblem {
  code: ViolationCode;
  reason: string;
}

/**
 * A requester's view of one outstanding memory read: feed it the completions (SC CplDs) as
 * they arrive; it checks Lower Address, Byte Count, payload size, RCB alignment and order,
 * and collects the bytes of the enabled range.
 */
export class ReadReassembly {
  /** Bytes of the enabled range (memReqByteRange), filled as completions arrive. */
  readonly data: Uint8Array;
  /** Byte address of the first enabled byte. */
  readonly firstAddr: bigint;
  private next: bigint;
  private remaining: number;
  private readonly zeroLength: boolean;
  completions = 0;

  constructor(
    readonly req: ReadShape,
    /** Completer's RCB (128 for endpoints) and the MPS in force. */
    readonly opts: { rcb: number; mps: number },
  ) {
    const range = memReqByteRange(req);
    this.firstAddr = range.addr;
    this.next = range.addr;
    this.zeroLength = req.length === 1 && req.firstBe === 0;
    this.remaining = readCompletionByteCount(req.length, req.firstBe, req.lastBe);
    this.data = new Uint8Array(range.bytes);
  }

  get done(): boolean {
    return this.remaining === 0;
  }
  /** Byte count the next completion must carry. */
  get expectedByteCount(): number {
    return this.remaining;
  }
  get expectedLowerAddress(): number {
    return Number(this.next & 0x7fn);
  }

  /** Checks one successful completion with data and takes its bytes; returns a problem or null (then nothing was taken). */
  accept(cpl: CplDTlp): ReassemblyProblem | null {
    if (this.done) return { code: 'unexpected-completion', reason: 'completion after the read was fully completed' };
    const la = this.expectedLowerAddress;
    if (cpl.lowerAddress !== la) {
      return {
        code: 'completion-mismatch',
        reason: `lower address 0x${cpl.lowerAddress.toString(16)}, expected 0x${la.toString(16)} (byte 0x${this.next.toString(16)} is next; completions of one request must come in address order)`,
      };
    }
    if (cpl.byteCount !== this.remaining) {
      return {
        code: 'completion-mismatch',
        reason: `byte count ${cpl.byteCount}, expected ${this.remaining} (bytes still outstanding)`,
      };
    }
    const bytes = cpl.data.length;
    if (bytes > this.opts.mps)
      return { code: 'mps', reason: `completion payload of ${bytes} bytes exceeds Max_Payload_Size ${this.opts.mps}` };
    const lead = la & 3;
    const room = bytes - lead;
    if (this.zeroLength) {
      if (bytes !== 4)
        return { code: 'completion-mismatch', reason: `zero-length read completed with ${bytes / 4} DW, expected 1` };
      this.remaining = 0;
      this.completions++;
      return null;
    }
    let take: number;
    if (this.remaining <= room) {
      const need = Math.ceil((lead + this.remaining) / 4);
      if (need * 4 !== bytes)
        return {
          code: 'completion-mismatch',
          reason: `final completion of ${bytes / 4} DW, expected ${need} DW for the last ${this.remaining} bytes`,
        };
      take = this.remaining;
    } else {
      const endAddr = (this.next & ~3n) + BigInt(bytes);
      if (endAddr % BigInt(this.opts.rcb) !== 0n) {
        return {
          code: 'rcb',
          reason: `partial completion (${bytes} of ${this.remaining} bytes) ends at 0x${endAddr.toString(16)}, not on a ${this.opts.rcb}-byte read completion boundary`,
        };
      }
      take = room;
    }
    const at = Number(this.next - this.firstAddr);
    this.data.set(cpl.data.subarray(lead, lead + take), at);
    this.next += BigInt(take);
    this.remaining -= take;
    this.completions++;
    return null;
  }
}
