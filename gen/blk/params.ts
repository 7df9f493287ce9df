// The virtio-blk device's parameters (gen/blk/device.ts), their checks and the sizes derived from them, and the
// record of sizes and expression helpers every part of the device's generator shares (`BlkCore`).
import { cat, type Expr, lit, log2ceil, mux, paramError } from '../hdl';
import { muxTree } from '../lib/mux';
import { lineBytes } from '../dma/ports';
import { type DataWidth } from '../pcie/streams';
import { BLK_HDR_SIZE, BLK_ID_BYTES, SECTOR_SIZE } from './defs';

export interface BlkSegLimits {
  /** max_*_sectors: sectors per segment. */
  maxSectors: number;
  /** max_*_seg: segments per request. */
  maxSeg: number;
}

export interface VirtioBlkParams {
  W: DataWidth;
  queueBits: number;
  /** log2 of the device's DMA region: the storage window is its lower half (2^(devBits-1) bytes). */
  devBits: number;
  /** Bits of a device address on the DMA engines (default devBits). */
  addrBits?: number;
  /** The region's base device address (a multiple of 2^devBits, default 0). */
  base?: number;
  /** DMA command length and id widths (the engines' lenBits / idBits). */
  lenBits: number;
  idBits: number;
  /** Capacity in 512-byte sectors: at most the storage window. */
  capacity: number;
  /** seg_max: data descriptors per request (a chain may have seg_max + 2: header and status). */
  segMax: number;
  /** size_max: bytes per descriptor (below 2^lenBits). */
  sizeMax: number;
  /** VIRTIO_BLK_F_RO: every write refused. */
  readOnly?: boolean;
  /** VIRTIO_BLK_F_FLUSH offered. */
  flush?: boolean;
  /** VIRTIO_BLK_F_DISCARD offered, with its limits. */
  discard?: BlkSegLimits;
  /** VIRTIO_BLK_F_WRITE_ZEROES offered, with its limits. */
  writeZeroes?: BlkSegLimits;
  /** The identification string GET_ID returns (at most 20 bytes, NUL-padded). */
  id?: string;
  /** AXI reads in flight on the storage port. */
  storageReads?: number;
  /**
   * Requests in the device at once (received, header fetched or being fetched, served, completing): 2..32,
   * default BLK_DEFAULT_SLOTS. Each costs a few LUT RAM bits and ten registers; many hide the host's read latency.
   */
  slots?: number;
  /**
   * Bytes of an OUT's data read ahead per slot (0: none): a chain whose readable bytes are a 16-byte header in
   * descriptors of its own and at most this many data bytes, with the status byte as its only writable byte, has
   * its data read together with its header, into a staging buffer, and copied to storage once the header says it
   * is a valid OUT. A power of two, at least 512. Default BLK_DEFAULT_STAGE when the region's upper quarter holds
   * slots x 2 x stage bytes, else 0.
   */
  stage?: number;
}

/** Request slots by default: enough to keep 512-byte reads short at 1 us host latency. */
export const BLK_DEFAULT_SLOTS = 16;
/** The most request slots a build may have. */
export const BLK_MAX_SLOTS = 32;
/** Bytes of an OUT's data read ahead per slot by default (a page: Linux's 4 KiB writes). */
export const BLK_DEFAULT_STAGE = 4096;

/** Scratch layout (byte offsets in the region's upper half). */
export const BLK_SCRATCH = { capture: 0, status: 16, id: 32, image: 64 } as const;

