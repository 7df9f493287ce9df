// Typed instances: a body returns its ports, and a parent's `inst.io` carries the child's port names, widths
// and directions as TypeScript types. The type assertions here (expectTypeOf, @ts-expect-error) are checked
// by the typecheck that `npm test` runs; the run-time assertions check the io the elaboration builds.
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  bit,
  defineBlackbox,
  defineModule,
  type Expr,
  type InPin,
  type InPort,
  type OutPin,
  type OutPort,
  stream,
  uint,
} from '../../gen/hdl';
import { cycleSim } from '../support/cyclesim';
import { expectHdlError, expectLintClean, Mark } from './helpers';

/** A child with literal and computed widths, a bundle each way, an array of ports and an optional port. */
const Child = defineModule('tio_child', (m, p: { w: number; extra: boolean }) => {
  const x = m.input('x', 8);
  const y = m.output('y', uint(8));
  const f = m.input('f', bit);
  const s = m.input('s', stream(16));
  const o = m.output('o', stream(p.w));
  const lanes = [m.input('lane0', 4), m.input('lane1', 4)];
  const extra = p.extra ? m.output('extra', 2) : undefined;

  // Inside the child: inputs are read only, outputs are driven.
  expectTypeOf(x).toEqualTypeOf<InPort<8>>();
  expectTypeOf(y).toEqualTypeOf<OutPort<8>>();
  expectTypeOf(f.width).toEqualTypeOf<1>();
  expectTypeOf(s.ready).toEqualTypeOf<OutPort<1>>();
  expectTypeOf(o.data).toEqualTypeOf<OutPort<number>>();
  // @ts-expect-error an input port cannot be driven by the module that declares it
  if (p.w < 0) x.set(0);

  y.set(x.add(lanes[0].zext(8)).add(lanes[1].zext(8)));
  s.ready.set(o.ready);
  o.valid.set(s.valid.and(f));
  o.data.set(s.data.trunc(p.w));
  extra?.set(s.data.bits(1, 0));
  return { x, y, f, s, o, lanes, extra };
});

const Parent = defineModule('tio_parent', (m) => {
  const a = m.input('a', 8);
  const b = m.output('b', 8);
  const si = m.input('si', stream(16));
  const so = m.output('so', stream(4));
  const c = m.instance('c', Child, { w: 4, extra: false });

  // The parent drives the child's inputs and reads its outputs; widths stay literal where they were.
  expectTypeOf(c.io.x).toEqualTypeOf<InPin<8>>();
  expectTypeOf(c.io.y).toEqualTypeOf<OutPin<8>>();
  expectTypeOf(c.io.y.width).toEqualTypeOf<8>();
  expectTypeOf(c.io.s.valid).toEqualTypeOf<InPin<1>>();
  expectTypeOf(c.io.s.ready).toEqualTypeOf<OutPin<1>>();
  expectTypeOf(c.io.s.data).toEqualTypeOf<InPin<16>>();
  expectTypeOf(c.io.o.data).toEqualTypeOf<OutPin<number>>();
  expectTypeOf(c.io.o.ready).toEqualTypeOf<InPin<1>>();
  expectTypeOf(c.io.lanes).toEqualTypeOf<readonly InPin<4>[]>();
  expectTypeOf(c.io.extra).toEqualTypeOf<OutPin<2> | undefined>();
  expectTypeOf(c.io.s.fire()).toEqualTypeOf<Expr>();
  if (a.width < 0) {
    // @ts-expect-error a child's output can only be read
    c.io.y.set(0);
    // @ts-expect-error a child's flipped input field (its stream's ready) is an output: read only
    c.io.s.ready.set(1);
    // @ts-expect-error no such port
    c.io.nope.set(1);
  }

  c.io.x.set(a);
  c.io.f.set(1);
  c.io.lanes[0].set(1);
  c.io.lanes[1].set(2);
  b.set(c.io.y);
  c.io.s.valid.set(si.valid);
  c.io.s.data.set(si.data);
  si.ready.set(c.io.s.ready);
  so.valid.set(c.io.o.valid);
  so.data.set(c.io.o.data);
  c.io.o.ready.set(so.ready);
  return { a, b, si, so };
});

