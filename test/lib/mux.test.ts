import { describe, expect, it } from 'vitest';
import { defineModule, select } from '../../gen/hdl';
import { muxTree, muxTreeOrZero } from '../../gen/lib/mux';
import { Rng } from '../../sim/random';
import { cycleSim } from '../support/cyclesim';
import { caseSeed } from '../support/seeds';
import { lint, lutDepth } from './support-lint';

// `n` inputs of 8 bits and an index: the mux tree's pick (and, for the depth comparison, the hdl's `select`).
const Pick = defineModule(
  'mux_tree_test',
  (m, p: { n: number; width: number; tree: boolean }) => {
    const iw = Math.max(1, Math.ceil(Math.log2(p.n)));
    const idx = m.input('idx', iw);
    const items = Array.from({ length: p.n }, (_, i) => m.input(`in${i}`, p.width));
    const r = m.reg('r', p.width);
    r.next(p.tree ? muxTree(idx, items) : select(idx, items));
    m.output('out', p.width).set(r);
  },
  { name: (p) => `mux_tree_n${p.n}_w${p.width}${p.tree ? '' : '_case'}` },
);

describe('muxTree', () => {
  for (const n of [1, 2, 3, 5, 8, 32]) {
    it(`picks items[index] (${n} items)`, () => {
      const { seed, replay } = caseSeed(4200 + n);
      const rng = new Rng(seed);
      const mod = Pick.elaborate({ n, width: 8, tree: true });
      expect(lint(mod)).toBe('');
      const stim = Array.from({ length: 200 }, () => {
        const v: Record<string, number> = { idx: rng.below(n) };
        for (let i = 0; i < n; i++) v[`in${i}`] = rng.below(256);
        return v;
      });
      const out = cycleSim(mod, stim);
      // The output register shows cycle k's pick in cycle k + 1.
      for (let k = 0; k + 1 < stim.length; k++) {
        expect(out[k + 1].out, `cycle ${k}, idx ${stim[k].idx}; ${replay}`).toBe(BigInt(stim[k][`in${stim[k].idx}`]));
      }
    });
  }

  it('rejects an index too narrow for its items', () => {
    const Narrow = defineModule('mux_tree_narrow', (m) => {
      const idx = m.input('idx', 1);
      m.output('out', 8).set(muxTree(idx, [m.input('a', 8), m.input('b', 8), m.input('c', 8)]));
    });
    expect(() => Narrow.elaborate()).toThrow(/index of 1 bits cannot reach 3 items/);
  });

  it('is shallower than a case select: 32 ways in at most 4 LUT levels', () => {
    const tree = lutDepth(Pick.elaborate({ n: 32, width: 13, tree: true }));
    expect(tree).toBeLessThanOrEqual(4);
    expect(tree).toBeLessThan(lutDepth(Pick.elaborate({ n: 32, width: 13, tree: false })));
  });
});

// A sparse table: items at some indices of a 5-bit index, every other index (and those past the list) 0.
const SparsePick = defineModule(
  'mux_tree_or_zero_test',
  (m, p: { at: number[]; len: number }) => {
    const idx = m.input('idx', 5);
    const items: (ReturnType<typeof m.input> | undefined)[] = Array.from({ length: p.len }, () => undefined);
    for (const i of p.at) items[i] = m.input(`in${i}`, 8);
    const r = m.reg('r', 8);
    r.next(muxTreeOrZero(idx, items, 8));
    m.output('out', 8).set(r);
  },
  { name: (p) => `mux_tree_or_zero_${p.at.join('_')}_l${p.len}` },
);

describe('muxTreeOrZero', () => {
  for (const [at, len] of [
    [[0], 1],
    [[3, 17, 30], 31],
    [[1, 2, 3, 16], 20],
    [[], 0],
  ] as const) {
    it(`picks the item at the index, 0 where there is none (items at ${at.join(', ') || 'none'} of ${len})`, () => {
      const { seed, replay } = caseSeed(4300 + len);
      const rng = new Rng(seed);
      const mod = SparsePick.elaborate({ at: [...at], len });
      expect(lint(mod)).toBe('');
      const stim = Array.from({ length: 200 }, () => {
        const v: Record<string, number> = { idx: rng.below(32) };
        for (const i of at) v[`in${i}`] = 1 + rng.below(255);
        return v;
      });
      const out = cycleSim(mod, stim);
      for (let k = 0; k + 1 < stim.length; k++) {
        const want = (at as readonly number[]).includes(stim[k].idx) ? stim[k][`in${stim[k].idx}`] : 0;
        expect(out[k + 1].out, `cycle ${k}, idx ${stim[k].idx}; ${replay}`).toBe(BigInt(want));
      }
    });
  }

  it('rejects an index too narrow for its items', () => {
    const Narrow = defineModule('mux_tree_or_zero_narrow', (m) => {
      const idx = m.input('idx', 1);
      m.output('out', 8).set(muxTreeOrZero(idx, [undefined, undefined, m.input('c', 8)], 8));
    });
    expect(() => Narrow.elaborate()).toThrow(/index of 1 bits cannot reach 3 items/);
  });
});
