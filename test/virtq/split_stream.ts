// A streaming workload for the split queue engine's throughput (the issue-8 benchmark's conditions): one queue
// kept `depth` requests deep by the Linux-faithful driver (virtio-blk shaped chains: a 16-byte readable header,
// a writable data buffer, a writable status byte), a device that completes every chain the cycle it has it,
// and the golden DeviceQueue checking every chain. Gives chains per kilocycle once the pipeline is full.
import { expect } from 'vitest';
import { allocRing, createVirtqueue } from '../../tb/virtio/ring/create';
import type { RingFeatures } from '../../tb/virtio/ring/defs';
import { DeviceQueue, RingError } from '../../tb/virtio/ring/device';
import { HostDma } from '../../tb/virtio/ring/dma';
import type { SplitBench } from './split_support';

export interface SplitStreamOptions {
  features: RingFeatures;
  num: number;
  /** Requests kept available or in the device. */
  depth: number;
  /** Requests measured (after `warmup` more). */
  requests: number;
  warmup?: number;
  /** Data bytes per request. */
  dataLen?: number;
  /** Cycles run between two looks at the ports. */
  step?: number;
}

export interface SplitStreamStats {
  requests: number;
  cycles: number;
  cyclesPerChain: number;
  chainsPerKilocycle: number;
  kicks: number;
  interrupts: number;
}

export function runSplitStream(b: SplitBench, o: SplitStreamOptions): SplitStreamStats {
  const mem = b.rc.mem;
  const warmup = o.warmup ?? 2 * o.depth;
  const total = warmup + o.requests;
  const step = o.step ?? 8;
  const dataLen = o.dataLen ?? 512;
  b.setFeatures(o.features);
  const ring = allocRing(mem, o.num, false, 0);
  b.setQueue(0, ring);
  let kicks = 0;
  let interrupts = 0;
  let returned = 0;
  let added = 0;
  let startCycle = 0;
  let startReturned = 0;
  let irqSeen = 0;
  const vq = createVirtqueue<number>({
    mem,
    index: 0,
    ring,
    features: o.features,
    notify: () => {
      kicks++;
      b.kick(0);
      return true;
    },
    callback: (q) => {
      do {
        q.disableCb();
        while (q.getBuf()) returned++;
      } while (!q.enableCb());
    },
  });
  const golden = new DeviceQueue({ index: 0, ring, features: o.features, dma: new HostDma(mem) });
  const hdr = mem.alloc(16, { perm: 'ro', name: 'hdr' });
  const data = mem.alloc(dataLen, { perm: 'wo', name: 'data' });
  const status = mem.alloc(1, { perm: 'wo', name: 'status' });
  let idle = 0;
  let chains = 0;
  while (returned < total) {
    let progress = false;
    while (added < total && added - returned < o.depth) {
      const r = vq.add(
        [{ addr: hdr.addr, len: 16 }],
        [
          { addr: data.addr, len: dataLen },
          { addr: status.addr, len: 1 },
        ],
        added,
      );
      if (r !== 'ok') break;
      added++;
      progress = true;
    }
    if (progress) vq.kick();
    b.rc.runFor(step);
    for (const c of b.takeChains()) {
      const g = golden.next();
      if (g instanceof RingError) throw g;
      expect({ id: c.id, slots: c.slots, segments: c.segments }, `chain ${chains} against the golden model's`).toEqual({
        id: g?.id,
        slots: g?.descs,
        segments: g?.segments.map((x) => ({ addr: x.addr, len: x.len, write: x.write })),
      });
      b.complete(c, 1);
      chains++;
      progress = true;
    }
    const irq = b.irqCount(0);
    if (irq !== irqSeen) {
      irqSeen = irq;
      interrupts++;
      vq.interrupt();
      progress = true;
    }
    if (b.fatalCount() !== 0)
      throw new Error(
        `fatal_error on a well-formed ring at cycle ${b.rc.now}: ${added} added, ${returned} back, ` +
          `${chains} chains handed over; the golden model's next: ${JSON.stringify(golden.next(), (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v))}`,
      );
    if (returned >= warmup && startCycle === 0) {
      startCycle = b.rc.now;
      startReturned = returned;
    }
    idle = progress ? 0 : idle + 1;
    if (idle > 2000) throw new Error(`no progress at cycle ${b.rc.now}: ${added} added, ${returned} back`);
  }
  const cycles = b.rc.now - startCycle;
  const n = returned - startReturned;
  return {
    requests: n,
    cycles,
    cyclesPerChain: cycles / n,
    chainsPerKilocycle: (1000 * n) / cycles,
    kicks,
    interrupts,
  };
}
