// Every expression operator, checked by simulating the emitted Verilog in Icarus against BigInt reference
// computations over seeded random (edge-biased) inputs, unsigned and signed, at widths 1..128.
import { describe, expect, it } from 'vitest';
import { cat, defineModule, type Expr, type HwType, lit, log2ceil, mux, select, sint, uint } from '../../gen/hdl';
import { cycleSim, type Vector } from '../support/cyclesim';
import { Rng } from '../../sim/random';
import { caseSeed } from '../support/seeds';
import { b2n, edgeBits, expectLintClean, mask, S, U } from './helpers';

/** The inputs every operator module has, and their (unsigned bit pattern) values in one cycle. */
interface In {
  a: Expr;
  b: Expr;
  c: Expr; // 3 bits, for mixed-width products
  sel: Expr; // 1 bit
  sh: Expr; // shift amount, reaching past the width
  idx: Expr; // dynamic bit index, log2ceil(w) bits
  k: Expr; // 2-bit select index
}
type Vals = Record<keyof In, bigint>;

interface Op {
  name: string;
  /** Skip at widths where the operator makes no sense (e.g. a constant shift of a 1-bit value). */
  when?: (w: number) => boolean;
  build: (x: In, w: number) => Expr;
  /** The expected result as an unsigned bit pattern of the result's width. */
  ref: (v: Vals, w: number) => bigint;
  /** The result type the DSL must give (checked before simulation). */
  type?: (w: number) => HwType;
}

const kOf = (w: number) => Math.max(1, Math.floor(w / 3)); // constant shift amount / slice bound
const half = (w: number) => Math.ceil(w / 2);
const popParity = (v: bigint) => {
  let p = 0n;
  for (; v; v >>= 1n) p ^= v & 1n;
  return p;
};

