// The packed-ring queue engine's parameters, the layout of its device-memory region, and the codes of the
// malformed-ring cases it detects (docs/queue-engine.md, "Packed rings"). Shared by the engine's parts
// (packed_engine.ts, packed_fetch.ts, packed_used.ts), its test top and its tests.
import { intParam, log2ceil, paramError } from '../hdl';
import { lineBytes } from '../dma/ports';
import type { DataWidth } from '../pcie/streams';
import { VRING_DESC_F, VRING_PACKED_EVENT_FLAG } from '../virtio/vring';

export interface PackedEngineParams {
  W: DataWidth;
  /** Virtqueues served (1..16). */
  queues: number;
  /** Bits of a device address (the DMA engines' devBits). */
  devBits: number;
  /** The engine's region of the device address space: its base (a multiple of its size) and log2 of its size. */
  base: number;
  regionBits: number;
  /** Widths of the DMA commands' length and id fields (the DMA engines' lenBits, idBits). */
  lenBits: number;
  idBits: number;
  /** Descriptors fetched per DMA read (a power of two from max(4, W/128) up to 64). */
  batch: number;
  /** Descriptors (segments) a chain may have, indirect tables expanded: a power of two; longer is refused. */
  maxChain: number;
  /** Used elements whose writes may be in flight at once (a power of two, 2..64, at least a line of 16 bytes each). */
  usedSlots: number;
  /**
   * Used elements written together at most (1..usedSlots): elements of a queue in consecutive descriptors go
   * out as one write and the first's flags (see packed_used.ts). 1: each element its own two writes.
   */
  usedBatch: number;
  /** Cycles the oldest element not yet written waits for its batch to grow (0..1023; 0: not at all). */
  usedHold: number;
  /** Ring batches read ahead of the walker (a power of two, 2..8): reads of the ring outstanding at once. */
  ringSlots: number;
  /** Indirect tables whose first batch may be read ahead of the chain stager (a power of two, 2..16). */
  tableSlots: number;
  /** Entries of the walker-to-stager item queue (chains' segments, tables to expand, faults, in ring order). */
  itemDepth: number;
  /**
   * Write DISABLE into the device event structure while a turn finds work and keep it while chains of the queue
   * are in flight (polling the ring on notification decisions instead of waiting for kicks), ENABLE / DESC
   * and the ring read again when a queue goes idle. Off: the structure is never written (the driver always
   * kicks), as before it was done.
   */
  kickSuppression: boolean;
  /**
   * With kickSuppression: looks at a DISABLE queue's ring (polls) after a notification decision on it, or a
   * turn that found work, while its chains are in flight: up to `polls` (0..15), `pollGap` cycles (1..255)
   * apart. The driver adds buffers once it has been told of used ones (in its interrupt callback), after the
   * decision's own look has gone out: these find them, where waiting for the next decision costs a round trip.
   */
  polls: number;
  pollGap: number;
}

/** Defaults the test top and the data plane start from. */
export const PACKED_DEFAULTS = {
  batch: 8,
  maxChain: 64,
  usedSlots: 8,
  usedBatch: 4,
  usedHold: 448,
  ringSlots: 4,
  tableSlots: 16,
  itemDepth: 16,
  regionBits: 13,
  kickSuppression: true,
  polls: 4,
  pollGap: 64,
} as const;

/** Where things are in the engine's region (byte offsets from `base`). */
export interface PackedLayout {
  /** A fetch slot: `batch` descriptors (ring descriptors or indirect table entries). */
  bufBytes: number;
  /** The fetch slots, ring slots first (slot s at s * bufBytes), then table slots. */
  slots: number;
  slotsBytes: number;
  /** The driver event structure is read into these 4 bytes (a line of its own, after the slots). */
  eventOffset: number;
  /**
   * The used elements as 16-byte descriptors (address 0, len, id, flags), slot i at 16 i and again at 16 (i +
   * usedSlots); the same with every flags word as used from 32 * usedSlots (packed_used.ts).
   */
  usedOffset: number;
  /** The device event structure's word as it is written (off_wrap, flags): a line after the used views. */
  deviceEventOffset: number;
  /** Bytes of the used area as the write engine sees it (a power of two, at least two lines). */
  usedBytes: number;
}

