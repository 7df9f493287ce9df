// Queue reset (RING_RESET) and device reset on the split queue engine: a queue reset waits until the device has
// returned the queue's chains (their completions are dropped: nothing written), pulses queue_reset_done, and
// the queue starts again from index 0 once re-enabled, other queues untouched; a reset with the engine's ring
// reads in flight completes too; a device reset pulses reset_done and forgets every queue.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { SPLIT_TEST_WIDTHS } from '../../gen/virtq/split_test_top';
import type { HostMemory } from '../../tb/pcie/hostmem';
import { allocRing, createVirtqueue, type RingMemory } from '../../tb/virtio/ring/create';
import { SPLIT, type RingFeatures } from '../../tb/virtio/ring/defs';
import type { Virtqueue } from '../../tb/virtio/ring/virtqueue';
import {
  bootSplit,
  buildSplitSim,
  closeSplitBenches,
  type RtlChain,
  type SplitBench,
  splitPorts,
} from './split_support';

afterEach(closeSplitBenches);

const F: RingFeatures = { packed: false, indirect: true, eventIdx: true, inOrder: false };

function queue(b: SplitBench, i: number, num = 8): { vq: Virtqueue<number>; ring: RingMemory; got: number[] } {
  const mem = b.rc.mem;
  const ring = allocRing(mem, num, false, i);
  b.setQueue(i, ring);
  const got: number[] = [];
  const vq = createVirtqueue<number>({
    mem,
    index: i,
    ring,
    features: F,
    notify: () => (b.kick(i), true),
    callback: (q) => {
      do {
        q.disableCb();
        for (let x = q.getBuf(); x; x = q.getBuf()) got.push(x.data);
      } while (!q.enableCb());
    },
  });
  return { vq, ring, got };
}

function addBufs(mem: HostMemory, vq: Virtqueue<number>, tokens: number[]): void {
  for (const t of tokens) {
    const w = mem.alloc(32, { perm: 'wo', name: `w${t}` });
    const r = mem.alloc(32, { perm: 'ro', name: `r${t}` });
    expect(vq.add([{ addr: r.addr, len: 32 }], [{ addr: w.addr, len: 32 }], t)).toBe('ok');
  }
  vq.kick();
}

/** Runs until `n` chains came out; returns them. */
function chainsOf(b: SplitBench, n: number): RtlChain[] {
  const out: RtlChain[] = [];
  b.rc.waitFor(`${n} chains`, () => (out.push(...b.takeChains()), out.length >= n), { timeout: 20_000 });
  return out;
}

const usedIdx = (mem: HostMemory, ring: RingMemory) => mem.readU16(ring.device + BigInt(SPLIT.usedIdx));