/** Operators whose bit-level result does not depend on signedness, checked for both. */
const common = (sg: boolean): Op[] => {
  const val = (v: bigint, w: number) => (sg ? S(v, w) : v);
  return [
    {
      name: 'add',
      build: (x) => x.a.add(x.b),
      ref: (v, w) => U(v.a + v.b, w),
      type: (w) => ({ width: w, signed: sg }),
    },
    {
      name: 'sub',
      build: (x) => x.a.sub(x.b),
      ref: (v, w) => U(v.a - v.b, w),
      type: (w) => ({ width: w, signed: sg }),
    },
    { name: 'inc', when: (w) => !sg || w > 1, build: (x) => x.a.inc(), ref: (v, w) => U(v.a + 1n, w) },
    { name: 'dec', when: (w) => !sg || w > 1, build: (x) => x.a.dec(), ref: (v, w) => U(v.a - 1n, w) },
    { name: 'addk', when: (w) => w > 2, build: (x) => x.a.add(3), ref: (v, w) => U(v.a + 3n, w) },
    {
      name: 'addc',
      build: (x) => x.a.addc(x.b),
      ref: (v, w) => U(val(v.a, w) + val(v.b, w), w + 1),
      type: (w) => ({ width: w + 1, signed: sg }),
    },
    {
      name: 'subc',
      build: (x) => x.a.subc(x.b),
      ref: (v, w) => U(val(v.a, w) - val(v.b, w), w + 1),
      type: (w) => ({ width: w + 1, signed: sg }),
    },
    {
      name: 'mul',
      build: (x) => x.a.mul(x.b),
      ref: (v, w) => U(val(v.a, w) * val(v.b, w), 2 * w),
      type: (w) => ({ width: 2 * w, signed: sg }),
    },
    {
      name: 'mulc',
      build: (x) => x.a.mul(x.c),
      ref: (v, w) => U(val(v.a, w) * val(v.c, 3), w + 3),
      type: (w) => ({ width: w + 3, signed: sg }),
    },
    {
      name: 'mulk',
      when: (w) => w > 2,
      build: (x) => x.a.mul(sg ? -3 : 3),
      ref: (v, w) => U(val(v.a, w) * (sg ? -3n : 3n), 2 * w),
    },
    { name: 'and_', build: (x) => x.a.and(x.b), ref: (v) => v.a & v.b },
    { name: 'or_', build: (x) => x.a.or(x.b), ref: (v) => v.a | v.b },
    { name: 'xor_', build: (x) => x.a.xor(x.b), ref: (v) => v.a ^ v.b },
    { name: 'not_', build: (x) => x.a.not(), ref: (v, w) => U(~v.a, w), type: (w) => ({ width: w, signed: sg }) },
    { name: 'andr', build: (x) => x.a.andR(), ref: (v, w) => b2n(v.a === mask(w)), type: () => uint(1) },
    { name: 'orr', build: (x) => x.a.orR(), ref: (v) => b2n(v.a !== 0n) },
    { name: 'xorr', build: (x) => x.a.xorR(), ref: (v) => popParity(v.a) },
    { name: 'eq', build: (x) => x.a.eq(x.b), ref: (v) => b2n(v.a === v.b), type: () => uint(1) },
    { name: 'ne', build: (x) => x.a.ne(x.b), ref: (v) => b2n(v.a !== v.b) },
    { name: 'lt', build: (x) => x.a.lt(x.b), ref: (v, w) => b2n(val(v.a, w) < val(v.b, w)) },
    { name: 'le', build: (x) => x.a.le(x.b), ref: (v, w) => b2n(val(v.a, w) <= val(v.b, w)) },
    { name: 'gt', build: (x) => x.a.gt(x.b), ref: (v, w) => b2n(val(v.a, w) > val(v.b, w)) },
    { name: 'ge', build: (x) => x.a.ge(x.b), ref: (v, w) => b2n(val(v.a, w) >= val(v.b, w)) },
    { name: 'eqk', build: (x) => x.a.eq(sg ? -1 : 1), ref: (v, w) => b2n(val(v.a, w) === (sg ? -1n : 1n)) },
    {
      name: 'ltk',
      when: (w) => w > 2,
      build: (x) => x.a.lt(sg ? -2 : 3),
      ref: (v, w) => b2n(val(v.a, w) < (sg ? -2n : 3n)),
    },
    {
      name: 'shlk',
      when: (w) => w > 1,
      build: (x, w) => x.a.shl(kOf(w)),
      ref: (v, w) => U(v.a << BigInt(kOf(w)), w),
      type: (w) => ({ width: w, signed: sg }),
    },
    {
      name: 'shrk', // logical for unsigned, arithmetic for signed
      when: (w) => w > 1,
      build: (x, w) => x.a.shr(kOf(w)),
      ref: (v, w) => U(val(v.a, w) >> BigInt(kOf(w)), w),
      type: (w) => ({ width: w, signed: sg }),
    },
    {
      name: 'shrmax',
      when: (w) => w > 1,
      build: (x, w) => x.a.shr(w - 1),
      ref: (v, w) => U(val(v.a, w) >> BigInt(w - 1), w),
    },
    { name: 'shl0', build: (x) => x.a.shl(0), ref: (v) => v.a },
    {
      name: 'shlv',
      build: (x) => x.a.shl(x.sh),
      ref: (v, w) => U(v.a << v.sh, w),
      type: (w) => ({ width: w, signed: sg }),
    },
    {
      name: 'shrv',
      build: (x) => x.a.shr(x.sh),
      ref: (v, w) => U(val(v.a, w) >> v.sh, w),
      type: (w) => ({ width: w, signed: sg }),
    },
    {
      name: 'bitk',
      build: (x, w) => x.a.bit(Math.floor(w / 2)),
      ref: (v, w) => (v.a >> BigInt(Math.floor(w / 2))) & 1n,
      type: () => uint(1),
    },
    { name: 'bitv', build: (x) => x.a.bit(x.idx), ref: (v) => (v.a >> v.idx) & 1n, type: () => uint(1) },
    {
      name: 'bits',
      build: (x, w) => x.a.bits(w - 1, w > 1 ? kOf(w) : 0),
      ref: (v, w) => v.a >> BigInt(w > 1 ? kOf(w) : 0),
      type: (w) => uint(w > 1 ? w - kOf(w) : 1),
    },
    { name: 'bitsmid', when: (w) => w > 3, build: (x) => x.a.bits(2, 1), ref: (v) => (v.a >> 1n) & 3n },
    { name: 'trunc', build: (x, w) => x.a.trunc(half(w)), ref: (v, w) => U(v.a, half(w)), type: (w) => uint(half(w)) },
    { name: 'msb', build: (x) => x.a.msb(), ref: (v, w) => v.a >> BigInt(w - 1), type: () => uint(1) },
    {
      name: 'cat3',
      build: (x) => cat(x.a, x.b, x.sel),
      ref: (v, w) => (v.a << BigInt(w + 1)) | (v.b << 1n) | v.sel,
      type: (w) => uint(2 * w + 1),
    },
    { name: 'catm', build: (x) => x.sel.cat(x.a), ref: (v, w) => (v.sel << BigInt(w)) | v.a },
    {
      name: 'rep',
      build: (x) => x.a.rep(3),
      ref: (v, w) => (v.a << BigInt(2 * w)) | (v.a << BigInt(w)) | v.a,
      type: (w) => uint(3 * w),
    },
    { name: 'zext', build: (x, w) => x.a.zext(w + 5), ref: (v) => v.a, type: (w) => uint(w + 5) },
    {
      name: 'sext',
      build: (x, w) => x.a.sext(w + 5),
      ref: (v, w) => U(S(v.a, w), w + 5),
      type: (w) => ({ width: w + 5, signed: sg }),
    },
    { name: 'assigned', build: (x) => x.a.asSigned(), ref: (v) => v.a, type: (w) => sint(w) },
    { name: 'asunsigned', build: (x) => x.a.asUnsigned(), ref: (v) => v.a, type: (w) => uint(w) },
    {
      name: 'mux2',
      build: (x) => x.sel.select(x.a, x.b),
      ref: (v) => (v.sel ? v.a : v.b),
      type: (w) => ({ width: w, signed: sg }),
    },
    { name: 'muxk', build: (x) => mux(x.sel, 0, x.a), ref: (v) => (v.sel ? 0n : v.a) },
    {
      name: 'sel3', // 3 options on a 2-bit index: index 3 gives the last option
      build: (x) => select(x.k, [x.a, x.b, x.a.xor(x.b)]),
      ref: (v) => [v.a, v.b, v.a ^ v.b, v.a ^ v.b][Number(v.k)],
      type: (w) => ({ width: w, signed: sg }),
    },
    {
      name: 'selfb', // explicit fallback
      build: (x) => select(x.k, [x.b, x.a], 0),
      ref: (v) => [v.b, v.a, 0n, 0n][Number(v.k)],
    },
    {
      name: 'sel4',
      build: (x) => select(x.k, [x.a, x.b, x.a.not(), 0]),
      ref: (v, w) => [v.a, v.b, U(~v.a, w), 0n][Number(v.k)],
    },
    // Compositions where Verilog's context-dependent sizing and signedness could differ from the DSL's rules.
    {
      name: 'addshr',
      when: (w) => w > 1,
      build: (x) => x.a.add(x.b).shr(1),
      ref: (v, w) => U(val(U(v.a + v.b, w), w) >> 1n, w),
    },
    { name: 'addlt', build: (x) => x.a.add(x.b).lt(x.b), ref: (v, w) => b2n(val(U(v.a + v.b, w), w) < val(v.b, w)) },
    { name: 'notmul', build: (x) => x.a.not().mul(x.b), ref: (v, w) => U(val(U(~v.a, w), w) * val(v.b, w), 2 * w) },
    { name: 'addorr', build: (x) => x.a.add(x.b).orR(), ref: (v, w) => b2n(U(v.a + v.b, w) !== 0n) },
    { name: 'addbit', build: (x) => x.a.add(x.b).msb(), ref: (v, w) => U(v.a + v.b, w) >> BigInt(w - 1) },
    { name: 'addzext', build: (x, w) => x.a.add(x.b).zext(w + 1), ref: (v, w) => U(v.a + v.b, w) },
    {
      name: 'sextlt',
      build: (x, w) => x.a.sext(w + 8).lt(x.b.sext(w + 8)),
      ref: (v, w) => cmpLt(S(v.a, w), S(v.b, w), w + 8, sg),
    },
    { name: 'bit0lt', build: (x) => x.a.bit(0).lt(x.b.bit(0)), ref: (v) => b2n((v.a & 1n) < (v.b & 1n)) },
    { name: 'fulllt', build: (x, w) => x.a.bits(w - 1, 0).lt(x.b.bits(w - 1, 0)), ref: (v) => b2n(v.a < v.b) },
    { name: 'unslt', build: (x) => x.a.asUnsigned().lt(x.b.asUnsigned()), ref: (v) => b2n(v.a < v.b) },
    { name: 'zextlt', build: (x, w) => x.a.zext(w + 1).lt(x.b.zext(w + 1)), ref: (v) => b2n(v.a < v.b) },
    { name: 'catlt', build: (x) => cat(x.a).lt(cat(x.b)), ref: (v) => b2n(v.a < v.b) },
    { name: 'trunclt', build: (x, w) => x.a.trunc(w).lt(x.b.trunc(w)), ref: (v) => b2n(v.a < v.b) },
    {
      name: 'sextshr',
      build: (x, w) => x.a.sext(w + 4).shr(x.sh),
      ref: (v, w) => U((sg ? S(v.a, w) : U(S(v.a, w), w + 4)) >> v.sh, w + 4),
    },
    {
      name: 'muxsh',
      when: (w) => w > 1,
      build: (x) => x.sel.select(x.a, x.b).shr(1),
      ref: (v, w) => U(val(v.sel ? v.a : v.b, w) >> 1n, w),
    },
    {
      name: 'selshr',
      when: (w) => w > 1,
      build: (x) => select(x.k, [x.a, x.b]).shr(1),
      ref: (v, w) => U(val(v.k === 0n ? v.a : v.b, w) >> 1n, w),
    },
  ];
};

