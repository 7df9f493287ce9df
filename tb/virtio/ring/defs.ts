// The virtqueue formats as virtio 1.2 (split-ring.tex, packed-ring.tex) and Linux's include/uapi/linux/virtio_ring.h
// define them: flag bits, structure sizes and offsets, the event-index arithmetic, and which negotiated features
// change how a ring is used. The driver model (split.ts, packed.ts) and the device model (device.ts) share them;
// the flag bits are gen/virtio/vring.ts's (the one copy, shared with the RTL).
import { featureDef } from '../../../gen/virtio/regmap';
import { VRING_DESC_F, VRING_PACKED_EVENT_FLAG, VRING_SPLIT_F } from '../../../gen/virtio/vring';

/** Descriptor flags (both formats), as masks of gen/virtio/vring.ts's bits. */
export const VRING_DESC_F_NEXT: number = 1 << VRING_DESC_F.NEXT;
export const VRING_DESC_F_WRITE: number = 1 << VRING_DESC_F.WRITE;
export const VRING_DESC_F_INDIRECT: number = 1 << VRING_DESC_F.INDIRECT;
/** Packed descriptors: the avail and used flag bits (bit numbers 7 and 15). */
export const VRING_PACKED_DESC_F_AVAIL: number = VRING_DESC_F.AVAIL;
export const VRING_PACKED_DESC_F_USED: number = VRING_DESC_F.USED;
export const PACKED_AVAIL: number = 1 << VRING_PACKED_DESC_F_AVAIL;
export const PACKED_USED: number = 1 << VRING_PACKED_DESC_F_USED;

/** Split: avail->flags bit (the driver does not want used buffer notifications). */
export const VRING_AVAIL_F_NO_INTERRUPT: number = 1 << VRING_SPLIT_F.AVAIL_NO_INTERRUPT;
/** Split: used->flags bit (the device does not want available buffer notifications). */
export const VRING_USED_F_NO_NOTIFY: number = 1 << VRING_SPLIT_F.USED_NO_NOTIFY;

/** Packed event suppression structure: flags values and the wrap-counter bit of off_wrap. */
export const VRING_PACKED_EVENT_FLAG_ENABLE: number = VRING_PACKED_EVENT_FLAG.ENABLE;
export const VRING_PACKED_EVENT_FLAG_DISABLE: number = VRING_PACKED_EVENT_FLAG.DISABLE;
export const VRING_PACKED_EVENT_FLAG_DESC: number = VRING_PACKED_EVENT_FLAG.DESC;
export const VRING_PACKED_EVENT_F_WRAP_CTR = 15;

/** Bytes of one descriptor (struct vring_desc and struct vring_packed_desc alike). */
export const DESC_SIZE = 16;
/** Bytes of one used element (struct vring_used_elem). */
export const USED_ELEM_SIZE = 8;
/** The largest queue: 2^15 (packed rings keep the wrap counter in bit 15 of 16-bit indices). */
export const MAX_QUEUE_SIZE = 32768;

/**
 * vring_need_event (virtio_ring.h): whether moving an index from `old` to `newIdx` (16-bit, wrapping) passed
 * `eventIdx`, i.e. whether the other side asked to be told when the entry at `eventIdx` was written.
 */
export function vringNeedEvent(eventIdx: number, newIdx: number, old: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - old) & 0xffff);
}

/** Offsets of the split ring's parts relative to each area's base address. */
export const SPLIT = {
  /** Descriptor table entry i: addr (8), len (4), flags (2), next (2). */
  desc: (i: number) => DESC_SIZE * i,
  availFlags: 0,
  availIdx: 2,
  availRing: (i: number) => 4 + 2 * i,
  /** used_event: after the num ring entries of the available ring. */
  usedEvent: (num: number) => 4 + 2 * num,
  usedFlags: 0,
  usedIdx: 2,
  usedRing: (i: number) => 4 + USED_ELEM_SIZE * i,
  /** avail_event: after the num elements of the used ring. */
  availEvent: (num: number) => 4 + USED_ELEM_SIZE * num,
} as const;

/** Bytes of each split-ring area for `num` entries, the event fields included (vring_size's parts). */
export function splitAreaSizes(num: number): { desc: number; avail: number; used: number } {
  return { desc: DESC_SIZE * num, avail: 6 + 2 * num, used: 6 + USED_ELEM_SIZE * num };
}

/** Offsets in a packed descriptor: addr (8), len (4), id (2), flags (2). */
export const PACKED = { addr: 0, len: 8, id: 12, flags: 14 } as const;
/** Bytes of each event suppression structure (struct vring_packed_desc_event: off_wrap, flags). */
export const PACKED_EVENT_SIZE = 4;

/** The negotiated features that change how a ring is used. */
export interface RingFeatures {
  /** VIRTIO_F_RING_PACKED */
  readonly packed: boolean;
  /** VIRTIO_F_INDIRECT_DESC (VIRTIO_RING_F_INDIRECT_DESC) */
  readonly indirect: boolean;
  /** VIRTIO_F_EVENT_IDX (VIRTIO_RING_F_EVENT_IDX) */
  readonly eventIdx: boolean;
  /** VIRTIO_F_IN_ORDER */
  readonly inOrder: boolean;
}

/** The ring features of a negotiated feature mask (the bits come from the one feature table, gen/virtio/regmap). */
export function ringFeatures(negotiated: bigint): RingFeatures {
  const has = (name: string) => ((negotiated >> BigInt(featureDef(name, 'blk').bit)) & 1n) === 1n;
  return {
    packed: has('VIRTIO_F_RING_PACKED'),
    indirect: has('VIRTIO_F_INDIRECT_DESC'),
    eventIdx: has('VIRTIO_F_EVENT_IDX'),
    inOrder: has('VIRTIO_F_IN_ORDER'),
  };
}

/** A short name for a feature combination, for test names and messages ("packed+indirect+event_idx"). */
export function ringFeaturesName(f: RingFeatures): string {
  const parts = [f.packed ? 'packed' : 'split'];
  if (f.indirect) parts.push('indirect');
  if (f.eventIdx) parts.push('event_idx');
  if (f.inOrder) parts.push('in_order');
  return parts.join('+');
}

/** One element of a scatter list: `len` bytes at host address `addr`. */
export interface Sg {
  readonly addr: bigint;
  readonly len: number;
}

/** The addresses of a queue's three areas, as the driver programs queue_desc / queue_driver / queue_device. */
export interface RingAddresses {
  readonly num: number;
  readonly desc: bigint;
  readonly driver: bigint;
  readonly device: bigint;
}

/** Checks a queue size for a format: packed any size from 1 to 32768, split a power of two up to 32768. */
export function checkQueueSize(num: number, packed: boolean): void {
  if (!Number.isInteger(num) || num < 1 || num > MAX_QUEUE_SIZE)
    throw new RangeError(`virtqueue: queue size ${num} is not in 1..${MAX_QUEUE_SIZE}`);
  if (!packed && num & (num - 1))
    throw new RangeError(`virtqueue: split queue size ${num} is not a power of two (vring_alloc_queue_split)`);
}
