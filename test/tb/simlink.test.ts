// SimLink (tb/pcie/link.ts) over a scripted stand-in for a Sim: which stream each call goes to, the merge of several
// device streams in cycle order, and delivery reports only when the sim has them. The Verilated suites use SimLink
// with a real Sim; this pins the wrapper itself, without a simulator.
import { describe, expect, test } from 'vitest';
import { SimLink, type SimLike } from '../../tb/pcie/link';
import type { RawTlp } from '../../sim/raw';

const tlp = (cycle: number, tag: number): RawTlp => ({
  hdr: Uint32Array.of(0, tag, 0, 0),
  data: new Uint32Array(0),
  cycle,
});

/** A Sim stand-in recording every call, with TLPs waiting on named device streams. */
function fakeSim(tx: Record<string, RawTlp[]>, tracked: boolean) {
  const calls: unknown[][] = [];
  const sim: SimLike = {
    cycle: 12,
    send: (raw, atCycle, stream) => void calls.push(['send', raw, atCycle, stream]),
    run: (opts) => (calls.push(['run', opts]), { reason: 'idle', cycles: 3 }),
    takeTx: (stream) => {
      calls.push(['takeTx', stream]);
      const got = tx[stream ?? 'default'] ?? [];
      tx[stream ?? 'default'] = [];
      return got;
    },
  };
  if (tracked)
    sim.sendTracked = (raw, atCycle, delivered, stream) =>
      void calls.push(['sendTracked', raw, atCycle, delivered, stream]);
  return { sim, calls };
}

describe('SimLink', () => {
  test('sends to the rx stream, runs and reads the cycle through the sim', () => {
    const { sim, calls } = fakeSim({}, false);
    const link = new SimLink(sim, { rx: 'cq' });
    const t = tlp(0, 1);
    link.send(t, 40);
    expect(link.run({ maxCycles: 5 })).toEqual({ reason: 'idle', cycles: 3 });
    expect(link.cycle).toBe(12);
    expect(calls).toEqual([
      ['send', t, 40, 'cq'],
      ['run', { maxCycles: 5 }],
    ]);
  });

  test('reports deliveries only when the sim does, on the rx stream', () => {
    expect(new SimLink(fakeSim({}, false).sim).sendTracked).toBeUndefined();
    const { sim, calls } = fakeSim({}, true);
    const link = new SimLink(sim, { rx: 'cq' });
    const t = tlp(0, 1);
    const delivered = () => {};
    link.sendTracked!(t, 7, delivered);
    expect(calls).toEqual([['sendTracked', t, 7, delivered, 'cq']]);
  });

  test('one device stream (or the default) is taken as it is', () => {
    const a = [tlp(9, 1), tlp(3, 2)];
    const { sim, calls } = fakeSim({ default: a }, false);
    expect(new SimLink(sim).takeTx()).toBe(a);
    const b = [tlp(5, 3)];
    const one = fakeSim({ rq: b }, false);
    expect(new SimLink(one.sim, { tx: ['rq'] }).takeTx()).toBe(b);
    expect([calls, one.calls]).toEqual([[['takeTx', undefined]], [['takeTx', 'rq']]]);
  });

  test('several device streams merge in cycle order, each stream in its own order among equal cycles', () => {
    const { sim } = fakeSim({ rq: [tlp(4, 1), tlp(10, 2)], cc: [tlp(2, 3), tlp(4, 4), tlp(11, 5)] }, false);
    const got = new SimLink(sim, { tx: ['rq', 'cc'] }).takeTx();
    expect(got.map((t) => [t.cycle, t.hdr[1]])).toEqual([
      [2, 3],
      [4, 1],
      [4, 4],
      [10, 2],
      [11, 5],
    ]);
  });
});