/** `x < y` of the (w-bit sign-extended) values, as the DSL type says: signed or unsigned. */
function cmpLt(x: bigint, y: bigint, w: number, signed: boolean): bigint {
  return b2n(signed ? x < y : U(x, w) < U(y, w));
}

const signedOnly: Op[] = [
  { name: 'neg', build: (x) => x.a.neg(), ref: (v, w) => U(-S(v.a, w), w), type: (w) => sint(w) },
  { name: 'negadd', build: (x) => x.a.neg().add(x.b), ref: (v, w) => U(-S(v.a, w) + S(v.b, w), w) },
  { name: 'ltm1', build: (x) => x.a.lt(-1), ref: (v, w) => b2n(S(v.a, w) < -1n) },
  { name: 'gem1', build: (x) => x.a.ge(-1), ref: (v, w) => b2n(S(v.a, w) >= -1n) },
  { name: 'sextmul', build: (x, w) => x.a.sext(w + 2).mul(x.c), ref: (v, w) => U(S(v.a, w) * S(v.c, 3), w + 5) },
];

const widths = [1, 7, 8, 33, 64, 65, 128];

function opsModule(w: number, sg: boolean, ops: Op[]) {
  const T = (n: number): HwType => (sg ? sint(n) : uint(n));
  return defineModule(
    'ops',
    (m) => {
      const x: In = {
        a: m.input('a', T(w)),
        b: m.input('b', T(w)),
        c: m.input('c', T(3)),
        sel: m.input('sel', 1),
        sh: m.input('sh', log2ceil(w) + 2),
        idx: m.input('idx', log2ceil(w)),
        k: m.input('k', 2),
      };
      for (const op of ops) {
        const e = op.build(x, w);
        if (op.type) expect({ op: op.name, width: e.width, signed: e.signed }).toEqual({ op: op.name, ...op.type(w) });
        m.output(`y_${op.name}`, e).set(e);
      }
    },
    { name: () => `ops_${sg ? 's' : 'u'}${w}` },
  ).elaborate();
}

