// BAR matching for a soft endpoint: which of the function's memory BARs a memory request's address falls in,
// from the BAR registers of its configuration space (7.5.1.2.1). A BAR of 2^s bytes is naturally aligned
// (its low s address bits read 0), so an address hits it when its bits 63:s equal the BAR's, and the offset
// inside it is the address's bits s-1:0. Memory Space Enable off (or a power state other than D0) means no
// BAR decodes at all (7.5.1.1.3). A hard IP does this itself and hands over the BAR number instead.
import { type Expr, lit, mux, paramError } from '../hdl';

/** One memory BAR as the matcher sees it: its index and size, and its base address (64 bits, from config space). */
export interface BarWindow {
  index: number;
  /** log2 of the size in bytes. */
  sizeLog2: number;
  base: Expr;
}

export interface BarMatch {
  /** The address is inside an enabled BAR. */
  hit: Expr;
  /** The BAR's index (3 bits; 0 without a hit). */
  bar: Expr;
  /** The byte offset inside that BAR (64 bits; 0 without a hit). */
  offset: Expr;
}

/**
 * Match a 64-bit byte address against `bars`. BARs programmed to overlap are a software error (the first in
 * the list wins). The logic is built in the caller's module.
 */
export function barMatch(addr: Expr, bars: readonly BarWindow[], memEnable: Expr): BarMatch {
  if (bars.length === 0) throw paramError('barMatch: no BARs');
  if (addr.width !== 64) throw paramError(`barMatch: the address must be 64 bits, got ${addr.describe()}`);
  for (const b of bars) {
    if (!Number.isInteger(b.index) || b.index < 0 || b.index > 5) throw paramError(`barMatch: BAR index ${b.index}`);
    if (!Number.isInteger(b.sizeLog2) || b.sizeLog2 < 4 || b.sizeLog2 > 63)
      throw paramError(`barMatch: BAR${b.index} size 2^${b.sizeLog2}`);
    if (b.base.width !== 64) throw paramError(`barMatch: BAR${b.index} base must be 64 bits`);
  }
  const hits = bars.map((b) => memEnable.and(addr.bits(63, b.sizeLog2).eq(b.base.bits(63, b.sizeLog2))));
  let bar: Expr = lit(0, 3);
  let offset: Expr = lit(0, 64);
  for (let i = bars.length - 1; i >= 0; i--) {
    const b = bars[i];
    const off = addr.bits(b.sizeLog2 - 1, 0);
    bar = mux(hits[i], lit(b.index, 3), bar);
    offset = mux(hits[i], off.zext(64), offset);
  }
  return { hit: hits.reduce((a, h) => a.or(h)), bar, offset };
}
