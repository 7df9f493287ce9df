// Device tags are free again when a read's last completion reaches a Verilated device, as the simulator reports
// it (Sim.sendTracked), not when the completion was scheduled: rx idle cycles and queueing make the delivery
// much later, and a device that reuses its tag in between is caught. The fixture test/fixtures/tags/tag_reuse.v
// reads with one tag over and over; with `early` set it reuses the tag on the sop beat of the last completion.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect } from 'vitest';
import { Sim } from '../../sim/index';
import { TapLink, type Link } from '../../tb/pcie/link';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { decodeTlp } from '../../tb/pcie/tlp';
import { seededTest } from '../support/seeds';

const TAG_REUSE = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'tags', 'tag_reuse.ports.json');

const open: Sim[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

/** The link as it was before the simulator reported deliveries: tags freed at the scheduled cycle. */
function withoutReports(sim: Sim): Link {
  return {
    get cycle() {
      return sim.cycle;
    },
    send: (raw, at) => sim.send(raw, at),
    run: (o) => sim.run(o),
    takeTx: () => sim.takeTx(),
  };
}

/**
 * The fixture reading 64 dwords (8 beats of completion data at W=64) with tag 0 over and over, under heavy rx
 * idle; the RC splits the completions at random RCBs and spaces them out.
 */
function boot(seed: number, early: boolean, rcOpts: RootComplexOptions = {}, reports = true) {
  const sim = Sim.load({ ports: TAG_REUSE, quiet: true, seed, rxIdle: 0.85 });
  open.push(sim);
  const tap = new TapLink(reports ? sim : withoutReports(sim));
  const rc = new RootComplex(tap, {
    seed,
    device: { mps: 128, extTags: false },
    latency: { min: 20, max: 80 },
    cplGap: { min: 0, max: 4 },
    ...rcOpts,
  });
  const buf = rc.mem.alloc(4096, { perm: 'ro', name: 'src' });
  sim.poke('addr', buf.addr);
  sim.poke('len_dw', 64);
  sim.poke('early', early ? 1 : 0);
  sim.poke('go', 1);
  const reads = () => Number(sim.peek('reads_done'));
  return { sim, tap, rc, reads };
}

/** For each read the device sent after the first: cycles between its previous read's last completion's schedule and it. */
function reuseAfterScheduled(tap: TapLink): number[] {
  const reads = tap.fromDevice.filter((r) => decodeTlp(r).type === 'MRd').map((r) => r.cycle!);
  const lastCpl = (from: number, to: number) =>
    Math.max(...tap.toDevice.filter((s) => s.sentAt >= from && s.sentAt < to).map((s) => s.at));
  return reads.slice(1).map((c, i) => c - lastCpl(reads[i], c));
}

describe('device tags on a Verilated design are free once the last completion reached it', () => {
  beforeAll(() => {
    Sim.load({ ports: TAG_REUSE, resetCycles: 0 }).close(); // build once (or hit the cache)
  });

  seededTest('a device that waits for the last beat sees no tag-reuse violation under heavy rx idle', (seed) => {
    const { rc, tap, reads } = boot(seed, false);
    expect(rc.deliveryReports).toBe(true);
    rc.waitFor('40 reads', () => reads() >= 40, { timeout: 200_000 }); // a violation would throw here
    // The deliveries came far later than scheduled: each reuse is many cycles past its completion's schedule.
    const gaps = reuseAfterScheduled(tap);
    expect(Math.min(...gaps)).toBeGreaterThan(0);
    expect(gaps.filter((g) => g > 20).length).toBeGreaterThan(gaps.length / 2);
  });

  seededTest("a device that reuses its tag on the last completion's first beat is caught", (seed) => {
    const { rc, reads } = boot(seed, true, { violations: 'record' });
    rc.waitFor('20 reads', () => reads() >= 20, { timeout: 200_000 });
    const reuse = rc.violations.filter((v) => v.code === 'tag-reuse');
    expect(reuse.length, 'early reuses flagged').toBeGreaterThan(10);
    expect(rc.violations.length, 'nothing else flagged').toBe(reuse.length);
    expect(reuse[0].message).toMatch(
      /tag 0 reused while outstanding: the earlier request \(cycle \d+: MRd.*\) (is completed only at cycle \d+ \(its last completion reaches the device then\)|has not received its last completion yet)/,
    );
  });

  seededTest(
    'without delivery reports the same early reuse goes unnoticed (the scheduled cycle is too early)',
    (seed) => {
      const { rc, reads } = boot(seed, true, { violations: 'record' }, false);
      expect(rc.deliveryReports).toBe(false);
      rc.waitFor('20 reads', () => reads() >= 20, { timeout: 200_000 });
      expect(rc.violations).toEqual([]);
    },
  );
});
