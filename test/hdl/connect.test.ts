// connect(): bundles joined field by field, forward fields one way and flipped fields (ready) the other.
import { describe, expect, it } from 'vitest';
import { connect, defineModule, stream } from '../../gen/hdl';
import { tlpStream } from '../../gen/pcie/streams';
import { Fifo } from '../../gen/lib/fifo';
import { cycleSim } from '../support/cyclesim';
import { expectHdlError, expectLintClean, Mark } from './helpers';

/** in -> fifo -> out, all through connect(). */
const Wrapped = defineModule('connect_wrap', (m) => {
  const i = m.input('i', stream(8));
  const o = m.output('o', stream(8));
  const q = m.instance('q', Fifo, { width: 8, depth: 4 });
  connect(q.io.enq, i);
  connect(o, q.io.deq);
  m.output('n', 3).set(q.pin('count'));
});

describe('connect', () => {
  it('passes data forward and ready backward', () => {
    const top = Wrapped.elaborate(undefined);
    const out = cycleSim(top, [
      { i_valid: 1, i_data: 0x11, o_ready: 0 },
      { i_valid: 1, i_data: 0x22, o_ready: 0 },
      { i_valid: 0, o_ready: 1 },
      { i_valid: 0, o_ready: 1 },
      { i_valid: 0, o_ready: 1 },
    ]);
    expect(out.map((o) => o.i_ready)).toEqual([1n, 1n, 1n, 1n, 1n]);
    expect(out.slice(2, 4).map((o) => [o.o_valid, o.o_data])).toEqual([
      [1n, 0x11n],
      [1n, 0x22n],
    ]);
    expect(out[4].o_valid).toBe(0n);
    expectLintClean(top);
  });

  it('rejects bundles of different types at the connect() line', () => {
    const mk = new Mark();
    const D = defineModule('connect_bad', (m) => {
      const a = m.input('a', stream(8));
      const b = m.output('b', tlpStream(64));
      mk.on(() => connect(b, a));
    });
    expectHdlError(() => D.elaborate(undefined), {
      kind: 'type',
      at: mk,
      msg: ['bundle types differ', 'stream', 'tlp_stream'],
    });
  });
});
