// Expressions with explicit widths. Every operator is a method, every width rule is strict: a mismatch is a
// generation-time error that names both operands, their widths and the designer's source line.
import { callerLoc, HdlError, type SrcLoc } from './srcloc';

/**
 * A hardware value type: a bit vector with an explicit width and signedness. `W` is the width as a type: a
 * literal when written as one (`uint(8)` is `HwType<8>`), `number` when computed.
 */
export interface HwType<W extends number = number> {
  readonly width: W;
  readonly signed: boolean;
}

export function uint<W extends number>(width: W): HwType<W> {
  checkWidth(width);
  return { width, signed: false };
}
export function sint<W extends number>(width: W): HwType<W> {
  checkWidth(width);
  return { width, signed: true };
}
export const bit: HwType<1> = { width: 1, signed: false };

function checkWidth(width: number): void {
  if (!Number.isInteger(width) || width < 1 || width > 65536) {
    throw new HdlError(`width must be an integer from 1 to 65536, got ${width}`, callerLoc(), 'width');
  }
}

/** Bits needed to hold values 0..n-1 (at least 1). */
export function log2ceil(n: number): number {
  if (n <= 1) return 1;
  return Math.ceil(Math.log2(n));
}
/** Bits needed to hold the value n itself (at least 1). */
export function bitsFor(n: number | bigint): number {
  let v = BigInt(n);
  let w = 0;
  while (v > 0n) {
    w++;
    v >>= 1n;
  }
  return Math.max(w, 1);
}

export type Operand = Expr | number | bigint | boolean;

export type ExprOp =
  | 'const'
  | 'ref'
  | 'not'
  | 'neg'
  | 'andr'
  | 'orr'
  | 'xorr'
  | 'add'
  | 'sub'
  | 'mul'
  | 'and'
  | 'or'
  | 'xor'
  | 'eq'
  | 'ne'
  | 'lt'
  | 'le'
  | 'gt'
  | 'ge'
  | 'shl'
  | 'shr'
  | 'shlv'
  | 'shrv'
  | 'mux'
  | 'slice'
  | 'index'
  | 'cat'
  | 'rep'
  | 'zext'
  | 'sext'
  | 'cast'
  | 'select';

/** Expression-node payload beyond its operands. */
export interface ExprAttrs {
  value?: bigint; // const
  symbol?: string; // const with a name (FSM state, enum): emitted as the localparam
  hi?: number; // slice
  lo?: number; // slice
  amount?: number; // constant shifts, replication count
  gray?: boolean; // xor made by toGray(): the clock-domain-crossing check looks for it (checks/synchronizers.ts)
}

/** A hardware expression. Build them with the methods; `Signal`s are expressions too. */
export class Expr implements HwType {
  readonly loc: SrcLoc;
  constructor(
    readonly op: ExprOp,
    readonly width: number,
    readonly signed: boolean,
    readonly args: readonly Expr[],
    readonly attrs: ExprAttrs = {},
    loc?: SrcLoc,
  ) {
    this.loc = loc ?? callerLoc();
  }

  /** A short description for error messages: the signal's name, or the operator. */
  describe(): string {
    if (this.op === 'const') return `constant ${this.attrs.symbol ?? this.attrs.value} (${this.typeName()})`;
    return `${this.op} expression (${this.typeName()})`;
  }
  typeName(): string {
    return `${this.signed ? 'sint' : 'uint'}${this.width}`;
  }

  // ---- arithmetic (result has the operands' width: wrap-around, like a hardware adder of that width)
  add(b: Operand): Expr {
    return binSame('add', this, b);
  }
  sub(b: Operand): Expr {
    return binSame('sub', this, b);
  }
  /** Add with carry out: the result is one bit wider than the operands. */
  addc(b: Operand): Expr {
    const r = lift(b, this, 'addc');
    sameType('addc', this, r);
    const w = this.width + 1;
    return new Expr('add', w, this.signed, [extendTo(this, w), extendTo(r, w)]);
  }
  /** Subtract with borrow: one bit wider; for unsigned operands the top bit is set when b > a. */
  subc(b: Operand): Expr {
    const r = lift(b, this, 'subc');
    sameType('subc', this, r);
    const w = this.width + 1;
    return new Expr('sub', w, this.signed, [extendTo(this, w), extendTo(r, w)]);
  }
  /** Full-precision product: width is the sum of the operand widths. */
  mul(b: Operand): Expr {
    const r = lift(b, this, 'mul');
    if (this.signed !== r.signed) throw signMismatch('mul', this, r);
    const w = this.width + r.width;
    return new Expr('mul', w, this.signed, [extendTo(this, w), extendTo(r, w)]);
  }
  inc(): Expr {
    return this.add(1);
  }
  dec(): Expr {
    return this.sub(1);
  }
  neg(): Expr {
    if (!this.signed) throw new HdlError(`neg() needs a signed operand, got ${this.describe()}`, callerLoc(), 'type');
    return new Expr('neg', this.width, true, [this]);
  }

