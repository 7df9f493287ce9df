// Several mistakes in one module are reported together, each at its own line and column: an HdlErrors lists
// them (mistakes the body made while it ran first, in order, then each check pass's findings in pass order),
// and `errors` holds them for tools. A single mistake is still a plain HdlError.
import { describe, expect, it } from 'vitest';
import { defineModule, designErrors, HdlError, HdlErrors, sint } from '../../gen/hdl';
import { expectHdlError, expectHdlErrors, Mark } from './helpers';

describe('several design errors', () => {
  it('are all reported: the body, then undriven, latch, crossing and loop passes', () => {
    const [width, twice, undriven, latch, cdc, loop1, loop2] = Array.from({ length: 7 }, () => new Mark());
    const D = defineModule('many', (m) => {
      const a = m.input('a', 8);
      const c = m.input('c', 1);
      const y = m.output('y', 8);
      y.set(width.at(a.zext(9), 'set')); // 1: a 9-bit value into an 8-bit output
      // @ts-expect-error 2: driving an input (a type error too)
      twice.at(a, 'set').set(0);
      undriven.at(m.output('z', 4), 'output'); // 3: never driven
      const w = m.wire('w', 8);
      m.if(latch.at(c, 'if'), () => w.set(a)); // 4: no else, no default
      const da = m.domain('fast');
      const db = m.domain('slow');
      const ra = m.reg('ra', 1, { domain: da });
      ra.next(c);
      const rb = m.reg('rb', 1, { domain: db });
      cdc.at(rb, 'next').next(ra); // 5: a crossing without a synchronizer
      const p = m.wire('p', 1);
      const q = m.wire('q', 1);
      p.set(q);
      loop1.at(q, 'set').set(p.not()); // 6: p -> q -> p
      const r = m.wire('r', 2);
      loop2.at(r, 'set').set(r.add(1)); // 7: r -> r, a second, separate loop
      m.output('o', 8).set(w.add(p.zext(8)).add(r.zext(8)).add(rb.zext(8)));
    });
    const err = expectHdlErrors(
      () => D.elaborate(),
      [
        { kind: 'width', at: width, msg: ["output 'y' (uint8) is 8 bits", 'is 9 bits'] },
        { kind: 'multiple-drivers', at: twice, msg: ["multiple drivers for input 'a'"] },
        { kind: 'undriven', at: undriven, msg: ["output 'z' is never driven"] },
        { kind: 'latch', at: latch, msg: ["wire 'w' (uint8)", 'infer a latch'] },
        { kind: 'cdc', at: cdc, msg: ["register 'rb' (domain 'slow') reads 'ra'"] },
        { kind: 'comb-loop', at: loop1, msg: ["'p'", "'q'"] },
        { kind: 'comb-loop', at: loop2, msg: ["combinational loop: 'r'"] },
      ],
    );
    expect(err.message.split('\n')[0]).toBe("7 design errors (elaborating module 'many'):");
    expect(designErrors(err)).toEqual(err.errors);
  });

  it('a mistake the body cannot go on from ends it: reported after the earlier ones, and no checks run', () => {
    const [first, fatal] = [new Mark(), new Mark()];
    const D = defineModule('stops', (m) => {
      const a = m.input('a', 8);
      const b = m.input('b', 4);
      m.output('unused', 1); // undriven, but the checks do not run on a half-built module
      const y = m.output('y', 4);
      y.set(first.at(a, 'set')); // recorded, and the body goes on
      y.set(a.add(fatal.at(b, 'add'))); // no value to go on with: the body ends here
    });
    expectHdlErrors(
      () => D.elaborate(),
      [
        { kind: 'width', at: first, msg: ["output 'y' (uint4) is 4 bits"] },
        { kind: 'width', at: fatal, msg: ['width mismatch in add'] },
      ],
    );
  });

  it("a child's errors are listed with the parent's, flattened", () => {
    const [c1, c2, p1] = [new Mark(), new Mark(), new Mark()];
    const Child = defineModule('bad_child', (m) => {
      const s = m.output('s', sint(4));
      s.set(c1.at(m.input('u', 4), 'set')); // signedness
      c2.at(m.output('t', 1), 'output'); // undriven
    });
    const Parent = defineModule('bad_parent', (m) => {
      const y = m.output('y', 2);
      y.set(p1.at(m.input('x', 3), 'set'));
      m.instance('c', Child, undefined);
    });
    expectHdlErrors(
      () => Parent.elaborate(),
      [
        { kind: 'width', at: p1, msg: ["output 'y' (uint2)"] },
        { kind: 'width', at: c1, msg: ['differs in signedness'] },
        { kind: 'undriven', at: c2, msg: ["output 't' is never driven"] },
      ],
    );
  });

  it('io mistakes are listed with the rest', () => {
    const [def, undriven] = [new Mark(), new Mark()];
    const D = defineModule(def.at('io_and_more', 'defineModule'), (m) => {
      const a = m.input('a', 1);
      undriven.at(m.output('y', 1), 'output');
      return { a, w: m.wire('w', 1, { default: 0 }) };
    });
    expectHdlErrors(
      () => D.elaborate(),
      [
        { kind: 'io', at: def, msg: ["io member 'w' is not one of its ports"] },
        { kind: 'io', at: def, msg: ["leaves out port 'y'"] },
        { kind: 'undriven', at: undriven, msg: ["output 'y' is never driven"] },
      ],
    );
  });

  it('the column tells apart operators chained on one line', () => {
    const mk = new Mark();
    const D = defineModule('chain', (m) => {
      const a = m.input('a', 8);
      const c = m.input('c', 7);
      m.output('y', 8).set(a.add(a).xor(a).and(mk.at(c, 'and')).or(a));
    });
    expectHdlError(() => D.elaborate(), {
      kind: 'width',
      at: mk,
      msg: ['width mismatch in and: xor expression (uint8) is 8 bits'],
    });
  });

  it('one mistake is a plain HdlError; designErrors() lists either kind', () => {
    const D = defineModule('one', (m) => {
      m.output('y', 1);
    });
    let caught: unknown;
    try {
      D.elaborate();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(HdlError);
    expect(caught).not.toBeInstanceOf(HdlErrors);
    expect(designErrors(caught)).toEqual([caught]);
    expect(designErrors(new Error('not a design error'))).toEqual([]);
  });
});
