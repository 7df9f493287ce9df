// Virtqueue setup and interrupt vectors as drivers/virtio/virtio_pci_common.c (vp_find_vqs and its MSI-X / INTx
// variants, vp_request_msix_vectors, vp_del_vqs) and virtio_pci_modern.c (setup_vq, vp_active_vq, del_vq,
// vp_modern_find_vqs) do it: MSI-X with a vector per queue, else one vector shared by the queues, else INTx.
import type { DeviceInfo } from '../../pcie/enumerate';
import type { Region } from '../../pcie/hostmem';
import type { RootComplex } from '../../pcie/rootcomplex';
import { VIRTIO_MSI_NO_VECTOR } from '../../../gen/virtio/regmap';
import { PCI_INTERRUPT_PIN } from '../../pcie/cfgspace';
import { mapQueueNotify, type ModernDevice } from './caps';
import type { CommonIo } from './commonio';
import { VirtioProbeError } from './errors';

/** SMP_CACHE_BYTES: the split ring's used ring alignment in vring_create_virtqueue. */
const VRING_ALIGN = 64;
/** VP_MSIX_VQ_VECTOR: the shared queue vector when each queue cannot have its own. */
const VP_MSIX_VQ_VECTOR = 1;

export type IrqMode = 'msix-per-vq' | 'msix-shared' | 'intx';

export interface Vq {
  readonly index: number;
  readonly num: number;
  readonly msixVector: number;
  /** The doorbell address (vp_modern_map_vq_notify). */
  readonly notify: bigint;
  readonly desc: bigint;
  readonly driver: bigint;
  readonly device: bigint;
  readonly regions: readonly Region[];
}

export interface VqSetup {
  readonly mode: IrqMode;
  readonly vqs: readonly Vq[];
  /** MSI-X vectors allocated (0 with INTx). */
  readonly msixVectors: number;
  /** Why the better modes were given up, in order (e.g. per-queue vectors: -ENOSPC). */
  readonly fallbacks: readonly string[];
}

export interface VqContext {
  rc: RootComplex;
  dev: DeviceInfo;
  mdev: ModernDevice;
  io: CommonIo;
  packed: boolean;
  /** MSI-X allowed (pci=nomsi clears it). */
  msix: boolean;
}

/** vp_find_vqs: per-queue MSI-X vectors, else shared, else INTx (if the function has an interrupt pin). */
export function findVqs(ctx: VqContext, nvqs: number): VqSetup {
  const fallbacks: string[] = [];
  for (const perVq of [true, false]) {
    try {
      return { ...findVqsMsix(ctx, nvqs, perVq), fallbacks };
    } catch (e) {
      if (!(e instanceof VirtioProbeError)) throw e;
      fallbacks.push(`${perVq ? 'per-queue' : 'shared'} MSI-X vectors: ${e.message}`);
    }
  }
  if (!ctx.rc.cfgRead8(PCI_INTERRUPT_PIN))
    throw new VirtioProbeError(
      'ENODEV',
      'vp_find_vqs',
      'interrupt pin',
      `no MSI-X and no INTx: ${fallbacks.join('; ')}`,
    );
  return { ...findVqsIntx(ctx, nvqs), fallbacks };
}

/** vp_find_vqs_msix + vp_request_msix_vectors. On failure everything is torn down (vp_del_vqs) and it throws. */
function findVqsMsix(ctx: VqContext, nvqs: number, perVq: boolean): Omit<VqSetup, 'fallbacks'> {
  const nvectors = perVq ? 1 + nvqs : 2;
  const msix = ctx.dev.msix;
  // pci_alloc_irq_vectors(nvectors, nvectors, PCI_IRQ_MSIX)
  if (!ctx.msix || !msix || msix.tableSize < nvectors)
    throw new VirtioProbeError(
      'ENOSPC',
      'vp_request_msix_vectors',
      'MSI-X capability',
      `${nvectors} vectors wanted, ${ctx.msix && msix ? `the table has ${msix.tableSize}` : 'MSI-X unavailable'}`,
    );
  ctx.rc.msix.setup({ vectors: nvectors });
  const vqs: Vq[] = [];
  try {
    // The configuration vector: vector 0 (vp_config_vector -> vp_modern_config_vector), verified by reading back.
    ctx.io.write('config_msix_vector', 0);
    if (ctx.io.read('config_msix_vector') === VIRTIO_MSI_NO_VECTOR)
      throw new VirtioProbeError(
        'EBUSY',
        'vp_request_msix_vectors',
        'common.config_msix_vector',
        'vector 0 not assigned (reads NO_VECTOR)',
      );
    let next = perVq ? 1 : 2;
    for (let i = 0; i < nvqs; i++) vqs.push(setupVq(ctx, i, perVq ? next++ : VP_MSIX_VQ_VECTOR));
  } catch (e) {
    delVqs(ctx, { mode: perVq ? 'msix-per-vq' : 'msix-shared', vqs, msixVectors: nvectors });
    throw e;
  }
  enableVqs(ctx, vqs);
  return { mode: perVq ? 'msix-per-vq' : 'msix-shared', vqs, msixVectors: nvectors };
}

