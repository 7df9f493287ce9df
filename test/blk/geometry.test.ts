// The device's parameter checks (gen/blk/device.ts blkGeometry): request slots and data widths a build may
// have, each refusal naming the parameter.
import { describe, expect, test } from 'vitest';
import { BLK_DEFAULT_SLOTS, BLK_MAX_SLOTS, blkGeometry } from '../../gen/blk/device';
import { blkTestDeviceParams, blkTestParams } from '../../gen/blk/test_top';

describe('blkGeometry', () => {
  const p = (W: 64 | 256 | 512, slots?: number) => blkTestDeviceParams(blkTestParams(W, { slots }));

  test('request slots: 2..BLK_MAX_SLOTS, the default when not given', () => {
    expect(blkGeometry(p(256)).slots).toBe(BLK_DEFAULT_SLOTS);
    for (const s of [2, 5, BLK_MAX_SLOTS]) expect(blkGeometry(p(64, s)).slots).toBe(s);
    for (const s of [0, 1, 2.5, BLK_MAX_SLOTS + 1]) expect(() => blkGeometry(p(256, s))).toThrow(/slots must be/);
  });

  test('a slot scratch of 64 bytes, two lines at 512 bits (one access never reaches two capture registers)', () => {
    expect(blkGeometry(p(64)).strideBits).toBe(6);
    expect(blkGeometry(p(256)).strideBits).toBe(6);
    expect(blkGeometry(p(512)).strideBits).toBe(7);
  });

  test('the slots must fit their command-id bits', () => {
    expect(() => blkGeometry({ ...p(256, 32), idBits: 6 })).toThrow(/fit idBits/);
  });
});