/** Checked parameters and derived sizes. */
export function blkGeometry(p: VirtioBlkParams) {
  const addrBits = p.addrBits ?? p.devBits;
  const base = p.base ?? 0;
  const B = lineBytes(p.W);
  const lb = log2ceil(B);
  if (!Number.isInteger(p.devBits) || p.devBits < 12 || p.devBits > 48)
    throw paramError(`VirtioBlk: devBits must be 12..48, got ${p.devBits}`);
  if (addrBits < p.devBits) throw paramError(`VirtioBlk: addrBits ${addrBits} below devBits ${p.devBits}`);
  if (base % 2 ** p.devBits !== 0 || base < 0 || base + 2 ** p.devBits > 2 ** addrBits)
    throw paramError(
      `VirtioBlk: base 0x${base.toString(16)} is not a multiple of 2^${p.devBits} inside the address space`,
    );
  const window = 2 ** (p.devBits - 1);
  if (!Number.isSafeInteger(p.capacity) || p.capacity < 1 || p.capacity * SECTOR_SIZE > window)
    throw paramError(`VirtioBlk: capacity ${p.capacity} sectors does not fit the ${window}-byte storage window`);
  if (!Number.isInteger(p.segMax) || p.segMax < 1 || p.segMax > 1022)
    throw paramError(`VirtioBlk: segMax must be 1..1022, got ${p.segMax}`);
  if (!Number.isInteger(p.sizeMax) || p.sizeMax < 512 || p.sizeMax >= 2 ** p.lenBits)
    throw paramError(`VirtioBlk: sizeMax must be 512..2^lenBits-1 (${2 ** p.lenBits - 1}), got ${p.sizeMax}`);
  for (const [name, l] of [
    ['discard', p.discard],
    ['writeZeroes', p.writeZeroes],
  ] as const)
    if (l && (l.maxSeg < 1 || l.maxSeg > 256 || l.maxSectors < 1 || l.maxSectors >= 2 ** 32))
      throw paramError(`VirtioBlk: ${name} limits maxSeg 1..256, maxSectors 1..2^32-1, got ${JSON.stringify(l)}`);
  const slots = p.slots ?? BLK_DEFAULT_SLOTS;
  if (!Number.isInteger(slots) || slots < 2 || slots > BLK_MAX_SLOTS || 2 ** (p.idBits - 2) < slots)
    throw paramError(`VirtioBlk: slots must be 2..${BLK_MAX_SLOTS} (and fit idBits - 2 bits), got ${slots}`);
  // The staging buffers: slot k's at the region's upper quarter + k x 2 x stage + stage (its capture register in
  // the 16 bytes before, so one walk over a chain's readable bytes puts the header there and the data after it).
  const sb = log2ceil(slots);
  const stageFits = (n: number) => 2 ** sb * 2 * n <= window / 2 && 2 ** (p.idBits - 3) >= slots;
  const stage = p.stage ?? (stageFits(BLK_DEFAULT_STAGE) ? BLK_DEFAULT_STAGE : 0);
  if (stage !== 0 && (!Number.isInteger(stage) || stage < 512 || (stage & (stage - 1)) !== 0 || !stageFits(stage)))
    throw paramError(
      `VirtioBlk: stage ${stage} must be 0 or a power of two of at least 512 whose ${slots} slots' buffers (twice its size each) fit the ${window / 2}-byte upper quarter of the region (and the slot fit idBits - 3 bits)`,
    );
  const id = new TextEncoder().encode(p.id ?? '');
  if (id.length > BLK_ID_BYTES) throw paramError(`VirtioBlk: id '${p.id}' is longer than ${BLK_ID_BYTES} bytes`);
  // A slot's scratch: 64 bytes, or two lines when a line is wider (so one access never reaches the capture
  // registers of two slots).
  const strideBits = Math.max(6, lb + 1);
  if (slots << strideBits > window)
    throw paramError(`VirtioBlk: ${slots} slots' scratch does not fit the ${window}-byte upper half of the region`);
  if (slots << strideBits > (stage ? window / 2 : window))
    throw paramError(`VirtioBlk: ${slots} slots' scratch does not fit below the staging buffers`);
  return { addrBits, base, B, lb, lineBits: p.devBits - lb, window, descs: p.segMax + 2, id, slots, strideBits, stage };
}
export type BlkGeometry = ReturnType<typeof blkGeometry>;

/**
 * The sizes and helpers the device's parts share: plain values and expression builders, no hardware (so building
 * it first changes nothing in the module).
 */
export function blkCore(p: VirtioBlkParams) {
  const g = blkGeometry(p);
  const { B, lb, lineBits } = g;
  const W = p.W;
  const S = g.slots;
  const N = 34; // byte counts of a chain (at most 2^32, validated by the queue engine)
  const D = g.descs;
  const db = log2ceil(D);
  const sb = log2ceil(S);
  const ib = log2ceil(D + 1);
  const slotLit = (k: number) => lit(k, sb);
  // A per-slot register at a slot given by an expression: a balanced mux tree (the hdl's select is deeper).
  const atSlot = (arr: { items: readonly Expr[] }, slot: Expr) => muxTree(slot, arr.items);
  // DMA command ids: bit idBits-1 tags the front end's header reads and the status writes; the slot is in
  // the low bits; bit idBits-2 marks a header's last piece.
  // With staging (g.stage), bit idBits-3 marks the front end's data pieces (read ahead into the staging buffer),
  // for which bit idBits-2 marks the last one instead.
  const TAG = p.idBits - 1;
  const LAST = p.idBits - 2;
  const DATA = p.idBits - 3;
  const stage = g.stage;
  const flag1 = (v: Expr | number) => (typeof v === 'number' ? lit(v, 1) : v);
  const slotId = (tag: boolean, last: Expr | number, slot: Expr, data: Expr | number = 0) =>
    stage
      ? cat(lit(tag ? 1 : 0, 1), flag1(last), flag1(data), slot.zext(p.idBits - 3))
      : cat(lit(tag ? 1 : 0, 1), flag1(last), slot.zext(p.idBits - 2));
  const advanceSlot = (r: Expr) => (2 ** sb === S ? r.inc() : mux(r.eq(S - 1), slotLit(0), r.inc()));
  const scratchOff = (slot: Expr, off: number) =>
    cat(lit(1, 1), slot.zext(p.devBits - 1 - g.strideBits), lit(off, g.strideBits));
  // The capture register: at 0 of the slot's scratch, or with staging the 16 bytes before its staging buffer.
  const stageStrideBits = stage ? log2ceil(2 * stage) : 0;
  const captureAt = (slot: Expr) =>
    stage
      ? cat(lit(3, 2), slot.zext(p.devBits - 2 - stageStrideBits), lit(stage - BLK_HDR_SIZE, stageStrideBits))
      : scratchOff(slot, BLK_SCRATCH.capture);
  return {
    p,
    g,
    B,
    lb,
    lineBits,
    W,
    S,
    N,
    D,
    db,
    sb,
    ib,
    TAG,
    LAST,
    DATA,
    stage,
    stageStrideBits,
    slotLit,
    atSlot,
    slotId,
    advanceSlot,
    scratchOff,
    captureAt,
  };
}
export type BlkCore = ReturnType<typeof blkCore>;