  // ---- bitwise logic
  and(b: Operand): Expr {
    return binSame('and', this, b);
  }
  or(b: Operand): Expr {
    return binSame('or', this, b);
  }
  xor(b: Operand): Expr {
    return binSame('xor', this, b);
  }
  not(): Expr {
    return new Expr('not', this.width, this.signed, [this]);
  }

  // ---- reductions
  andR(): Expr {
    return new Expr('andr', 1, false, [this]);
  }
  orR(): Expr {
    return new Expr('orr', 1, false, [this]);
  }
  xorR(): Expr {
    return new Expr('xorr', 1, false, [this]);
  }

  // ---- comparison (signed comparison when both operands are signed)
  eq(b: Operand): Expr {
    return cmp('eq', this, b);
  }
  ne(b: Operand): Expr {
    return cmp('ne', this, b);
  }
  lt(b: Operand): Expr {
    return cmp('lt', this, b);
  }
  le(b: Operand): Expr {
    return cmp('le', this, b);
  }
  gt(b: Operand): Expr {
    return cmp('gt', this, b);
  }
  ge(b: Operand): Expr {
    return cmp('ge', this, b);
  }

  // ---- shifts (width preserved). A number shifts by a constant; an expression by a variable amount.
  /** Shift left, zero fill. */
  shl(n: number | Expr): Expr {
    return shift('shl', this, n);
  }
  /** Shift right: logical for unsigned, arithmetic (sign fill) for signed. */
  shr(n: number | Expr): Expr {
    return shift('shr', this, n);
  }

  // ---- bit selection
  /** One bit, at a constant or variable index. */
  bit(i: number | Expr): Expr {
    if (typeof i === 'number') {
      checkRange(this, i, i, 'bit');
      return sliceOf(this, i, i);
    }
    if (i.signed) throw new HdlError(`bit index must be unsigned, got ${i.describe()}`, callerLoc(), 'type');
    if (i.width !== log2ceil(this.width)) {
      throw new HdlError(
        `bit index of ${i.width} bits for ${this.describe()}: a dynamic index must be exactly ${log2ceil(this.width)} bits`,
        callerLoc(),
        'width',
      );
    }
    return new Expr('index', 1, false, [this, i]);
  }
  /** Bits hi..lo inclusive (Verilog `x[hi:lo]`); unsigned. */
  bits(hi: number, lo: number): Expr {
    checkRange(this, hi, lo, 'bits');
    return sliceOf(this, hi, lo);
  }
  /** The lowest `w` bits: the explicit way to narrow a value. */
  trunc(w: number): Expr {
    if (w > this.width) {
      throw new HdlError(`trunc(${w}) of ${this.describe()} would widen it; use zext/sext`, callerLoc(), 'width');
    }
    if (w === this.width) return this.asUnsigned(); // unsigned like bits(), whatever w is
    return this.bits(w - 1, 0);
  }
  /** The most significant bit. */
  msb(): Expr {
    return this.bit(this.width - 1);
  }
  /** `this` in the high bits, `lo` below it. */
  cat(...lo: Expr[]): Expr {
    return cat(this, ...lo);
  }
  /** `n` copies side by side. */
  rep(n: number): Expr {
    if (!Number.isInteger(n) || n < 1)
      throw new HdlError(`rep(${n}): count must be a positive integer`, callerLoc(), 'range');
    return new Expr('rep', this.width * n, false, [this], { amount: n });
  }

  // ---- width and sign changes (always explicit)
  /** Zero-extend to `w` bits (w >= width). */
  zext(w: number): Expr {
    return ext('zext', this, w);
  }
  /** Sign-extend to `w` bits (w >= width). */
  sext(w: number): Expr {
    return ext('sext', this, w);
  }
  /** Same bits, read as signed. */
  asSigned(): Expr {
    return this.signed ? this : new Expr('cast', this.width, true, [this]);
  }
  /** Same bits, read as unsigned. */
  asUnsigned(): Expr {
    return this.signed ? new Expr('cast', this.width, false, [this]) : this;
  }

  /** 1-bit value: `this ? t : f` (both arms of the same type). */
  select(t: Operand, f: Operand): Expr {
    return mux(this, t, f);
  }

