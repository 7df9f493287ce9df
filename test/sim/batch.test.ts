// Sim.sendBatch: TLPs that are slices of one payload buffer (a completer's answer to a read) queued in one call.
// The loopback fixture is the oracle: the same TLPs sent one by one (send, sendTracked for the last of each batch)
// into a twin simulation with the same seed must come back identical, at the same cycles, with the same delivery
// reports; and the batch's buffers may be reused as soon as the call returns.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Sim } from '../../sim/index';
import { Rng } from '../../sim/random';
import { batchTlp, tlpBatch } from '../../sim/raw';
import { forEachSeed } from '../support/seeds';
import { LOOPBACK_W64, randomTlp } from './helpers';

const open: Sim[] = [];
function load(seed: number): Sim {
  const sim = Sim.load({ ports: LOOPBACK_W64, quiet: true, seed, rxIdle: 0.3, txBackpressure: 0.2 });
  open.push(sim);
  return sim;
}
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

describe('Sim.sendBatch', () => {
  beforeAll(() => {
    Sim.load({ ports: LOOPBACK_W64, resetCycles: 0 }).close(); // build once (or hit the shared cache)
  });

  test('queues exactly what send() of each slice queues: same echoes, cycles and delivery reports', () => {
    forEachSeed((seed) => {
      const rng = new Rng(seed);
      const batched = load(seed);
      const single = load(seed);
      const b = tlpBatch(4); // grown below: the arrays are reused from batch to batch
      const reports: [number, number][][] = [[], []];
      for (let i = 0; i < 12; i++) {
        const n = rng.int(1, 8);
        if (b.offset.length < n) Object.assign(b, tlpBatch(n));
        const data = new Uint32Array(rng.int(1, 64));
        for (let k = 0; k < data.length; k++) data[k] = rng.u32();
        b.data = data;
        b.count = n;
        let at = batched.cycle + rng.int(0, 200);
        for (let k = 0; k < n; k++) {
          const len = rng.int(0, data.length);
          const t = randomTlp(rng, len);
          b.hdr.set(t.hdr, 4 * k);
          b.offset[k] = rng.int(0, data.length - len);
          b.length[k] = len;
          b.cycle[k] = at;
          at += rng.int(0, 3);
        }
        const track = rng.chance(0.7);
        for (let k = 0; k < n; k++) {
          const v = batchTlp(b, k);
          const copy = { hdr: v.hdr.slice(), data: v.data.slice() };
          if (track && k === n - 1) single.sendTracked(copy, b.cycle[k], (c) => reports[1].push([i, c]));
          else single.send(copy, b.cycle[k]);
        }
        batched.sendBatch(b, track ? (c) => reports[0].push([i, c]) : undefined);
        // Reused at once: the batch was copied.
        b.hdr.fill(0xdead_beef);
        data.fill(0xdead_beef);
        const cycles = rng.int(0, 300);
        for (const s of [batched, single]) s.run({ cycles });
      }
      for (const s of [batched, single]) s.run({ cycles: 3000 });
      const echoes = [batched, single].map((s) =>
        s.takeTx().map((t) => [t.cycle, Array.from(t.hdr), Array.from(t.data)]),
      );
      expect(echoes[0].length).toBeGreaterThan(12);
      expect(echoes[0]).toEqual(echoes[1]);
      expect(reports[0].length).toBeGreaterThan(0);
      expect(reports[0]).toEqual(reports[1]);
      expect(batched.rxPending).toBe(0);
    });
  });

  test('refuses a slice outside the data or a bad cycle, before queueing any of the batch', () => {
    const sim = load(1);
    const b = tlpBatch(2);
    b.data = new Uint32Array(8);
    b.count = 2;
    b.hdr.set([0x4000_0004, 0, 0, 0, 0x4000_0004, 0, 0, 0]);
    b.offset.set([0, 6]);
    b.length.set([4, 4]);
    b.cycle.set([10, 10]);
    expect(() => sim.sendBatch(b)).toThrow(/TLP 1's payload \[6, \+4\) is outside the batch's data/);
    b.offset[1] = 4;
    b.cycle[1] = -1;
    expect(() => sim.sendBatch(b)).toThrow(/atCycle must be a non-negative integer/);
    expect(sim.rxPending).toBe(0);
    b.cycle[1] = 10;
    sim.sendBatch(b);
    expect(sim.rxPending).toBe(2);
  });
});
