// Request generators for the whole virtio-blk function's runs (system.ts): each call prepares one request's data
// buffers in host memory (device-writable for reads and GET_ID, device-readable and filled for writes) and names
// its operation, or returns null when it cannot make one now (every range it tried overlaps a request in flight
// in a way that would make the golden comparison depend on the device's completion order; see system.ts).
import type { HostMemory, Region } from '../../pcie/hostmem';
import type { Rng } from '../../../sim/random';
import type { Sg } from '../ring/defs';
import { SECTOR_SIZE } from './defs';
import type { BlkOp } from './driver';
import type { BlkLimits } from './device';

/** A request ready to submit: its operation and the data buffers it owns (unmapped once it is checked). */
export interface PreparedRequest {
  readonly op: BlkOp;
  readonly buffers: readonly Region[];
}

/** What a generator may look at. */
export interface WorkloadContext {
  readonly mem: HostMemory;
  readonly rng: Rng;
  /** Sectors of the disk. */
  readonly capacity: number;
  /** seg_max: data descriptors per request. */
  readonly segMax: number;
  /** The limits of the negotiated DISCARD / WRITE_ZEROES (undefined when not negotiated). */
  readonly discard?: BlkLimits;
  readonly writeZeroes?: BlkLimits;
  /**
   * Whether a request on sectors [sector, sector + n) that writes the disk (`mutates`) or only reads it would
   * overlap a request in flight so that the order of the two matters (any overlap with a writing request).
   */
  conflicts(sector: number, n: number, mutates: boolean): boolean;
}

export type Workload = (ctx: WorkloadContext) => PreparedRequest | null;

/** Candidate ranges a generator tries before it gives up for now. */
const TRIES = 8;

/** `total` bytes cut into 1..maxBufs buffers at random byte offsets, each at any byte alignment. */
function buffers(
  ctx: WorkloadContext,
  total: number,
  maxBufs: number,
  write: boolean,
): { bufs: Sg[]; regions: Region[] } {
  const { rng, mem } = ctx;
  const nb = rng.int(1, Math.max(1, Math.min(maxBufs, ctx.segMax)));
  const cuts = [0, ...Array.from({ length: nb - 1 }, () => rng.int(1, total - 1)), total].sort((x, y) => x - y);
  const bufs: Sg[] = [];
  const regions: Region[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const len = cuts[i + 1] - cuts[i];
    if (len === 0) continue;
    const g = mem.alloc(len, { perm: write ? 'ro' : 'wo', align: 1 });
    if (write) g.write(0, rng.bytes(len));
    bufs.push({ addr: g.addr, len });
    regions.push(g);
  }
  return { bufs, regions };
}

/**
 * The randomized mix: reads and writes of 1..16 sectors in 1..3 buffers at any byte alignment (half the
 * requests), FLUSH, GET_ID, DISCARD and WRITE_ZEROES of random ranges (those not negotiated complete UNSUPP),
 * on sectors [window.from, window.to) (default the whole disk; at least 16 sectors).
 */
export function randomWorkload(window?: { from: number; to: number }): Workload {
  return (ctx) => {
    const { rng } = ctx;
    const from = window?.from ?? 0;
    const to = window?.to ?? ctx.capacity;
    if (from < 0 || to > ctx.capacity || to - from < 16)
      throw new RangeError(`workload: window ${from}..${to} is not 16 sectors or more of the ${ctx.capacity}`);
    const k = rng.int(0, 9);
    if (k === 5) return { op: { type: 'flush' }, buffers: [] };
    if (k === 6) {
      const g = ctx.mem.alloc(20, { perm: 'wo', align: 1 });
      return { op: { type: 'get-id', buf: { addr: g.addr, len: 20 } }, buffers: [g] };
    }
    if (k <= 4) {
      const write = k <= 1;
      const sectors = rng.int(1, 16);
      for (let t = 0; t < TRIES; t++) {
        const sector = rng.int(from, to - sectors);
        if (ctx.conflicts(sector, sectors, write)) continue;
        const { bufs, regions } = buffers(ctx, sectors * SECTOR_SIZE, 3, write);
        return { op: { type: write ? 'write' : 'read', sector: BigInt(sector), bufs }, buffers: regions };
      }
      return null;
    }
    const type = k === 7 ? 'discard' : 'write-zeroes';
    // Not negotiated: the device answers UNSUPP without touching the disk; any range will do.
    const lim = (type === 'discard' ? ctx.discard : ctx.writeZeroes) ?? { maxSectors: 16, maxSeg: 1 };
    for (let t = 0; t < TRIES; t++) {
      const sector = rng.int(from, to - 1);
      const n = rng.int(1, Math.min(to - sector, lim.maxSectors));
      if (ctx.conflicts(sector, n, true)) continue;
      return { op: { type, ranges: [{ sector: BigInt(sector), numSectors: n }] }, buffers: [] };
    }
    return null;
  };
}

/**
 * Reads or writes of `bytes` each (a multiple of 512) in one buffer, at consecutive disk ranges that wrap at the
 * capacity (the benchmark's stream); buffers 4 KiB-aligned, written data random.
 */
export function sequentialWorkload(type: 'read' | 'write', bytes: number): Workload {
  if (bytes <= 0 || bytes % SECTOR_SIZE) throw new RangeError(`workload: ${bytes} bytes is not whole sectors`);
  const sectors = bytes / SECTOR_SIZE;
  let next = 0;
  // Write data: a window of one random pool per workload, each request's at its own offset (a multiple of 4 bytes
  // up to 4 KiB, 1024 in turn), so neighbouring requests never carry the same bytes; drawing 4 KiB per request was
  // a visible share of the virtio-blk bench's TypeScript time.
  let pool: Uint8Array | undefined;
  let written = 0;
  return (ctx) => {
    if (sectors > ctx.capacity) throw new RangeError(`workload: ${sectors} sectors do not fit ${ctx.capacity}`);
    if (next + sectors > ctx.capacity) next = 0;
    if (ctx.conflicts(next, sectors, type === 'write')) return null;
    const sector = next;
    next += sectors;
    const g = ctx.mem.alloc(bytes, { perm: type === 'write' ? 'ro' : 'wo', align: 4096 });
    if (type === 'write') {
      pool ??= ctx.rng.bytes(bytes + 4096);
      const at = (written++ * 148) % 4096;
      g.write(0, pool.subarray(at, at + bytes));
    }
    return { op: { type, sector: BigInt(sector), bufs: [{ addr: g.addr, len: bytes }] }, buffers: [g] };
  };
}
