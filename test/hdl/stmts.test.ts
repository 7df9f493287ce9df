// Statements and storage: registers (reset, no reset, enable), if/elseIf/else and switch/case/default with
// last-assignment-wins, wires with defaults, let(), regArray/wireArray with dynamic indices. Each design is
// simulated in Icarus against a cycle model written in TypeScript, and linted with Verilator -Wall.
import { describe, expect, it } from 'vitest';
import { defineModule, lit, select, sint } from '../../gen/hdl';
import { cycleSim, type Vector } from '../support/cyclesim';
import { Rng } from '../../sim/random';
import { caseSeed } from '../support/seeds';
import { edgeBits, expectLintClean, mask, S, U, verilogOf } from './helpers';

describe('combinational statements', () => {
  const Comb = defineModule('comb_stmts', (m) => {
    const c = m.input('c', 2);
    const x = m.input('x', 1);
    const y = m.input('y', 1);
    const p = m.input('p', 8);
    const q = m.input('q', 8);
    const sc = m.input('sc', sint(3));

    // if / elseIf / else chain
    const wIf = m.output('w_if', 8);
    m.if(x, () => wIf.set(p))
      .elseIf(y, () => wIf.set(q))
      .elseIf(c.eq(3), () => wIf.set(p.and(q)))
      .else(() => wIf.set(p.xor(q)));

    // a default covers the paths an if leaves open
    const wDef = m.output('w_def', 8);
    const dflt = m.wire('dflt', 8, { default: 0x77 });
    m.if(x, () => dflt.set(p));
    wDef.set(dflt);

    // last assignment wins, at the top level and inside an if
    const wLast = m.output('w_last', 8);
    wLast.set(p);
    m.if(y, () => wLast.set(q));

    // nested ifs, assigned on every path without a default
    const wNest = m.output('w_nest', 8);
    m.if(x, () => {
      wNest.set(p);
      m.if(y, () => wNest.set(q));
    }).else(() => wNest.set(0));

    // switch with a multi-value case and a default
    const wSw = m.output('w_sw', 8);
    m.switch(c)
      .case(0, () => wSw.set(p))
      .case([1, 2], () => wSw.set(q))
      .default(() => wSw.set(0x55));

    // switch covering every value, no default: no latch
    const wFull = m.output('w_full', 8);
    m.switch(c)
      .case(0, () => wFull.set(1))
      .case(1, () => wFull.set(2))
      .case(2, () => wFull.set(p))
      .case(3, () => wFull.set(q));

    // a default plus a switch without default; last assignment inside an arm wins
    const wArm = m.output('w_arm', 8);
    const arm = m.wire('arm', 8, { default: 1 });
    m.switch(c).case(1, () => {
      arm.set(p);
      arm.set(q);
    });
    wArm.set(arm);

    // switch on a signed selector with negative case values
    const wNeg = m.output('w_neg', 8);
    m.switch(sc)
      .case(-1, () => wNeg.set(0xf1))
      .case([-4, 3], () => wNeg.set(0xf4))
      .default(() => wNeg.set(0));

    // a switch nested in an if, feeding an output with a default
    const wMix = m.output('w_mix', 8);
    const mix = m.wire('mix', 8, { default: 0xee });
    m.if(x.not(), () => {
      m.switch(c).case(2, () => mix.set(p.add(q)));
    });
    wMix.set(mix);

    // let(): a named wire driven by an expression
    const sum = m.let('sum', p.add(q));
    m.output('w_let', 8).set(sum.xor(1));
  });

  it('simulate as the TypeScript model says', () => {
    const top = Comb.elaborate();
    const { seed, replay } = caseSeed(101);
    const rng = new Rng(seed);
    const stim: Vector[] = Array.from({ length: 300 }, () => ({
      c: rng.bits(2),
      x: rng.bits(1),
      y: rng.bits(1),
      p: edgeBits(rng, 8),
      q: edgeBits(rng, 8),
      sc: rng.bits(3),
    }));
    const out = cycleSim(top, stim);
    out.forEach((o, n) => {
      const { c, x, y, p, q, sc } = Object.fromEntries(Object.entries(stim[n]).map(([k, v]) => [k, BigInt(v)]));
      const ctx = `cycle ${n} (${replay})`;
      expect(o.w_if, ctx).toBe(x ? p : y ? q : c === 3n ? p & q : p ^ q);
      expect(o.w_def, ctx).toBe(x ? p : 0x77n);
      expect(o.w_last, ctx).toBe(y ? q : p);
      expect(o.w_nest, ctx).toBe(x ? (y ? q : p) : 0n);
      expect(o.w_sw, ctx).toBe(c === 0n ? p : c === 1n || c === 2n ? q : 0x55n);
      expect(o.w_full, ctx).toBe([1n, 2n, p, q][Number(c)]);
      expect(o.w_arm, ctx).toBe(c === 1n ? q : 1n);
      const s = S(sc, 3);
      expect(o.w_neg, ctx).toBe(s === -1n ? 0xf1n : s === -4n || s === 3n ? 0xf4n : 0n);
      expect(o.w_mix, ctx).toBe(!x && c === 2n ? U(p + q, 8) : 0xeen);
      expect(o.w_let, ctx).toBe(U(p + q, 8) ^ 1n);
    });
  });

  it('lint clean; combinational signals get always @* blocks or assigns', () => {
    const top = Comb.elaborate();
    expectLintClean(top);
    const v = verilogOf(top);
    expect(v).toMatch(/assign sum = p \+ q;/);
    expect(v).toMatch(/output reg  \[7:0\] +w_if,/);
    expect(v).toContain("dflt = 8'd119;  // default, test/hdl/stmts.test.ts:");
  });
});

