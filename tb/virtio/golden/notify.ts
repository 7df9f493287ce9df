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
  const width = common.negotiatedHas('VIRTIO_F_NOTIFICATION_DATA') ? 4 : 2;
  const written = (at: number) => {
    for (let i = at; i < at + width; i++) if (i < 0 || i >= data.length || !mask[i]) return false;
    return true;
  };
  const value = (at: number) => {
    let v = 0;
    for (let i = width - 1; i >= 0; i--) v = v * 256 + data[at + i];
    return v;
  };
  const fire = (q: number, v: number) => {
    if (common.queues[q]?.enabled) ring(q, v);
  };
  const mult = layout.notify.multiplier;
  if (mult === 0) {
    // One shared doorbell at offset 0: the value names the queue (its index, or queue_notify_data).
    if (written(-off)) fire(value(-off) & 0xffff, value(-off));
    return;
  }
  for (let q = 0; q < common.queues.length; q++) {
    const at = queueNotifyOff(q) * mult - off;
    if (written(at)) fire(q, value(at));
  }
}
