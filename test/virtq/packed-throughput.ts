// The packed-ring engine's throughput harness (issue 8's benchmark conditions: host read latency 250 cycles,
// completions split at 64 B and reordered, MPS 256, MRRS 512, EVENT_IDX on): the Linux-faithful driver keeps
// `depth` requests of virtio-blk's shape (a 16-byte header, a data buffer, a status byte) available on one
// queue, a trivial device completes each chain as soon as it has it, the driver reaps in its interrupt callback
// and adds a new request for each one back. Cycles per chain are counted over the steady state (after the
// first `depth` chains), so the ramp-up does not count.
import { expect } from 'vitest';
import { allocRing, createVirtqueue } from '../../tb/virtio/ring/create';
import { ringFeatures } from '../../tb/virtio/ring/defs';
import type { Virtqueue } from '../../tb/virtio/ring/virtqueue';
import { packedFeatures, type PackedBench, type RtlChain } from './packed-support';

/** The root complex's settings for the benchmark's host (bootPacked's rcOpts). */
export const BENCH_HOST = {
  latency: { min: 250, max: 250 },
  split: 'rcb' as const,
  rcb: 64 as const,
  reorder: true,
  cplGap: { min: 0, max: 0 },
};

export interface ThroughputOptions {
  /** Requests kept available. */
  depth: number;
  /** Queue size (descriptors). */
  size: number;
  /** Chains measured after the warm-up. */
  chains: number;
  /** Bytes of the data buffer (512: the benchmark's small reads). */
  dataBytes: number;
  indirect: boolean;
  /** Driver reaction time: the pump's step between its turns, cycles. */
  step?: number;
  /**
   * The device's service time: it completes one chain per `service` cycles, oldest first (a device slower
   * than the ring, as a disk is). Default 0: each chain at once.
   */
  service?: number;
}

export interface ThroughputResult {
  chains: number;
  cycles: number;
  cyclesPerChain: number;
  interrupts: number;
  kicks: number;
  /** Doorbells while the measured chains were handed out, per chain. */
  kicksPerChain: number;
}

export function measureThroughput(b: PackedBench, o: ThroughputOptions): ThroughputResult {
  const mem = b.mem;
  const mask = packedFeatures({ indirect: o.indirect, eventIdx: true });
  b.setFeatures(mask);
  const features = ringFeatures(mask);
  const ring = allocRing(mem, o.size, true, 0);
  let kicks = 0;
  let reaped = 0;
  const vq: Virtqueue<number> = createVirtqueue<number>({
    mem,
    index: 0,
    ring,
    features,
    notify: () => {
      kicks++;
      b.notify(0);
      return true;
    },
    callback: (v) => {
      do {
        v.disableCb();
        for (let x = v.getBuf(); x; x = v.getBuf()) reaped++;
      } while (!v.enableCb());
    },
  });
  b.setQueue(0, ring);
  b.driverOk(true);
  // one set of buffers reused by every request: the device does not look at the bytes
  const hdr = mem.alloc(16, { perm: 'ro', name: 'hdr' });
  const data = mem.alloc(o.dataBytes, { perm: 'wo', name: 'data' });
  const status = mem.alloc(1, { perm: 'wo', name: 'status' });
  let added = 0;
  const total = o.depth + o.chains;
  const fill = () => {
    let any = false;
    while (added - reaped < o.depth && added < total + o.depth) {
      const r = vq.add(
        [{ addr: hdr.addr, len: 16 }],
        [
          { addr: data.addr, len: o.dataBytes },
          { addr: status.addr, len: 1 },
        ],
        added,
      );
      if (r !== 'ok') break;
      added++;
      any = true;
    }
    if (any) vq.kick();
  };
  let handed = 0;
  let start = 0;
  let kicksAtStart = 0;
  let irqSeen = 0;
  let interrupts = 0;
  const step = o.step ?? 8;
  const service = o.service ?? 0;
  const atDevice: RtlChain[] = [];
  let nextDone = 0;
  fill();
  const limit = b.sim.cycle + (1000 + service) * (total + 10);
  while (handed < total) {
    b.run(step);
    atDevice.push(...b.takeChains());
    while (atDevice.length && b.sim.cycle >= nextDone) {
      const c = atDevice.shift()!;
      b.done({ queue: c.queue, id: c.id, slots: c.slots, len: o.dataBytes + 1 });
      handed++;
      if (handed === o.depth) {
        start = b.sim.cycle;
        kicksAtStart = kicks;
      }
      if (service) nextDone = b.sim.cycle + service;
    }
    for (; irqSeen < b.irq[0].count; irqSeen++) {
      interrupts++;
      vq.interrupt();
    }
    fill();
    expect(b.fatal.count, `fatal error, code ${b.fatalCode()}`).toBe(0);
    if (b.sim.cycle > limit) throw new Error(`throughput run stalled: ${handed} chains of ${total}, ${reaped} back`);
  }
  const cycles = b.sim.cycle - start;
  return {
    chains: o.chains,
    cycles,
    cyclesPerChain: cycles / o.chains,
    interrupts,
    kicks,
    kicksPerChain: (kicks - kicksAtStart) / o.chains,
  };
}
