// The split queue engine (gen/virtq/split_engine.ts) under randomized driver workloads, every feature
// combination it offers, three queues of different sizes, at 64 and 256 bits: chains equal to the golden
// model's, every buffer back once with the device's length and bytes, interrupts when the driver asked.
import { afterEach, beforeAll, describe, expect } from 'vitest';
import { SPLIT_TEST_WIDTHS } from '../../gen/virtq/split_test_top';
import { ringFeaturesName, type RingFeatures } from '../../tb/virtio/ring/defs';
import { seededTest } from '../support/seeds';
import { runSplitLoop } from './split_loop';
import { bootSplit, buildSplitSim, closeSplitBenches, splitPorts } from './split_support';

afterEach(closeSplitBenches);

const feats = (indirect: boolean, eventIdx: boolean, inOrder: boolean): RingFeatures => ({
  packed: false,
  indirect,
  eventIdx,
  inOrder,
});
const COMBOS: RingFeatures[] = [
  feats(false, false, false),
  feats(true, false, false),
  feats(false, true, false),
  feats(true, true, false),
  feats(false, false, true),
  feats(true, true, true),
];

describe.each(SPLIT_TEST_WIDTHS)('split queue engine, %i-bit', (W) => {
  let ports = '';
  beforeAll(() => {
    ports = splitPorts(W);
    buildSplitSim(ports);
  }, 600_000);

  for (const f of COMBOS)
    seededTest(`random workload on three queues, ${ringFeaturesName(f)}`, (seed) => {
      const b = bootSplit(W, ports, seed, { latency: { min: 50, max: 300 }, split: 'random' });
      const s = runSplitLoop(b, { features: f, nums: [16, 4, 64], seed, requests: 150 });
      expect(s.requests).toBe(150);
      expect(s.interrupts).toBeGreaterThan(0);
      if (f.indirect) expect(s.indirect).toBeGreaterThan(0);
    });
});
