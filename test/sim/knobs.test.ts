// The simulator's stimulus knobs take effect: transmit backpressure (probability that tx_ready is low on a
// cycle) and receive idle cycles (probability of an idle cycle before each rx beat). Through the loopback
// fixture one beat moves per cycle when both are off, so the cycles a batch of TLPs takes measure each knob:
// at 1 nothing moves, at 0.5 a beat takes about two cycles. Ratios of simulated cycles within one run, never
// wall time.
import { afterEach, beforeAll, describe, expect } from 'vitest';
import { Sim, type RawTlp } from '../../sim/index';
import { Rng } from '../../sim/random';
import { seededTest } from '../support/seeds';
import { LOOPBACK_W256, LOOPBACK_W64, echoOf, randomTlp } from './helpers';

const open: Sim[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

describe.each([
  { W: 64, ports: LOOPBACK_W64 },
  { W: 256, ports: LOOPBACK_W256 },
])('stimulus knobs, loopback W=$W', ({ W, ports }) => {
  const lanes = W / 32;
  beforeAll(() => {
    Sim.load({ ports, resetCycles: 0 }).close(); // build once (or hit the shared cache)
  });

  /** TLPs of 8 beats each, and their beat count. */
  const traffic = (seed: number, n: number): { tlps: RawTlp[]; beats: number } => {
    const rng = new Rng(seed);
    const tlps = Array.from({ length: n }, () => randomTlp(rng, 8 * lanes));
    return { tlps, beats: 8 * n };
  };

  /** Cycles until every TLP of the batch is echoed, with the knobs set. */
  const cyclesFor = (seed: number, knobs: { rxIdle?: number; txBackpressure?: number }, tlps: RawTlp[]): number => {
    const sim = Sim.load({ ports, quiet: true, seed, ...knobs });
    open.push(sim);
    const start = sim.cycle;
    for (const t of tlps) sim.send(t);
    expect(sim.run({ untilTx: tlps.length, maxCycles: 1_000_000 }).reason).toBe('tx');
    const got = sim.takeTx();
    expect(got.map((t) => t.hdr[0])).toEqual(tlps.map((t) => echoOf(t).hdr[0]));
    return sim.cycle - start;
  };

  seededTest('full transmit backpressure lets nothing out; lifting it lets everything out', (seed) => {
    const { tlps } = traffic(seed, 40);
    const sim = Sim.load({ ports, quiet: true, seed, txBackpressure: 1 });
    open.push(sim);
    for (const t of tlps) sim.send(t);
    expect(sim.run({ untilTx: 1, maxCycles: 5000 })).toEqual({ reason: 'limit', cycles: 5000 });
    expect(sim.txPending).toBe(0);
    expect(sim.peek('tlp_count')).toBe(0n);
    // The loopback's FIFO filled up and pushed back on rx: most TLPs are still waiting to go in.
    expect(sim.rxPending).toBe(tlps.length - 16 / 8); // 16 beats of FIFO hold two 8-beat TLPs
    sim.setTxBackpressure(0);
    expect(sim.run({ untilTx: tlps.length, maxCycles: 10_000 }).reason).toBe('tx');
    expect(sim.takeTx().length).toBe(tlps.length);
  });

  seededTest('half transmit backpressure takes about two cycles per beat', (seed) => {
    const { tlps, beats } = traffic(seed, 400);
    const free = cyclesFor(seed, {}, tlps);
    const half = cyclesFor(seed, { txBackpressure: 0.5 }, tlps);
    expect(free / beats).toBeGreaterThanOrEqual(1);
    expect(free / beats).toBeLessThan(1.01); // one beat per cycle, plus a cycle or two of latency

    expect(half / free).toBeGreaterThan(1.85);
    expect(half / free).toBeLessThan(2.15);
  });

  seededTest('receive idle cycles at 1 let nothing in; at 0.5 a beat takes about two cycles', (seed) => {
    const { tlps, beats } = traffic(seed, 400);
    const sim = Sim.load({ ports, quiet: true, seed, rxIdle: 1 });
    open.push(sim);
    for (const t of tlps.slice(0, 10)) sim.send(t);
    expect(sim.run({ untilTx: 1, maxCycles: 5000 }).reason).toBe('limit');
    expect(sim.rxPending).toBe(10);
    expect(sim.peek('tlp_count')).toBe(0n);
    sim.setRxIdle(0);
    expect(sim.run({ untilTx: 10, maxCycles: 1000 }).reason).toBe('tx');

    const free = cyclesFor(seed, {}, tlps);
    const idle = cyclesFor(seed, { rxIdle: 0.5 }, tlps);
    expect(free / beats).toBeLessThan(1.01);

    expect(idle / free).toBeGreaterThan(1.85);
    expect(idle / free).toBeLessThan(2.15);
  });
});
