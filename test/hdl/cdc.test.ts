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
