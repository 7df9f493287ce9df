// Every class of design mistake the DSL reports: the error's kind, a message naming the offending signals,
// operands and widths, and a location at the exact line of this file where the mistake was written. The
// expected line and column are captured on that same line with `mk.at(x, 'call')` (records its own line and
// the column of the call named `call` on it, and returns its argument).
import { describe, expect, it } from 'vitest';
import {
  cat,
  collectModules,
  defineBlackbox,
  defineModule,
  lit,
  mux,
  select,
  type Drivable,
  type ModuleBuilder,
  type Val,
  sint,
  uint,
} from '../../gen/hdl';
import { expectHdlError, Mark } from './helpers';

let seq = 0;
/** Elaborate a one-off module (whatever the body returns is dropped: these modules have no io). */
const elab = (body: (m: ModuleBuilder) => void) =>
  defineModule(`err${seq++}`, (m) => {
    body(m);
  }).elaborate();

describe('width errors', () => {
  it('binary operators name both operands and their widths', () => {
    for (const op of ['add', 'sub', 'and', 'or', 'xor', 'eq', 'lt', 'ge', 'addc', 'subc'] as const) {
      const mk = new Mark();
      expectHdlError(
        () =>
          elab((m) => {
            const a = m.input('a', 8);
            const b = m.input('b', 9);
            const apply = a[op].bind(a); // a named function: the error points at its call
            m.output('y', 1).set(apply(mk.at(b, 'apply')).orR());
          }),
        {
          kind: 'width',
          at: mk,
          msg: [`width mismatch in ${op}`, "input 'a' (uint8) is 8 bits", "input 'b' (uint9) is 9 bits"],
        },
      );
    }
  });

  it('signedness mismatch is a type error (mul too)', () => {
    const mk = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const a = m.input('a', 8);
          const s = m.input('s', sint(8));
          m.output('y', 16).set(a.mul(mk.at(s, 'mul')));
        }),
      {
        kind: 'type',
        at: mk,
        msg: ['mul: signedness mismatch', "input 'a' (uint8)", "input 's' (sint8)", 'asSigned()'],
      },
    );
  });

  it('a constant that does not fit the other operand', () => {
    const mk = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const a = m.input('a', 8);
          m.output('y', 8).set(a.add(mk.at(256, 'add')));
        }),
      { kind: 'width', at: mk, msg: ["add: constant 256 does not fit in the other operand's type uint8"] },
    );
    const mk2 = new Mark();
    expectHdlError(() => lit(mk2.at(-1, 'lit'), 4), {
      kind: 'width',
      at: mk2,
      msg: ['constant -1 does not fit in uint4'],
    });
  });

  it('assignments: wire, output, register, instance pin', () => {
    const mk = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const a = m.input('a', 8);
          m.output('y', 8).set(mk.at(a.addc(a), 'set'));
        }),
      {
        kind: 'width',
        at: mk,
        msg: ["width mismatch in assignment: output 'y' (uint8) is 8 bits", 'add expression (uint9) is 9 bits'],
      },
    );
    const mk2 = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const r = m.reg('r', 4, { reset: 0 });
          r.next(mk2.at(r.zext(5), 'next'));
        }),
      { kind: 'width', at: mk2, msg: ["reg 'r' (uint4) is 4 bits", 'zext expression (uint5) is 5 bits'] },
    );
    const mk3 = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const s = m.wire('s', sint(8));
          s.set(mk3.at(m.input('u', 8), 'set'));
        }),
      { kind: 'width', at: mk3, msg: ["wire 's' (sint8)", "input 'u' (uint8)", 'differs in signedness'] },
    );
    const Child = defineModule('err_child', (m) => m.output('y', 4).set(m.input('a', 4)));
    const mk4 = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const u = m.instance('u', Child, undefined);
          u.pin('a').set(mk4.at(m.input('x', 5), 'set'));
          m.output('y', 4).set(u.pin('y'));
        }),
      { kind: 'width', at: mk4, msg: ["instance pin 'u_a' (uint4) is 4 bits", "input 'x' (uint5) is 5 bits"] },
    );
  });

  it('mux arms, mux select, select options', () => {
    const mk = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const s = m.input('s', 1);
          m.output('y', 8).set(mux(s, m.input('a', 8), mk.at(m.input('c', 7), 'mux')));
        }),
      {
        kind: 'width',
        at: mk,
        msg: ["width mismatch in mux: input 'a' (uint8) is 8 bits, input 'c' (uint7) is 7 bits"],
      },
    );
    const mk2 = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const a = m.input('a', 8);
          m.output('y', 8).set(mux(mk2.at(a, 'mux'), a, a));
        }),
      { kind: 'width', at: mk2, msg: ["mux select must be 1 bit, got input 'a' (uint8)"] },
    );
    const mk3 = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const k = m.input('k', 2);
          m.output('y', 8).set(select(k, [m.input('a', 8), mk3.at(m.input('b', 6), 'select')]));
        }),
      {
        kind: 'width',
        at: mk3,
        msg: ["width mismatch in select: input 'a' (uint8) is 8 bits, input 'b' (uint6) is 6 bits"],
      },
    );
  });

  it('case values', () => {
    const mk = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const a = m.input('a', 8);
          const y = m.output('y', 1);
          y.set(0);
          m.switch(a).case(mk.at(lit(3, 4), 'case'), () => y.set(1));
        }),
      {
        kind: 'width',
        at: mk,
        msg: ["width mismatch in case: selector input 'a' (uint8) vs value constant 3 (uint4)"],
      },
    );
    const mk2 = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const a = m.input('a', 2);
          const y = m.output('y', 1);
          y.set(0);
          m.switch(a).case([1, mk2.at(4, 'case')], () => y.set(1));
        }),
      { kind: 'width', at: mk2, msg: ["case: constant 4 does not fit in the other operand's type uint2"] },
    );
  });

  it('memory ports: address, data, enables, byte enables', () => {
    const cases: [string, (m: ModuleBuilder, mk: Mark) => void, string[]][] = [
      [
        'address',
        (m, mk) => m.memory('mem', { width: 8, depth: 16 }).readAsync(mk.at(m.input('a', 5), 'readAsync')),
        ["memory 'mem' (depth 16) needs a uint4 address, got input 'a' (uint5)"],
      ],
      [
        'data',
        (m, mk) =>
          m
            .memory('mem', { width: 8, depth: 16 })
            .write(m.input('a', 4), mk.at(m.input('d', 9), 'write'), m.input('we', 1)),
        ["width mismatch in write to memory 'mem': 8 bits vs input 'd' (uint9)"],
      ],
      [
        'write enable',
        (m, mk) =>
          m
            .memory('mem', { width: 8, depth: 16 })
            .write(m.input('a', 4), m.input('d', 8), mk.at(m.input('we', 2), 'write')),
        ["memory write enable must be 1 bit, got input 'we' (uint2)"],
      ],
      [
        'byte enables',
        (m, mk) =>
          m
            .memory('mem', { width: 32, depth: 4 })
            .write(m.input('a', 2), m.input('d', 32), m.input('we', 1), mk.at(m.input('be', 3), 'write')),
        ["byte enables of memory 'mem' must be 4 bits, got input 'be' (uint3)"],
      ],
      [
        'read enable',
        (m, mk) =>
          m.memory('mem', { width: 8, depth: 16 }).readSync(m.input('a', 4), mk.at(m.input('re', 2), 'readSync')),
        ["read enable of memory 'mem' must be 1 bit, got input 're' (uint2)"],
      ],
    ];
    for (const [what, f, msg] of cases) {
      const mk = new Mark();
      expect(() => expectHdlError(() => elab((m) => f(m, mk)), { kind: 'width', at: mk, msg }), what).not.toThrow();
    }
  });

  it('conditions, enables, reset values, defaults, dynamic indices, trunc/zext', () => {
    const cases: [(m: ModuleBuilder, mk: Mark) => void, string[]][] = [
      [(m, mk) => m.if(mk.at(m.input('c', 2), 'if'), () => {}), ["condition must be 1 bit, got input 'c' (uint2)"]],
      [
        (m, mk) => m.reg('r', 8, { en: mk.at(m.input('e', 2), 'reg') }).next(0),
        ["enable of 'r' must be 1 bit, got input 'e' (uint2)"],
      ],
      [
        (m, mk) => m.reg('r', 8, { reset: mk.at(256, 'reg') }).next(0),
        ["reset value of 'r': constant 256 does not fit"],
      ],
      [
        (m, mk) => m.wire('w', sint(4), { default: mk.at(8, 'wire') }),
        ["default of 'w': constant 8 does not fit in the other operand's type sint4"],
      ],
      [
        (m, mk) => m.output('y', 1).set(m.input('a', 8).bit(mk.at(m.input('i', 4), 'bit'))),
        ["bit index of 4 bits for input 'a' (uint8): a dynamic index must be exactly 3 bits"],
      ],
      [
        (m, mk) => m.output('y', 8).set(m.input('a', 8).trunc(mk.at(9, 'trunc'))),
        ["trunc(9) of input 'a' (uint8) would widen it"],
      ],
      [
        (m, mk) => m.output('y', 8).set(m.input('a', 9).zext(mk.at(8, 'zext'))),
        ["zext(8) of input 'a' (uint9): target narrower than 9 bits"],
      ],
      [
        (m, mk) => m.regArray('ra', 5, 8).nextAt(mk.at(m.input('i', 2), 'nextAt'), 0),
        ["index of 2 bits cannot reach all 5 elements of 'ra'"],
      ],
    ];
    for (const [f, msg] of cases) {
      const mk = new Mark();
      expectHdlError(() => elab((m) => f(m, mk)), { kind: 'width', at: mk, msg });
    }
  });
});

