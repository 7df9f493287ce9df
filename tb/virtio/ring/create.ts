// vring_create_virtqueue: ring memory in host memory (split: one allocation with the used ring aligned to 64,
// as vring_init lays it out; packed: three), and the driver of the negotiated format over it.
import type { HostMemory, Region } from '../../pcie/hostmem';
import { checkQueueSize, DESC_SIZE, PACKED_EVENT_SIZE, splitAreaSizes, type RingAddresses } from './defs';
import { PackedVirtqueue } from './packed';
import { SplitVirtqueue } from './split';
import type { Virtqueue, VirtqueueOptions } from './virtqueue';

/** SMP_CACHE_BYTES: vring_create_virtqueue's alignment of the split ring's used ring. */
export const VRING_ALIGN = 64;

export interface RingMemory extends RingAddresses {
  readonly regions: readonly Region[];
}

/**
 * Allocates and zeroes ring memory for `num` entries. Device permissions: the split ring as one 'rw' region
 * (the device writes the used ring); packed: descriptor ring 'rw', driver event 'ro', device event 'rw'.
 */
export function allocRing(mem: HostMemory, num: number, packed: boolean, index = 0): RingMemory {
  checkQueueSize(num, packed);
  if (packed) {
    const desc = mem.alloc(DESC_SIZE * num, { align: 16, perm: 'rw', name: `vq${index}.desc` });
    const drv = mem.alloc(PACKED_EVENT_SIZE, { align: 4, perm: 'ro', name: `vq${index}.driver-event` });
    const dev = mem.alloc(PACKED_EVENT_SIZE, { align: 4, perm: 'rw', name: `vq${index}.device-event` });
    return { num, desc: desc.addr, driver: drv.addr, device: dev.addr, regions: [desc, drv, dev] };
  }
  const sz = splitAreaSizes(num);
  const usedOff = Math.ceil((sz.desc + sz.avail) / VRING_ALIGN) * VRING_ALIGN;
  const r = mem.alloc(usedOff + sz.used, { align: 4096, perm: 'rw', name: `vq${index}.split` });
  return { num, desc: r.addr, driver: r.addr + BigInt(sz.desc), device: r.addr + BigInt(usedOff), regions: [r] };
}

export function freeRing(mem: HostMemory, ring: RingMemory): void {
  for (const r of ring.regions) mem.unmap(r);
}

/** The driver for the ring format the features name. */
export function createVirtqueue<T>(opts: VirtqueueOptions<T>): Virtqueue<T> {
  return opts.features.packed ? new PackedVirtqueue(opts) : new SplitVirtqueue(opts);
}
