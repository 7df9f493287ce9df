// Hierarchy: instances, bundles through `io`, parameterized modules (distinct deterministic names, each
// parameter set elaborated once), black boxes with Verilog parameters (simulated with a Verilog model), extra
// clock domains (active-low / asynchronous resets, sensitivity lists), and the ports JSON.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  bundle,
  collectModules,
  defineBlackbox,
  defineModule,
  emitDesign,
  flip,
  portsJson,
  type HdlError,
  type ModuleBuilder,
  stream,
  uint,
} from '../../gen/hdl';
import { cycleSim, type Vector } from '../support/cyclesim';
import { Rng } from '../../sim/random';
import { caseSeed } from '../support/seeds';
import { expectHdlError, expectLintClean, Mark, U, verilogOf } from './helpers';

const BB_MODEL = fileURLToPath(new URL('fixtures/bb_add.v', import.meta.url));

/** a + b, optionally registered. */
const Adder = defineModule('adder', (m, p: { w: number; reg: boolean }) => {
  const a = m.input('a', p.w);
  const b = m.input('b', p.w);
  const s = m.output('s', p.w);
  if (p.reg) {
    const r = m.reg('r', p.w, { reset: 0 });
    r.next(a.add(b));
    s.set(r);
  } else {
    s.set(a.add(b));
  }
});

/** A pipeline stage between two valid/ready streams (accepts when empty or when the output is taken). */
const Stage = defineModule('stage', (m, w: number) => {
  const i = m.input('i', stream(w));
  const o = m.output('o', stream(w));
  const v = m.reg('v', 1, { reset: 0 });
  const d = m.reg('d', w);
  i.ready.set(v.not().or(o.ready));
  m.if(i.ready, () => {
    v.next(i.valid);
    d.next(i.data);
  });
  o.valid.set(v);
  o.data.set(d);
  return { i, o };
});

/** A vendor-style primitive: only its ports are known; `W` and `K` are Verilog parameters. */
const BbAdd = defineBlackbox(
  'bb_add',
  (p: { w: number; k: number }) => ({
    clk: { dir: 'input', type: 1 },
    a: { dir: 'input', type: p.w },
    y: { dir: 'output', type: p.w },
    q: { dir: 'output', type: p.w },
  }),
  { verilogParams: (p) => ({ W: p.w, K: p.k }), combPaths: { y: ['a'] } },
);

const Top = defineModule('hier_top', (m) => {
  const inS = m.input('in', stream(8));
  const outS = m.output('out', stream(8));
  const s1 = m.instance('s1', Stage, 8);
  const s2 = m.instance('s2', Stage, 8);
  // in -> s1 -> s2 -> out, field by field through the instances' io bundles
  s1.io.i.valid.set(inS.valid);
  s1.io.i.data.set(inS.data);
  inS.ready.set(s1.io.i.ready);
  s2.io.i.valid.set(s1.io.o.valid);
  s2.io.i.data.set(s1.io.o.data);
  s1.io.o.ready.set(s2.io.i.ready);
  outS.valid.set(s2.io.o.valid);
  outS.data.set(s2.io.o.data);
  s2.io.o.ready.set(outS.ready);

  const x = m.input('x', 16);
  const y = m.input('y', 16);
  const a8 = m.instance('a8', Adder, { w: 8, reg: false });
  a8.pin('a').set(x.bits(7, 0));
  a8.pin('b').set(y.bits(7, 0));
  const a8b = m.instance('a8b', Adder, { w: 8, reg: false }); // same parameters: same module
  a8b.pin('a').set(a8.pin('s'));
  a8b.pin('b').set(1);
  const a16 = m.instance('a16', Adder, { w: 16, reg: true });
  a16.pin('a').set(x);
  a16.pin('b').set(y);
  m.output('sum8', 8).set(a8b.pin('s'));
  m.output('sum16', 16).set(a16.pin('s'));

  const bb8 = m.instance('bb8', BbAdd, { w: 8, k: 3 });
  bb8.pin('clk').set(m.clockDomain().clock);
  bb8.pin('a').set(x.bits(7, 0));
  const bb16 = m.instance('bb16', BbAdd, { w: 16, k: 500 });
  bb16.pin('clk').set(m.clockDomain().clock);
  bb16.pin('a').set(y);
  m.output('o_bb8_y', 8).set(bb8.pin('y'));
  m.output('o_bb8_q', 8).set(bb8.pin('q'));
  m.output('o_bb16_y', 16).set(bb16.pin('y'));
});

