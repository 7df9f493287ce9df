// The soak (tb/virtio/blk/soak.ts) in short: two epochs (packed, then split) pass, an epoch is replayed alone with
// the same setup, and a failure comes back with its epoch, setup and kind instead of a thrown error.
import { beforeAll, describe, expect } from 'vitest';
import { describeSetup, epochSetup, failureKind, soak } from '../../tb/virtio/blk/soak';
import { buildBlkTop } from '../../tb/virtio/blk/system';
import { seededTest } from '../support/seeds';

describe('virtio-blk soak', () => {
  beforeAll(() => buildBlkTop(64), 1_200_000);

  seededTest(
    'two short epochs pass, packed then split, each with its own setup',
    (seed) => {
      const epochs: string[] = [];
      const r = soak({ requests: 40, epochRequests: 20, seed, W: 64, onEpoch: (e) => epochs.push(e.setup.ring) });
      expect(r.failure?.error).toBeUndefined();
      expect(r.requests).toBe(40);
      expect(epochs).toEqual(['packed', 'split']);
      expect(r.cycles).toBeGreaterThan(0);
      // a setup is a function of (seed, epoch): the replay of an epoch sees the same one
      expect(epochSetup(seed, 1, undefined)).toEqual(epochSetup(seed, 1, undefined));
      expect(describeSetup(epochSetup(seed, 1, 'packed'))).toMatch(/^packed, depth \d+, queues/);
    },
    { timeout: 600_000 },
  );

  seededTest(
    'a hang ends the epoch and is reported with its epoch and setup',
    (seed) => {
      const r = soak({ requests: 20, epochRequests: 10, seed, W: 64, epoch: 1, watchdog: 20 });
      expect(r.failure).toBeDefined();
      expect(r.failure!.epoch).toBe(1);
      expect(r.failure!.setup.ring).toBe('split');
      expect(failureKind(r.failure!.error)).toBe('hang');
      expect(r.failure!.error.message).toMatch(/no request completed for 20 cycles[^]*the last TLPs/);
    },
    { timeout: 600_000 },
  );
});
