// Parameter checks: paramError and intParam (gen/hdl) report at the line that called the generator, outside
// the generator's folder, whether the generator is elaborated, instantiated or called as a function; the
// emitter's own invariants are HdlInternalError, never a design error.
import { describe, expect, it } from 'vitest';
import { defineBlackbox, defineModule, emitModule, Expr, HdlError, HdlInternalError, intParam } from '../../gen/hdl';
import { narrow, Sized } from './fixtures/param_gen';
import { expectHdlError, Mark } from './helpers';

describe('paramError and intParam', () => {
  it("point at the generator's caller: elaborate(), instance(), a library function", () => {
    const mk = new Mark();
    expectHdlError(() => mk.on('elaborate', () => Sized.elaborate({ n: 0, mode: 'a' })), {
      kind: 'param',
      at: mk,
      msg: ['Sized: n must be an integer from 1 to 8, got 0'],
    });
    const mk2 = new Mark();
    const Parent = defineModule('pe_parent', (m) => {
      mk2.on('instance', () => m.instance('s', Sized, { n: 4, mode: 'c' }));
    });
    expectHdlError(() => Parent.elaborate(), {
      kind: 'param',
      at: mk2,
      msg: ["Sized: mode 'c' is neither 'a' nor 'b'"],
    });
    const mk3 = new Mark();
    const User = defineModule('pe_user', (m) => {
      const y = m.output('y', 1);
      y.set(mk3.on('narrow', () => narrow(m, 'x', m.input('a', 5))));
    });
    expectHdlError(() => User.elaborate(), {
      kind: 'width',
      at: mk3,
      msg: ["narrow 'x': at most 4 bits, got input 'a' (uint5)"],
    });
  });

  it('intParam: integers in range pass, the rest name the parameter and the range', () => {
    expect(intParam('k', 3, 1, 8)).toBe(3);
    expect(() => intParam('k', 2.5, 1)).toThrow(/k must be an integer at least 1, got 2.5/);
    expect(() => intParam('k', 9, 1, 8)).toThrow(/k must be an integer from 1 to 8, got 9/);
    expect(() => intParam('k', 9, 1, 8)).toThrow(HdlError);
  });
});

describe('errors that are not design errors', () => {
  it('emitModule() of a black box is a context error at the call', () => {
    const Bb = defineBlackbox('pe_bb', { a: { dir: 'input', type: 1 } });
    const mk = new Mark();
    expectHdlError(() => mk.on('emitModule', () => emitModule(Bb.elaborate())), {
      kind: 'context',
      at: mk,
      msg: ["emitModule(): 'pe_bb' is a black box", 'no Verilog to emit'],
    });
  });

  it("the emitter's invariants are internal errors, not design errors", () => {
    // An operator no builder method makes: only a bug in gen/hdl could put one in the IR.
    const D = defineModule('pe_internal', (m) => {
      const a = m.input('a', 8);
      const y = m.output('y', 8);
      y.set(new Expr('frob' as never, 8, false, [a, a]));
      return { a, y };
    });
    const mod = D.elaborate();
    expect(() => emitModule(mod)).toThrow(HdlInternalError);
    expect(() => emitModule(mod)).toThrow('internal error in gen/hdl (please report): emitter: unknown operator frob');
    expect(new HdlInternalError('x')).not.toBeInstanceOf(HdlError);
  });
});
