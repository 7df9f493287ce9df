import { describe, expect, it } from 'vitest';
import { defineModule } from '../../gen/hdl';
import { decode, isolateLowest, oneHotIndex, prefixOr, PriorityEncoder } from '../../gen/lib/priority';
import { cycleSim, type Vector } from '../support/cyclesim';
import { Rng } from '../../sim/random';
import { caseSeed } from '../support/seeds';
import { lint, lutDepth, synthClean } from './support-lint';

const lowest = (v: bigint) => v & -v;
const indexOf = (onehot: bigint) => BigInt(onehot.toString(2).length - 1);

/** Vectors with every density: random bits, a few bits, one bit, all ones, zero. */
function vectors(width: number, n: number, rng: Rng): bigint[] {
  const all = (1n << BigInt(width)) - 1n;
  const out: bigint[] = [0n, all, 1n, 1n << BigInt(width - 1)];
  for (let i = 0; i < n; i++) {
    const kind = rng.below(4);
    if (kind === 0) out.push(rng.bits(width));
    else if (kind === 1) out.push(1n << BigInt(rng.below(width)));
    else if (kind === 2) out.push(rng.bits(width) & rng.bits(width) & rng.bits(width));
    else out.push(((rng.bits(width) | 1n) << BigInt(rng.below(width))) & all); // a low boundary at a random place
  }
  return out;
}

function check(width: number, vecs: bigint[], replay: string): void {
  const out = cycleSim(
    PriorityEncoder.elaborate({ width }),
    vecs.map((v) => ({ in: v })),
  );
  out.forEach((o, k) => {
    const v = vecs[k];
    const ctx = `in=0x${v.toString(16)} (w${width}); ${replay}`;
    expect(o.valid, ctx).toBe(v ? 1n : 0n);
    expect(o.onehot, ctx).toBe(lowest(v));
    if (v) expect(o.index, ctx).toBe(indexOf(lowest(v)));
  });
}

describe('PriorityEncoder', () => {
  for (let width = 1; width <= 9; width++) {
    it(`is exact on every input (w${width})`, () => {
      const vecs = Array.from({ length: 2 ** width }, (_, i) => BigInt(i));
      check(width, vecs, 'exhaustive');
    });
  }

  for (const width of [13, 32, 64, 65, 100]) {
    it(`is exact on random inputs of every density (w${width})`, () => {
      const { seed, replay } = caseSeed(4000 + width);
      check(width, vectors(width, 1500, new Rng(seed)), replay);
    });
  }

  it('names modules by width', () => {
    expect(PriorityEncoder.nameFor({ width: 16 })).toBe('prio_enc_w16');
  });

  it('is a tree: logic depth grows with log(width)', () => {
    // A ripple description of 64 bits maps to about 9 LUT levels; the tree to 4.
    expect(lutDepth(PriorityEncoder.elaborate({ width: 64 }))).toBeLessThanOrEqual(5);
  });

  it('lints clean and synthesizes without latches', () => {
    for (const width of [1, 2, 5, 64]) expect(lint(PriorityEncoder.elaborate({ width })), `w${width}`).toBe('');
    synthClean(PriorityEncoder.elaborate({ width: 32 }));
  });
});

// The helpers build logic inside a caller's module: a module that uses all of them.
const Helpers = defineModule(
  'prio_helpers_test',
  (m, p: { width: number }) => {
    const vec = m.input('vec', p.width);
    const idx = m.input('idx', Math.max(1, Math.ceil(Math.log2(p.width))));
    m.output('thermo', p.width).set(prefixOr(m, 'po', vec));
    m.output('low', p.width).set(isolateLowest(m, 'iso', vec.xor(1)));
    m.output('oh_index', idx.width).set(oneHotIndex(m, 'ohi', vec));
    m.output('dec', p.width).set(decode(idx, p.width));
  },
  { name: (p) => `prio_helpers_w${p.width}` },
);

describe('priority helpers inside a module', () => {
  for (const width of [1, 3, 8, 21]) {
    it(`prefixOr, isolateLowest, oneHotIndex and decode agree with TypeScript (w${width})`, () => {
      const { seed, replay } = caseSeed(4100 + width);
      const rng = new Rng(seed);
      const all = (1n << BigInt(width)) - 1n;
      const iw = Math.max(1, Math.ceil(Math.log2(width)));
      const stim: Vector[] = vectors(width, 400, rng).map((v) => ({ vec: v, idx: rng.below(width) }));
      const mod = Helpers.elaborate({ width });
      expect(lint(mod)).toBe('');
      const out = cycleSim(mod, stim);
      out.forEach((o, k) => {
        const v = BigInt(stim[k].vec as bigint);
        const ctx = `vec=0x${v.toString(16)}; ${replay}`;
        const thermo = v ? all & ~(lowest(v) - 1n) : 0n;
        expect(o.thermo, ctx).toBe(thermo);
        expect(o.low, ctx).toBe(lowest(v ^ 1n));
        // oneHotIndex ORs the indices of the set bits.
        let or = 0n;
        for (let i = 0; i < width; i++) if ((v >> BigInt(i)) & 1n) or |= BigInt(i);
        expect(o.oh_index, ctx).toBe(or & ((1n << BigInt(iw)) - 1n));
        expect(o.dec, ctx).toBe(1n << BigInt(stim[k].idx as number));
      });
    });
  }
});