describe('latches', () => {
  it('if without else', () => {
    const mk = new Mark();
    const decl = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const c = m.input('c', 1);
          const w = decl.at(m.wire('w', 8), 'wire');
          m.if(mk.at(c, 'if'), () => w.set(1));
          m.output('y', 8).set(w);
        }),
      {
        kind: 'latch',
        at: mk,
        msg: [
          /wire 'w' \(uint8\) declared at test\/hdl\/errors\.test\.ts:\d+:\d+ is not assigned on every path/,
          'infer a latch',
          'give it a default',
        ],
      },
    );
  });

  it('elseIf chain without a final else; an output assigned in one branch only', () => {
    const mk = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const c = m.input('c', 2);
          const y = m.output('y', 8);
          m.if(c.eq(0), () => y.set(1)).elseIf(mk.at(c.eq(1), 'elseIf'), () => y.set(2));
        }),
      { kind: 'latch', at: mk, msg: ["output 'y' (uint8)"] },
    );
    const mk2 = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const c = m.input('c', 1);
          const y = m.output('y', 8);
          const z = m.output('z', 8);
          const thenBody = () => {
            y.set(1);
            z.set(1);
          };
          // the if statement is reported: its else branch leaves y unassigned
          mk2.at(m.if(c, thenBody), 'if').else(() => z.set(2));
        }),
      { kind: 'latch', at: mk2, msg: ["output 'y' (uint8)"] },
    );
  });

  it('switch without default (not every value covered), and a case arm that misses the signal', () => {
    const mk = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const c = m.input('c', 2);
          const y = m.output('y', 8);
          m.switch(mk.at(c, 'switch'))
            .case(0, () => y.set(1))
            .case([1, 2], () => y.set(2));
        }),
      { kind: 'latch', at: mk, msg: ["output 'y' (uint8)", 'not assigned on every path'] },
    );
    const mk2 = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const c = m.input('c', 1);
          const y = m.output('y', 8);
          m.switch(c)
            .case(0, () => y.set(1))
            .case(mk2.at(1, 'case'), () => {});
        }),
      { kind: 'latch', at: mk2, msg: ["output 'y' (uint8)"] },
    );
    // an instance input is combinational too
    const Child = defineModule('latch_child', (m) => m.output('y', 4).set(m.input('a', 4)));
    const mk3 = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const u = m.instance('u', Child, undefined);
          m.if(mk3.at(m.input('c', 1), 'if'), () => u.pin('a').set(1));
          m.output('y', 4).set(u.pin('y'));
        }),
      { kind: 'latch', at: mk3, msg: ["instance pin 'u_a' (uint4)"] },
    );
  });

  it('no latch: a default, an else, a full case, or a register', () => {
    expect(() =>
      elab((m) => {
        const c = m.input('c', 2);
        const w = m.wire('w', 8, { default: 0 });
        m.if(c.eq(0), () => w.set(1));
        const y = m.output('y', 8);
        m.switch(c)
          .case(0, () => y.set(w))
          .case(1, () => y.set(2))
          .case([2, 3], () => y.set(3));
        const r = m.reg('r', 8, { reset: 0 });
        m.if(c.eq(1), () => r.next(w)); // registers hold: no latch
        m.output('o', 8).set(r);
      }),
    ).not.toThrow();
  });
});

