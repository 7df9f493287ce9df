// The notify region: available buffer notifications (doorbells). Which write rings which doorbell is decided in
// choices.ts "doorbells"; the event goes to the data plane through the transport.
import { queueNotifyOff, type VirtioPciLayout } from '../../../gen/virtio/layout';
import type { CommonConfig } from './common';

/** Handles a write to the notify region at `off` (region-relative), firing `ring(queue, value)` per doorbell hit. */
export function notifyWrite(
  layout: VirtioPciLayout,
  common: CommonConfig,
  off: number,
  data: Uint8Array,
  mask: Uint8Array,
  ring: (queue: number, value: number) => void,
): void {
  // Plain helpers, no closures: under tsx each closure created costs a defineProperty (its keepNames helper).
  const width = common.negotiatedHas('VIRTIO_F_NOTIFICATION_DATA') ? 4 : 2;
  const mult = layout.notify.multiplier;
  if (mult === 0) {
    // One shared doorbell at offset 0: the value names the queue (its index, or queue_notify_data).
    if (written(data, mask, -off, width)) {
      const v = value(data, -off, width);
      if (common.queues[v & 0xffff]?.enabled) ring(v & 0xffff, v);
    }
    return;
  }
  for (let q = 0; q < common.queues.length; q++) {
    const at = queueNotifyOff(q) * mult - off;
    if (written(data, mask, at, width) && common.queues[q]?.enabled) ring(q, value(data, at, width));
  }
}

/** Whether all `width` bytes from `at` were written (within the access and enabled by its mask). */
function written(data: Uint8Array, mask: Uint8Array, at: number, width: number): boolean {
  for (let i = at; i < at + width; i++) if (i < 0 || i >= data.length || !mask[i]) return false;
  return true;
}

/** The little-endian value of the `width` bytes from `at`. */
function value(data: Uint8Array, at: number, width: number): number {
  let v = 0;
  for (let i = width - 1; i >= 0; i--) v = v * 256 + data[at + i];
  return v;
}
