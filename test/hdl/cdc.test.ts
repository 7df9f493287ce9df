// Clock-domain crossings: a register (or memory port) of one domain reading another domain's register,
// directly or through logic, is an error at the line of the assignment; a synchronizer makes it legal.
import { describe, expect, it } from 'vitest';
import { defineModule, type ClockDomain, type Expr, type ModuleBuilder } from '../../gen/hdl';
import { syncBits } from '../../gen/lib/cdc';
import { cycleSim, type Vector } from '../support/cyclesim';
import { expectHdlError, expectHdlErrors, expectLintClean, Mark, verilogOf } from './helpers';

/** Domains a and b, a 4-bit counter `cnt` counting in a, and `cross(m, b, cnt)`'s result as output q. */
const counterCrossing = (name: string, cross: (m: ModuleBuilder, b: ClockDomain, cnt: Expr) => Expr) =>
  defineModule(name, (m) => {
    const a = m.domain('a');
    const b = m.domain('b');
    const cnt = m.reg('cnt', 4, { domain: a, reset: 0 });
    cnt.next(cnt.inc());
    m.output('q', 4).set(cross(m, b, cnt));
  });

describe('clock-domain crossing check', () => {
  it('a register reading another domain directly or through logic is an error at the assignment', () => {
    const mk = new Mark();
    const Direct = defineModule('cdc_direct', (m) => {
      const a = m.domain('a');
      const b = m.domain('b');
      const ra = m.reg('ra', 4, { domain: a });
      ra.next(m.input('d', 4));
      const rb = m.reg('rb', 4, { domain: b });
      mk.on('next', () => rb.next(ra));
      m.output('q', 4).set(rb);
    });
    expectHdlError(() => Direct.elaborate(undefined), {
      kind: 'cdc',
      at: mk,
      msg: ["register 'rb' (domain 'b') reads 'ra', which depends on domain 'a'", 'synchronizer'],
    });

    const mk2 = new Mark();
    const ViaLogic = defineModule('cdc_logic', (m) => {
      const a = m.domain('a');
      const b = m.domain('b');
      const ra = m.reg('ra', 1, { domain: a });
      ra.next(m.input('d', 1));
      const w = m.let('w', ra.not());
      const rb = m.reg('rb', 4, { domain: b, reset: 0 });
      mk2.on('next', () => m.if(w, () => rb.next(rb.inc()))); // a guard counts too
      m.output('q', 4).set(rb);
    });
    expectHdlError(() => ViaLogic.elaborate(undefined), {
      kind: 'cdc',
      at: mk2,
      msg: ["reads 'w', which depends on domain 'a'"],
    });

    const mk3 = new Mark();
    const Mem = defineModule('cdc_mem', (m) => {
      const a = m.domain('a');
      const b = m.domain('b');
      const ra = m.reg('ra', 3, { domain: a });
      ra.next(m.input('d', 3));
      const mem = m.memory('mem', { width: 8, depth: 8, domain: b });
      mk3.on('write', () => mem.write(ra, m.input('wd', 8), m.input('we', 1)));
      m.output('q', 8).set(mem.readAsync(m.input('ra2', 3)));
    });
    expectHdlError(() => Mem.elaborate(undefined), {
      kind: 'cdc',
      at: mk3,
      msg: ["memory 'mem' write port (domain 'b') reads 'ra'"],
    });
  });

  it('each port of a dual-clock memory is checked in its own domain, at the port', () => {
    const mk = new Mark();
    const ReadAddr = defineModule('cdc_mem_raddr', (m) => {
      const a = m.domain('a');
      const b = m.domain('b');
      const ptr = m.reg('ptr', 3, { domain: a, reset: 0 });
      ptr.next(ptr.inc());
      const mem = m.memory('mem', { width: 8, depth: 8 });
      mem.write(ptr, m.input('wd', 8), m.input('we', 1), { domain: a }); // same domain: fine
      m.output('q', 8).set(mk.at(mem, 'readSync').readSync(ptr, { domain: b })); // b reads a's pointer
    });
    expectHdlError(() => ReadAddr.elaborate(), {
      kind: 'cdc',
      at: mk,
      msg: ["memory 'mem' read port (domain 'b') reads 'ptr', which depends on domain 'a'", 'synchronizer'],
    });

    const mk2 = new Mark();
    const WriteData = defineModule('cdc_mem_wdata', (m) => {
      const a = m.domain('a');
      const b = m.domain('b');
      const rb = m.reg('rb', 8, { domain: b });
      rb.next(m.input('d', 8));
      const mem = m.memory('mem', { width: 8, depth: 8, domain: b }); // ports default to b
      const en = m.input('en', 1);
      mk2.on('write', () => mem.write(m.input('wa', 3), rb.not(), en, { domain: a }));
      m.output('q', 8).set(mem.readSync(m.input('ra', 3), en));
    });
    expectHdlError(() => WriteData.elaborate(), {
      kind: 'cdc',
      at: mk2,
      msg: ["memory 'mem' write port (domain 'a') reads 'rb', which depends on domain 'b'"],
    });

    // The read data belongs to the read port's domain: a register of the other domain reading it is a crossing.
    const mk3 = new Mark();
    const ReadData = defineModule('cdc_mem_rdata', (m) => {
      const a = m.domain('a');
      const b = m.domain('b');
      const mem = m.memory('mem', { width: 8, depth: 8 });
      mem.write(m.input('wa', 3), m.input('wd', 8), m.input('we', 1), { domain: a });
      const q = mem.readSync(m.input('ra', 3), { domain: b });
      const qa = m.reg('qa', 8, { domain: a });
      mk3.on('next', () => qa.next(q));
      m.output('q', 8).set(qa);
    });
    expectHdlError(() => ReadData.elaborate(), {
      kind: 'cdc',
      at: mk3,
      msg: ["register 'qa' (domain 'a') reads 'mem_rd0', which depends on domain 'b'"],
    });
  });

  it('a memory whose ports would use a third clock domain is a located parameter error', () => {
    const mk = new Mark();
    const Three = defineModule('cdc_mem_three', (m) => {
      const mem = m.memory('mem', { width: 8, depth: 8 });
      const a = m.input('a', 3);
      mem.write(a, m.input('d', 8), m.input('we', 1), { domain: m.domain('x') });
      m.output('q', 8).set(mem.readSync(a, { domain: m.domain('y') }));
      const y2 = m.domain('y2');
      mk.on('readSync', () => mem.readSync(a, { domain: y2 }));
    });
    expectHdlError(() => Three.elaborate(), {
      kind: 'param',
      at: mk,
      msg: ["memory 'mem': a port in domain 'y2' would be its third clock domain (after 'x' and 'y')", 'two ports'],
    });
  });

  it('an asynchronous read of a memory written in two domains is a located parameter error', () => {
    for (const readFirst of [false, true]) {
      const mk = new Mark();
      const D = defineModule(`cdc_mem_async${readFirst ? '_rf' : ''}`, (m) => {
        const mem = m.memory('mem', { width: 8, depth: 8 });
        const a = m.input('a', 3);
        const [x, y] = [m.domain('x'), m.domain('y')];
        const d = m.input('d', 8);
        const we = m.input('we', 1);
        if (readFirst) m.output('q', 8).set(mem.readAsync(a));
        mem.write(a, d, we, { domain: x });
        if (readFirst) mk.on('write', () => mem.write(a, d, we, { domain: y }));
        else {
          mem.write(a, d, we, { domain: y });
          m.output('q', 8).set(mk.on('readAsync', () => mem.readAsync(a)));
        }
      });
      expectHdlError(() => D.elaborate(), {
        kind: 'param',
        at: mk,
        msg: ["memory 'mem': an asynchronous read and write ports in two clock domains", 'readSync'],
      });
    }
  });

  it('the default domain is checked like any other; inputs carry no domain', () => {
    const D = defineModule('cdc_inputs', (m) => {
      const b = m.domain('b');
      const r = m.reg('r', 4, { domain: b });
      r.next(m.input('d', 4));
      const q = m.reg('q0', 4);
      q.next(r); // default domain reading domain b without a synchronizer
      m.output('q', 4).set(q);
    });
    expect(() => D.elaborate(undefined)).toThrow(/clock-domain crossing/);
  });

  it('syncBits carries a level across with its latency, lint clean', () => {
    const D = defineModule('cdc_sync', (m) => {
      const a = m.domain('a', { reset: null });
      const b = m.domain('b', { reset: null });
      const flag = m.reg('flag', 1, { domain: a });
      flag.next(m.input('d', 1));
      m.output('q', 1).set(syncBits(m, 'flag_b', flag, b));
    });
    const top = D.elaborate(undefined);
    expectLintClean(top);
    // Both clocks tick together here. Sample k is taken after k edges: d = 1 is presented before edge 3, so
    // flag is 1 after edge 3 and q two edges later (after edge 5). No reset: X until the chain fills.
    const tick = (v: Vector): Vector[] => [
      { ...v, a_clk: 0, b_clk: 0 },
      { a_clk: 1, b_clk: 1 },
    ];
    const stim: Vector[] = [
      ...tick({ d: 0 }),
      ...tick({ d: 0 }),
      ...tick({ d: 1 }),
      ...tick({}),
      ...tick({}),
      ...tick({}),
      ...tick({}),
    ];
    const q = cycleSim(top, stim)
      .filter((_, i) => i % 2 === 0)
      .map((o) => o.q);
    expect(q).toEqual([-1n, -1n, -1n, 0n, 0n, 1n, 1n]);
  });
});