describe('operators, simulated against BigInt references', () => {
  for (const sg of [false, true]) {
    for (const w of widths) {
      it(`${sg ? 'signed' : 'unsigned'} ${w}-bit`, () => {
        const ops = [...common(sg), ...(sg ? signedOnly : [])].filter((o) => o.when?.(w) ?? true);
        const top = opsModule(w, sg, ops);
        const { seed, replay } = caseSeed(0x5eed + w * 2 + (sg ? 1 : 0));
        const rng = new Rng(seed);
        const shw = log2ceil(w) + 2;
        const stim: Vector[] = [];
        for (let n = 0; n < 250; n++) {
          stim.push({
            a: edgeBits(rng, w),
            b: rng.chance(0.1) ? (stim[n - 1]?.a ?? 0n) : edgeBits(rng, w), // equal operands now and then
            c: rng.bits(3),
            sel: rng.bits(1),
            sh: rng.chance(0.75) ? BigInt(rng.below(w + 1)) : rng.bits(shw),
            idx: BigInt(rng.below(w)),
            k: rng.bits(2),
          });
        }
        // a == b exactly sometimes (comparisons' equal case).
        const out = cycleSim(top, stim);
        expect(out.length).toBe(stim.length);
        const fails: string[] = [];
        out.forEach((o, n) => {
          const v = Object.fromEntries(Object.entries(stim[n]).map(([k2, x]) => [k2, BigInt(x)])) as Vals;
          for (const op of ops) {
            const got = o[`y_${op.name}`];
            const want = op.ref(v, w);
            if (got !== want && fails.length < 20) {
              fails.push(
                `${op.name}: a=0x${v.a.toString(16)} b=0x${v.b.toString(16)} c=${v.c} sel=${v.sel} sh=${v.sh} idx=${v.idx} k=${v.k}: got 0x${got.toString(16)}, want 0x${want.toString(16)}`,
              );
            }
          }
        });
        expect(fails, `cycle mismatches (${replay})`).toEqual([]);
      });
    }
  }

  it('lints clean (verilator -Wall) at every width', () => {
    for (const sg of [false, true]) {
      for (const w of [1, 8, 65]) {
        const ops = [...common(sg), ...(sg ? signedOnly : [])].filter((o) => o.when?.(w) ?? true);
        expectLintClean(opsModule(w, sg, ops));
      }
    }
  });
});

