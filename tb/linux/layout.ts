// The endpoint the Linux bridge simulates: the default layout (gen/virtio/layout.ts) with the queue count and the
// ring format asked for (the split ring is what a device that does not offer VIRTIO_F_RING_PACKED gets), and the
// disk's capacity in its configuration.
import { DEFAULT_LAYOUT, validateLayout, type VirtioPciLayout } from '../../gen/virtio/layout';

export interface LinuxDeviceOptions {
  /** Offer VIRTIO_F_RING_PACKED (Linux then uses packed rings). */
  packed: boolean;
  /** Request queues (virtio-blk num_queues). */
  queues: number;
}

export function linuxLayout(o: LinuxDeviceOptions): VirtioPciLayout {
  const d = DEFAULT_LAYOUT;
  const queues = { ...d.queues, count: o.queues };
  return validateLayout({
    ...d,
    name: `linux_${o.packed ? 'packed' : 'split'}_q${o.queues}`,
    queues,
    notify: { ...d.notify, length: o.queues * d.notify.multiplier },
    msix: { ...d.msix, vectors: o.queues + 1 },
    features: d.features.filter((f) => o.packed || f !== 'VIRTIO_F_RING_PACKED'),
  });
}
