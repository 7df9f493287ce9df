import { describe, expect, it } from 'vitest';
import { Fifo } from '../../gen/lib/fifo';
import { cycleSim, Rng, testSeed, type Vector } from '../support/cyclesim';

describe('Fifo', () => {
  for (const [width, depth] of [
    [8, 16],
    [33, 5],
    [1, 1],
  ] as const) {
    it(`keeps order and flags under random backpressure (w${width} d${depth})`, () => {
      const { seed, replay } = testSeed(1000 + depth, 'test/lib/fifo.test.ts');
      const rng = new Rng(seed);
      const stim: Vector[] = [];
      for (let c = 0; c < 600; c++) {
        stim.push({ enq_valid: rng.chance(0.6), enq_data: rng.bits(width), deq_ready: rng.chance(c < 300 ? 0.4 : 0.8) });
      }
      const out = cycleSim(Fifo.elaborate({ width, depth }), stim);
      const model: bigint[] = [];
      out.forEach((o, c) => {
        const ctx = `cycle ${c}, ${replay}`;
        expect(o.count, ctx).toBe(BigInt(model.length));
        expect(o.enq_ready, ctx).toBe(model.length < depth ? 1n : 0n);
        expect(o.deq_valid, ctx).toBe(model.length > 0 ? 1n : 0n);
        if (model.length) expect(o.deq_data, ctx).toBe(model[0]);
        const deq = o.deq_valid && stim[c].deq_ready;
        const enq = o.enq_ready && stim[c].enq_valid;
        if (deq) model.shift();
        if (enq) model.push(BigInt(stim[c].enq_data as bigint));
      });
    });
  }
});
