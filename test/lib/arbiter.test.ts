import { describe, expect, it } from 'vitest';
import { FixedPriorityArbiter, RegisteredRoundRobinArbiter, RoundRobinArbiter } from '../../gen/lib/arbiter';
import { cycleSim, type Outputs, type Vector } from '../support/cyclesim';
import { Rng } from '../../sim/random';
import { caseSeed } from '../support/seeds';
import { lint, lutDepth, synthClean } from './support-lint';

/** Reference model: the documented behaviour (search after the last acknowledged grant; lock until `ack`). */
class ArbiterModel {
  locked = false;
  lockIndex = 0;
  last: number; // last acknowledged requester: the search starts after it
  constructor(
    readonly n: number,
    readonly roundRobin: boolean,
  ) {
    this.last = n - 1;
  }
  outputs(req: bigint): { valid: boolean; index: number; grant: bigint } {
    if (this.locked) return { valid: true, index: this.lockIndex, grant: 1n << BigInt(this.lockIndex) };
    const start = this.roundRobin ? this.last + 1 : 0;
    for (let k = 0; k < this.n; k++) {
      const i = (start + k) % this.n;
      if ((req >> BigInt(i)) & 1n) return { valid: true, index: i, grant: 1n << BigInt(i) };
    }
    return { valid: false, index: -1, grant: 0n };
  }
  step(req: bigint, ack: boolean): void {
    const o = this.outputs(req);
    if (!o.valid) return;
    if (ack) {
      this.locked = false;
      this.last = o.index;
    } else {
      this.locked = true;
      this.lockIndex = o.index;
    }
  }
}

type Traffic = 'saturated' | 'packets' | 'random';

interface Run {
  stim: Vector[];
  out: Outputs[];
  /** Cycle of each acknowledged grant, and its requester. */
  acks: { c: number; i: number }[];
  /** Per requester: cycles where a request (that waits for its grant) started. */
  starts: { c: number; i: number }[];
  replay: string;
}

/**
 * Drive the arbiter with the given traffic, compare every output with the model in every cycle, and check
 * the lock from the simulated outputs alone: a grant not acknowledged stays the next cycle.
 */
function run(n: number, roundRobin: boolean, traffic: Traffic, seedBase: number, cycles = 1500): Run {
  const { seed, replay } = caseSeed(seedBase);
  const rng = new Rng(seed);
  const model = new ArbiterModel(n, roundRobin);
  const mod = (roundRobin ? RoundRobinArbiter : FixedPriorityArbiter).elaborate({ n });
  const all = (1n << BigInt(n)) - 1n;

  // Packet sources: idle, or requesting a packet of `left` beats (bubbles allowed after the first beat).
  const left = new Array<number>(n).fill(0);
  const started = new Array<boolean>(n).fill(false);
  const rate = Array.from({ length: n }, () => 0.05 + rng.below(60) / 100); // each source its own offered load
  const stim: Vector[] = [];
  const expected: ReturnType<ArbiterModel['outputs']>[] = [];
  const acks: Run['acks'] = [];
  const starts: Run['starts'] = [];
  for (let c = 0; c < cycles; c++) {
    let req = 0n;
    let ack = false;
    if (traffic === 'saturated') {
      req = all;
      ack = rng.chance(0.5);
    } else if (traffic === 'random') {
      req = rng.bits(n);
      ack = rng.chance(0.5);
    } else {
      for (let i = 0; i < n; i++) {
        if (left[i] === 0 && rng.chance(rate[i])) {
          left[i] = 1 + rng.below(4);
          started[i] = false;
          starts.push({ c, i });
        }
        // A source holds its request until its first beat goes; later beats may have gaps.
        if (left[i] > 0 && (!started[i] || rng.chance(0.7))) req |= 1n << BigInt(i);
      }
    }
    const o = model.outputs(req);
    if (traffic === 'packets' && o.valid) {
      const i = o.index;
      const beat = ((req >> BigInt(i)) & 1n) === 1n && rng.chance(0.7); // the sink takes a beat
      if (beat) {
        started[i] = true;
        left[i]--;
        ack = left[i] === 0; // the packet's last beat releases the grant
      }
    }
    expected.push(o);
    stim.push({ req, ack });
    if (o.valid && ack) acks.push({ c, i: o.index });
    model.step(req, ack);
  }

  const out = cycleSim(mod, stim);
  out.forEach((v, c) => {
    const ctx = `cycle ${c} (req ${stim[c].req}); ${replay}`;
    const e = expected[c];
    expect(v.grant_valid, `grant_valid, ${ctx}`).toBe(e.valid ? 1n : 0n);
    expect(v.grant, `grant, ${ctx}`).toBe(e.grant);
    if (e.valid) expect(v.grant_idx, `grant_idx, ${ctx}`).toBe(BigInt(e.index));
    if (v.grant_valid === 1n && !stim[c].ack && c + 1 < out.length) {
      expect(out[c + 1].grant, `grant moved before ack, ${ctx}`).toBe(v.grant);
    }
    // One-hot and consistent with the index.
    if (v.grant_valid === 1n) expect(v.grant, ctx).toBe(1n << v.grant_idx);
  });
  return { stim, out, acks, starts, replay };
}

