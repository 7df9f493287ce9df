// A reference model and a random test for stream buffers (register slices, FIFOs): each is specified as a
// queue with a capacity, a latency (an entry accepted in cycle t is visible at the output from cycle t+latency,
// once the entries before it have left) and a ready rule. The test drives a protocol-abiding source (valid and
// data held until accepted) and a random sink, checks every output in every cycle against the model, and
// independently checks the output protocol and end-to-end delivery from the simulated outputs alone.
import { expect } from 'vitest';
import type { HwModule } from '../../gen/hdl';
import { cycleSim, type Vector } from '../support/cyclesim';
import { Rng } from '../../sim/random';

export interface BufferSpec {
  capacity: number;
  latency: number;
  /** `in.ready` is also 1 when full but the head leaves this cycle (a forward-only pipeline register). */
  readyPassThrough?: boolean;
  /** Threshold of an `almost_full` output (count >= it). */
  almostFull?: number;
}

export class BufferModel {
  readonly q: { data: bigint; t: number }[] = [];
  constructor(readonly spec: BufferSpec) {}
  valid(cycle: number): boolean {
    return this.q.length > 0 && cycle - this.q[0].t >= this.spec.latency;
  }
  ready(cycle: number, outReady: boolean): boolean {
    if (this.q.length < this.spec.capacity) return true;
    return !!this.spec.readyPassThrough && outReady && this.valid(cycle);
  }
  /** Advance past `cycle`: the head leaves if `deq`, `data` enters if `enq`. */
  step(cycle: number, enq: boolean, data: bigint, deq: boolean): void {
    if (deq) this.q.shift();
    if (enq) this.q.push({ data, t: cycle });
  }
}

export interface StreamTestOptions {
  mod: HwModule;
  spec: BufferSpec;
  width: number;
  /** Port prefixes: the sink side (`in`/`enq`) and the source side (`out`/`deq`). */
  inName: string;
  outName: string;
  seed: number;
  replay: string;
  /** Cycles of random traffic (default 2000). */
  cycles?: number;
  /** The design has a `count` output. */
  hasCount?: boolean;
}

/**
 * Phases: random traffic with changing offered load and backpressure, a burst into a stalled sink (fills the
 * buffer), continuous flow (checks 1 beat/cycle), then a drain. Returns the number of beats delivered.
 */
