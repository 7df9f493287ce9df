// The ring driver against the golden device, seeded random workloads across both formats, every combination of
// INDIRECT_DESC, EVENT_IDX and IN_ORDER, queue sizes including non-powers of two (packed), many wrap-arounds.
import { describe, expect } from 'vitest';
import { ringFeaturesName, type RingFeatures } from '../../../tb/virtio/ring/defs';
import { seededTest } from '../../support/seeds';
import { runLoop } from './harness';

const combos: RingFeatures[] = [];
for (const packed of [false, true])
  for (const indirect of [false, true])
    for (const eventIdx of [false, true])
      for (const inOrder of [false, true]) combos.push({ packed, indirect, eventIdx, inOrder });

describe('driver against the golden device', () => {
  for (const f of combos) {
    const sizes = f.packed ? [1, 3, 16, 100] : [1, 2, 16, 64];
    for (const num of sizes)
      seededTest(`${ringFeaturesName(f)} queue ${num}`, (seed) => {
        const requests = Math.max(150, num * 6);
        const s = runLoop({ features: f, num, seed, requests });
        expect(s.requests).toBe(requests);
        // Not vacuous: the ring wrapped many times and notifications flowed both ways.
        expect(s.wraps).toBeGreaterThanOrEqual(Math.floor(requests / num / 4));
        expect(s.kicks).toBeGreaterThan(0);
        expect(s.interrupts).toBeGreaterThan(0);
        if (f.indirect && num > 1) expect(s.indirect).toBeGreaterThan(0);
      });
  }
});