describe('RoundRobinArbiter', () => {
  for (const n of [2, 3, 8, 16]) {
    it(`grants each of ${n} always-requesting inputs exactly once every ${n} grants`, () => {
      const r = run(n, true, 'saturated', 3000 + n);
      expect(r.acks.length).toBeGreaterThan(5 * n);
      r.acks.forEach((a, k) => expect(a.i, `grant ${k} at cycle ${a.c}; ${r.replay}`).toBe(k % n));
    });

    it(`keeps packets whole and bounds the wait by ${n - 1} grants (${n} packet sources)`, () => {
      const r = run(n, true, 'packets', 3100 + n, 3000);
      expect(r.acks.length).toBeGreaterThan(100);
      // A waiting request sees at most n-1 other grants before its own.
      for (const s of r.starts) {
        let others = 0;
        const own = r.acks.find((a) => a.c >= s.c && a.i === s.i);
        if (!own) continue; // still waiting at the end
        for (const a of r.acks) if (a.c >= s.c && a.c < own.c && a.i !== s.i) others++;
        expect(others, `requester ${s.i} from cycle ${s.c}; ${r.replay}`).toBeLessThanOrEqual(n - 1);
      }
      // And nobody waits forever: the last requests started well before the end were served.
      for (const s of r.starts.filter((x) => x.c < 2000)) {
        expect(
          r.acks.some((a) => a.c >= s.c && a.i === s.i),
          `requester ${s.i} from cycle ${s.c} starved; ${r.replay}`,
        ).toBe(true);
      }
    });

    it(`matches the model under random requests and acks (n${n})`, () => {
      run(n, true, 'random', 3200 + n);
    });
  }

  it('handles a single requester', () => {
    run(1, true, 'packets', 3301, 300);
  });

  it('is built of trees: logic depth stays logarithmic at 64 requesters', () => {
    expect(lutDepth(RoundRobinArbiter.elaborate({ n: 64 }))).toBeLessThanOrEqual(7);
  });

  it('grants combinationally from req only (ack feeds registers)', () => {
    const paths = RoundRobinArbiter.elaborate({ n: 8 }).combPaths;
    for (const o of ['grant', 'grant_idx', 'grant_valid']) expect([...(paths.get(o) ?? [])], o).toEqual(['req']);
  });

  it('lints clean and synthesizes without latches', () => {
    for (const n of [1, 3, 5]) expect(lint(RoundRobinArbiter.elaborate({ n })), `n${n}`).toBe('');
    const mod = RoundRobinArbiter.elaborate({ n: 16 });
    expect(mod.name).toBe('rr_arb_n16');
    expect(lint(mod)).toBe('');
    synthClean(mod);
  });
});

