// Priority encoding: find the lowest set bit of a vector, as an index or as a one-hot mask, in logarithmic
// depth (a binary tree, a parallel-prefix OR), never a ripple through every bit. The functions build logic
// inside the caller's module, with wires named after `name`; `PriorityEncoder` wraps them for testing.
import { cat, defineModule, type Expr, intParam, lit, log2ceil, type ModuleBuilder, Signal } from '../hdl';

/** `e` as a named signal, so that it can be sliced without repeating the expression. */
function named(m: ModuleBuilder, name: string, e: Expr): Signal {
  return e instanceof Signal ? e : m.let(name, e);
}

/**
 * The index of the lowest set bit of `vec` (log2ceil(width) bits) and whether any bit is set. A binary tree:
 * each node takes its lower half's index when that half has a set bit. Depth log2(width) 2:1 muxes.
 * `index` is meaningful only when `valid` (it reads width-1 when no bit is set).
 * Wires: `<name>_v_<hi>_<lo>` (a bit is set in hi..lo) and `<name>_i_<hi>_<lo>` (its index there) per tree node;
 * the root is `<name>_valid`, `<name>_index`.
 */
export function priorityEncode(m: ModuleBuilder, name: string, vec: Expr): { index: Signal; valid: Signal } {
  const v = named(m, `${name}_in`, vec);
  // One subtree over bits lo..lo+n-1: its valid, and its index (none for a single bit: zero width).
  const node = (lo: number, n: number): { valid: Expr; index?: Expr } => (n === 1 ? { valid: v.bit(lo) } : pair(lo, n));
  // A subtree of at least two bits: named wires for its valid and index.
  const pair = (lo: number, n: number, root = false): { valid: Signal; index: Signal } => {
    const half = 2 ** (log2ceil(n) - 1); // lower half: a power of two, so the upper index is the lower's plus `half`
    const a = node(lo, half);
    const b = node(lo + half, n - half);
    const iw = log2ceil(half); // index bits within a half (0 when half is 1)
    const tag = root ? '' : `_${lo + n - 1}_${lo}`;
    const valid = m.let(root ? `${name}_valid` : `${name}_v${tag}`, a.valid.or(b.valid));
    const top = a.valid.not(); // upper half wins only when the lower half has nothing
    let index: Expr = top;
    if (half > 1) {
      const bIndex = b.index ? b.index.zext(iw) : lit(0, iw);
      index = cat(top, a.valid.select(a.index!, bIndex));
    }
    return { valid, index: m.let(root ? `${name}_index` : `${name}_i${tag}`, index) };
  };
  if (v.width === 1) return { index: m.let(`${name}_index`, lit(0, 1)), valid: m.let(`${name}_valid`, v) };
  return pair(0, v.width, true);
}

/**
 * Bit i of the result is the OR of bits 0..i of `vec` (a thermometer from the lowest set bit up). Sklansky
 * parallel prefix: log2(width) levels of 2-input ORs. Wires `<name>_p<level>`.
 */
export function prefixOr(m: ModuleBuilder, name: string, vec: Expr): Signal {
  let cur: Signal = named(m, `${name}_p0`, vec);
  const n = vec.width;
  for (let span = 1, level = 1; span < n; span *= 2, level++) {
    // Within each block of 2*span bits, the upper half ORs in the last bit of the lower half.
    const s = cur;
    const bits: Expr[] = [];
    for (let i = 0; i < n; i++) {
      const inUpper = Math.floor(i / span) % 2 === 1;
      bits.push(inUpper ? s.bit(i).or(s.bit(Math.floor(i / span) * span - 1)) : s.bit(i));
    }
    cur = m.let(`${name}_p${level}`, cat(...bits.reverse()));
  }
  return cur;
}

/** The lowest set bit of `vec` alone (one-hot, or zero when no bit is set): `vec & ~(prefixOr(vec) << 1)`. */
export function isolateLowest(m: ModuleBuilder, name: string, vec: Expr): Signal {
  if (vec.width === 1) return named(m, `${name}_onehot`, vec);
  const p = prefixOr(m, `${name}_or`, vec);
  return m.let(`${name}_onehot`, vec.and(p.shl(1).not()));
}

/**
 * The index of the set bit of a one-hot vector (an OR per index bit, no priority): log2ceil(width) bits. With
 * several bits set the result is the OR of their indices; with none, 0.
 */
export function oneHotIndex(m: ModuleBuilder, name: string, onehot: Expr): Signal {
  const v = named(m, `${name}_in`, onehot);
  const iw = log2ceil(v.width);
  const bits: Expr[] = [];
  for (let k = iw - 1; k >= 0; k--) {
    const ones: Expr[] = [];
    for (let i = 0; i < v.width; i++) if ((i >> k) & 1) ones.push(v.bit(i));
    bits.push(ones.length ? ones.reduce((x, y) => x.or(y)) : lit(0, 1));
  }
  return m.let(`${name}_index`, cat(...bits));
}

/** A one-hot vector of `n` bits with bit `index` set: a compare per bit (a shifter maps worse to LUTs). */
export function decode(index: Expr, n: number): Expr {
  return cat(...Array.from({ length: n }, (_, k) => index.eq(n - 1 - k)));
}

export interface PriorityEncoderParams {
  /** Input width in bits. */
  width: number;
}

/**
 * Priority encoder (lowest set bit wins), combinational. `in` → `index` (log2ceil(width) bits, meaningful when
 * `valid`), `valid` (any bit set), `onehot` (the lowest set bit alone). Logarithmic depth.
 */
export const PriorityEncoder = defineModule(
  'prio_enc',
  (m, p: PriorityEncoderParams) => {
    intParam('PriorityEncoder: width', p.width, 1, 65536);
    const vec = m.input('in', p.width);
    const index = m.output('index', log2ceil(p.width));
    const valid = m.output('valid', 1);
    const onehot = m.output('onehot', p.width);
    const pe = priorityEncode(m, 'pe', vec);
    index.set(pe.index);
    valid.set(pe.valid);
    onehot.set(isolateLowest(m, 'low', vec));
    return { in: vec, index, valid, onehot };
  },
  { name: (p) => `prio_enc_w${p.width}` },
);