describe('multiple drivers', () => {
  it('driving an input port, an instance output, a memory read port', () => {
    const Child = defineModule('md_child', (m) => m.output('y', 4).set(m.input('a', 4)));
    const cases: [(m: ModuleBuilder, mk: Mark) => void, string][] = [
      [
        // @ts-expect-error an input port has no .set() (and driving one is an error at run time too)
        (m, mk) => mk.at(m.input('a', 4), 'set').set(1),
        "multiple drivers for input 'a' (uint4): it is an input port, driven from outside the module",
      ],
      [
        (m, mk) => {
          const u = m.instance('u', Child, undefined);
          u.pin('a').set(0);
          mk.at(u.pin('y'), 'set').set(3);
        },
        "multiple drivers for instance pin 'u_y' (uint4): it is an output of an instance, which drives it",
      ],
      [
        (m, mk) => {
          const q = m.memory('mem', { width: 8, depth: 4 }).readSync(m.input('a', 2));
          mk.at(q, 'set').set(0);
        },
        "multiple drivers for mem-rd 'mem_rd0' (uint8): it is a memory read port, driven by the memory",
      ],
    ];
    for (const [f, msg] of cases) {
      const mk = new Mark();
      expectHdlError(() => elab((m) => f(m, mk)), { kind: 'multiple-drivers', at: mk, msg: [msg] });
    }
  });
});

