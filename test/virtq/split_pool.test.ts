// The split queue engine's read-ahead pool keeps its order (gen/virtq/split_engine.ts, "reading ahead"): entries
// [la, pfNext) have their descriptors in their slots, and lastAvail never passes pfNext. The fetch side once
// walked the entry at la == pfNext without reading it ahead when the read command register was busy (in the
// whole function: the DMA fabric serving blk's data reads) and left pfNext behind: the next chains were walked
// from slots still holding the descriptors of chains availBatch entries older (a DMA read of a long-freed blk
// header). The split test top's read engine never holds its command port long enough at that point, so the
// regression is the soak epoch that found it (the 1M soak, seed 1, epoch 7: split, 4 requests in flight, one
// queue, INDIRECT declined, EVENT_IDX, latency 8-77, completions split at RCB, MPS/MRRS 256).
import { beforeAll, describe, expect, test } from 'vitest';
import { describeSetup, epochSetup, SOAK_EPOCH, soak } from '../../tb/virtio/blk/soak';
import { buildBlkTop } from '../../tb/virtio/blk/system';

const SEED = 1;
const EPOCH = 7;

describe('split queue engine read-ahead pool order (virtio-blk soak replay)', () => {
  beforeAll(() => buildBlkTop(64), 1_200_000);

  test(`soak seed ${SEED} epoch ${EPOCH}: every chain from its own descriptors`, () => {
    const setup = epochSetup(SEED, EPOCH, undefined);
    // the conditions that exposed it (a change to the soak's setup draw would make this replay another epoch)
    expect(describeSetup(setup)).toMatch(/^split, depth 4, queues 1, declines INDIRECT_DESC/);
    const r = soak({ requests: (EPOCH + 1) * SOAK_EPOCH, seed: SEED, W: 64, epoch: EPOCH });
    expect(r.failure?.error.message).toBeUndefined();
    expect(r.requests).toBe(SOAK_EPOCH);
  }, 600_000);
});
