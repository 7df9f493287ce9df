// Where a device memory write lands in the used elements (tb/linux/usedcheck.ts usedWrites): the host's used-length
// check and the fault injection both rely on it, for split used rings and packed descriptor rings.
import { describe, expect, it } from 'vitest';
import type { MemWriteTlp } from '../../tb/pcie/tlp';
import { type RingView, usedWrites } from '../../tb/linux/usedcheck';

const mwr = (address: bigint, bytes: number): MemWriteTlp =>
  ({
    type: 'MWr',
    address,
    firstBe: 0xf,
    lastBe: 0xf,
    requesterId: 0,
    tag: 0,
    data: new Uint8Array(bytes),
  }) as MemWriteTlp;

const split: RingView = { q: 1, packed: false, desc: 0x10000n, driver: 0x11000n, device: 0x12000n, size: 16 };
const packed: RingView = { q: 0, packed: true, desc: 0x20000n, driver: 0x21000n, device: 0x22000n, size: 8 };

describe('usedWrites', () => {
  it('finds split used ring entries (id, len) after the ring header, whole entries only', () => {
    // flags, idx and entries 0 and 1 in one write
    const a = usedWrites(mwr(0x12000n, 4 + 16), [split, packed]);
    expect(a.map((u) => [u.ring.q, u.slot, u.idAt, u.idBytes, u.lenAt])).toEqual([
      [1, 0, 4, 4, 8],
      [1, 1, 12, 4, 16],
    ]);
    // entry 3 alone
    expect(usedWrites(mwr(0x12000n + 4n + 24n, 8), [split]).map((u) => u.slot)).toEqual([3]);
    // half an entry, the idx alone, a write past the ring, the avail ring: none
    expect(usedWrites(mwr(0x12000n + 4n, 4), [split])).toEqual([]);
    expect(usedWrites(mwr(0x12000n, 4), [split])).toEqual([]);
    expect(usedWrites(mwr(0x12000n + 4n + 8n * 16n, 8), [split])).toEqual([]);
    expect(usedWrites(mwr(0x11000n, 64), [split])).toEqual([]);
  });

  it('finds packed used descriptors (len at 8, id at 12) in the descriptor ring', () => {
    const a = usedWrites(mwr(0x20000n + 16n * 5n, 32), [split, packed]);
    expect(a.map((u) => [u.ring.q, u.slot, u.lenAt, u.idAt, u.idBytes])).toEqual([
      [0, 5, 8, 12, 2],
      [0, 6, 24, 28, 2],
    ]);
    // len and id without the flags still count; the address and the flags alone do not
    expect(usedWrites(mwr(0x20000n + 8n, 8), [packed]).map((u) => u.slot)).toEqual([0]);
    expect(usedWrites(mwr(0x20000n + 16n * 7n, 8), [packed])).toEqual([]);
    expect(usedWrites(mwr(0x20000n + 14n, 4), [packed])).toEqual([]);
  });
});