describe('undriven signals', () => {
  it('outputs, wires, registers, instance inputs: reported at the declaration', () => {
    const Child = defineModule('ud_child', (m) => m.output('y', 4).set(m.input('a', 4)));
    const cases: [(m: ModuleBuilder, mk: Mark) => void, string][] = [
      [(m, mk) => mk.at(m.output('y', 8), 'output'), "output 'y' is never driven"],
      [(m, mk) => m.output('y', 8).set(mk.at(m.wire('w', 8), 'wire')), "wire 'w' is never driven"],
      [
        (m, mk) => m.output('y', 8).set(mk.at(m.reg('r', 8, { reset: 0 }), 'reg')),
        "register 'r' is never assigned a next value",
      ],
      [
        (m, mk) => m.output('y', 4).set(mk.at(m.instance('u', Child, undefined), 'instance').pin('y')),
        "instance input 'u_a' is never driven",
      ],
      [
        (m, mk) => m.output('y', 4).set(mk.at(m.regArray('ra', 1, 4), 'regArray').item(0)),
        "register 'ra_0' is never assigned a next value",
      ],
    ];
    for (const [f, msg] of cases) {
      const mk = new Mark();
      expectHdlError(() => elab((m) => f(m, mk)), { kind: 'undriven', at: mk, msg: [msg] });
    }
  });
});