export function runStreamTest(o: StreamTestOptions): number {
  const { spec, width, inName: I, outName: O, replay } = o;
  const rng = new Rng(o.seed);
  const cycles = o.cycles ?? 2000;
  const contLen = 100;
  const drainLen = spec.capacity + spec.latency + 4;
  const total = cycles + 2 * spec.capacity + 8 + contLen + drainLen;

  // Generate the stimulus with the model predicting `ready`, so the source can hold each beat until accepted.
  const model = new BufferModel(spec);
  const stim: Vector[] = [];
  const expected: { ready: boolean; valid: boolean; data?: bigint; count: number }[] = [];
  let pending: bigint | undefined;
  let seq = 0n;
  for (let c = 0; c < total; c++) {
    let pIn: number;
    let pOut: number;
    if (c < cycles) {
      const phase = Math.floor(c / 250) % 4; // varied load: balanced, source-heavy, sink-heavy, sparse
      pIn = [0.5, 0.9, 0.3, 0.15][phase];
      pOut = [0.5, 0.3, 0.9, 0.7][phase];
    } else if (c < cycles + 2 * spec.capacity + 8) {
      pIn = 1;
      pOut = 0; // stalled sink: the buffer fills and must hold
    } else if (c < cycles + 2 * spec.capacity + 8 + contLen) {
      pIn = 1;
      pOut = 1;
    } else {
      pIn = 0;
      pOut = 1;
    }
    if (pending === undefined && rng.chance(pIn)) {
      // Unique beats: a sequence number in the low bits makes loss, duplication and reordering visible.
      pending = (rng.bits(width) & ~0xffffn) | (seq++ & 0xffffn);
      pending &= (1n << BigInt(width)) - 1n;
    }
    const outReady = rng.chance(pOut);
    const inValid = pending !== undefined;
    const ready = model.ready(c, outReady);
    const valid = model.valid(c);
    expected.push({ ready, valid, data: valid ? model.q[0].data : undefined, count: model.q.length });
    stim.push({ [`${I}_valid`]: inValid, [`${I}_data`]: pending ?? rng.bits(width), [`${O}_ready`]: outReady });
    const enq = inValid && ready;
    model.step(c, enq, pending ?? 0n, valid && outReady);
    if (enq) pending = undefined;
  }

  const out = cycleSim(o.mod, stim);
  expect(out.length).toBe(total);

  const accepted: bigint[] = [];
  const delivered: bigint[] = [];
  // A slot is taken from the cycle a beat is accepted until the cycle it leaves, plus one unless `ready` sees
  // that leaving beat: `capacity` slots sustain 1 beat/cycle only if they cover that round trip.
  const contStart = cycles + 2 * spec.capacity + 8;
  const rate = Math.min(1, spec.capacity / (spec.latency + (spec.readyPassThrough ? 0 : 1)));
  let contFires = 0;
  let contCycles = 0;
  out.forEach((v, c) => {
    const ctx = `cycle ${c}; ${replay}`;
    const e = expected[c];
    const s = stim[c];
    // Against the model.
    expect(v[`${I}_ready`], `${I}_ready, ${ctx}`).toBe(e.ready ? 1n : 0n);
    expect(v[`${O}_valid`], `${O}_valid, ${ctx}`).toBe(e.valid ? 1n : 0n);
    if (e.valid) expect(v[`${O}_data`], `${O}_data, ${ctx}`).toBe(e.data);
    if (o.hasCount) expect(v.count, `count, ${ctx}`).toBe(BigInt(e.count));
    if (spec.almostFull !== undefined) {
      expect(v.almost_full, `almost_full, ${ctx}`).toBe(e.count >= spec.almostFull ? 1n : 0n);
    }
    // Output protocol, from the simulation alone: a stalled beat stays, unchanged, until taken.
    if (v[`${O}_valid`] === 1n && !s[`${O}_ready`] && c + 1 < out.length) {
      expect(out[c + 1][`${O}_valid`], `${O}_valid dropped before accepted, ${ctx}`).toBe(1n);
      expect(out[c + 1][`${O}_data`], `${O}_data changed before accepted, ${ctx}`).toBe(v[`${O}_data`]);
    }
    if (v[`${I}_ready`] === 1n && s[`${I}_valid`]) accepted.push(BigInt(s[`${I}_data`] as bigint));
    if (v[`${O}_valid`] === 1n && s[`${O}_ready`]) {
      delivered.push(v[`${O}_data`]);
      const k = delivered.length - 1;
      expect(v[`${O}_data`], `beat ${k} out of order, lost or duplicated, ${ctx}`).toBe(accepted[k]);
    }
    // Continuous flow (after the full buffer starts draining): one beat per cycle in and out.
    if (c >= contStart + spec.latency + 3 && c < contStart + contLen) {
      contCycles++;
      if (v[`${O}_valid`] === 1n) contFires++; // the sink is always ready here
      if (rate === 1) {
        expect(v[`${O}_valid`] === 1n && v[`${I}_ready`] === 1n, `throughput below 1 beat/cycle, ${ctx}`).toBe(true);
      }
    }
  });
  expect(contCycles, replay).toBeGreaterThan(50);
  expect(contFires, `beats in ${contCycles} cycles of continuous flow; ${replay}`).toBeGreaterThanOrEqual(
    Math.floor(rate * contCycles) - 1,
  );
  expect(delivered.length, `not everything accepted was delivered; ${replay}`).toBe(accepted.length);
  return delivered.length;
}
