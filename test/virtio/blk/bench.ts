// The virtio-blk driver against the golden virtio-blk device on the golden queue engine, in one host memory,
// with the invariant checkers on every DMA access and every buffer. The device serves a queue when it is kicked
// (its notifications stay on, so every kick the driver skips is a request that never completes).
import { HostMemory, type Region } from '../../../tb/pcie/hostmem';
import { BlkDevice, type BlkDeviceConfig } from '../../../tb/virtio/blk/device';
import { VirtioBlkDriver, type BlkRequest } from '../../../tb/virtio/blk/driver';
import { allocRing } from '../../../tb/virtio/ring/create';
import type { RingFeatures } from '../../../tb/virtio/ring/defs';
import { DeviceQueue, type RingError } from '../../../tb/virtio/ring/device';
import { HostDma } from '../../../tb/virtio/ring/dma';
import { RingInvariants } from '../../../tb/virtio/ring/invariants';

export interface BlkBenchOptions {
  features?: Partial<RingFeatures>;
  queues?: number;
  num?: number;
  config: BlkDeviceConfig;
}

export function blkBench(o: BlkBenchOptions) {
  const features: RingFeatures = { packed: false, indirect: false, eventIdx: false, inOrder: false, ...o.features };
  const mem = new HostMemory();
  const rings = Array.from({ length: o.queues ?? 1 }, (_, i) => allocRing(mem, o.num ?? 16, features.packed, i));
  const dma = new HostDma(mem);
  const inv = new RingInvariants<BlkRequest>();
  rings.forEach((r, i) => inv.addRing(i, r, features.packed));
  dma.listen(inv.onDma);
  const devQs = rings.map((ring, index) => new DeviceQueue({ index, ring, features, dma }));
  const blk = new BlkDevice(o.config);
  const kicked = new Set<number>();
  const driver = new VirtioBlkDriver({
    mem,
    rings,
    features,
    observer: inv,
    notify: (q) => {
      kicked.add(q);
      return true;
    },
  });
  const stats = { kicks: 0, interrupts: 0, errors: [] as RingError[] };
  return {
    mem,
    rings,
    dma,
    inv,
    devQs,
    blk,
    driver,
    stats,
    features,
    /** Serves every kicked queue until no kick is pending; returns the requests completed meanwhile. */
    run(): BlkRequest[] {
      while (kicked.size) {
        const q = kicked.values().next().value as number;
        kicked.delete(q);
        stats.kicks++;
        const r = blk.serve(devQs[q]);
        if (r.error) stats.errors.push(r.error);
        if (r.publish.notify) {
          stats.interrupts++;
          driver.vqs[q].interrupt();
        }
      }
      return driver.takeCompleted();
    },
    /** A data buffer: device-writable for reads, device-readable for writes. */
    buf(len: number, deviceWrites: boolean, fill?: Uint8Array): Region {
      const r = mem.alloc(Math.max(1, len), { perm: deviceWrites ? 'wo' : 'ro', align: 1, name: 'data' });
      if (fill) r.write(0, fill);
      return r;
    },
  };
}