describe('combinational loops', () => {
  it('are found per signal, not per bit: a false positive and its workaround (docs/dsl.md)', () => {
    // v[1] = v[0] and v[0] = a: no bit depends on itself, but v as a whole reads v.
    const mk = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const a = m.input('a', 1);
          const v = m.wire('v', 2);
          v.set(mk.at(cat(v.bit(0), a), 'set'));
          m.output('y', 2).set(v);
        }),
      { kind: 'comb-loop', at: mk, msg: [/combinational loop: 'v' \(\S+\) -> 'v' \(\S+\)/] },
    );
    // Split it into signals that do not read themselves.
    const top = defineModule('loop_split', (m) => {
      const a = m.input('a', 1);
      const lo = m.let('v_lo', a);
      const hi = m.let('v_hi', lo);
      const y = m.output('y', 2);
      y.set(cat(hi, lo));
      return { a, y };
    }).elaborate();
    expect(top.name).toBe('loop_split');
  });

  it('direct: a wire that reads itself', () => {
    const mk = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const w = m.wire('w', 8);
          w.set(mk.at(w.not(), 'set'));
          m.output('y', 8).set(w);
        }),
      { kind: 'comb-loop', at: mk, msg: [/combinational loop: 'w' \(\S+\) -> 'w' \(\S+\)/] },
    );
  });

  it('through a condition: a wire assigned under an if that reads it', () => {
    const mk = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const w = m.wire('w', 1, { default: 0 });
          m.if(w, () => mk.at(w, 'set').set(1));
          m.output('y', 1).set(w);
        }),
      { kind: 'comb-loop', at: mk, msg: ["'w'"] },
    );
  });

  it('through several wires and an output', () => {
    const marks = [new Mark(), new Mark(), new Mark()];
    let err: unknown;
    try {
      elab((m) => {
        const x = m.input('x', 8);
        const a = m.wire('a', 8);
        const b = m.wire('b', 8);
        const y = m.output('y', 8);
        a.set(marks[0].at(y.add(x), 'set'));
        b.set(marks[1].at(a.xor(x), 'set'));
        y.set(marks[2].at(b, 'set'));
      });
    } catch (e) {
      err = e;
    }
    // The loop is reported at one of its assignments (which one depends on the search order).
    const hit = marks.find((mk) => mk.loc!.line === (err as { loc: { line: number } }).loc?.line);
    expect(hit, String(err)).toBeDefined();
    expectHdlError(
      () => {
        throw err;
      },
      { kind: 'comb-loop', at: hit!, msg: ["'a'", "'b'", "'y'", /combinational loop: ('\w+' \(\S+\) -> ){3}'\w+'/] },
    );
  });

  it("through an instance's input -> output path (and through a black box's declared combPaths)", () => {
    const Pass = defineModule('loop_pass', (m) => m.output('y', 4).set(m.input('a', 4).not()));
    const mk = new Mark();
    const inst = new Mark();
    let err: unknown;
    try {
      elab((m) => {
        const u = inst.at(m.instance('u', Pass, undefined), 'instance');
        u.pin('a').set(mk.at(u.pin('y'), 'set'));
        m.output('o', 4).set(u.pin('y'));
      });
    } catch (e) {
      err = e;
    }
    const at = [mk, inst].find((x) => x.loc!.line === (err as { loc?: { line: number } }).loc?.line);
    expect(at, String(err)).toBeDefined();
    expectHdlError(
      () => {
        throw err;
      },
      { kind: 'comb-loop', at: at!, msg: ["'u_a'", "'u_y'"] },
    );

    const Bb = defineBlackbox(
      'loop_bb',
      { a: { dir: 'input', type: 4 }, y: { dir: 'output', type: 4 } },
      { combPaths: { y: ['a'] } },
    );
    expect(() =>
      elab((m) => {
        const u = m.instance('u', Bb, undefined);
        u.pin('a').set(u.pin('y'));
        m.output('o', 4).set(u.pin('y'));
      }),
    ).toThrow(/combinational loop/);
  });

  it("through a wire's default value, also seen by a parent through the child's input -> output path", () => {
    const mk = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const y = m.output('y', 8);
          const w = mk.at(m.wire('w', 8, { default: y.add(1) }), 'wire'); // the default reads y
          y.set(w);
        }),
      { kind: 'comb-loop', at: mk, msg: ["'y'", "'w'"] },
    );
    const Pass = defineModule('default_pass', (m) => {
      const w = m.wire('w', 8, { default: m.input('a', 8) });
      m.output('y', 8).set(w);
    });
    expect([...Pass.elaborate().combPaths]).toEqual([['y', new Set(['a'])]]);
    expect(() =>
      elab((m) => {
        const u = m.instance('u', Pass, undefined);
        u.pin('a').set(u.pin('y'));
      }),
    ).toThrow(/combinational loop/);
  });

  it('through an asynchronous memory read', () => {
    expect(() =>
      elab((m) => {
        const mem = m.memory('mem', { width: 2, depth: 4 });
        const a = m.wire('a', 2);
        const q = mem.readAsync(a);
        a.set(q);
        mem.write(a, q, m.input('we', 1));
        m.output('y', 2).set(q);
      }),
    ).toThrow(/combinational loop: .*'mem_rd0'/);
  });

  it('no false positive through a register, a registered instance, or a synchronous memory read', () => {
    const Reg = defineModule('loop_reg', (m) => {
      const r = m.reg('r', 4, { reset: 0 });
      r.next(m.input('a', 4));
      m.output('y', 4).set(r);
    });
    expect(() =>
      elab((m) => {
        const x = m.input('x', 8);
        const w = m.wire('w', 8);
        const r = m.reg('r', 8, { reset: 0 });
        w.set(r.add(x));
        r.next(w); // w -> r -> w through the flip-flop
        m.output('y', 8).set(w);
        const u = m.instance('u', Reg, undefined);
        u.pin('a').set(u.pin('y').inc()); // through the child's register
        m.output('z', 4).set(u.pin('y'));
      }),
    ).not.toThrow();
    expect(() =>
      elab((m) => {
        const mem = m.memory('mem', { width: 2, depth: 4 });
        const a = m.wire('a', 2);
        const q = mem.readSync(a);
        a.set(q); // read data -> address through the BRAM's output register
        mem.write(a, q, m.input('we', 1));
        m.output('y', 2).set(q);
      }),
    ).not.toThrow();
  });
});

describe('range errors', () => {
  it('slices, bit indices, shifts, array indices, select reach, rep', () => {
    const cases: [(m: ModuleBuilder, mk: Mark) => void, string][] = [
      [
        (m, mk) => m.output('y', 9).set(m.input('a', 8).bits(mk.at(8, 'bits'), 0)),
        "bits(8, 0) out of range for input 'a' (uint8) (valid bits 7..0)",
      ],
      [
        (m, mk) => m.output('y', 1).set(m.input('a', 8).bits(2, mk.at(3, 'bits'))),
        "bits(2, 3) out of range for input 'a' (uint8)",
      ],
      [
        (m, mk) => m.output('y', 1).set(m.input('a', 8).bit(mk.at(8, 'bit'))),
        "bit(8) out of range for input 'a' (uint8) (valid bits 7..0)",
      ],
      [(m, mk) => m.output('y', 1).set(m.input('a', 8).bit(mk.at(-1, 'bit#1'))), 'bit(-1) out of range'],
      [
        (m, mk) => m.output('y', 8).set(m.input('a', 8).shl(mk.at(8, 'shl'))),
        "shl(8): shift by at least the width (8) of input 'a' (uint8)",
      ],
      [
        (m, mk) => m.output('y', 8).set(m.input('a', 8).shr(mk.at(-1, 'shr'))),
        'shr(-1): shift amount must be a non-negative integer',
      ],
      [(m, mk) => m.output('y', 8).set(m.regArray('ra', 5, 8).at(mk.at(5, 'at#1'))), 'ra[5] out of range (length 5)'],
      [
        (m, mk) => {
          const k = m.input('k', 1);
          const options = [1, 2, 3].map((v) => lit(v, 8));
          m.output('y', 8).set(select(k, options, mk.at(0, 'select')));
        },
        'select index of 1 bits cannot reach 3 options',
      ],
      [
        (m, mk) => m.output('y', 8).set(m.input('a', 8).rep(mk.at(0, 'rep#1'))),
        'rep(0): count must be a positive integer',
      ],
    ];
    for (const [f, msg] of cases) {
      const mk = new Mark();
      expectHdlError(() => elab((m) => f(m, mk)), { kind: 'range', at: mk, msg: [msg] });
    }
  });
});