describe('FixedPriorityArbiter', () => {
  for (const n of [1, 4, 7]) {
    it(`matches the model: lowest index wins, lock until ack (n${n})`, () => {
      run(n, false, 'random', 3400 + n);
      const r = run(n, false, 'packets', 3500 + n);
      // When a new grant is made, it is the lowest requester.
      r.out.forEach((v, c) => {
        const fresh = c === 0 || r.out[c - 1].grant_valid === 0n || r.stim[c - 1].ack;
        const req = BigInt(r.stim[c].req as bigint);
        if (fresh && req) expect(v.grant, `cycle ${c}; ${r.replay}`).toBe(req & -req);
      });
    });
  }

  it('lints clean and synthesizes without latches', () => {
    const mod = FixedPriorityArbiter.elaborate({ n: 16 });
    expect(mod.name).toBe('fp_arb_n16');
    expect(lint(mod)).toBe('');
    synthClean(mod);
  });
});

/**
 * Reference model of the registered-grant arbiter: the grant is state; it stays while its requester requests
 * and is not acknowledged, else moves to the first other requester after it (wrapping), else stays (parked).
 */
class RegisteredModel {
  g = -1; // granted requester, -1 before the first request
  constructor(readonly n: number) {}
  step(req: bigint, ack: boolean): void {
    const has = (i: number) => ((req >> BigInt(i)) & 1n) === 1n;
    if (this.g >= 0 && has(this.g) && !ack) return;
    for (let k = 1; k <= this.n; k++) {
      const i = (this.g + k + this.n) % this.n; // from the one after the grant (from 0 with none)
      if (i !== this.g && has(i)) {
        this.g = i;
        return;
      }
    }
  }
}

describe('RegisteredRoundRobinArbiter', () => {
  const sim = (n: number, stim: Vector[]) => cycleSim(RegisteredRoundRobinArbiter.elaborate({ n }), stim);

  for (const n of [1, 2, 3, 8]) {
    it(`matches the model under random requests and acks (n${n})`, () => {
      const { seed, replay } = caseSeed(3600 + n);
      const rng = new Rng(seed);
      const model = new RegisteredModel(n);
      const stim: Vector[] = [];
      const expected: number[] = [];
      for (let c = 0; c < 1500; c++) {
        const req = rng.chance(0.2) ? 0n : rng.bits(n);
        const ack = rng.chance(0.5);
        expected.push(model.g);
        stim.push({ req, ack });
        model.step(req, ack);
      }
      sim(n, stim).forEach((v, c) => {
        const g = expected[c];
        expect(v.grant, `grant, cycle ${c}; ${replay}`).toBe(g < 0 ? 0n : 1n << BigInt(g));
        if (g >= 0) expect(v.grant_idx, `grant_idx, cycle ${c}; ${replay}`).toBe(BigInt(g));
      });
    });
  }

  it('serves always-requesting inputs in turn, and a lone requester every cycle', () => {
    const n = 3;
    const stim: Vector[] = [
      ...Array.from({ length: 12 }, () => ({ req: 0b111, ack: 1 })),
      ...Array.from({ length: 6 }, () => ({ req: 0b010, ack: 1 })),
    ];
    const out = sim(n, stim);
    // Taken: the granted requester requests and is acknowledged.
    const taken = out.map((v, c) => ((v.grant & BigInt(stim[c].req)) !== 0n ? Number(v.grant_idx) : -1));
    // The first request is granted a cycle later; then one per cycle, in turn.
    expect(taken.slice(0, 12)).toEqual([-1, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1]);
    // Requester 1 alone: the grant moves to it once (the cycle it was on 2 is not a take), then stays.
    expect(taken.slice(12)).toEqual([-1, 1, 1, 1, 1, 1]);
  });

  it('has no combinational path from an input to an output', () => {
    expect(RegisteredRoundRobinArbiter.elaborate({ n: 8 }).combPaths.size).toBe(0);
    for (const n of [1, 3, 16]) expect(lint(RegisteredRoundRobinArbiter.elaborate({ n })), `n${n}`).toBe('');
  });
});
