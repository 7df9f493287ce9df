// FaultInjector and targetCompletion (tb/pcie/inject.ts) on their own: what a hook may answer, how its answer and
// the random rates combine, and which completion a fault aims at. The root complex's tests (inject.test.ts) cover
// what each action does on the link.
import { describe, expect, test } from 'vitest';
import { FaultInjector, READ_ACTIONS, targetCompletion, type ReadFault, type ReadHook } from '../../tb/pcie/inject';
import type { MemReadTlp } from '../../tb/pcie/tlp';
import { Rng } from '../../sim/random';

const read: MemReadTlp = {
  type: 'MRd',
  address: 0x1000n,
  length: 1,
  firstBe: 0xf,
  lastBe: 0,
  requesterId: 0x100,
  tag: 1,
};
const decide = (hook?: ReadHook, rates = {}) => new FaultInjector(new Rng(1), hook, rates).decide(read, 0);

describe('FaultInjector', () => {
  test('rates are probabilities: 0 and 1 included, anything else refused', () => {
    for (const p of [0, 0.5, 1]) expect(() => new FaultInjector(new Rng(1), undefined, { ur: p })).not.toThrow();
    for (const p of [-0.01, 1.01, NaN]) {
      expect(() => new FaultInjector(new Rng(1), undefined, { drop: p }), `${p}`).toThrow(RangeError);
    }
  });

  test("the hook's answer wins over the rates; without one the rates draw", () => {
    expect(decide(() => 'ur', { drop: 1 }).action).toBe('ur');
    expect(decide(() => ({ action: 'ca', completion: 1 }), { drop: 1 })).toEqual({ action: 'ca', completion: 1 });
    expect(decide(() => ({ action: 'ok' }), { drop: 1 })).toEqual({ action: 'ok' });
    expect(decide(() => undefined, { drop: 1 }).action).toBe('drop');
    expect(decide(undefined, {}).action).toBe('ok');
  });

  test('every action by name, and every one but ok aimed at a completion; counted per action', () => {
    const inj = new FaultInjector(new Rng(1));
    for (const a of READ_ACTIONS) {
      inj.hook = () => a;
      expect(inj.decide(read, 0)).toEqual({ action: a });
      if (a === 'ok') continue;
      inj.hook = () => ({ action: a, completion: -1 });
      expect(inj.decide(read, 0)).toEqual({ action: a, completion: -1 });
    }
    expect(inj.counts).toEqual({ ok: 1, ur: 2, ca: 2, poison: 2, drop: 2, duplicate: 2 });
  });

  test('the hook sees each read with its cycle and a running index', () => {
    const seen: unknown[] = [];
    const inj = new FaultInjector(new Rng(1), (r) => void seen.push([r.tlp, r.cycle, r.index]));
    inj.decide(read, 10);
    inj.decide(read, 20);
    expect(seen).toEqual([
      [read, 10, 0],
      [read, 20, 1],
    ]);
  });

  test('a tiny rate almost never fires', () => {
    const inj = new FaultInjector(new Rng(7), undefined, { ur: 1e-12 });
    for (let i = 0; i < 200; i++) inj.decide(read, i);
    expect(inj.counts).toMatchObject({ ok: 200, ur: 0 });
  });

  test('a hook must answer an action or a fault object; only faults may aim at a completion', () => {
    expect(() => decide(() => 'bogus' as never)).toThrow(/onRead hook returned bogus, expected one of ok, ur/);
    expect(() => decide(() => 5 as never)).toThrow(/onRead hook returned 5/);
    expect(() => decide(() => Object.assign(() => {}, { action: 'ur' }) as never)).toThrow(/onRead hook returned/);
    expect(() => decide(() => ({ action: 'ok', completion: 1 }))).toThrow(/'ok' cannot be aimed at one completion/);
    expect(() => decide(() => ({ action: 'ur', completion: 0.5 }))).toThrow(/is not an integer/);
  });
});

describe('targetCompletion', () => {
  const aim = (completion?: number): ReadFault => ({ action: 'ur', completion });
  test('no target is -1; from the start, from the end, clamped to the ends', () => {
    expect(targetCompletion({ action: 'ur' }, 3)).toBe(-1);
    expect([0, 1, 2, 5].map((k) => targetCompletion(aim(k), 3))).toEqual([0, 1, 2, 2]);
    expect([-1, -2, -3, -9].map((k) => targetCompletion(aim(k), 3))).toEqual([2, 1, 0, 0]);
  });
});