describe('name errors', () => {
  it('two signals with one name; a signal against an instance or its pins', () => {
    const Child = defineModule('nm_child', (m) => m.output('y', 4).set(m.input('a', 4)));
    const cases: [(m: ModuleBuilder, mk: Mark, first: Mark) => void, string][] = [
      [
        (m, mk, first) => (first.at(m.input('x', 1), 'input'), mk.on('wire', () => m.wire('x', 1))),
        "name collision: 'x' is already declared at",
      ],
      [
        (m, mk, first) => (
          first.at(m.wire('u', 1), 'wire'),
          mk.on('instance', () => m.instance('u', Child, undefined))
        ),
        "name collision: 'u' is already declared at",
      ],
      [
        (m, mk, first) => (
          first.at(m.instance('u', Child, undefined), 'instance'),
          mk.on('reg', () => m.reg('u_a', 4))
        ),
        "name collision: 'u_a' is already declared at",
      ],
      [
        (m, mk, first) => (
          first.at(m.output('mem_rd0', 8), 'output'),
          mk.on('readAsync', () => m.memory('mem', { width: 8, depth: 2 }).readAsync(lit(0, 1)))
        ),
        "name collision: 'mem_rd0'",
      ],
      [
        (m, mk, first) => (first.at(m.input('clk', 1), 'input'), mk.on('reg', () => m.reg('r', 1))),
        "name collision: 'clk'",
      ],
    ];
    for (const [f, msg] of cases) {
      const mk = new Mark();
      const first = new Mark();
      const e = expectHdlError(() => elab((m) => f(m, mk, first)), { kind: 'name', at: mk, msg: [msg] });
      expect(e.message).toContain(`${first.loc!.file}:${first.loc!.line}`);
    }
  });

  it('Verilog and SystemVerilog keywords, bad identifiers', () => {
    for (const name of ['reg', 'module', 'logic', 'final', 'type', 'ref', '2x', '_x', 'a-b', 'a b', '']) {
      const mk = new Mark();
      expectHdlError(() => elab((m) => mk.on('wire', () => m.wire(name, 1))), {
        kind: 'name',
        at: mk,
        msg: [
          /^[a-z]+/.test(name) && !name.includes('-') && !name.includes(' ')
            ? `name '${name}' is a Verilog keyword`
            : `invalid name '${name}'`,
        ],
      });
    }
  });

  it('bad module names are reported at the definition', () => {
    for (const name of ['my-mod', 'module', 'wire']) {
      const mk = new Mark();
      const D = defineModule(mk.at(name, 'defineModule'), (m) => m.output('y', 1).set(0));
      expectHdlError(() => D.elaborate(), { kind: 'name', at: mk, msg: [`module name '${name}'`] });
    }
  });

  it('two different modules generating one module name in a design', () => {
    const A = defineModule('dup', (m) => m.output('y', 1).set(0));
    const B = defineModule('dup', (m) => m.output('y', 1).set(1));
    const mk = new Mark();
    const top = elab((m) => {
      m.instance('a', A, undefined);
      mk.at(m.instance('b', B, undefined), 'instance');
    });
    expectHdlError(() => collectModules(top), {
      kind: 'name',
      at: mk,
      msg: [
        /module name collision: 'dup' is generated by test\/hdl\/errors\.test\.ts:\d+:\d+ and by test\/hdl\/errors\.test\.ts:\d+:\d+/,
      ],
    });
    // Parameters that print alike: '1-2' and '1_2' both name the module 'p_s1_2'. Different hardware is an
    // error at the second elaboration; the same hardware is one module.
    const P = defineModule('p', (m, p: { s: string }) => m.output('y', 8).set(p.s.charCodeAt(1)));
    const mk2 = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          m.instance('a', P, { s: '1-2' });
          mk2.on('instance', () => m.instance('b', P, { s: '1_2' }));
        }),
      { kind: 'name', at: mk2, msg: ["module name 'p_s1_2'", 'which give different hardware'] },
    );
    const Q = defineModule('q', (m, p: { s: string }) => m.output('y', 8).set(p.s.length));
    const top3 = elab((m) => {
      m.instance('a', Q, { s: '1-2' });
      m.instance('b', Q, { s: '1_2' });
    });
    expect(collectModules(top3).map((x) => x.name)).toContain('q_s1_2');
    expect(top3.instances[0].module).toBe(top3.instances[1].module);
  });

  it('clock domain names: reserved default, used twice (registers would share a clock)', () => {
    const mk = new Mark();
    expectHdlError(() => elab((m) => mk.on('domain', () => m.domain('default'))), {
      kind: 'name',
      at: mk,
      msg: ["clock domain name 'default' is reserved"],
    });
    const mk2 = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          m.domain('a');
          mk2.on('domain', () => m.domain('a', { clock: 'c2', reset: 'r2' }));
        }),
      { kind: 'name', at: mk2, msg: ["clock domain name 'a' is already used"] },
    );
  });

  it('an instance pin or fsm state that does not exist', () => {
    const Child = defineModule('pin_child', (m) => m.output('y', 4).set(m.input('a', 4)));
    const mk = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const u = m.instance('u', Child, undefined);
          u.pin('a').set(0);
          m.output('o', 4).set(u.pin(mk.at('z', 'pin')));
        }),
      { kind: 'name', at: mk, msg: ["instance 'u' has no port 'z'"] },
    );
    const mk2 = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const f = m.fsm('st', ['a', 'b']);
          f.goto(mk2.at('c' as 'a', 'goto'));
        }),
      { kind: 'name', at: mk2, msg: ["fsm 'st' has no state 'c'"] },
    );
    const mk3 = new Mark();
    expectHdlError(() => elab((m) => m.fsm('st', ['ok', mk3.at('not-ok', 'fsm')])), {
      kind: 'name',
      at: mk3,
      msg: ["invalid name 'ST_NOT-OK'"],
    });
  });
});

