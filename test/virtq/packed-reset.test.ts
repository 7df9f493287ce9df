// Device reset and queue reset (RING_RESET) of the packed-ring engine: a reset waits for the DMA in flight and
// for the chains the device holds (their used elements are not written), then reports done and forgets the
// queue's state, so a reinitialized ring starts again at position 0 with wrap counters 1; a queue stopped by a
// malformed ring runs again after a device reset.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { PACKED, PACKED_AVAIL } from '../../tb/virtio/ring/defs';
import { allocRing } from '../../tb/virtio/ring/create';
import type { RingAddresses } from '../../tb/virtio/ring/defs';
import {
  bootPacked,
  buildPackedSim,
  closePackedBenches,
  packedFeatures,
  packedPorts,
  type PackedBench,
} from './packed-support';
import { runWorkload } from './packed-workload';

afterEach(closePackedBenches);

const W = 256;
let ports = '';
beforeAll(() => {
  ports = packedPorts(W, 2);
  buildPackedSim(ports);
}, 600_000);

/** One-descriptor chains at positions from..from+ids.length-1 (wrap counter 1), with these ids. */
function offer(b: PackedBench, ring: RingAddresses, from: number, ids: number[], buf: bigint) {
  ids.forEach((id, k) => {
    const d = ring.desc + BigInt(16 * (from + k));
    b.mem.writeU64(d + BigInt(PACKED.addr), buf + BigInt(64 * k));
    b.mem.writeU32(d + BigInt(PACKED.len), 64);
    b.mem.writeU16(d + BigInt(PACKED.id), id);
    b.mem.writeU16(d + BigInt(PACKED.flags), PACKED_AVAIL);
  });
}

const writes = (b: PackedBench) => b.usedRecords();

describe('packed-ring engine, resets, 256-bit stream', () => {
  test('queue reset with chains at the device: done only after they come back, nothing written, state forgotten', () => {
    const b = bootPacked(W, 2, ports, 3);
    const ring = allocRing(b.mem, 9, true, 0);
    const buf = b.mem.alloc(4096, { perm: 'rw', name: 'buffers' }).addr;
    b.setFeatures(packedFeatures({}));
    b.setQueue(0, ring);
    b.driverOk(true);
    offer(b, ring, 0, [5, 6, 7], buf);
    b.notify(0);
    b.run(2000);
    const chains = b.takeChains();
    expect(chains.map((c) => c.id)).toEqual([5, 6, 7]);

    b.sim.pulse('q0_reset_req');
    b.run(2000);
    expect(b.queueResetDone.count, 'not while the device holds chains').toBe(0);
    b.done({ queue: 0, id: 5, slots: 1, len: 10 });
    b.done({ queue: 0, id: 7, slots: 1, len: 10 });
    b.notify(0);
    b.run(2000);
    expect(b.queueResetDone.count).toBe(0);
    b.done({ queue: 0, id: 6, slots: 1, len: 10 });
    b.run(500);
    expect(b.queueResetDone.count, 'queue_reset_done once the last chain is back').toBe(1);
    expect(writes(b), 'no used element written for a resetting queue').toEqual([]);
    expect(b.takeChains()).toEqual([]);

    // The driver reinitializes the ring (zeroed) and enables the queue again: position 0, wrap counter 1.
    b.mem.fill(ring.desc, 16 * 9);
    offer(b, ring, 0, [1], buf);
    b.notify(0);
    b.run(2000);
    expect(b.takeChains().map((c) => c.id)).toEqual([1]);
    b.done({ queue: 0, id: 1, slots: 1, len: 3 });
    b.run(2000);
    expect(writes(b)).toEqual([{ at: ring.desc, id: 1, len: 3, flags: PACKED_AVAIL | 0x8000 | 2 }]);
    expect(b.fatal.count).toBe(0);
    expect(b.sim.peek('busy')).toBe(0n);
  });

  test('device reset with a descriptor fetch in flight: waits for it, hands out nothing', () => {
    const b = bootPacked(W, 2, ports, 4, { latency: { min: 400, max: 500 } });
    const ring = allocRing(b.mem, 4, true, 0);
    const buf = b.mem.alloc(4096, { perm: 'rw', name: 'buffers' }).addr;
    b.setFeatures(packedFeatures({}));
    b.setQueue(0, ring);
    b.driverOk(true);
    offer(b, ring, 0, [0, 1], buf);
    b.notify(0);
    b.run(50);
    b.sim.pulse('reset_req');
    b.run(100);
    expect(b.resetDone.count, 'not before the read is back').toBe(0);
    b.run(1500);
    expect(b.resetDone.count).toBe(1);
    expect(b.takeChains()).toEqual([]);
    expect(b.fatal.count).toBe(0);
  });

  test('a queue stopped by a malformed ring runs again after a device reset', () => {
    const b = bootPacked(W, 2, ports, 5);
    const ring = allocRing(b.mem, 4, true, 0);
    const buf = b.mem.alloc(4096, { perm: 'rw', name: 'buffers' }).addr;
    b.setFeatures(packedFeatures({}));
    b.setQueue(0, ring);
    b.driverOk(true);
    offer(b, ring, 0, [0], buf);
    b.mem.writeU16(ring.desc + BigInt(PACKED.flags), PACKED_AVAIL | 1); // NEXT to a descriptor that is not there
    b.notify(0);
    b.run(2000);
    expect(b.fatal.count).toBe(1);
    b.driverOk(false);
    b.sim.pulse('reset_req');
    b.run(200);
    expect(b.resetDone.count).toBe(1);
    const s = runWorkload(b, { features: { indirect: true }, sizes: [5, 11], requests: 60, seed: 5 });
    expect(s.requests).toBe(60);
  });
});