describe('constants', () => {
  const cases: { w: number; signed: boolean; v: bigint }[] = [];
  const rng = new Rng(77);
  for (const w of [1, 2, 7, 8, 31, 32, 33, 63, 64, 65, 100, 128, 200]) {
    cases.push({ w, signed: false, v: 0n }, { w, signed: false, v: mask(w) }, { w, signed: false, v: rng.bits(w) });
    cases.push(
      { w, signed: true, v: -(1n << BigInt(w - 1)) },
      { w, signed: true, v: -1n },
      { w, signed: true, v: S(rng.bits(w), w) },
    );
    if (w > 1) cases.push({ w, signed: true, v: (1n << BigInt(w - 1)) - 1n });
  }

  it('of widths 1..200, unsigned and signed (incl. negative), simulate to their bit patterns', () => {
    const top = defineModule('consts', (m) => {
      const s = m.input('s', 1);
      cases.forEach((c, n) => {
        const t = c.signed ? sint(c.w) : uint(c.w);
        // Both a bare constant and one combined with an input (constants lifted to the other operand's type).
        m.output(`k${n}`, t).set(lit(c.v, t));
        const y = m.output(`x${n}`, t);
        y.set(mux(s, c.v, lit(0, t)));
      });
    }).elaborate();
    const out = cycleSim(top, [{ s: 0 }, { s: 1 }]);
    cases.forEach((c, n) => {
      const what = `${c.signed ? 'sint' : 'uint'}${c.w} ${c.v}`;
      expect(out[0][`k${n}`], what).toBe(U(c.v, c.w));
      expect(out[0][`x${n}`], what).toBe(0n);
      expect(out[1][`x${n}`], what).toBe(U(c.v, c.w));
    });
    expectLintClean(top);
  });

  it('numbers, bigints and booleans adapt to the other operand; wide bigint masks', () => {
    const big = (1n << 127n) | 0x0123456789abcdef0123456789abcdefn;
    const top = defineModule('lifts', (m) => {
      const a = m.input('a', 128);
      const s = m.input('s', sint(70));
      const fl = m.input('fl', 1);
      m.output('x', 128).set(a.xor(big));
      m.output('y', 128).set(a.add(0xffff_ffff_ffffn));
      m.output('z', sint(70)).set(s.add(-(1n << 68n)));
      m.output('e', 1).set(fl.eq(true));
      m.output('n', 1).set(fl.xor(false).not());
    }).elaborate();
    const rng = new Rng(5);
    const stim = Array.from({ length: 30 }, () => ({ a: rng.bits(128), s: rng.bits(70), fl: rng.bits(1) }));
    const out = cycleSim(top, stim);
    out.forEach((o, n) => {
      const v = stim[n];
      expect(o.x).toBe(v.a ^ big);
      expect(o.y).toBe(U(v.a + 0xffff_ffff_ffffn, 128));
      expect(o.z).toBe(U(S(v.s, 70) - (1n << 68n), 70));
      expect(o.e).toBe(v.fl);
      expect(o.n).toBe(1n - v.fl);
    });
  });
});

