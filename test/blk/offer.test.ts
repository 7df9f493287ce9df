// What the endpoint offers for a virtio-blk build (gen/blk/device.ts blkOffer): only features the register map
// knows, each configuration value a field of struct virtio_blk_config whose feature is offered.
import { describe, expect, test } from 'vitest';
import { blkOffer } from '../../gen/blk/device';
import { blkTestDeviceParams, blkTestParams } from '../../gen/blk/test_top';
import { BLK_CONFIG } from '../../gen/virtio/regmap';

describe('blkOffer', () => {
  test('every value a configuration field, gated by an offered feature', () => {
    for (const over of [{}, { readOnly: true, discard: undefined, writeZeroes: undefined, flush: false }]) {
      const p = blkTestDeviceParams(blkTestParams(256, over));
      for (const queues of [1, 4]) {
        const o = blkOffer(p, queues);
        for (const [k, v] of Object.entries(o.config)) {
          const f = BLK_CONFIG.find((x) => x.name === k);
          expect(f, k).toBeDefined();
          if (f!.feature) expect(o.features, `${k} needs ${f!.feature}`).toContain(f!.feature);
          expect(typeof v).toBe('number');
        }
        expect(o.features.includes('VIRTIO_BLK_F_MQ')).toBe(queues > 1);
        expect(o.features.includes('VIRTIO_BLK_F_RO')).toBe(!!p.readOnly);
        expect(o.features.includes('VIRTIO_BLK_F_DISCARD')).toBe(!!p.discard);
        expect(o.features.includes('VIRTIO_BLK_F_FLUSH')).toBe(!!p.flush);
        expect(o.config.capacity).toBe(p.capacity);
        expect(o.config.seg_max).toBe(p.segMax);
        expect(o.config.size_max).toBe(p.sizeMax);
      }
    }
  });
});
