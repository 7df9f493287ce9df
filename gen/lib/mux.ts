// Selecting one of many same-typed signals by an index, as a balanced tree of 2:1 muxes (index bit 0 at the
// leaves). Synthesis packs such a tree into LUT6 (4:1) and MUXF7/F8/F9 levels: 32 ways in 4 levels, where
// the hdl's `select` (a Verilog `case`) becomes a decoder and an OR tree in Yosys synth_xilinx (7 levels for
// 32 ways). For lookups on a timing-critical path, such as the DMA read engine's per-tag tables.
import { type Expr, lit, paramError } from '../hdl';

/**
 * `items[index]`. An index past the last item (when the count is not a power of two) gives some item: the
 * caller rules that case out. All items share one width.
 */
export function muxTree(index: Expr, items: readonly Expr[]): Expr {
  if (items.length === 0) throw paramError('muxTree() needs at least one item', 'range');
  if (items.length > 2 ** index.width) {
    throw paramError(`muxTree(): an index of ${index.width} bits cannot reach ${items.length} items`, 'range');
  }
  let level = [...items];
  for (let b = 0; level.length > 1; b++) {
    const next: Expr[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? index.bit(b).select(level[i + 1], level[i]) : level[i]);
    }
    level = next;
  }
  return level[0];
}

/**
 * `items[index]`, where an absent item (`undefined`, or past the end of the list) is 0 of `width` bits: the
 * same tree as `muxTree`, with the subtrees that hold no item left out (a half with an item ANDs it with its
 * index bit), so that a sparse table (a register file's read mux by dword address) costs only its items.
 */
export function muxTreeOrZero(index: Expr, items: readonly (Expr | undefined)[], width: number): Expr {
  if (items.length > 2 ** index.width) {
    throw paramError(`muxTreeOrZero(): an index of ${index.width} bits cannot reach ${items.length} items`, 'range');
  }
  let level: (Expr | undefined)[] = Array.from({ length: 2 ** index.width }, (_x, i) => items[i]);
  for (let b = 0; level.length > 1; b++) {
    const next: (Expr | undefined)[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const [lo, hi] = [level[i], level[i + 1]];
      next.push(
        lo === undefined && hi === undefined
          ? undefined
          : index.bit(b).select(hi ?? lit(0, width), lo ?? lit(0, width)),
      );
    }
    level = next;
  }
  return level[0] ?? lit(0, width);
}