/** vp_find_vqs_intx: every queue without a vector. */
function findVqsIntx(ctx: VqContext, nvqs: number): Omit<VqSetup, 'fallbacks'> {
  const vqs: Vq[] = [];
  try {
    for (let i = 0; i < nvqs; i++) vqs.push(setupVq(ctx, i, VIRTIO_MSI_NO_VECTOR));
  } catch (e) {
    delVqs(ctx, { mode: 'intx', vqs, msixVectors: 0 });
    throw e;
  }
  enableVqs(ctx, vqs);
  return { mode: 'intx', vqs, msixVectors: 0 };
}

/** vp_modern_find_vqs: enabling the queues comes last ("there's no way to go back except reset"). */
function enableVqs(ctx: VqContext, vqs: readonly Vq[]): void {
  for (const vq of vqs) {
    ctx.io.write('queue_select', vq.index);
    ctx.io.write('queue_enable', 1);
  }
}

/** setup_vq (virtio_pci_modern.c): checks the queue, creates the ring, programs it (vp_active_vq), maps its doorbell. */
function setupVq(ctx: VqContext, index: number, msixVec: number): Vq {
  const { io } = ctx;
  const where = `queue ${index}`;
  if (index >= io.read('num_queues'))
    throw new VirtioProbeError('EINVAL', 'setup_vq', where, `num_queues is ${io.read('num_queues')}`);
  io.write('queue_select', index);
  const num = io.read('queue_size');
  io.write('queue_select', index);
  const enabled = io.read('queue_enable');
  if (!num || enabled)
    throw new VirtioProbeError(
      'ENOENT',
      'setup_vq',
      `common.queue_size of ${where}`,
      num ? 'queue already enabled' : 'queue_size 0: the queue is unavailable',
    );
  if (num & (num - 1))
    throw new VirtioProbeError('EINVAL', 'setup_vq', `common.queue_size of ${where}`, `bad queue size ${num}`);
  const ring = allocRing(ctx.rc, index, num, ctx.packed);
  // vp_active_vq
  io.write('queue_select', index);
  io.write('queue_size', num);
  io.write('queue_select', index);
  io.write64('queue_desc', ring.desc);
  io.write64('queue_driver', ring.driver);
  io.write64('queue_device', ring.device);
  if (msixVec !== VIRTIO_MSI_NO_VECTOR) {
    io.write('queue_select', index);
    io.write('queue_msix_vector', msixVec);
    if (io.read('queue_msix_vector') === VIRTIO_MSI_NO_VECTOR) {
      freeRing(ctx.rc, ring.regions);
      throw new VirtioProbeError(
        'EBUSY',
        'vp_active_vq',
        `common.queue_msix_vector of ${where}`,
        `vector ${msixVec} not assigned (reads NO_VECTOR)`,
      );
    }
  }
  io.write('queue_select', index);
  const notifyOff = io.read('queue_notify_off');
  let notify: bigint;
  try {
    notify = mapQueueNotify(ctx.rc, ctx.dev, ctx.mdev, index, notifyOff);
  } catch (e) {
    freeRing(ctx.rc, ring.regions);
    throw e;
  }
  return { index, num, msixVector: msixVec, notify, ...ring };
}

/** vring_create_virtqueue: split rings in one allocation (desc, avail, used aligned to 64); packed in three. */
function allocRing(rc: RootComplex, index: number, num: number, packed: boolean) {
  if (packed) {
    const desc = rc.mem.alloc(16 * num, { align: 16, perm: 'rw', name: `vq${index}.desc` });
    const drv = rc.mem.alloc(4, { align: 4, perm: 'ro', name: `vq${index}.driver-event` });
    const dev = rc.mem.alloc(4, { align: 4, perm: 'rw', name: `vq${index}.device-event` });
    return { desc: desc.addr, driver: drv.addr, device: dev.addr, regions: [desc, drv, dev] };
  }
  const avail = 16 * num;
  const used = Math.ceil((avail + 2 * (3 + num)) / VRING_ALIGN) * VRING_ALIGN;
  const r = rc.mem.alloc(used + 2 * 3 + 8 * num, { align: 4096, perm: 'rw', name: `vq${index}.split` });
  return { desc: r.addr, driver: r.addr + BigInt(avail), device: r.addr + BigInt(used), regions: [r] };
}

function freeRing(rc: RootComplex, regions: readonly Region[]): void {
  for (const r of regions) rc.mem.unmap(r);
}

/**
 * vp_del_vqs: each queue's vector to NO_VECTOR while MSI-X is on (del_vq), the ring freed; then the
 * configuration vector to NO_VECTOR and the vectors freed (pci_free_irq_vectors: masked, MSI-X disabled).
 */
export function delVqs(ctx: VqContext, setup: Omit<VqSetup, 'fallbacks'>): void {
  const msix = setup.mode !== 'intx';
  for (const vq of setup.vqs) {
    if (msix) {
      ctx.io.write('queue_select', vq.index);
      ctx.io.write('queue_msix_vector', VIRTIO_MSI_NO_VECTOR);
      ctx.io.read('queue_msix_vector');
    }
    freeRing(ctx.rc, vq.regions);
  }
  if (msix) {
    ctx.io.write('config_msix_vector', VIRTIO_MSI_NO_VECTOR);
    ctx.io.read('config_msix_vector');
    for (let v = 0; v < setup.msixVectors; v++) ctx.rc.msix.mask(v);
    ctx.rc.msix.setControl(false, false);
  }
}
