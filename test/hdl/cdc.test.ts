// Clock-domain crossings: a register (or memory port) of one domain reading another domain's register,
// directly or through logic, is an error at the line of the assignment; a synchronizer makes it legal.
import { describe, expect, it } from 'vitest';
import { defineModule } from '../../gen/hdl';
import { syncBits } from '../../gen/lib/cdc';
import { cycleSim, type Vector } from '../support/cyclesim';
import { expectHdlError, expectLintClean, Mark } from './helpers';

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