describe('context errors', () => {
  it('.next on a wire, .set on a register', () => {
    const mk = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const w = m.wire('w', 8);
          mk.at(w, 'next').next(0);
        }),
      { kind: 'context', at: mk, msg: ["wire 'w' (uint8) is not a register: use .set(value) to drive it"] },
    );
    const mk2 = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const r = m.reg('r', 8);
          mk2.at(r, 'set').set(0);
        }),
      { kind: 'context', at: mk2, msg: ["reg 'r' (uint8) is a register: use .next(value) to give its next state"] },
    );
  });

  it("reading or driving another module's signal", () => {
    let leakedIn: Val | undefined;
    let leakedOut: Drivable | undefined;
    elab((m) => {
      leakedIn = m.input('x', 8);
      leakedOut = m.output('y', 8);
      leakedOut.set(leakedIn);
    });
    const mk = new Mark();
    const other = defineModule('other_mod', (m) => {
      m.output('z', 8).set(mk.at(leakedIn!, 'set'));
    });
    expectHdlError(() => other.elaborate(), {
      kind: 'context',
      at: mk,
      msg: [/input 'x' \(uint8\) belongs to module 'err\d+', not to 'other_mod' \(connect it through a port\)/],
    });
    const mk2 = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          mk2.at(leakedOut!, 'set').set(m.input('q', 8));
        }),
      {
        kind: 'context',
        at: mk2,
        msg: [/output 'y' \(uint8\) belongs to module 'err\d+', which is not being elaborated here/],
      },
    );
    // Declaring through a builder that has finished elaborating.
    let saved: ModuleBuilder | undefined;
    elab((m) => {
      saved = m;
      m.output('y', 1).set(0);
    });
    const mk3 = new Mark();
    expectHdlError(() => mk3.at(saved!, 'wire').wire('late', 1), {
      kind: 'context',
      at: mk3,
      msg: ["'late'", 'finished elaborating'],
    });
  });

  it('if/switch misuse: elseIf after else, else twice, case after default, duplicate case value', () => {
    const cases: [(m: ModuleBuilder, mk: Mark) => void, string][] = [
      [
        (m, mk) => {
          const c = m.input('c', 1);
          const ch = m.if(c, () => {});
          ch.else(() => {});
          ch.elseIf(mk.at(c, 'elseIf'), () => {});
        },
        'elseIf() after else()',
      ],
      [
        (m, mk) => {
          const ch = m.if(m.input('c', 1), () => {});
          ch.else(() => {});
          ch.else(mk.at(() => {}, 'else'));
        },
        'else() given twice',
      ],
      [
        (m, mk) => {
          const sw = m.switch(m.input('c', 2));
          sw.default(() => {});
          sw.case(mk.at(1, 'case'), () => {});
        },
        'case() after default()',
      ],
      [
        (m, mk) =>
          m
            .switch(m.input('c', 2))
            .case(1, () => {})
            .case([2, mk.at(1, 'case')], () => {}),
        'case value 1 already handled at test/hdl/errors.test.ts:',
      ],
    ];
    for (const [f, msg] of cases) {
      const mk = new Mark();
      expectHdlError(() => elab((m) => f(m, mk)), { kind: 'context', at: mk, msg: [msg] });
    }
  });

  it('resets and clock domains: reset value without a reset, instances needing a reset or another polarity', () => {
    const Child = defineModule('dom_child', (m) => {
      const r = m.reg('r', 1, { reset: 0 });
      r.next(m.input('a', 1));
      m.output('y', 1).set(r);
    });
    const cases: [(m: ModuleBuilder, mk: Mark) => void, string][] = [
      [
        (m, mk) => mk.on('reg', () => m.reg('r', 1, { reset: 1, domain: m.domain('nr', { reset: null }) })),
        "register 'r' has a reset value but domain 'nr' has no reset",
      ],
      [
        (m, mk) =>
          mk.on('instance', () => m.instance('u', Child, undefined, { domain: m.domain('nr', { reset: null }) })),
        "instance 'u' needs a reset but domain 'nr' has none",
      ],
      [
        (m, mk) => {
          const n = m.domain('n', { resetActiveLow: true });
          mk.on('instance', () => m.instance('u', Child, undefined, { domain: n }));
        },
        "instance 'u': reset polarity of domain 'n' differs from the child's",
      ],
    ];
    for (const [f, msg] of cases) {
      const mk = new Mark();
      expectHdlError(() => elab((m) => f(m, mk)), { kind: 'context', at: mk, msg: [msg] });
    }
  });
});

