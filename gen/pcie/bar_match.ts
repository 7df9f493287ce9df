// BAR matching for a soft endpoint: which of the function's memory BARs a memory request's address falls in,
// from the BAR registers of its configuration space (7.5.1.2.1). A BAR of 2^s bytes is naturally aligned
// (its low s address bits read 0), so an address hits it when its bits 63:s equal the BAR's, and the offset
// inside it is the address's bits s-1:0. Memory Space Enable off (or a power state other than D0) means no
// BAR decodes at all (7.5.1.1.3). A hard IP does this itself and hands over the BAR number instead.
import { cat, type Expr, lit, mux, paramError } from '../hdl';

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

/** A memory request's address as its header carries it (tlpFields: `is4dw`, `addr3dw`, `addr4dw`). */
export interface HeaderAddress {
  is4dw: Expr;
  /** The address of a 3DW header, 32 bits. */
  addr3dw: Expr;
  /** The address of a 4DW header, 64 bits. */
  addr4dw: Expr;
}

function checkBars(a: HeaderAddress, bars: readonly { index: number; sizeLog2: number }[]): void {
  if (bars.length === 0) throw paramError('barMatch: no BARs');
  if (a.addr3dw.width !== 32 || a.addr4dw.width !== 64)
    throw paramError(`barMatch: the addresses must be 32 and 64 bits, got ${a.addr3dw.width} and ${a.addr4dw.width}`);
  for (const b of bars) {
    if (!Number.isInteger(b.index) || b.index < 0 || b.index > 5) throw paramError(`barMatch: BAR index ${b.index}`);
    if (!Number.isInteger(b.sizeLog2) || b.sizeLog2 < 4 || b.sizeLog2 > 63)
      throw paramError(`barMatch: BAR${b.index} size 2^${b.sizeLog2}`);
  }
}

/**
 * The wide half of a BAR match: for each BAR, whether the 3DW form of the address and whether the 4DW form
 * falls inside it (2 bits per BAR, `cat(in4, in3)` per BAR, the first BAR in the low bits). These are 64-bit
 * compares; a pipelined matcher registers them and resolves the rest (`barResolve`) a cycle later.
 */
export function barCompare(a: HeaderAddress, bars: readonly BarWindow[]): Expr {
  checkBars(a, bars);
  for (const b of bars) if (b.base.width !== 64) throw paramError(`barMatch: BAR${b.index} base must be 64 bits`);
  const a3 = a.addr3dw.zext(64);
  const inBar = (addr: Expr, b: BarWindow) => addr.bits(63, b.sizeLog2).eq(b.base.bits(63, b.sizeLog2));
  return cat(...bars.flatMap((b) => [inBar(a3, b), inBar(a.addr4dw, b)]).reverse());
}

/**
 * The narrow half: from `barCompare`'s flags (of the same address), the header's form and Memory Space
 * Enable, which BAR is hit and the offset inside it. BARs programmed to overlap are a software error (the
 * first in the list wins).
 */
export function barResolve(
  a: HeaderAddress,
  bars: readonly { index: number; sizeLog2: number }[],
  flags: Expr,
  memEnable: Expr,
): BarMatch {
  checkBars(a, bars);
  if (flags.width !== 2 * bars.length)
    throw paramError(`barMatch: ${2 * bars.length} compare flags expected, got ${flags.width}`);
  const hits = bars.map((_, i) => memEnable.and(mux(a.is4dw, flags.bit(2 * i + 1), flags.bit(2 * i))));
  const a3 = a.addr3dw.zext(64);
  let bar: Expr = lit(0, 3);
  let offset: Expr = lit(0, 64);
  for (let i = bars.length - 1; i >= 0; i--) {
    const b = bars[i];
    const off = mux(a.is4dw, a.addr4dw.bits(b.sizeLog2 - 1, 0), a3.bits(b.sizeLog2 - 1, 0));
    bar = mux(hits[i], lit(b.index, 3), bar);
    offset = mux(hits[i], off.zext(64), offset);
  }
  return { hit: hits.reduce((x, h) => x.or(h)), bar, offset };
}