describe('typed instances', () => {
  it('map the child io onto the pins (bundles, arrays, optional ports) and simulate', () => {
    const top = Parent.elaborate();
    const c = top.instances[0];
    expect([...c.pins.keys()]).toEqual([
      'x',
      'y',
      'f',
      's_valid',
      's_ready',
      's_data',
      'o_valid',
      'o_ready',
      'o_data',
      'lane0',
      'lane1',
    ]);
    const out = cycleSim(top, [
      { a: 10, si_valid: 1, si_data: 0x1234, so_ready: 1 },
      { a: 250, si_valid: 0, si_data: 0, so_ready: 0 },
    ]);
    expect(out.map((o) => o.b)).toEqual([13n, 253n]);
    expect(out.map((o) => [o.so_valid, o.so_data, o.si_ready])).toEqual([
      [1n, 4n, 1n],
      [0n, 0n, 0n],
    ]);
    expectLintClean(top);
  });

  it('an optional port is in the io when declared', () => {
    const P = defineModule('tio_opt', (m) => {
      const c = m.instance('c', Child, { w: 4, extra: true });
      for (const p of [c.io.x, c.io.f, ...c.io.lanes, c.io.s.valid, c.io.s.data, c.io.o.ready]) p.set(0);
      const e = m.output('e', 2);
      e.set(c.io.extra!);
      return { e };
    });
    expect(P.elaborate().instances[0].pins.has('extra')).toBe(true);
  });

  it('black boxes: the io follows the declared ports', () => {
    const Bb = defineBlackbox('tio_bb', { a: { dir: 'input', type: 8 }, q: { dir: 'output', type: uint(3) } });
    const P = defineModule('tio_bb_user', (m) => {
      const u = m.instance('u', Bb, undefined);
      expectTypeOf(u.io.a).toEqualTypeOf<InPin<8>>();
      expectTypeOf(u.io.q).toEqualTypeOf<OutPin<3>>();
      // @ts-expect-error a black box's output is read only
      if (u.io.q.width < 0) u.io.q.set(0);
      u.io.a.set(m.input('x', 8));
      const y = m.output('y', 3);
      y.set(u.io.q);
    });
    expect(P.elaborate().instances[0].pins.get('q')?.name).toBe('u_q');
  });

  it('a body that returns no io gives instances no io (pin() still reaches ports by name)', () => {
    const NoIo = defineModule('tio_noio', (m) => m.output('y', 4).set(m.input('a', 4)));
    const P = defineModule('tio_noio_user', (m) => {
      const u = m.instance('u', NoIo, undefined);
      expectTypeOf(u.io).toEqualTypeOf<Record<string, never>>();
      expect(Object.keys(u.io)).toEqual([]);
      u.pin('a').set(0);
      m.output('y', 4).set(u.pin('y'));
    });
    expect(P.elaborate().instances).toHaveLength(1);
  });
});

describe('the returned io is checked against the ports', () => {
  it('a port left out of the io, at the definition', () => {
    const mk = new Mark();
    const D = defineModule(mk.at('tio_missing', 'defineModule'), (m) => {
      const a = m.input('a', 4);
      const y = m.output('y', 4);
      const z = m.output('z', 4);
      y.set(a);
      z.set(a);
      return { a, y };
    });
    expectHdlError(() => D.elaborate(), {
      kind: 'io',
      at: mk,
      msg: ["module 'tio_missing': its body's io leaves out port 'z'", 'return every port'],
    });
  });

  it('something other than a port in the io, or no object at all', () => {
    const mk = new Mark();
    const D = defineModule(mk.at('tio_wire', 'defineModule'), (m) => {
      const a = m.input('a', 4);
      const w = m.wire('w', 4);
      w.set(a);
      return { a, inner: { w } };
    });
    expectHdlError(() => D.elaborate(), {
      kind: 'io',
      at: mk,
      msg: ["io member 'inner.w' is not one of its ports (it is wire 'w' (uint4) of module 'tio_wire')"],
    });
    const mk2 = new Mark();
    const E = defineModule(mk2.at('tio_signal', 'defineModule'), (m) =>
      m.memory('mem', { width: 4, depth: 2 }).readAsync(m.input('a', 1)),
    );
    expectHdlError(() => E.elaborate(), {
      kind: 'io',
      at: mk2,
      msg: ["module 'tio_signal': its body must return its ports as an object", "not mem-rd 'mem_rd0' (uint4)"],
    });
  });

  it('the default clock and reset may be left out: instances connect them', () => {
    const R = defineModule('tio_clocked', (m) => {
      const d = m.input('d', 1);
      const q = m.output('q', 1);
      const r = m.reg('r', 1, { reset: 0 });
      r.next(d);
      q.set(r);
      return { d, q };
    });
    expect(R.elaborate().ports.map((p) => p.name)).toEqual(['clk', 'rst', 'd', 'q']);
  });
});