describe('what synchronizers carry', () => {
  it('a binary counter through a synchronizer of single bits is an error at the syncBits call', () => {
    const mk = new Mark();
    const D = counterCrossing('sync_bin', (m, b, cnt) => mk.on('syncBits', () => syncBits(m, 'cnt_b', cnt, b)));
    expectHdlError(() => D.elaborate(), {
      kind: 'cdc',
      at: mk,
      msg: [
        "synchronizer 'cnt_b_sync0' (uint4) carries single bits but is 4 bits wide",
        'a binary count can arrive as a value it never had',
        "{ synchronizer: 'gray' }",
      ],
    });
  });

  it("a binary counter through a 'gray' synchronizer is an error naming the counter's assignment", () => {
    const mk = new Mark();
    const at = new Mark();
    const D = defineModule('sync_bin_gray', (m) => {
      const a = m.domain('a');
      const b = m.domain('b');
      const cnt = m.reg('cnt', 4, { domain: a, reset: 0 });
      at.on('next', () => cnt.next(cnt.inc()));
      const q = mk.on('syncBits', () => syncBits(m, 'cnt_b', cnt, b, { carries: 'gray' }));
      m.output('q', 4).set(q);
    });
    const err = expectHdlError(() => D.elaborate(), {
      kind: 'cdc',
      at: mk,
      msg: [
        "synchronizer 'cnt_b_sync0' (uint4) carries a Gray code, but its source register 'cnt' is assigned add expression (uint4)",
        'not a toGray()',
      ],
    });
    expect(err.message).toContain(`at ${at.loc!.file}:${at.loc!.line}:${at.loc!.col},`);
  });

  it('a Gray-coded register through a gray synchronizer is accepted, and every path must encode', () => {
    const D = defineModule('sync_gray_ok', (m) => {
      const a = m.domain('a');
      const b = m.domain('b');
      const bin = m.reg('bin', 4, { domain: a, reset: 0 });
      const gray = m.reg('gray', 4, { domain: a, reset: 0 });
      const en = m.input('en', 1);
      const next = m.let('gray_next', bin.inc().toGray()); // through a wire: still a Gray code
      m.if(en, () => {
        bin.next(bin.inc());
        gray.next(next);
      });
      m.output('q', 4).set(syncBits(m, 'g_b', gray, b, { carries: 'gray', stages: 3 }).fromGray());
    });
    expectLintClean(D.elaborate());

    const mk = new Mark();
    const at = new Mark();
    const Mixed = defineModule('sync_gray_mixed', (m) => {
      const a = m.domain('a');
      const b = m.domain('b');
      const bin = m.reg('bin', 4, { domain: a, reset: 0 });
      const gray = m.reg('gray', 4, { domain: a, reset: 0 });
      bin.next(bin.inc());
      gray.next(bin.inc().toGray());
      m.if(m.input('load', 1), () => at.on('next', () => gray.next(m.input('v', 4)))); // not encoded
      m.output('q', 4).set(mk.on('syncBits', () => syncBits(m, 'g_b', gray, b, { carries: 'gray' })));
    });
    const err = expectHdlError(() => Mixed.elaborate(), {
      kind: 'cdc',
      at: mk,
      msg: ["its source register 'gray' is assigned input 'v' (uint4)"],
    });
    expect(err.message).toContain(`at ${at.loc!.file}:${at.loc!.line}:${at.loc!.col},`);
  });

  it('a gray synchronizer must sample a register: not logic, not a port', () => {
    const mk = new Mark();
    const mk2 = new Mark();
    const D = defineModule('sync_gray_logic', (m) => {
      const a = m.domain('a');
      const b = m.domain('b');
      const bin = m.reg('bin', 4, { domain: a, reset: 0 });
      bin.next(bin.inc());
      const q1 = mk.on('syncBits', () => syncBits(m, 'x', bin.toGray(), b, { carries: 'gray' }));
      const q2 = mk2.on('syncBits', () => syncBits(m, 'y', m.input('p', 4), b, { carries: 'gray' }));
      m.output('q', 8).set(q1.cat(q2));
    });
    expectHdlErrors(
      () => D.elaborate(),
      [
        {
          kind: 'cdc',
          at: mk,
          msg: ["synchronizer 'x_sync0' (uint4) carries a Gray code, so it must sample a register", 'xor expression'],
        },
        { kind: 'cdc', at: mk2, msg: ["it samples input 'p' (uint4)"] },
      ],
    );
  });

  it('a hand-marked multi-bit synchronizer must say what it carries; quasiStatic is taken on trust', () => {
    const mk = new Mark();
    const D = counterCrossing('sync_hand', (m, b, cnt) => {
      const s = mk.on('reg', () => m.reg('s', 4, { domain: b, synchronizer: true }));
      s.next(cnt);
      return s;
    });
    expectHdlError(() => D.elaborate(), { kind: 'cdc', at: mk, msg: ["synchronizer 's' (uint4) carries single bits"] });
    // The designer's promise (e.g. a setting written while the other side is idle): unchecked.
    const Q = counterCrossing('sync_quasi', (m, b, cnt) => syncBits(m, 'cfg', cnt, b, { carries: 'quasiStatic' }));
    expect(() => Q.elaborate()).not.toThrow();
  });

  it("syncBits's registers are located at its caller's line", () => {
    let line = 0;
    const D = counterCrossing('sync_loc', (m, b, cnt) => {
      const h = new Mark();
      const q = h.on('syncBits', () => syncBits(m, 'c', cnt.bit(0), b));
      line = h.loc!.line;
      return q.rep(4);
    });
    const v = verilogOf(D.elaborate());
    expect(v).toContain(`reg c_sync0;  // test/hdl/cdc.test.ts:${line}`);
    expect(v).toContain(`c_sync1 <= c_sync0;  // test/hdl/cdc.test.ts:${line}`);
  });
});

describe('Gray code', () => {
  it('toGray steps one bit between neighbours and fromGray inverts it, in Icarus', () => {
    const w = 5;
    const D = defineModule('gray_codec', (m) => {
      const x = m.input('x', w);
      m.output('g', w).set(x.toGray());
      m.output('b', w).set(x.fromGray());
      m.output('rt', w).set(x.toGray().fromGray());
    });
    const top = D.elaborate();
    expectLintClean(top);
    const n = 1 << w;
    const out = cycleSim(
      top,
      Array.from({ length: n }, (_, x) => ({ x })),
    );
    const pop = (v: bigint) => v.toString(2).replace(/0/g, '').length;
    out.forEach((o, x) => {
      expect(o.g, `x=${x}`).toBe(BigInt(x ^ (x >> 1)));
      expect(o.rt, `x=${x}`).toBe(BigInt(x));
      expect(out[Number(o.b)].g, `fromGray(${x}) is the value whose code is ${x}`).toBe(BigInt(x));
      expect(pop(o.g ^ out[(x + 1) % n].g), `${x} -> ${(x + 1) % n}`).toBe(1);
    });
  });
});