export function packedLayout(p: PackedEngineParams): PackedLayout {
  const LB = lineBytes(p.W);
  const pow2 = (what: string, v: number, lo: number, hi: number) => {
    intParam(`PackedEngine: ${what}`, v, lo, hi);
    if (v & (v - 1)) throw paramError(`PackedEngine: ${what} must be a power of two, got ${v}`);
  };
  intParam('PackedEngine: queues', p.queues, 1, 16);
  pow2('batch', p.batch, Math.max(4, p.W / 128), 64);
  pow2('maxChain', p.maxChain, 2, 1024);
  pow2('usedSlots', p.usedSlots, Math.max(2, LB / 16), 64);
  intParam('PackedEngine: usedBatch', p.usedBatch, 1, p.usedSlots);
  intParam('PackedEngine: usedHold', p.usedHold, 0, 1023);
  pow2('ringSlots', p.ringSlots, 2, 8);
  pow2('tableSlots', p.tableSlots, 2, 16);
  intParam('PackedEngine: itemDepth', p.itemDepth, 2, 64);
  intParam('PackedEngine: polls', p.polls, 0, 15);
  intParam('PackedEngine: pollGap', p.pollGap, 1, 255);
  intParam('PackedEngine: devBits', p.devBits, p.regionBits, 48);
  // write ids: slot << 1 | which for used elements, 1 << (log2(usedSlots) + 1) for the device event structure
  intParam('PackedEngine: idBits', p.idBits, log2ceil(p.usedSlots) + 2, 32);
  intParam('PackedEngine: lenBits', p.lenBits, log2ceil(16 * p.batch + 1), 32);
  if (p.base % 2 ** p.regionBits !== 0)
    throw paramError(`PackedEngine: base 0x${p.base.toString(16)} is not a multiple of the region size`);
  const bufBytes = 16 * p.batch;
  const slots = p.ringSlots + p.tableSlots;
  const slotsBytes = slots * bufBytes;
  const usedBytes = 2 ** log2ceil(64 * p.usedSlots + LB);
  const half = 2 ** (p.regionBits - 1);
  if (slotsBytes + LB > half || usedBytes > half)
    throw paramError(
      `PackedEngine: regionBits ${p.regionBits} is too small: the fetch slots and event line need ` +
        `${slotsBytes + LB} bytes and the used area ${usedBytes}, each in half of the region`,
    );
  return {
    bufBytes,
    slots,
    slotsBytes,
    eventOffset: slotsBytes,
    usedOffset: half,
    deviceEventOffset: half + 64 * p.usedSlots,
    usedBytes,
  };
}

/**
 * Why the engine stopped a queue (`fatal_code`, with `fatal_error`): the golden model's RingErrorKind where
 * one applies (tb/virtio/ring/device.ts), and the engine's own limit.
 */
export const PackedFault = {
  NONE: 0,
  /** A descriptor of a chain after the first is not available (desc-not-available). */
  DESC_NOT_AVAILABLE: 1,
  /** More ring descriptors than the queue size, or an indirect table longer than it (chain-too-long). */
  CHAIN_TOO_LONG: 2,
  INDIRECT_NOT_NEGOTIATED: 3,
  INDIRECT_WITH_NEXT: 4,
  /** An indirect table of 0 bytes or not a multiple of 16. */
  INDIRECT_BAD_LENGTH: 5,
  INDIRECT_IN_INDIRECT: 6,
  READABLE_AFTER_WRITABLE: 7,
  /** More than 2^32 bytes in a chain. */
  CHAIN_TOO_BIG: 8,
  /** A DMA read or write of the ring, a table or the event structure failed (dma-fault). */
  DMA_FAULT: 9,
  /** IN_ORDER: a buffer id other than its head's ring position. */
  IN_ORDER_VIOLATION: 10,
  /** More segments than the engine's `maxChain` (a limit of this engine, not of the spec). */
  MAX_CHAIN: 11,
} as const;
export const PACKED_FAULT_BITS = 4;

/** Descriptor flag bits (virtio 1.2 2.8.1 / Linux virtio_ring.h; the one copy is gen/virtio/vring.ts). */
export const DESC_F = VRING_DESC_F;
/** Packed event suppression flags. */
export const EVENT_FLAG = VRING_PACKED_EVENT_FLAG;