describe('hierarchy', () => {
  it('parameterized modules: deterministic names, each parameter set elaborated once', () => {
    expect(Adder.nameFor({ w: 8, reg: false })).toBe('adder_regfalse_w8');
    expect(Stage.nameFor(32)).toBe('stage_32');
    const m1 = Adder.elaborate({ w: 8, reg: false });
    expect(Adder.elaborate({ w: 8, reg: false })).toBe(m1);
    expect(Adder.elaborate({ reg: false, w: 8 })).toBe(m1); // key order does not matter
    expect(Adder.elaborate({ w: 8, reg: true })).not.toBe(m1);
    const named = defineModule('ignored', (m, p: { n: number }) => m.output('o', p.n).set(0), {
      name: (p) => `custom_${p.n}x`,
    });
    expect(named.elaborate({ n: 3 }).name).toBe('custom_3x');
    // Non-scalar parameters are hashed into the name, deterministically.
    const hashed = defineModule('tbl', (m, p: { t: number[] }) => m.output('o', 8).set(p.t[0]));
    const h1 = hashed.nameFor({ t: [1, 2] });
    expect(h1).toMatch(/^tbl_t[0-9a-f]{8}$/);
    expect(hashed.nameFor({ t: [1, 2] })).toBe(h1);
    expect(hashed.nameFor({ t: [2, 1] })).not.toBe(h1);

    // Nested objects hash the same whatever their key order.
    const nested = defineModule('nst', (m, p: { t: { a: number; b: number } }) => m.output('o', 8).set(p.t.a));
    expect(nested.nameFor({ t: { a: 1, b: 2 } })).toBe(nested.nameFor({ t: { b: 2, a: 1 } }));

    const top = Top.elaborate();
    expect(collectModules(top).map((mm) => mm.name)).toEqual([
      'hier_top',
      'stage_8',
      'adder_regfalse_w8',
      'adder_regtrue_w16',
      'bb_add',
    ]);
    expect([...emitDesign(top).keys()]).toEqual([
      'hier_top.v',
      'stage_8.v',
      'adder_regfalse_w8.v',
      'adder_regtrue_w16.v',
      'hier_top.ports.json',
    ]);
  });

  it('a module name is a function of the parameter values, not of their key order', () => {
    // A fresh definition per design: the cache must not carry the first spelling's name over.
    const defineS = () =>
      defineModule('s', (m, p: { w: number; k: number }) => {
        const y = m.output('y', p.w);
        y.set(p.k);
        return { y };
      });
    const S = defineS();
    expect(S.nameFor({ w: 8, k: 3 })).toBe('s_k3_w8');
    expect(S.nameFor({ k: 3, w: 8 })).toBe('s_k3_w8');
    expect(S.elaborate({ w: 8, k: 3 }).name).toBe('s_k3_w8');
    expect(S.elaborate({ k: 3, w: 8 }).name).toBe('s_k3_w8');
    const S2 = defineS();
    expect(S2.elaborate({ k: 3, w: 8 }).name).toBe(S2.nameFor({ w: 8, k: 3 }));

    // Swapping two instance lines (each spelling its parameters differently) renames nothing.
    const design = (swap: boolean) => {
      const Sx = defineS();
      const T = defineModule('swap_top', (m) => {
        const one = () => m.output('p', 8).set(m.instance('a', Sx, { w: 8, k: 3 }).pin('y'));
        const two = () => m.output('q', 16).set(m.instance('b', Sx, { k: 5, w: 16 }).pin('y'));
        const three = () => m.output('r', 8).set(m.instance('c', Sx, { k: 3, w: 8 }).pin('y'));
        for (const f of swap ? [three, two, one] : [one, two, three]) f();
      });
      return emitDesign(T.elaborate());
    };
    const a = design(false);
    const b = design(true);
    expect([...a.keys()].sort()).toEqual(['s_k3_w8.v', 's_k5_w16.v', 'swap_top.ports.json', 'swap_top.v']);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const f of ['s_k3_w8.v', 's_k5_w16.v']) expect(b.get(f)).toBe(a.get(f));
  });

  it('simulates: streams through two instances, parameterized adders, black boxes with Verilog parameters', () => {
    const top = Top.elaborate();
    const { seed, replay } = caseSeed(606);
    const rng = new Rng(seed);
    const stim: Vector[] = [];
    for (let n = 0; n < 400; n++) {
      stim.push({
        in_valid: rng.chance(0.6),
        in_data: rng.bits(8),
        out_ready: rng.chance(0.5),
        x: rng.bits(16),
        y: rng.bits(16),
      });
    }
    const out = cycleSim(top, stim, { extraFiles: [BB_MODEL] });
    const sent: bigint[] = [];
    const got: bigint[] = [];
    let sum16 = 0n;
    let bbq = 0n; // the model's register has no reset: it loaded x = 0 during the reset cycles
    out.forEach((o, n) => {
      const ctx = `cycle ${n} (${replay})`;
      const x = BigInt(stim[n].x),
        y = BigInt(stim[n].y);
      expect(o.sum8, ctx).toBe(U((x & 0xffn) + (y & 0xffn) + 1n, 8));
      expect(o.sum16, ctx).toBe(sum16);
      expect(o.o_bb8_y, ctx).toBe(U(x + 3n, 8));
      expect(o.o_bb16_y, ctx).toBe(U(y + 500n, 16));
      expect(o.o_bb8_q, ctx).toBe(bbq);
      sum16 = U(x + y, 16);
      bbq = x & 0xffn;
      if (o.in_ready && stim[n].in_valid) sent.push(BigInt(stim[n].in_data));
      if (o.out_valid && stim[n].out_ready) got.push(o.out_data);
    });
    expect(got.length).toBeGreaterThan(100);
    expect(got).toEqual(sent.slice(0, got.length));
  });

  it('instances: clk/rst follow the parent, pins are named <instance>_<port>, black boxes get #(...)', () => {
    const t = verilogOf(Top.elaborate());
    expect(t).toMatch(
      /  stage_8 s1 \(  \/\/ \S+\n    \.clk +\(clk\),\n    \.rst +\(rst\),\n    \.i_valid +\(s1_i_valid\),/,
    );
    expect(t).toMatch(/  bb_add #\(\n    \.W\(8\),\n    \.K\(3\)\n  \) bb8 \(  \/\/ \S+\n    \.clk \(bb8_clk\),/);
    expect(t).toContain('.K(500)');
    expect(t).toMatch(/assign bb8_clk = clk;/);
  });

  it('lint clean (with the black-box model)', () => {
    expectLintClean(Top.elaborate(), [BB_MODEL]);
  });
});

describe('bundles', () => {
  const pair = bundle('pair', { a: stream(4), b: flip(stream(4)), tag: uint(3) }, { lanes: 2 });
  const Nest = defineModule('nest', (m) => {
    const p = m.output('p', pair); // a.valid/a.data/tag are outputs, a.ready is an input; b is the reverse
    const q = m.input('q', pair); // the mirror image
    const w = m.wire('w', stream(4)); // a bundle of wires: every field is a wire, flipped or not
    w.valid.set(q.a.valid);
    w.data.set(q.a.data);
    w.ready.set(p.a.ready);
    p.a.valid.set(w.valid);
    p.a.data.set(w.data);
    q.a.ready.set(w.ready);
    p.b.ready.set(q.b.ready);
    q.b.valid.set(p.b.valid);
    q.b.data.set(p.b.data);
    p.tag.set(q.tag);
    m.output('fire', 1).set(w.fire());
  });

  it('flip reverses directions; nested fields are named prefix_field_sub; ports JSON lists the interfaces', () => {
    const top = Nest.elaborate();
    const dir = Object.fromEntries(top.ports.map((s) => [s.name, s.kind]));
    expect(dir).toEqual({
      p_a_valid: 'output',
      p_a_ready: 'input',
      p_a_data: 'output',
      p_b_valid: 'input',
      p_b_ready: 'output',
      p_b_data: 'input',
      p_tag: 'output',
      q_a_valid: 'input',
      q_a_ready: 'output',
      q_a_data: 'input',
      q_b_valid: 'output',
      q_b_ready: 'input',
      q_b_data: 'output',
      q_tag: 'input',
      fire: 'output',
    });
    const j = portsJson(top);
    expect(j.interfaces).toEqual([
      {
        name: 'p',
        kind: 'pair',
        role: 'source',
        params: { lanes: 2 },
        fields: {
          'a.valid': 'p_a_valid',
          'a.ready': 'p_a_ready',
          'a.data': 'p_a_data',
          'b.valid': 'p_b_valid',
          'b.ready': 'p_b_ready',
          'b.data': 'p_b_data',
          tag: 'p_tag',
        },
      },
      expect.objectContaining({ name: 'q', role: 'sink' }),
    ]);
    expect(j.ports.find((pp) => pp.name === 'q_a_ready')).toEqual({
      name: 'q_a_ready',
      direction: 'output',
      width: 1,
      signed: false,
      interface: 'q',
      field: 'a.ready',
    });
    expect(j.ports.find((pp) => pp.name === 'fire')).toEqual({
      name: 'fire',
      direction: 'output',
      width: 1,
      signed: false,
    });
    expect(j.clock).toBeUndefined(); // no registers: no clk/rst

    const out = cycleSim(top, [
      { q_a_valid: 1, q_a_data: 9, p_a_ready: 1, q_tag: 5, p_b_valid: 1, p_b_data: 3, q_b_ready: 0 },
      { q_a_valid: 0, p_a_ready: 1, q_b_ready: 1 },
    ]);
    expect(out[0]).toMatchObject({
      p_a_valid: 1n,
      p_a_data: 9n,
      q_a_ready: 1n,
      p_tag: 5n,
      q_b_valid: 1n,
      q_b_data: 3n,
      p_b_ready: 0n,
      fire: 1n,
    });
    expect(out[1]).toMatchObject({ p_a_valid: 0n, fire: 0n, p_b_ready: 1n });
    expectLintClean(top);
  });

  it('the ports JSON of a clocked top names its clock and reset', () => {
    const j = portsJson(Top.elaborate());
    expect(j.clock).toBe('clk');
    expect(j.reset).toEqual({ name: 'rst', activeHigh: true });
    expect(j.files).toEqual(['hier_top.v', 'stage_8.v', 'adder_regfalse_w8.v', 'adder_regtrue_w16.v']);
    expect(j.blackboxes).toEqual(['bb_add']);
    expect(j.interfaces.map((i) => [i.name, i.role, i.kind, i.params])).toEqual([
      ['in', 'sink', 'stream', { dataWidth: 8 }],
      ['out', 'source', 'stream', { dataWidth: 8 }],
    ]);
  });
});

describe('clock domains', () => {
  const Dom = defineModule('domains', (m) => {
    const io = m.domain('io', { resetActiveLow: true, asyncReset: true }); // io_clk, io_rst_n
    const sy = m.domain('sy'); // sy_clk, sy_rst: synchronous, active high
    const nr = m.domain('nr', { reset: null }); // nr_clk only
    const d = m.input('d', 8);
    const a = m.reg('a', 8, { reset: 0x11, domain: io });
    a.next(d);
    const an = m.reg('an', 8, { domain: io }); // no reset, in a domain with one
    an.next(d);
    const s = m.reg('s', 8, { reset: 0x22, domain: sy });
    s.next(d);
    const n = m.reg('n', 8, { domain: nr });
    n.next(d);
    const child = m.instance('acc', Adder, { w: 8, reg: true }, { domain: sy }); // child clk/rst <- sy_clk/sy_rst
    child.pin('a').set(d);
    child.pin('b').set(1);
    for (const r of [a, an, s, n]) m.output(`o_${r.name}`, 8).set(r);
    m.output('o_acc', 8).set(child.pin('s'));
  });

  it('emits the sensitivity lists: async active-low, sync active-high, no reset', () => {
    const top = Dom.elaborate();
    expect(top.ports.map((p) => p.name)).toEqual([
      'io_clk',
      'io_rst_n',
      'sy_clk',
      'sy_rst',
      'nr_clk',
      'd',
      'o_a',
      'o_an',
      'o_s',
      'o_n',
      'o_acc',
    ]);
    const t = verilogOf(top);
    expect(t).toMatch(
      /always @\(posedge io_clk or negedge io_rst_n\) begin\n    if \(!io_rst_n\) begin\n      a <= 8'd17;/,
    );
    expect(t).toMatch(/always @\(posedge io_clk\) begin\n    an <= d;/);
    expect(t).toMatch(/always @\(posedge sy_clk\) begin\n    if \(sy_rst\) begin\n      s <= 8'd34;/);
    expect(t).toMatch(/always @\(posedge nr_clk\) begin\n    n <= d;/);
    expect(t).toMatch(/\.clk \(sy_clk\),\n    \.rst \(sy_rst\),/);
    expectLintClean(top);
  });

  it('simulates: the async reset acts without a clock edge, the sync one at the edge; no-reset registers ignore it', () => {
    const top = Dom.elaborate();
    // No default domain, so cycleSim has no clock of its own: the stimulus drives every clock.
    const edge = (v: Vector): Vector[] => [
      { ...v, io_clk: 0, sy_clk: 0, nr_clk: 0 },
      { io_clk: 1, sy_clk: 1, nr_clk: 1 },
    ];
    const stim: Vector[] = [
      { io_rst_n: 0, sy_rst: 1, d: 0 }, // 0: resets asserted, no edge yet
      ...edge({ d: 0 }), // 1,2: the edge: sync reset lands
      { io_rst_n: 1, sy_rst: 0, d: 5 }, // 3
      ...edge({ d: 6 }), // 4,5
      { io_rst_n: 0 }, // 6: async reset, no edge
      { sy_rst: 1 }, // 7: sync reset, no edge: nothing happens
      ...edge({ d: 7 }), // 8,9: s resets, a stays in reset, an/n load 7
    ];
    const out = cycleSim(top, stim);
    expect(out[0].o_a).toBe(0x11n); // async reset without a clock
    expect(out[0].o_s).toBe(-1n); // sync reset not yet applied
    expect(out[2]).toMatchObject({ o_a: 0x11n, o_s: 0x22n, o_an: 0n, o_n: 0n, o_acc: 0n });
    expect(out[5]).toMatchObject({ o_a: 6n, o_s: 6n, o_an: 6n, o_n: 6n, o_acc: 7n });
    expect(out[6]).toMatchObject({ o_a: 0x11n, o_s: 6n, o_an: 6n });
    expect(out[7]).toMatchObject({ o_a: 0x11n, o_s: 6n });
    expect(out[9]).toMatchObject({ o_a: 0x11n, o_s: 0x22n, o_an: 7n, o_n: 7n, o_acc: 0n });
  });
});

describe('instances of children with several clock domains', () => {
  /** A child with domains 'wr' and 'rd' (and no default one): a register in each. */
  const TwoDom = defineModule('two_dom', (m) => {
    const wr = m.domain('wr');
    const rd = m.domain('rd', { resetActiveLow: true });
    const d = m.input('d', 4);
    const a = m.reg('a', 4, { domain: wr, reset: 1 });
    a.next(d);
    const b = m.reg('b', 4, { domain: rd, reset: 2 });
    b.next(d);
    const qa = m.output('qa', 4);
    qa.set(a);
    const qb = m.output('qb', 4);
    qb.set(b);
    return { d, qa, qb }; // clocks and resets are connected by instances, like clk/rst
  });

  it("maps each of the child's domains to one of the parent's, by name", () => {
    const P = defineModule('two_dom_parent', (m) => {
      const fast = m.domain('fast');
      const slow = m.domain('slow', { resetActiveLow: true });
      const u = m.instance('u', TwoDom, undefined, { domains: { wr: fast, rd: slow } });
      u.io.d.set(m.input('d', 4));
      m.output('q', 8).set(u.io.qa.cat(u.io.qb));
    });
    const top = P.elaborate();
    const t = verilogOf(top);
    expect(t).toMatch(
      /\.wr_clk +\(fast_clk\),\n\s+\.wr_rst +\(fast_rst\),\n\s+\.rd_clk +\(slow_clk\),\n\s+\.rd_rst_n +\(slow_rst_n\),/,
    );
    expectLintClean(top);
  });

  it('a domain left unmapped, a name the child lacks, or another reset polarity is an error at the instance', () => {
    const cases: [string, (m: ModuleBuilder, mk: Mark) => void, HdlError['kind'], string[]][] = [
      [
        'unmapped',
        (m, mk) => {
          const f = m.domain('f');
          mk.on('instance', () => m.instance('u', TwoDom, undefined, { domains: { wr: f } }));
        },
        'context',
        ["instance 'u': clock domain 'rd' of module 'two_dom' is not connected", '{ domains: { rd: '],
      ],
      [
        'unknown',
        (m, mk) => {
          const [f, g] = [m.domain('f'), m.domain('g', { resetActiveLow: true })];
          mk.on('instance', () => m.instance('u', TwoDom, undefined, { domains: { wr: f, rd: g, rx: g } }));
        },
        'name',
        ["module 'two_dom' has no clock domain 'rx' to map (its domains: 'wr', 'rd'"],
      ],
      [
        'polarity',
        (m, mk) => {
          const [f, g] = [m.domain('f'), m.domain('g')];
          mk.on('instance', () => m.instance('u', TwoDom, undefined, { domains: { wr: f, rd: g } }));
        },
        'context',
        ["instance 'u': reset polarity of domain 'g' differs from the child's"],
      ],
    ];
    for (const [tag, body, kind, msg] of cases) {
      const mk = new Mark();
      const D = defineModule(`two_dom_${tag}`, (m) => body(m, mk));
      expectHdlError(() => D.elaborate(), { kind, at: mk, msg });
    }
  });
});
