// The driver's remove (a device reset) at every cycle of the split engine's polling, on the whole virtio-blk
// function: the engine reads avail->idx ahead every poll gap while a queue has work (and, without EVENT_IDX, for a
// while after), taking each command's address from the transport's queue registers. A reset that lands a cycle
// before a poll is issued must still see that read go to the driver's ring (the driver frees it only once
// device_status reads 0, which waits for the read): the soak found the read going to address 0 instead (seed 1,
// epoch 223 at 64 bits) when the transport cleared the ring addresses at the status write.
import { afterEach, beforeAll, describe, expect } from 'vitest';
import { BlkSystem, buildBlkTop } from '../../tb/virtio/blk/system';
import { randomWorkload } from '../../tb/virtio/blk/workload';
import { seededTest } from '../support/seeds';

const open: BlkSystem[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

/** Idle cycles between the last completion and the remove: more than two poll gaps (64 cycles each). */
const SWEEP = 160;

describe('virtio-blk function, 64-bit, split ring without EVENT_IDX', () => {
  beforeAll(() => buildBlkTop(64), 1_200_000);

  seededTest(
    `the remove after 0..${SWEEP - 1} idle cycles: every device read reaches the driver's rings, the reset completes`,
    (seed) => {
      let reads = 0;
      for (let idle = 0; idle < SWEEP; idle++) {
        const sys = new BlkSystem({
          W: 64,
          ring: 'split',
          seed: seed + idle,
          record: false,
          declineFeatures: ['VIRTIO_F_EVENT_IDX'],
        });
        open.push(sys);
        expect(sys.features.eventIdx).toBe(false);
        const st = sys.run(randomWorkload(), { requests: 8, depth: 4 });
        expect(st.requests).toBe(8);
        const before = sys.invariants.counts.dma;
        sys.rc.runFor(idle);
        // finish(): the disk compared, then the driver's remove; a device access outside the driver's regions
        // (host memory's grants) fails it with the access and the last TLPs
        try {
          sys.finish();
        } catch (e) {
          throw new Error(`the remove after ${idle} idle cycles: ${(e as Error).message}`, { cause: e });
        }
        reads += sys.invariants.counts.dma - before;
        expect(sys.rc.violations).toEqual([]);
        sys.close();
        open.pop();
      }
      // the sweep did meet the engine's polls (device accesses after the last completion)
      expect(reads).toBeGreaterThan(0);
    },
    { timeout: 900_000 },
  );
});