describe('constant-only combinational signals', () => {
  // An always @* block that reads no signal never runs in an event-driven simulator (its outputs stay X).
  it('a default-only wire, several constant assignments and a select at a constant index simulate', () => {
    const top = defineModule('const_comb', (m) => {
      const a = m.input('a', 8);
      const w = m.wire('w', 8, { default: 5 }); // a generator parameter left it unassigned
      m.output('y', 8).set(w);
      const v = m.wire('v', 8);
      v.set(1);
      v.set(2); // last assignment wins
      m.output('z', 8).set(v);
      m.output('s', 8).set(select(lit(1, 2), [lit(3, 8), lit(4, 8)]));
      const u = m.wire('u', 8, { default: 9 });
      u.set(a); // an unconditional assignment overrides the default
      m.output('o', 8).set(u);
    }).elaborate();
    const out = cycleSim(top, [{ a: 7 }, { a: 8 }]);
    expect(out).toEqual([
      { y: 5n, z: 2n, s: 4n, o: 7n },
      { y: 5n, z: 2n, s: 4n, o: 8n },
    ]);
    expect(verilogOf(top)).not.toContain('always');
    expectLintClean(top);
  });
});

describe('registers', () => {
  const Regs = defineModule('regs', (m) => {
    const d = m.input('d', 8);
    const en = m.input('en', 1);
    const x = m.input('x', 1);
    const c = m.input('c', 2);

    const rRst = m.reg('r_rst', 8, { reset: 0x5a });
    rRst.next(d);
    const rNr = m.reg('r_nr', 8); // no reset
    rNr.next(d.not());
    const rEn = m.reg('r_en', 8, { reset: 3, en });
    rEn.next(d);
    const rEnNr = m.reg('r_en_nr', 8, { en }); // enable, no reset
    rEnNr.next(d.add(1));
    const rHold = m.reg('r_hold', 8, { reset: 0 });
    m.if(x, () => rHold.next(d)); // holds when x is 0
    const rLast = m.reg('r_last', 8, { reset: 0 });
    rLast.next(d);
    m.if(x, () => rLast.next(d.not())); // the last assignment wins
    const rSw = m.reg('r_sw', 8, { reset: 9 });
    m.switch(c)
      .case(0, () => rSw.next(d))
      .case(3, () => rSw.next(rSw.inc())); // other values hold
    const rS = m.reg('r_s', sint(8), { reset: -2 });
    m.if(x, () => rS.next(rS.sub(3)));
    const cnt = m.reg('cnt', 4, { reset: 0 });
    cnt.next(cnt.inc()); // wraps at 16

    for (const r of [rRst, rNr, rEn, rEnNr, rHold, rLast, rSw, rS, cnt]) m.output(`o_${r.name}`, r).set(r);
  });

  it('reset values, no reset, enables, hold, last assignment wins', () => {
    const top = Regs.elaborate();
    const { seed, replay } = caseSeed(202);
    const rng = new Rng(seed);
    const stim: Vector[] = Array.from({ length: 300 }, () => ({
      d: rng.bits(8),
      en: rng.bits(1),
      x: rng.bits(1),
      c: rng.bits(2),
    }));
    const out = cycleSim(top, stim);
    // After the two reset cycles (inputs all 0 during reset): registers with reset hold their reset value;
    // registers without reset have loaded from the zero inputs (r_nr = ~0; r_en_nr kept its X: en was 0).
    const st = {
      r_rst: 0x5an,
      r_nr: 0xffn,
      r_en: 3n,
      r_en_nr: -1n,
      r_hold: 0n,
      r_last: 0n,
      r_sw: 9n,
      r_s: U(-2n, 8),
      cnt: 0n,
    };
    out.forEach((o, n) => {
      const ctx = `cycle ${n} (${replay})`;
      for (const [k, v] of Object.entries(st)) expect(o[`o_${k}`], `${k} ${ctx}`).toBe(v);
      const d = BigInt(stim[n].d),
        en = BigInt(stim[n].en),
        x = BigInt(stim[n].x),
        c = BigInt(stim[n].c);
      st.r_rst = d;
      st.r_nr = U(~d, 8);
      if (en) st.r_en = d;
      if (en) st.r_en_nr = U(d + 1n, 8);
      if (x) st.r_hold = d;
      st.r_last = x ? U(~d, 8) : d;
      if (c === 0n) st.r_sw = d;
      else if (c === 3n) st.r_sw = U(st.r_sw + 1n, 8);
      if (x) st.r_s = U(S(st.r_s, 8) - 3n, 8);
      st.cnt = U(st.cnt + 1n, 4);
    });
  });

  it('without reset cycles every register starts unknown (X)', () => {
    const out = cycleSim(Regs.elaborate(), [{ d: 1 }, { d: 2 }], { resetCycles: 0 });
    for (const k of ['r_rst', 'r_nr', 'r_en', 'r_hold', 'cnt']) expect(out[0][`o_${k}`], k).toBe(-1n);
    expect(out[1].o_r_rst).toBe(1n);
  });

  it('emits one block per reset group, enables in their own block, lint clean', () => {
    const top = Regs.elaborate();
    expectLintClean(top);
    const v = verilogOf(top);
    expect(v).toMatch(/module regs \(\n  input  wire +clk, +\/\/ .*\n  input  wire +rst, /); // clk, rst first
    expect(v).toMatch(/always @\(posedge clk\) begin\n    if \(rst\) begin\n      r_rst <= 8'd90;/);
    expect(v).toMatch(/always @\(posedge clk\) begin\n    r_nr <= ~d;/);
    expect(v).toMatch(
      /if \(rst\) begin\n      r_en <= 8'd3;\n    end else begin\n      if \(en\) begin\n        r_en <= d;/,
    );
    expect(v).toContain("r_s <= 8'shFE;");
  });
});

describe('register and wire arrays', () => {
  const N = 5;
  const Arrays = defineModule('arrays', (m) => {
    const we = m.input('we', 1);
    const widx = m.input('widx', 3);
    const ridx = m.input('ridx', 3);
    const d = m.input('d', 8);
    const ra = m.regArray('ra', N, 8, { reset: 0 });
    m.if(we, () => ra.nextAt(widx, d)); // dynamic write: index 5..7 writes nothing
    ra.nextAt(0, ra.item(0)); // a later constant-index write: element 0 holds, whatever the dynamic write said
    m.output('rd', 8).set(ra.at(ridx)); // dynamic read: index 5..7 gives the last element
    m.output('r0', 8).set(ra.at(0));

    const wa = m.wireArray('wa', 4, 8, { default: 0 });
    wa.setAt(widx.trunc(2), d); // one element gets d, the others keep their default
    m.output('wsum', 8).set(wa.at(0).xor(wa.at(1)).xor(wa.item(2)).add(wa.at(3)));
    m.output('wrd', 8).set(wa.at(ridx.trunc(2)));

    const full = m.wireArray('full', 3, 4); // no default: every element driven by a constant index
    for (let i = 0; i < 3; i++) full.setAt(i, d.bits(i + 3, i));
    m.output('fsel', 4).set(full.at(ridx.trunc(2))); // index 3 gives the last element
  });

  it('dynamic index read and write simulate like an array', () => {
    const top = Arrays.elaborate();
    const { seed, replay } = caseSeed(303);
    const rng = new Rng(seed);
    const stim: Vector[] = Array.from({ length: 300 }, () => ({
      we: rng.bits(1),
      widx: rng.bits(3),
      ridx: rng.bits(3),
      d: rng.bits(8),
    }));
    const out = cycleSim(top, stim);
    const ra = new Array<bigint>(N).fill(0n);
    out.forEach((o, n) => {
      const ctx = `cycle ${n} (${replay})`;
      const { we, widx, ridx, d } = Object.fromEntries(Object.entries(stim[n]).map(([k, v]) => [k, BigInt(v)]));
      expect(o.rd, ctx).toBe(ra[Math.min(Number(ridx), N - 1)]);
      expect(o.r0, ctx).toBe(ra[0]);
      const wa = [0n, 0n, 0n, 0n];
      wa[Number(widx & 3n)] = d;
      expect(o.wsum, ctx).toBe(U((wa[0] ^ wa[1] ^ wa[2]) + wa[3], 8));
      expect(o.wrd, ctx).toBe(wa[Number(ridx & 3n)]);
      const full = [0, 1, 2].map((i) => (d >> BigInt(i)) & mask(4));
      expect(o.fsel, ctx).toBe(full[Math.min(Number(ridx & 3n), 2)]);
      // The constant-index write of element 0 comes after the dynamic one: it wins for element 0.
      if (we && widx < BigInt(N) && widx !== 0n) ra[Number(widx)] = d;
    });
  });

  it('lint clean', () => expectLintClean(Arrays.elaborate()));
});