  // ---- Gray code
  /**
   * The Gray code of an unsigned value, `a ^ (a >> 1)`: consecutive values differ in one bit. A register
   * whose every next value is a `toGray()` may be sampled by a multi-bit `'gray'` synchronizer (docs/dsl.md).
   */
  toGray(): Expr {
    if (this.signed)
      throw new HdlError(`toGray() needs an unsigned value, got ${this.describe()}`, callerLoc(), 'type');
    if (this.width === 1) return this;
    return new Expr('xor', this.width, false, [this, this.shr(1)], { gray: true });
  }
  /** The binary value of a Gray code: bit i is the XOR of bits i and above. */
  fromGray(): Expr {
    if (this.signed) {
      throw new HdlError(`fromGray() needs an unsigned value, got ${this.describe()}`, callerLoc(), 'type');
    }
    const w = this.width;
    if (w === 1) return this;
    return cat(...Array.from({ length: w }, (_, k) => (k === 0 ? this.msb() : this.bits(w - 1, w - 1 - k).xorR())));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Constructors

/** A constant of the given type. */
export function lit(value: number | bigint, type: HwType | number, symbol?: string): Expr {
  const t = typeof type === 'number' ? uint(type) : type;
  const v = BigInt(value);
  if (!fits(v, t)) {
    throw new HdlError(`constant ${v} does not fit in ${t.signed ? 'sint' : 'uint'}${t.width}`, callerLoc(), 'width');
  }
  return new Expr('const', t.width, t.signed, [], { value: v, symbol });
}

export function fits(v: bigint, t: HwType): boolean {
  if (t.signed) {
    const half = 1n << BigInt(t.width - 1);
    return v >= -half && v < half;
  }
  return v >= 0n && v < 1n << BigInt(t.width);
}

/** `sel ? t : f`; numbers take the type of the other arm. */
export function mux(sel: Expr, t: Operand, f: Operand): Expr {
  if (sel.width !== 1) {
    throw new HdlError(`mux select must be 1 bit, got ${sel.describe()}`, callerLoc(), 'width');
  }
  const [a, b] = liftPair(t, f, 'mux');
  sameType('mux', a, b);
  // A constant select (from a folded comparison in parametric code) picks its arm now.
  if (sel.op === 'const') return sel.attrs.value ? a : b;
  return new Expr('mux', a.width, a.signed, [sel, a, b]);
}

/** Concatenation, first argument in the most significant bits (like Verilog `{a, b}`). */
export function cat(...parts: Expr[]): Expr {
  if (parts.length === 0) throw new HdlError('cat() needs at least one operand', callerLoc(), 'width');
  if (parts.length === 1) return parts[0].asUnsigned(); // unsigned like any concatenation
  const w = parts.reduce((s, p) => s + p.width, 0);
  return new Expr('cat', w, false, parts);
}

/**
 * Select one of `options` by an index (a one-hot-free, priority-free N-way mux, emitted as a `case`).
 * All options share one type; an out-of-range index gives `fallback` (default: the last option).
 */
export function select(index: Expr, options: readonly Operand[], fallback?: Operand): Expr {
  if (options.length === 0) throw new HdlError('select() needs at least one option', callerLoc(), 'range');
  const like = options.find((o): o is Expr => o instanceof Expr) ?? (fallback instanceof Expr ? fallback : undefined);
  if (!like)
    throw new HdlError('select(): at least one option must be an expression to give the type', callerLoc(), 'type');
  const opts = options.map((o) => lift(o, like, 'select'));
  for (const o of opts) sameType('select', like, o);
  const fb = fallback === undefined ? opts[opts.length - 1] : lift(fallback, like, 'select');
  sameType('select', like, fb);
  if (index.signed) throw new HdlError(`select index must be unsigned, got ${index.describe()}`, callerLoc(), 'type');
  if (options.length > 2 ** index.width) {
    throw new HdlError(
      `select index of ${index.width} bits cannot reach ${options.length} options`,
      callerLoc(),
      'range',
    );
  }
  return new Expr('select', like.width, like.signed, [index, fb, ...opts]);
}

/** Bitwise/boolean helpers over many operands. */
export function andAll(...xs: Expr[]): Expr {
  return xs.reduce((a, b) => a.and(b));
}
export function orAll(...xs: Expr[]): Expr {
  return xs.reduce((a, b) => a.or(b));
}

// ---------------------------------------------------------------------------------------------------------
// Width rules

/** Turn a JS number into a constant of `like`'s type, checking that it fits. */
export function lift(x: Operand, like: HwType, opName: string): Expr {
  if (x instanceof Expr) return x;
  if (typeof x === 'boolean') {
    if (like.width !== 1) {
      throw new HdlError(`${opName}: boolean operand used with a ${like.width}-bit value`, callerLoc(), 'width');
    }
    return new Expr('const', 1, false, [], { value: x ? 1n : 0n });
  }
  if (typeof x === 'number' && !Number.isInteger(x)) {
    throw new HdlError(`${opName}: constant ${x} is not an integer`, callerLoc(), 'type');
  }
  const v = BigInt(x);
  if (!fits(v, like)) {
    throw new HdlError(
      `${opName}: constant ${v} does not fit in the other operand's type ${like.signed ? 'sint' : 'uint'}${like.width}`,
      callerLoc(),
      'width',
    );
  }
  return new Expr('const', like.width, like.signed, [], { value: v });
}

function liftPair(a: Operand, b: Operand, opName: string): [Expr, Expr] {
  if (a instanceof Expr) return [a, lift(b, a, opName)];
  if (b instanceof Expr) return [lift(a, b, opName), b];
  throw new HdlError(`${opName}: at least one operand must be a hardware expression`, callerLoc(), 'type');
}

function opnd(e: Expr): string {
  return e.describe();
}

function signMismatch(op: string, a: Expr, b: Expr): HdlError {
  return new HdlError(
    `${op}: signedness mismatch: ${opnd(a)} vs ${opnd(b)} (use asSigned()/asUnsigned())`,
    callerLoc(),
    'type',
  );
}

function sameType(op: string, a: Expr, b: Expr): void {
  if (a.width !== b.width) {
    throw new HdlError(
      `width mismatch in ${op}: ${opnd(a)} is ${a.width} bits, ${opnd(b)} is ${b.width} bits (use zext/sext/trunc)`,
      callerLoc(),
      'width',
    );
  }
  if (a.signed !== b.signed) throw signMismatch(op, a, b);
}

function binSame(op: ExprOp, a: Expr, b: Operand): Expr {
  const r = lift(b, a, op);
  sameType(op, a, r);
  return foldLogic(op, a, r) ?? new Expr(op, a.width, a.signed, [a, r]);
}

/** Logic identities with a constant operand (x | 0, x & ~0, x & 0, ...), which parametric code makes often. */
function foldLogic(op: ExprOp, a: Expr, b: Expr): Expr | undefined {
  if (op !== 'and' && op !== 'or' && op !== 'xor') return undefined;
  const ones = a.signed ? -1n : (1n << BigInt(a.width)) - 1n;
  for (const [k, x] of [
    [a, b],
    [b, a],
  ] as const) {
    const v = constValue(k);
    if (v === undefined) continue;
    if (v === 0n) return op === 'and' ? k : x;
    if (v === ones && op === 'and') return x;
    if (v === ones && op === 'or') return k;
  }
  return undefined;
}

function cmp(op: ExprOp, a: Expr, b: Operand): Expr {
  const r = lift(b, a, op);
  sameType(op, a, r);
  const folded = foldCompare(op, a, r);
  if (folded !== undefined) return new Expr('const', 1, false, [], { value: folded ? 1n : 0n });
  return new Expr(op, 1, false, [a, r]);
}

/** The value a constant of `e`'s type has as a number (two's complement for signed types). */
function constValue(e: Expr): bigint | undefined {
  return e.op === 'const' ? e.attrs.value : undefined;
}

/**
 * Comparisons whose result is known at generation time: both operands constant, or one operand compared
 * with the smallest or largest value of its type (`x >= 0` for unsigned x). Parametric code produces these
 * naturally, and emitted as-is they are constant in hardware and draw Verilator warnings (CMPCONST, UNSIGNED).
 */
function foldCompare(op: ExprOp, a: Expr, b: Expr): boolean | undefined {
  const av = constValue(a);
  const bv = constValue(b);
  const cmpv = (x: bigint, y: bigint) =>
    op === 'eq'
      ? x === y
      : op === 'ne'
        ? x !== y
        : op === 'lt'
          ? x < y
          : op === 'le'
            ? x <= y
            : op === 'gt'
              ? x > y
              : x >= y;
  if (av !== undefined && bv !== undefined) return cmpv(av, bv);
  const min = a.signed ? -(1n << BigInt(a.width - 1)) : 0n;
  const max = a.signed ? (1n << BigInt(a.width - 1)) - 1n : (1n << BigInt(a.width)) - 1n;
  // Normalize to `x op c` with the constant on the right.
  let k = bv;
  let o = op;
  if (av !== undefined) {
    k = av;
    o = op === 'lt' ? 'gt' : op === 'le' ? 'ge' : op === 'gt' ? 'lt' : op === 'ge' ? 'le' : op;
  }
  if (k === undefined) return undefined;
  if (k === min && o === 'lt') return false;
  if (k === min && o === 'ge') return true;
  if (k === max && o === 'gt') return false;
  if (k === max && o === 'le') return true;
  return undefined;
}

function shift(op: 'shl' | 'shr', a: Expr, n: number | Expr): Expr {
  if (typeof n === 'number') {
    if (!Number.isInteger(n) || n < 0) {
      throw new HdlError(`${op}(${n}): shift amount must be a non-negative integer`, callerLoc(), 'range');
    }
    if (n >= a.width) {
      throw new HdlError(`${op}(${n}): shift by at least the width (${a.width}) of ${opnd(a)}`, callerLoc(), 'range');
    }
    if (n === 0) return a;
    return new Expr(op, a.width, a.signed, [a], { amount: n });
  }
  if (n.signed) throw new HdlError(`${op}: shift amount must be unsigned, got ${opnd(n)}`, callerLoc(), 'type');
  return new Expr(op === 'shl' ? 'shlv' : 'shrv', a.width, a.signed, [a, n]);
}

function ext(op: 'zext' | 'sext', a: Expr, w: number): Expr {
  if (!Number.isInteger(w) || w < a.width) {
    throw new HdlError(
      `${op}(${w}) of ${opnd(a)}: target narrower than ${a.width} bits (use trunc)`,
      callerLoc(),
      'width',
    );
  }
  if (w === a.width) return op === 'zext' ? a.asUnsigned() : a; // zext always gives unsigned
  return new Expr(op, w, op === 'sext' ? a.signed : false, [a]);
}

/** Extend to width w by the operand's own signedness (for full-precision results). */
function extendTo(a: Expr, w: number): Expr {
  if (a.width === w) return a;
  return a.signed ? new Expr('sext', w, true, [a], {}, a.loc) : new Expr('zext', w, false, [a], {}, a.loc);
}

/**
 * Bits hi..lo of `a`, simplified where the result is plainly something else: the whole of an unsigned value is
 * the value; a slice of a slice, of a constant, of a concatenation or of a zero extension is a slice of (or a
 * constant, or a concatenation of slices of) what is underneath. Verilog can only slice names, so each
 * unsimplified slice of an expression costs a temporary wire in the output.
 */
function sliceOf(a: Expr, hi: number, lo: number): Expr {
  const w = hi - lo + 1;
  if (lo === 0 && hi === a.width - 1 && !a.signed) return a;
  switch (a.op) {
    case 'slice': {
      const base = a.attrs.lo!;
      return new Expr('slice', w, false, [a.args[0]], { hi: base + hi, lo: base + lo });
    }
    case 'const': {
      const bits = a.attrs.value! & ((1n << BigInt(a.width)) - 1n); // two's complement pattern
      return new Expr('const', w, false, [], { value: (bits >> BigInt(lo)) & ((1n << BigInt(w)) - 1n) });
    }
    case 'cat': {
      const pieces: Expr[] = [];
      let top = a.width; // bit just above the current part
      for (const part of a.args) {
        const pLo = top - part.width;
        const pHi = top - 1;
        top = pLo;
        if (pHi < lo || pLo > hi) continue;
        pieces.push(sliceOf(part, Math.min(hi, pHi) - pLo, Math.max(lo, pLo) - pLo));
      }
      return pieces.length === 1 ? pieces[0] : new Expr('cat', w, false, pieces);
    }
    case 'zext': {
      const inner = a.args[0];
      if (lo >= inner.width) return new Expr('const', w, false, [], { value: 0n });
      if (hi < inner.width) return sliceOf(inner, hi, lo);
      return new Expr('cat', w, false, [
        new Expr('const', hi - inner.width + 1, false, [], { value: 0n }),
        sliceOf(inner, inner.width - 1, lo),
      ]);
    }
    default:
      return new Expr('slice', w, false, [a], { hi, lo });
  }
}

function checkRange(a: Expr, hi: number, lo: number, op: string): void {
  if (!Number.isInteger(hi) || !Number.isInteger(lo) || lo < 0 || hi < lo || hi >= a.width) {
    throw new HdlError(
      `${op}(${hi === lo ? hi : `${hi}, ${lo}`}) out of range for ${opnd(a)} (valid bits ${a.width - 1}..0)`,
      callerLoc(),
      'range',
    );
  }
}
