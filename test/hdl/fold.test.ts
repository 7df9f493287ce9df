// Comparisons known at generation time fold to constants (parametric code makes them; emitted as-is they
// draw Verilator's CMPCONST / UNSIGNED warnings), and a mux on a constant select picks its arm.
import { describe, expect, it } from 'vitest';
import { defineModule, emitModule, lit, mux, sint, uint } from '../../gen/hdl';
import { cycleSim } from '../support/cyclesim';
import { expectLintClean } from './helpers';

describe('constant folding', () => {
  it('folds comparisons against the ends of a type and between constants', () => {
    const D = defineModule('fold_cmp', (m) => {
      const u = m.input('u', 4);
      const s = m.input('s', sint(4));
      const cases = [
        u.lt(0), // never
        u.ge(0), // always
        lit(0, 4).gt(u), // never
        lit(0, 4).le(u), // always
        u.gt(15), // never
        u.le(15), // always
        s.lt(-8), // never
        s.le(7), // always
        lit(3, 4).lt(lit(5, 4)), // constant true
        lit(3, 4).eq(4), // constant false
      ];
      cases.forEach((c, i) => {
        expect(c.op, `case ${i}`).toBe('const');
        m.output(`c${i}`, 1).set(c);
      });
      // Not foldable: stays a comparison.
      const live = u.lt(1);
      expect(live.op).toBe('lt');
      m.output('live', 1).set(live);
      m.output('pick', uint(4)).set(mux(u.ge(0), u, lit(0, 4)));
    });
    const top = D.elaborate(undefined);
    expectLintClean(top);
    const out = cycleSim(top, [
      { u: 0, s: 0 },
      { u: 9, s: 0xf },
    ]);
    for (const o of out) {
      expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => o[`c${i}`])).toEqual([0n, 1n, 0n, 1n, 0n, 1n, 0n, 1n, 1n, 0n]);
    }
    expect(out.map((o) => o.live)).toEqual([1n, 0n]);
    expect(out.map((o) => o.pick)).toEqual([0n, 9n]);
  });
});

describe('logic identities', () => {
  it('x | 0, x & ~0, x ^ 0 are x; x & 0 is 0; x | ~0 is ~0', () => {
    const D = defineModule('fold_logic', (m) => {
      const x = m.input('x', 4);
      const zero = lit(0, 4);
      const ones = lit(15, 4);
      expect(x.or(zero)).toBe(x);
      expect(zero.or(x)).toBe(x);
      expect(x.and(ones)).toBe(x);
      expect(x.xor(0)).toBe(x);
      expect(x.and(0).op).toBe('const');
      expect(x.or(15).op).toBe('const');
      expect(x.and(3).op).toBe('and');
      m.output('y', 4).set(x.and(0).or(x.or(15).and(x)));
    });
    const top = D.elaborate(undefined);
    expectLintClean(top);
    expect(cycleSim(top, [{ x: 5 }, { x: 10 }]).map((o) => o.y)).toEqual([5n, 10n]);
  });
});

describe('slice simplification', () => {
  it('slices of slices, constants, concatenations and zero extensions: no temporaries, same values', () => {
    const D = defineModule('fold_slice', (m) => {
      const a = m.input('a', 8);
      const b = m.input('b', 8);
      const c = a.cat(b); // a in 15:8, b in 7:0
      const pieces = [
        c.bits(11, 4), // spans both parts
        c.bits(15, 8), // exactly a
        c.bits(3, 0), // inside b
        a.zext(16).bits(11, 4), // spans the extension
        a.zext(16).bits(15, 12), // all zero
        lit(0xabcd, 16).bits(11, 4), // constant
        c.bits(13, 2).bits(5, 1), // slice of a slice: c[7:3]
      ];
      expect(pieces[1]).toBe(a);
      expect(pieces[4].op).toBe('const');
      expect(pieces[5].op).toBe('const');
      expect(pieces[6].op).toBe('slice');
      pieces.forEach((p, i) => m.output(`p${i}`, p.width).set(p));
    });
    const top = D.elaborate(undefined);
    expectLintClean(top);
    const text = emitModule(top);
    expect(text).not.toMatch(/_slice_|_cat_|_zext_|_const_/);
    const vecs = [
      { a: 0x12, b: 0x34 },
      { a: 0xff, b: 0x00 },
      { a: 0x5a, b: 0xc3 },
    ];
    const out = cycleSim(top, vecs);
    out.forEach((o, k) => {
      const a = BigInt(vecs[k].a);
      const b = BigInt(vecs[k].b);
      const c = (a << 8n) | b;
      const bits = (x: bigint, hi: number, lo: number) => (x >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);
      expect([o.p0, o.p1, o.p2, o.p3, o.p4, o.p5, o.p6]).toEqual([
        bits(c, 11, 4),
        a,
        bits(b, 3, 0),
        bits(a, 11, 4),
        0n,
        0xbcn,
        bits(c, 7, 3),
      ]);
    });
  });
});
