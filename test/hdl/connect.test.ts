// connect(): bundles joined field by field, each field driven from whichever side is its source (forward
// fields one way, flipped fields such as ready the other), whatever the argument order; wires take the role
// the other side leaves; two sources, two sinks or two bundle types are errors at the connect() line.
import { describe, expect, it } from 'vitest';
import { bit, bundle, connect, defineModule, flip, stream, uint } from '../../gen/hdl';
import { tlpStream } from '../../gen/pcie/streams';
import { Fifo } from '../../gen/lib/fifo';
import { cycleSim } from '../support/cyclesim';
import { expectHdlError, expectLintClean, Mark } from './helpers';

/** in -> fifo -> out, all through connect(). */
const SinkFirst = defineModule('connect_wrap', (m) => {
  const i = m.input('i', stream(8));
  const o = m.output('o', stream(8));
  const q = m.instance('q', Fifo, { width: 8, depth: 4 });
  connect(q.io.enq, i);
  connect(o, q.io.deq);
  const n = m.output('n', 3);
  n.set(q.io.count);
  return { i, o, n };
});

const SourceFirst = defineModule('connect_swapped', (m) => {
  const i = m.input('i', stream(8));
  const o = m.output('o', stream(8));
  const q = m.instance('q', Fifo, { width: 8, depth: 4 });
  connect(i, q.io.enq);
  connect(q.io.deq, o);
  const n = m.output('n', 3);
  n.set(q.io.count);
  return { i, o, n };
});

/** Through wire bundles: i -> w1 -> fifo -> w2 -> o, and w2 -> w3 between two wires (argument order). */
const ViaWires = defineModule('connect_wires', (m) => {
  const i = m.input('i', stream(8));
  const o = m.output('o', stream(8));
  const q = m.instance('q', Fifo, { width: 8, depth: 4 });
  const w1 = m.wire('w1', stream(8));
  const w2 = m.wire('w2', stream(8));
  const w3 = m.wire('w3', stream(8));
  connect(w1, i);
  connect(q.io.enq, w1);
  connect(w2, q.io.deq);
  connect(w3, w2); // two wires: forward fields flow from the second argument to the first
  connect(o, w3);
  const n = m.output('n', 3);
  n.set(q.io.count);
  return { i, o, n };
});

function checkFifoPath(top: ReturnType<typeof SinkFirst.elaborate>): void {
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
  expect(out.map((o) => o.n)).toEqual([0n, 1n, 2n, 1n, 0n]);
}

describe('connect', () => {
  it('passes data forward and ready backward, whatever the argument order', () => {
    for (const d of [SinkFirst, SourceFirst, ViaWires]) {
      const top = d.elaborate(undefined);
      checkFifoPath(top);
      expectLintClean(top);
    }
  });

  it('joins two single signals the same way', () => {
    const D = defineModule('connect_leaf', (m) => {
      const a = m.input('a', 4);
      const y = m.output('y', 4);
      connect(a, y);
      return { a, y };
    });
    expect(cycleSim(D.elaborate(), [{ a: 9 }]).map((o) => o.y)).toEqual([9n]);
  });

  it('rejects bundles of different types at the connect() line', () => {
    const mk = new Mark();
    const D = defineModule('connect_bad', (m) => {
      const a = m.input('a', stream(8));
      const b = m.output('b', tlpStream(64));
      mk.on('connect', () => connect(b, a));
      return { a, b };
    });
    expectHdlError(() => D.elaborate(), {
      kind: 'type',
      at: mk,
      msg: ['bundle types differ', 'stream {"dataWidth":8}', 'tlp_stream {"dataWidth":64}'],
    });
    // Same kind and parameters, different fields.
    const a1 = bundle('pair', { x: uint(4), ack: flip(bit) });
    const a2 = bundle('pair', { x: uint(5), ack: flip(bit) });
    const mk2 = new Mark();
    const E = defineModule('connect_fields', (m) => {
      const p = m.input('p', a1);
      const q = m.output('q', a2);
      mk2.on('connect', () => connect(q, p));
      return { p, q };
    });
    expectHdlError(() => E.elaborate(), {
      kind: 'type',
      at: mk2,
      msg: ['bundle types differ: pair {} vs pair {} (their fields differ)'],
    });
    // Not bundles at all.
    const mk3 = new Mark();
    const F = defineModule('connect_mixed', (m) => {
      const p = m.input('p', stream(4));
      const y = m.output('y', 1);
      mk3.on('connect', () => connect(y, p));
      return { p, y };
    });
    expectHdlError(() => F.elaborate(), { kind: 'type', at: mk3, msg: ['connect() joins two bundles'] });
  });

  it('rejects two sources or two sinks, naming every field', () => {
    const mk = new Mark();
    const Sources = defineModule('connect_sources', (m) => {
      const i = m.input('i', stream(8));
      const q = m.instance('q', Fifo, { width: 8, depth: 4 });
      q.io.enq.valid.set(0);
      q.io.enq.data.set(0);
      mk.on('connect', () => connect(i, q.io.deq)); // an input and an instance's output: both drive their valid
      return { i };
    });
    expectHdlError(() => Sources.elaborate(), {
      kind: 'direction',
      at: mk,
      msg: [
        "field 'valid': input 'i_valid' (uint1) and instance pin 'q_deq_valid' (uint1) are both sources",
        "field 'ready': output 'i_ready' (uint1) and instance pin 'q_deq_ready' (uint1) are both sinks",
        "field 'data': input 'i_data' (uint8) and instance pin 'q_deq_data' (uint8) are both sources",
      ],
    });
    const mk2 = new Mark();
    const Sinks = defineModule('connect_sinks', (m) => {
      const o = m.output('o', stream(8));
      const q = m.instance('q', Fifo, { width: 8, depth: 4 });
      q.io.deq.ready.set(0);
      mk2.on('connect', () => connect(o, q.io.enq));
      return { o };
    });
    expectHdlError(() => Sinks.elaborate(), {
      kind: 'direction',
      at: mk2,
      msg: ["field 'valid': output 'o_valid' (uint1) and instance pin 'q_enq_valid' (uint1) are both sinks"],
    });
  });
});
