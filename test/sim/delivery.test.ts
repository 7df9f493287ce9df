// Delivery reports (Sim.sendTracked): the cycle the design took a TLP's last beat, recorded by the C++ rx driver
// and handed to TypeScript in batches with run()'s result. The loopback fixture is the oracle: without tx
// backpressure it echoes every rx beat one cycle after taking it, so its tx eop beat (which bumps tlp_count)
// transfers exactly one cycle after the rx eop beat was taken, whatever the rx idle cycles.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Sim } from '../../sim/index';
import { Rng } from '../../sim/random';
import { SimLink, type SimLike } from '../../tb/pcie/link';
import { forEachSeed } from '../support/seeds';
import { LOOPBACK_W256, LOOPBACK_W64, randomTlp } from './helpers';

const open: Sim[] = [];
function load(ports: string, opts: Partial<Parameters<typeof Sim.load>[0]> = {}): Sim {
  const sim = Sim.load({ ports, quiet: true, ...opts });
  open.push(sim);
  return sim;
}
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

describe.each([
  { W: 64, ports: LOOPBACK_W64 },
  { W: 256, ports: LOOPBACK_W256 },
])('delivery reports, loopback W=$W', ({ ports }) => {
  beforeAll(() => {
    Sim.load({ ports, resetCycles: 0 }).close(); // build once (or hit the shared cache)
  });

  test('each tracked TLP is reported once, with the cycle its eop beat was taken, under rx idle', () => {
    forEachSeed((seed) => {
      const rng = new Rng(seed);
      const sim = load(ports, { seed, rxIdle: 0.6 });
      const echoes = sim.watch('tlp_count', 'change'); // one change per echoed TLP, at its tx eop beat's edge
      const reported = new Map<number, number>();
      const tracked = new Set<number>();
      const n = 60;
      for (let i = 0; i < n; i++) {
        const t = randomTlp(rng, rng.int(0, 40));
        t.hdr[2] = i; // tells the echoes apart
        const at = sim.cycle + rng.int(0, 400);
        if (rng.chance(0.3)) sim.send(t, at);
        else {
          tracked.add(i);
          sim.sendTracked(t, at, (c) => {
            expect(reported.has(i), `TLP ${i} reported twice`).toBe(false);
            reported.set(i, c);
          });
        }
      }
      // The k-th echo's eop left at the edge of cycle sim.cycle - 1 (run() stops right after the edge that
      // changed tlp_count), so the rx eop beat was taken one cycle before that.
      const eopTaken: number[] = [];
      for (let k = 1; k <= n; k++) {
        expect(sim.run({ until: echoes.reaches(k), maxCycles: 100_000 }).reason).toBe('until');
        eopTaken.push(sim.cycle - 2);
      }
      const order = sim.takeTx().map((t) => t.hdr[2]);
      expect(order.length).toBe(n);
      const want = new Map(order.flatMap((i, k) => (tracked.has(i) ? [[i, eopTaken[k]] as const] : [])));
      expect(reported).toEqual(want);
      // The idle cycles were there: some multi-beat TLP took longer than its beats.
      expect(sim.cycle).toBeGreaterThan(400);
    });
  });

  test('reports come with the run() that delivered the TLP, and not before the design takes the last beat', () => {
    const sim = load(ports, { seed: 3, txBackpressure: 1 }); // the echo FIFO (16 beats) fills and rx stalls
    const lanes = sim.portsInfo.sinks[0].lanes;
    const long = randomTlp(new Rng(3), 40 * lanes); // 40 beats
    let at: number | undefined;
    sim.sendTracked(long, sim.cycle, (c) => (at = c));
    sim.run({ cycles: 2000 });
    expect(at, 'not delivered while the design holds rx_ready low').toBeUndefined();
    expect(sim.rxPending).toBe(1);
    sim.setTxBackpressure(0);
    const before = sim.cycle;
    sim.run({ cycles: 100 });
    expect(at, 'reported by the run() that delivered it').toBeDefined();
    expect(at!).toBeGreaterThan(before);
    expect(at!).toBeLessThan(sim.cycle);
  });

  test('more reports than one batch holds in a single run(): all of them, once each', () => {
    const sim = load(ports, { seed: 4 });
    const got: number[] = [];
    const n = 2500; // over DELIVERY_BATCH (1024) in sim/index.ts
    const rng = new Rng(4);
    for (let i = 0; i < n; i++) sim.sendTracked(randomTlp(rng, 0), undefined, (c) => got.push(c));
    sim.run({ untilTx: n, maxCycles: 100_000 });
    expect(got.length).toBe(n);
    // One header-only beat per cycle, back to back: consecutive cycles, in order.
    expect(got.every((c, i) => i === 0 || c === got[i - 1] + 1)).toBe(true);
  });

  test('a TLP cut short by a reset is never reported; the one queued behind it is', () => {
    const sim = load(ports, { seed: 5, txBackpressure: 1 });
    const lanes = sim.portsInfo.sinks[0].lanes;
    const rng = new Rng(5);
    const seen: string[] = [];
    sim.sendTracked(randomTlp(rng, 40 * lanes), undefined, () => seen.push('cut'));
    sim.sendTracked(randomTlp(rng, 3), undefined, () => seen.push('next'));
    sim.run({ cycles: 200 }); // the first TLP is partly sent, stalled
    sim.reset();
    sim.setTxBackpressure(0);
    sim.run({ cycles: 200 });
    expect(seen).toEqual(['next']);
  });

  test('tracked sends replay in pure C++ exactly like plain ones', () => {
    const sim = load(ports, { seed: 6, rxIdle: 0.3, txBackpressure: 0.3 });
    const rng = new Rng(6);
    let reports = 0;
    for (let i = 0; i < 200; i++) {
      const t = randomTlp(rng, rng.int(0, 20));
      const at = sim.cycle + rng.int(0, 50);
      if (i % 2) sim.send(t, at);
      else sim.sendTracked(t, at, () => reports++);
      if (i % 20 === 19) {
        expect(sim.run({ untilTx: 20, maxCycles: 100_000 }).reason).toBe('tx');
        expect(sim.takeTx().length).toBe(20);
      }
    }
    expect(reports).toBe(100);
    expect(sim.runFree().matchesLive).toBe(true);
  });

  test('SimLink reports deliveries on its rx stream when the sim does', () => {
    const sim = load(ports, { seed: 7 });
    const link = new SimLink(sim, { rx: 'rx' });
    let at = -1;
    link.sendTracked!(randomTlp(new Rng(7), 0), 20, (c) => (at = c));
    link.run({ cycles: 30 });
    expect(at).toBe(20); // a header-only TLP, injected at cycle 20 and taken at once
    const plain: SimLike = { cycle: 0, send: () => {}, run: () => ({ reason: 'cycles', cycles: 0 }), takeTx: () => [] };
    expect(new SimLink(plain).sendTracked).toBeUndefined();
  });
});