describe('type and parameter errors', () => {
  it('neg of unsigned, signed indices and shift amounts, fractional constants', () => {
    const cases: [(m: ModuleBuilder, mk: Mark) => void, string][] = [
      [
        (m, mk) => m.output('y', 8).set(mk.at(m.input('a', 8), 'neg').neg()),
        "neg() needs a signed operand, got input 'a' (uint8)",
      ],
      [
        (m, mk) => m.output('y', 1).set(m.input('a', 8).bit(mk.at(m.input('i', sint(3)), 'bit'))),
        "bit index must be unsigned, got input 'i' (sint3)",
      ],
      [
        (m, mk) => m.output('y', 8).set(m.input('a', 8).shl(mk.at(m.input('n', sint(3)), 'shl'))),
        "shl: shift amount must be unsigned, got input 'n' (sint3)",
      ],
      [
        (m, mk) => m.output('y', 8).set(select(mk.at(m.input('k', sint(2)), 'select'), [m.input('a', 8)])),
        "select index must be unsigned, got input 'k' (sint2)",
      ],
      [(m, mk) => m.output('y', 8).set(m.input('a', 8).add(mk.at(1.5, 'add'))), 'add: constant 1.5 is not an integer'],
      [
        (m, mk) => m.output('y', 8).set(mux(m.input('s', 1), mk.at(1, 'mux'), 2)),
        'mux: at least one operand must be a hardware expression',
      ],
    ];
    for (const [f, msg] of cases) {
      const mk = new Mark();
      expectHdlError(() => elab((m) => f(m, mk)), { kind: 'type', at: mk, msg: [msg] });
    }
  });

  it('fsm with fewer than two states; too many memory ports; bad widths', () => {
    const mk = new Mark();
    expectHdlError(() => elab((m) => mk.on('fsm', () => m.fsm('st', ['only']))), {
      kind: 'param',
      at: mk,
      msg: ["fsm 'st' needs at least two states"],
    });
    const mk2 = new Mark();
    expectHdlError(
      () =>
        elab((m) => {
          const mem = m.memory('mem', { width: 8, depth: 4 });
          const a = m.input('a', 2);
          for (let i = 0; i < 4; i++) m.output(`q${i}`, 8).set(mem.readAsync(a));
          mem.write(a, mk2.at(m.input('d', 8), 'write'), m.input('we', 1));
        }),
      { kind: 'param', at: mk2, msg: ["memory 'mem' has too many ports"] },
    );
    const mk3 = new Mark();
    expectHdlError(() => uint(mk3.at(0, 'uint')), {
      kind: 'width',
      at: mk3,
      msg: ['width must be an integer from 1 to 65536, got 0'],
    });
  });
});
