import { describe, expect, it } from 'vitest';
import { Counter, CreditCounter, OccupancyCounter } from '../../gen/lib/counter';
import { cycleSim, type Vector } from '../support/cyclesim';
import { Rng } from '../../sim/random';
import { caseSeed } from '../support/seeds';
import { lint, synthClean } from './support-lint';

describe('Counter (modulo)', () => {
  for (const modulus of [1, 2, 10, 16, 37]) {
    it(`counts with enable, clears, and wraps at ${modulus}`, () => {
      const { seed, replay } = caseSeed(5000 + modulus);
      const rng = new Rng(seed);
      const stim: Vector[] = [];
      for (let c = 0; c < 1500; c++) stim.push({ en: rng.chance(0.7), clear: rng.chance(c % 500 < 50 ? 0.3 : 0.01) });
      const mod = Counter.elaborate({ modulus });
      expect(mod.name).toBe(`counter_mod${modulus}`);
      const out = cycleSim(mod, stim);
      let value = 0;
      let wraps = 0;
      out.forEach((o, c) => {
        const ctx = `cycle ${c}; ${replay}`;
        const last = value === modulus - 1;
        expect(o.value, ctx).toBe(BigInt(value));
        expect(o.last, ctx).toBe(last ? 1n : 0n);
        expect(o.wrap, ctx).toBe(stim[c].en && last ? 1n : 0n);
        if (stim[c].en && last) wraps++;
        if (stim[c].clear) value = 0;
        else if (stim[c].en) value = last ? 0 : value + 1;
      });
      expect(wraps, 'the test reaches the wrap').toBeGreaterThan(modulus > 20 ? 5 : 20);
    });
  }

  it('lints clean and synthesizes without latches', () => {
    for (const modulus of [1, 2, 37]) expect(lint(Counter.elaborate({ modulus })), `mod${modulus}`).toBe('');
    const s = synthClean(Counter.elaborate({ modulus: 100 }));
    expect(s.ffs).toBe(7 + 1);
  });
});

describe('OccupancyCounter', () => {
  for (const [max, atLeast] of [
    [1, undefined],
    [5, 4],
    [16, 12],
    [33, 1],
  ] as const) {
    it(`tracks 0..${max} with registered flags${atLeast ? ` and at_least ${atLeast}` : ''}, ignoring overflow and underflow`, () => {
      const { seed, replay } = caseSeed(5100 + max);
      const rng = new Rng(seed);
      const stim: Vector[] = [];
      for (let c = 0; c < 2000; c++) {
        const bias = [0.5, 0.8, 0.2, 0.5][Math.floor(c / 150) % 4]; // drift up to full and down to empty
        stim.push({ inc: rng.chance(bias), dec: rng.chance(1 - bias) });
      }
      const mod = OccupancyCounter.elaborate({ max, atLeast });
      const out = cycleSim(mod, stim);
      let n = 0;
      let fulls = 0;
      let empties = 0;
      out.forEach((o, c) => {
        const ctx = `cycle ${c}; ${replay}`;
        expect(o.count, ctx).toBe(BigInt(n));
        expect(o.empty, ctx).toBe(n === 0 ? 1n : 0n);
        expect(o.full, ctx).toBe(n === max ? 1n : 0n);
        if (atLeast !== undefined) expect(o.at_least, ctx).toBe(n >= atLeast ? 1n : 0n);
        if (n === max) fulls++;
        if (n === 0) empties++;
        const d = (stim[c].inc ? 1 : 0) - (stim[c].dec ? 1 : 0);
        if (n + d >= 0 && n + d <= max) n += d;
      });
      expect(fulls, 'the test reaches full').toBeGreaterThan(10);
      expect(empties, 'the test reaches empty').toBeGreaterThan(10);
    });
  }

  it('lints clean and synthesizes without latches', () => {
    expect(lint(OccupancyCounter.elaborate({ max: 1 }))).toBe('');
    const mod = OccupancyCounter.elaborate({ max: 64, atLeast: 48 });
    expect(mod.name).toBe('occupancy_max64_ge48');
    expect(lint(mod)).toBe('');
    const s = synthClean(mod);
    expect(s.ffs).toBe(7 + 3);
  });
});

describe('CreditCounter', () => {
  for (const p of [
    { max: 32 },
    { max: 4, init: 1 },
    { max: 100, init: 0, maxTake: 8, maxGive: 16 },
    { max: 255, maxTake: 32, maxGive: 32 },
  ]) {
    const name = CreditCounter.nameFor(p);
    it(`takes and gives credits, avail means maxTake free (${name})`, () => {
      const { seed, replay } = caseSeed(5200 + p.max);
      const rng = new Rng(seed);
      const maxTake = p.maxTake ?? 1;
      const maxGive = p.maxGive ?? 1;
      // Generate legal traffic from the model: take only what is free, give back only what is out.
      let credits = p.init ?? p.max;
      const stim: Vector[] = [];
      const expected: number[] = [];
      for (let c = 0; c < 2000; c++) {
        expected.push(credits);
        const greedy = Math.floor(c / 200) % 2 === 0; // alternate: consumers ahead, then returns ahead
        const takeN = 1 + rng.below(maxTake);
        const take = credits >= takeN && rng.chance(greedy ? 0.8 : 0.3);
        const out = p.max - credits;
        const giveN = 1 + rng.below(maxGive);
        const give = out >= giveN && rng.chance(greedy ? 0.3 : 0.8);
        const v: Vector = { take, give };
        if (maxTake > 1) v.take_n = takeN;
        if (maxGive > 1) v.give_n = giveN;
        stim.push(v);
        credits += (give ? giveN : 0) - (take ? takeN : 0);
      }
      const mod = CreditCounter.elaborate(p);
      const out = cycleSim(mod, stim);
      let lows = 0;
      out.forEach((o, c) => {
        const ctx = `cycle ${c}; ${replay}`;
        expect(o.credits, ctx).toBe(BigInt(expected[c]));
        expect(o.avail, ctx).toBe(expected[c] >= maxTake ? 1n : 0n);
        if (expected[c] < maxTake) lows++;
      });
      expect(lows, 'the test runs out of credits').toBeGreaterThan(10);
    });
  }

  it('names modules by parameters', () => {
    expect(CreditCounter.nameFor({ max: 32 })).toBe('credits_max32');
    expect(CreditCounter.nameFor({ max: 100, init: 0, maxTake: 8, maxGive: 16 })).toBe(
      'credits_max100_init0_take8_give16',
    );
  });

  it('lints clean and synthesizes without latches', () => {
    expect(lint(CreditCounter.elaborate({ max: 100, init: 0, maxTake: 8, maxGive: 16 }))).toBe('');
    const mod = CreditCounter.elaborate({ max: 32 });
    expect(lint(mod)).toBe('');
    const s = synthClean(mod);
    expect(s.ffs).toBe(6 + 1);
  });
});