describe('dynamic bit index', () => {
  it('reads every bit of a non-power-of-two vector', () => {
    for (const w of [2, 5, 12]) {
      const top = defineModule(
        'dynbit',
        (m) => {
          const a = m.input('a', w);
          const i = m.input('ix', log2ceil(w));
          m.output('y', 1).set(a.bit(i));
          m.output('z', 1).set(a.not().bit(i)); // index into an expression (hoisted)
        },
        { name: () => `dynbit_${w}` },
      ).elaborate();
      const rng = new Rng(w);
      const stim = Array.from({ length: 40 }, () => ({ a: rng.bits(w), ix: BigInt(rng.below(w)) }));
      cycleSim(top, stim).forEach((o, n) => {
        expect(o.y).toBe((stim[n].a >> stim[n].ix) & 1n);
        expect(o.z).toBe(((stim[n].a >> stim[n].ix) & 1n) ^ 1n);
      });
      expectLintClean(top);
    }
  });
});

describe('expression DAGs', () => {
  it('a large shared subexpression and a very deep chain simulate correctly and lint clean', () => {
    const top = defineModule('dag', (m) => {
      const a = m.input('a', 16);
      const b = m.input('b', 16);
      const sb = m.input('sb', sint(16));
      // shared by several parents, in different contexts (comparison, shift, slice, sign cast)
      const big = a.add(b).xor(a.shl(3)).add(b.not()).xor(a.mul(b).trunc(16)).add(7);
      m.output('p', 1).set(big.lt(b));
      m.output('q', 16).set(big.shr(2));
      m.output('r', 4).set(big.bits(11, 8));
      m.output('s', 16).set(big.asSigned().add(sb).shr(1).asUnsigned());
      // a chain far deeper than one Verilog expression should be
      let acc: Expr = a;
      for (let i = 0; i < 200; i++) acc = i % 3 === 0 ? acc.add(i) : i % 3 === 1 ? acc.xor(b) : acc.sub(1);
      m.output('chain', 16).set(acc);
    }).elaborate();
    const rng = new Rng(99);
    const stim = Array.from({ length: 100 }, () => ({ a: rng.bits(16), b: rng.bits(16), sb: rng.bits(16) }));
    const out = cycleSim(top, stim);
    out.forEach((o, n) => {
      const { a, b, sb } = stim[n];
      const big = U((U(a + b, 16) ^ U(a << 3n, 16)) + U(~b, 16), 16) ^ U(a * b, 16);
      const bigv = U(big + 7n, 16);
      expect(o.p).toBe(b2n(bigv < b));
      expect(o.q).toBe(bigv >> 2n);
      expect(o.r).toBe((bigv >> 8n) & 0xfn);
      expect(o.s).toBe(U(S(U(bigv + sb, 16), 16) >> 1n, 16)); // wraps at 16 bits, then shifts arithmetically
      let acc = a;
      for (let i = 0; i < 200; i++)
        acc = i % 3 === 0 ? U(acc + BigInt(i), 16) : i % 3 === 1 ? acc ^ b : U(acc - 1n, 16);
      expect(o.chain).toBe(acc);
    });
    expectLintClean(top);
  });
});