describe.each(SPLIT_TEST_WIDTHS)('split queue engine resets, %i-bit', (W) => {
  let ports = '';
  beforeAll(() => {
    ports = splitPorts(W);
    buildSplitSim(ports);
  }, 600_000);

  test('queue reset waits for the chains in the device, drops their completions, then starts again', () => {
    const b = bootSplit(W, ports, 1, { latency: { min: 20, max: 100 } });
    const mem = b.rc.mem;
    b.setFeatures(F);
    const q0 = queue(b, 0);
    const q1 = queue(b, 1);
    addBufs(mem, q0.vq, [1, 2, 3]);
    const cs = chainsOf(b, 3);
    expect(cs.map((c) => c.queue)).toEqual([0, 0, 0]);
    b.complete(cs[0], 4);
    b.rc.runFor(1000);
    expect(usedIdx(mem, q0.ring)).toBe(1);
    // The transport: queue_reset written, queue_enable reads 0 from then on.
    b.sim.pulse('q0_reset_req');
    b.disableQueue(0);
    b.rc.runFor(1000);
    expect(Number(b.sim.peek('qreset_count_q0')), 'not while the device holds chains').toBe(0);
    // queue 1 is served meanwhile
    addBufs(mem, q1.vq, [10]);
    const c1 = chainsOf(b, 1);
    expect(c1[0].queue).toBe(1);
    b.complete(c1[0], 0);
    b.complete(cs[1], 4);
    b.complete(cs[2], 4);
    b.rc.runFor(2000);
    expect(Number(b.sim.peek('qreset_count_q0'))).toBe(1);
    expect(usedIdx(mem, q0.ring), 'completions after the reset dropped').toBe(1);
    expect(usedIdx(mem, q1.ring)).toBe(1);
    expect(b.irqCount(1)).toBeGreaterThan(0);
    q1.vq.interrupt();
    expect(q1.got).toEqual([10]);
    // The driver's half (virtqueue_reset), then the queue enabled again: indices from 0.
    q0.vq.reset();
    b.setQueue(0, q0.ring);
    addBufs(mem, q0.vq, [4, 5]);
    const again = chainsOf(b, 2);
    for (const c of again) b.complete(c, 1);
    b.rc.runFor(2000);
    expect(usedIdx(mem, q0.ring)).toBe(2);
    q0.vq.interrupt();
    expect(q0.got.sort()).toEqual([4, 5]);
    expect(b.fatalCount()).toBe(0);
    expect(b.rc.violations).toEqual([]);
  });

  test('queue reset with the ring reads in flight', () => {
    for (let delay = 1; delay < 400; delay += 37) {
      const b = bootSplit(W, ports, delay, { latency: { min: 100, max: 150 } });
      const mem = b.rc.mem;
      b.setFeatures(F);
      const q0 = queue(b, 0);
      addBufs(mem, q0.vq, [1, 2]);
      b.rc.runFor(delay);
      b.sim.pulse('q0_reset_req');
      b.disableQueue(0);
      // Whatever was handed over before the reset took hold comes back from the device.
      b.rc.waitFor(
        'queue_reset_done',
        () => {
          for (const c of b.takeChains()) b.complete(c, 0);
          return Number(b.sim.peek('qreset_count_q0')) === 1;
        },
        { timeout: 20_000 },
      );
      b.rc.runFor(500);
      expect(b.sim.peek('busy'), `idle after the reset (delay ${delay})`).toBe(0n);
      expect(usedIdx(mem, q0.ring)).toBe(0);
      expect(b.fatalCount()).toBe(0);
      closeSplitBenches();
    }
  });

  test('device reset forgets every queue; the rings work again after it', () => {
    const b = bootSplit(W, ports, 3, { latency: { min: 20, max: 100 } });
    const mem = b.rc.mem;
    b.setFeatures(F);
    const q0 = queue(b, 0);
    addBufs(mem, q0.vq, [1, 2]);
    const cs = chainsOf(b, 2);
    b.complete(cs[0], 3);
    b.rc.runFor(1000);
    expect(usedIdx(mem, q0.ring)).toBe(1);
    // The transport: device_status 0, so DRIVER_OK and every queue_enable read 0 from then on.
    b.sim.pulse('reset_req');
    b.sim.poke('driver_ok', 0);
    b.disableQueue(0);
    b.rc.runFor(200);
    expect(Number(b.sim.peek('reset_count'))).toBe(1);
    // The driver starts over with new rings (the device's chains are gone with the reset).
    b.setFeatures(F);
    const n0 = queue(b, 0);
    addBufs(mem, n0.vq, [7]);
    const c = chainsOf(b, 1);
    expect(c[0].id).toBe(0);
    b.complete(c[0], 2);
    b.rc.runFor(1000);
    expect(usedIdx(mem, n0.ring)).toBe(1);
    n0.vq.interrupt();
    expect(n0.got).toEqual([7]);
    expect(usedIdx(mem, q0.ring), 'the old ring untouched after the reset').toBe(1);
    expect(b.fatalCount()).toBe(0);
  });
});
