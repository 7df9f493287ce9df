// The split queue engine's scratch memory (its DMA region, docs/queue-engine.md "Split rings"): where ring data
// the engine fetches lands (the fetch half, written by the DMA read engine, read by the engine) and where the
// bytes it writes back wait (the out half, written by the engine, read by the DMA write engine), and how a
// field is taken out of the 16 bytes read from the fetch half at a time. Shared by the engine and its tests.
import { type Expr, paramError, select } from '../hdl';

export interface SplitLayoutParams {
  /** Bytes per line (W / 8). */
  lineBytes: number;
  queues: number;
  /** log2 of the region's size in bytes (two halves). */
  regionBits: number;
  /** Available ring entries fetched per read, per queue (a power of two). */
  availBatch: number;
  /** Descriptors fetched per read (a power of two). */
  descBatch: number;
  /** Used elements written per write. */
  usedBatch: number;
  /** Descriptors read ahead per available entry (the head's and the next ones in the table). */
  prefetchDescs: number;
  /** avail->idx reads outstanding at once (default 1), each landing in its own word. */
  polls?: number;
}

/**
 * Byte offsets inside each half of the region. Nothing starts in a half's first 8 bytes: the DMA engines move
 * dwords, so a field at host address 2 mod 4 starts its two-line access 2 bytes before its device address,
 * which must still be in the same half (the halves are routed by the access's first line).
 */
export interface SplitLayout {
  half: number;
  /**
   * Bytes of memory behind each half: what the half's layout uses, rounded up to a power of two of at least four
   * lines (the rest of a half is never written: it aliases).
   */
  fetchBytes: number;
  outBytes: number;
  /** fetch half: a 16-bit index or flags word read from the driver area (avail idx, flags, used_event). */
  word: number;
  /** fetch half: the descriptor window (descBatch descriptors). */
  desc: number;
  /** fetch half: the available ring entries of queue q, slot i mod availBatch: avail + 2 (q availBatch + i). */
  avail: number;
  /** fetch half: the used side's 16-bit word (used_event or avail->flags), in a line of its own. */
  note: number;
  /** fetch half: avail->idx read ahead: poll k at aheadWord + 4k. */
  aheadWord: number;
  /** fetch half: the descriptors read ahead for available entry i: ahead + 16 prefetchDescs (i mod availBatch). */
  ahead: number;
  /** out half: the used index to publish. */
  usedIdx: number;
  /** out half: the avail_event value to write (EVENT_IDX). */
  availEvent: number;
  /** out half: the used elements of one write (8 bytes each). */
  elems: number;
}

export function splitLayout(p: SplitLayoutParams): SplitLayout {
  const half = 2 ** (p.regionBits - 1);
  const l: SplitLayout = {
    half,
    word: 8,
    desc: 16,
    avail: 16 + 16 * p.descBatch,
    usedIdx: 8,
    availEvent: 16,
    elems: 24,
    note: 0,
    aheadWord: 0,
    ahead: 0,
    fetchBytes: 0,
    outBytes: 0,
  };
  // The note in a line after the entries' (8 bytes in: its access may start 2 bytes before it).
  l.note = (Math.ceil((l.avail + 2 * p.queues * p.availBatch) / p.lineBytes) + 1) * p.lineBytes + 8;
  l.aheadWord = l.note + 8;
  // (descriptors are taken out of a window at 16-byte positions; 64-byte slots stay inside one completion)
  l.ahead = Math.ceil((l.aheadWord + 4 * (p.polls ?? 1) + 4) / 64) * 64;
  const fetchEnd = l.ahead + 16 * p.prefetchDescs * p.availBatch;
  const outEnd = l.elems + 8 * p.usedBatch;
  if (fetchEnd > half || outEnd > half || half < 4 * p.lineBytes)
    throw paramError(
      `SplitEngine: a region of 2^${p.regionBits} bytes is too small: its fetch half needs ${fetchEnd} bytes, ` +
        `its out half ${outEnd}, each at least ${4 * p.lineBytes} (four lines)`,
    );
  const memBytes = (used: number) => Math.max(4 * p.lineBytes, 2 ** Math.ceil(Math.log2(used)));
  l.fetchBytes = memBytes(fetchEnd);
  l.outBytes = memBytes(outEnd);
  return l;
}

/**
 * The `bytes` bytes at byte `off` (a multiple of `align`, `bytes` <= `align`; only off's bits below the unit's
 * size count) of `unit`, an aligned piece of memory read whole (the fetch half's 16-byte reads): a select over the
 * unit's aligned positions, nothing wider.
 */
export function fieldAt(unit: Expr, off: Expr, bytes: number, align: number): Expr {
  const unitBytes = unit.width / 8;
  const positions = unitBytes / align;
  if (positions <= 1) return unit.bits(8 * bytes - 1, 0);
  const lo = Math.log2(align);
  const hi = Math.log2(unitBytes) - 1;
  const options = Array.from({ length: positions }, (_, k) => unit.bits(8 * (align * k + bytes) - 1, 8 * align * k));
  return select(off.bits(hi, lo), options);
}
