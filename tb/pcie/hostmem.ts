/**
 * Host memory as the device sees it through the root complex: a sparse 64-bit address space
 * made of regions, each with an IOMMU-like permission for device DMA.
 *
 *  - `alloc(size, opts)` places a region in a free part of the address space (natural
 *    alignment, a guard gap after it so overruns hit unmapped space), backed by memory the
 *    model owns (lazily paged for big regions, so a 1 GB region costs nothing until touched).
 *  - `map(addr, buffer, perm)` maps a caller-provided buffer (an ArrayBuffer, a Node Buffer,
 *    a SharedArrayBuffer mapped from another process's shared memory...) without copying:
 *    device writes land in it, and the owner's writes are seen by device reads.
 *  - CPU-side helpers (`read`, `write`, `readU32`, ...) ignore permissions: they are the host.
 *  - Device-side access (`dmaRead`, `dmaWrite`) checks that every byte lies in a region whose
 *    permission allows the direction, else throws a DmaFault naming address, length and region.
 *
 * Permissions are from the device's point of view: 'ro' = the device may read (host-to-device
 * buffers), 'wo' = the device may write (device-to-host buffers), 'rw', 'none'.
 */

import { PagedBytes, firstDifference } from '../lib/paged_bytes';

export type Perm = 'rw' | 'ro' | 'wo' | 'none';
export type Addr = bigint | number;

const PAGE = 1 << 16;
const ADDRESS_LIMIT = 1n << 64n;
/**
 * Regions ending at or below this are also located in number arithmetic (exact below 2^53): a BigInt operation
 * allocates, and the root complex locates every DMA (see `Region.safe`).
 */
const SAFE_END = BigInt(Number.MAX_SAFE_INTEGER);
const hex = (v: bigint): string => `0x${v.toString(16)}`;

export function toAddr(a: Addr): bigint {
  if (typeof a === 'bigint') {
    if (a < 0n || a >= ADDRESS_LIMIT) throw new RangeError(`hostmem: address ${a} is not a 64-bit address`);
    return a;
  }
  if (!Number.isSafeInteger(a) || a < 0) throw new RangeError(`hostmem: address ${a} is not a non-negative integer`);
  return BigInt(a);
}

function checkLen(n: number, what = 'length'): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`hostmem: ${what} ${n} is not a non-negative integer`);
  return n;
}

/** Storage behind a region. */
interface Backing {
  read(off: number, out: Uint8Array): void;
  write(off: number, src: Uint8Array, mask?: Uint8Array): void;
  /** Index of the first byte from `off` on that differs from `data`, or -1. */
  firstDifference(off: number, data: Uint8Array): number;
  /** A live view when the storage is contiguous. */
  view?: Uint8Array;
}

class FlatBacking implements Backing {
  constructor(readonly view: Uint8Array) {}
  read(off: number, out: Uint8Array): void {
    const n = out.length;
    // a few bytes (ring indices, flags) by hand: a subarray() per read costs more than the copy
    if (n <= 16) for (let i = 0; i < n; i++) out[i] = this.view[off + i];
    else out.set(this.view.subarray(off, off + n));
  }
  write(off: number, src: Uint8Array, mask?: Uint8Array): void {
    if (!mask) {
      this.view.set(src, off);
      return;
    }
    for (let i = 0; i < src.length; i++) if (mask[i]) this.view[off + i] = src[i];
  }
  firstDifference(off: number, data: Uint8Array): number {
    return firstDifference(this.view, off, data, 0, data.length);
  }
}

/** One mapping of the address space. */
export class Region {
  /** Device-side permission; change it with HostMemory.protect() or directly. */
  perm: Perm;
  /** One past the last byte. */
  readonly end: bigint;
  /** `end` at most 2^53 - 1: `addrNum` and `endNum` are `addr` and `end` exactly, as numbers (else NaN). */
  readonly safe: boolean;
  readonly addrNum: number;
  readonly endNum: number;
  constructor(
    readonly addr: bigint,
    readonly size: number,
    readonly name: string,
    perm: Perm,
    /** @internal */ readonly backing: Backing,
    /** True when the storage is a caller's buffer (map()) rather than the model's (alloc()). */
    readonly external: boolean,
  ) {
    this.perm = perm;
    this.end = addr + BigInt(size);
    this.safe = this.end <= SAFE_END;
    this.addrNum = this.safe ? Number(addr) : NaN;
    this.endNum = this.safe ? Number(this.end) : NaN;
  }
  contains(addr: bigint, len = 1): boolean {
    return addr >= this.addr && addr + BigInt(len) <= this.end;
  }
  /** Live byte view of the whole region (contiguous storage only: map(), or alloc() below the lazy threshold). */
  get bytes(): Uint8Array {
    if (!this.backing.view)
      throw new Error(`hostmem: region ${this.describe()} is lazily paged and has no contiguous view; use read/write`);
    return this.backing.view;
  }
  /** Bytes at an offset into the region (a copy). */
  read(offset: number, len: number): Uint8Array {
    this.checkRange(offset, len);
    const out = new Uint8Array(len);
    this.backing.read(offset, out);
    return out;
  }
  write(offset: number, data: Uint8Array): void {
    this.checkRange(offset, data.length);
    this.backing.write(offset, data);
  }
  /** Address of an offset into the region. */
  at(offset: number): bigint {
    this.checkRange(offset, 0);
    return this.addr + BigInt(offset);
  }
  describe(): string {
    return `"${this.name}" [${hex(this.addr)}..${hex(this.end)}) ${this.perm}`;
  }
  private checkRange(offset: number, len: number): void {
    checkLen(offset, 'offset');
    checkLen(len);
    if (offset + len > this.size)
      throw new RangeError(
        `hostmem: ${len} bytes at offset ${offset} exceed region ${this.describe()} of ${this.size} bytes`,
      );
  }
}

export interface AllocOptions {
  /** Alignment (power of two). Default: 4096 (1 with `at`). */
  align?: number;
  /** Device permission. Default 'rw'. */
  perm?: Perm;
  name?: string;
  /** Place it at or above 4 GB (device must use 4DW headers). Default false. */
  above4G?: boolean;
  /** A fixed address instead of the allocator's choice. */
  at?: Addr;
}

export interface HostMemOptions {
  /** Allocation window below 4 GB (default 0x1000_0000..0xC000_0000, under the MMIO hole). */
  lowBase?: Addr;
  lowLimit?: Addr;
  /** Allocation window above 4 GB (default from 0x8_0000_0000). */
  highBase?: Addr;
  /** Unmapped bytes left after each allocation so overruns fault. Default 4096. */
  guardGap?: number;
  /** Regions of at least this many bytes are lazily paged. Default 16 MB. */
  lazyThreshold?: number;
}

/** What a device access violated. */
export class DmaFault extends Error {
  constructor(
    readonly kind: 'unmapped' | 'permission',
    readonly dir: 'read' | 'write',
    readonly addr: bigint,
    readonly length: number,
    /** The region involved (for 'permission'), or the nearest one (for 'unmapped'), if any. */
    readonly region: Region | undefined,
    /** The first byte that faulted. */
    readonly faultAddr: bigint,
    context?: string,
  ) {
    const what = `DMA ${dir} of ${length} byte${length === 1 ? '' : 's'} at ${hex(addr)}`;
    const why =
      kind === 'permission'
        ? `region ${region!.describe()} does not allow device ${dir}s`
        : `byte ${hex(faultAddr)} is outside every granted region` +
          (region ? ` (nearest: ${region.describe()})` : ' (nothing is mapped)');
    super(`${what}: ${why}${context ? ` [${context}]` : ''}`);
    this.name = 'DmaFault';
  }
}

/** A sparse 64-bit address space of permission-checked regions. */
export class HostMemory {
  private list: Region[] = []; // sorted by addr, non-overlapping
  private lowNext: bigint;
  private readonly lowLimit: bigint;
  private highNext: bigint;
  private readonly gap: bigint;
  private readonly lazyThreshold: number;
  private counter = 0;
  /** The region find() returned last: DMA streams through one buffer at a time. */
  private recent: Region | undefined;
  /** Regions mapped whose end is beyond 2^53 - 1 (Region.safe false): while there are none, find() compares numbers. */
  private unsafe = 0;

  constructor(opts: HostMemOptions = {}) {
    this.lowNext = toAddr(opts.lowBase ?? 0x1000_0000n);
    this.lowLimit = toAddr(opts.lowLimit ?? 0xc000_0000n);
    this.highNext = toAddr(opts.highBase ?? 0x8_0000_0000n);
    this.gap = BigInt(checkLen(opts.guardGap ?? 4096, 'guardGap'));
    this.lazyThreshold = opts.lazyThreshold ?? 16 << 20;
  }

  /** All regions, by address. */
  get regions(): readonly Region[] {
    return this.list;
  }

  /** Allocates a zeroed region owned by the model. */
  alloc(size: number, opts: AllocOptions = {}): Region {
    checkLen(size, 'size');
    if (size === 0) throw new RangeError('hostmem: cannot allocate 0 bytes');
    const align = opts.align ?? (opts.at !== undefined ? 1 : 4096);
    if (!Number.isSafeInteger(align) || align < 1 || (align & (align - 1)) !== 0)
      throw new RangeError(`hostmem: alignment ${align} is not a power of two`);
    const a = BigInt(align);
    const name = opts.name ?? `alloc${this.counter++}`;
    let addr: bigint;
    if (opts.at !== undefined) {
      addr = toAddr(opts.at);
      if (addr % a !== 0n) throw new RangeError(`hostmem: ${name}: address ${hex(addr)} is not aligned to ${align}`);
    } else {
      // Skip forward past any region placed with `at` or map().
      let next = opts.above4G ? this.highNext : this.lowNext;
      for (;;) {
        addr = (next + a - 1n) & ~(a - 1n);
        const clash = this.overlapping(addr, BigInt(size));
        if (!clash) break;
        next = clash.end + this.gap;
      }
      const end = addr + BigInt(size);
      if (!opts.above4G && end > this.lowLimit)
        throw new RangeError(
          `hostmem: ${name}: the window below 4 GB is full (${size} bytes do not fit below ${hex(this.lowLimit)})`,
        );
      if (end > ADDRESS_LIMIT) throw new RangeError(`hostmem: ${name}: the address space is full`);
      if (opts.above4G) this.highNext = end + this.gap;
      else this.lowNext = end + this.gap;
    }
    const backing = size >= this.lazyThreshold ? new PagedBytes(PAGE) : new FlatBacking(new Uint8Array(size));
    // placed by the allocator: the search above found it clear of every region
    return this.insert(new Region(addr, size, name, opts.perm ?? 'rw', backing, false), opts.at === undefined);
  }

  /**
   * Maps a caller's buffer at `addr` (no copy; the region aliases the buffer). A typed-array
   * view maps exactly the bytes it views.
   */
  map(addr: Addr, buffer: ArrayBufferLike | ArrayBufferView, perm: Perm = 'rw', name?: string): Region {
    const view = ArrayBuffer.isView(buffer)
      ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
      : new Uint8Array(buffer);
    if (view.length === 0) throw new RangeError('hostmem: cannot map an empty buffer');
    return this.insert(
      new Region(toAddr(addr), view.length, name ?? `map${this.counter++}`, perm, new FlatBacking(view), true),
    );
  }

  /** Removes a region (by object or by any address inside it). */
  unmap(r: Region | Addr): void {
    const region = r instanceof Region ? r : this.find(r);
    // Regions are sorted and disjoint: the one ending after its start is it, if it is mapped.
    const at = region ? this.firstEndingAfter(region.addr) : -1;
    const i = at >= 0 && this.list[at] === region ? at : -1;
    if (i < 0) throw new Error(`hostmem: unmap: ${r instanceof Region ? r.describe() : hex(toAddr(r))} is not mapped`);
    this.list.splice(i, 1);
    if (!region!.safe) this.unsafe--;
    if (this.recent === region) this.recent = undefined;
  }

  /** Changes a region's device permission (the IOMMU mapping). */
  protect(r: Region | Addr, perm: Perm): void {
    const region = r instanceof Region ? r : this.find(r);
    if (!region || !this.list.includes(region))
      throw new Error(`hostmem: protect: ${r instanceof Region ? r.describe() : hex(toAddr(r))} is not mapped`);
    region.perm = perm;
  }

  /** The region holding `addr`, if any. */
  find(addr: Addr): Region | undefined {
    const a = toAddr(addr);
    if (this.unsafe === 0) return this.findNum(Number(a));
    const recent = this.recent;
    if (recent !== undefined && a >= recent.addr && a < recent.end) return recent;
    let lo = 0;
    let hi = this.list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.list[mid];
      if (a < r.addr) hi = mid - 1;
      else if (a >= r.end) lo = mid + 1;
      else return (this.recent = r);
    }
    return undefined;
  }

  /**
   * find() while every region is safe: `n` is the address as a number, exact below 2^53; an address from 2^53 on
   * rounds to 2^53 or more, which is beyond every region's end, so it is found in none, as it should be.
   */
  private findNum(n: number): Region | undefined {
    const recent = this.recent;
    if (recent !== undefined && n >= recent.addrNum && n < recent.endNum) return recent;
    const list = this.list;
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = list[mid];
      if (n < r.addrNum) hi = mid - 1;
      else if (n >= r.endNum) lo = mid + 1;
      else return (this.recent = r);
    }
    return undefined;
  }

  /** Offset of address `a` (inside region `r`) from the region's start. */
  private offsetIn(r: Region, a: bigint): number {
    return r.safe ? Number(a) - r.addrNum : Number(a - r.addr);
  }

  // ---- CPU-side access (no permission checks; every byte must be mapped) ----

  read(addr: Addr, len: number): Uint8Array {
    const out = new Uint8Array(checkLen(len));
    this.readInto(addr, out);
    return out;
  }
  /** Fills `out` with the bytes from `addr` on. */
  readInto(addr: Addr, out: Uint8Array): void {
    const a = toAddr(addr);
    const r = this.within(a, out.length);
    if (r) r.backing.read(this.offsetIn(r, a), out);
    else this.segments(a, out.length, (r, off, pos, n) => r.backing.read(off, out.subarray(pos, pos + n)), 'host read');
  }
  /**
   * Index of the first byte of `data` that differs from memory at `addr` on, or -1 if all are equal: read(addr,
   * data.length) compared with `data`, without the copy (the golden model's comparisons run per request).
   */
  firstDifference(addr: Addr, data: Uint8Array): number {
    const a = toAddr(addr);
    const r = this.within(a, data.length);
    if (r) return r.backing.firstDifference(this.offsetIn(r, a), data);
    let at = -1;
    this.segments(
      a,
      data.length,
      (r, off, pos, n) => {
        if (at < 0) {
          const k = r.backing.firstDifference(off, data.subarray(pos, pos + n));
          if (k >= 0) at = pos + k;
        }
      },
      'host compare',
    );
    return at;
  }
  write(addr: Addr, data: Uint8Array): void {
    const a = toAddr(addr);
    const r = this.within(a, data.length);
    if (r) r.backing.write(this.offsetIn(r, a), data);
    else
      this.segments(
        a,
        data.length,
        (r, off, pos, n) => r.backing.write(off, data.subarray(pos, pos + n)),
        'host write',
      );
  }
  fill(addr: Addr, len: number, value = 0): void {
    this.write(addr, new Uint8Array(checkLen(len)).fill(value));
  }
  // The small reads and writes go through read() and write(), which tests hook to see a driver's access order.
  readU8(addr: Addr): number {
    return this.read(addr, 1)[0];
  }
  readU16(addr: Addr): number {
    const b = this.read(addr, 2);
    return b[0] | (b[1] << 8);
  }
  readU32(addr: Addr): number {
    const b = this.read(addr, 4);
    return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  }
  readU64(addr: Addr): bigint {
    return leToBigint(this.read(addr, 8));
  }
  writeU8(addr: Addr, v: number): void {
    this.write(addr, smallLeBytes(v, 1));
  }
  writeU16(addr: Addr, v: number): void {
    this.write(addr, smallLeBytes(v, 2));
  }
  writeU32(addr: Addr, v: number): void {
    this.write(addr, smallLeBytes(v, 4));
  }
  writeU64(addr: Addr, v: bigint | number): void {
    if (typeof v === 'number') return this.write(addr, leBytes(BigInt(v), 8));
    // two 32-bit halves: two BigInt operations rather than two per byte (the drivers write descriptors' addresses)
    const lo = Number(BigInt.asUintN(32, v));
    const hi = Number(BigInt.asUintN(32, v >> 32n));
    const out = new Uint8Array(8);
    for (let i = 0; i < 4; i++) {
      out[i] = (lo >>> (8 * i)) & 0xff;
      out[4 + i] = (hi >>> (8 * i)) & 0xff;
    }
    this.write(addr, out);
  }

  // ---- Device-side access (permission-checked) ----

  /** Why a device access would fault, or null if it is allowed. */
  checkDma(dir: 'read' | 'write', addr: bigint, len: number): DmaFault | null {
    let a = addr;
    const end = addr + BigInt(len);
    while (a < end) {
      const r = this.find(a);
      if (!r) return new DmaFault('unmapped', dir, addr, len, this.nearest(a), a);
      if (!permits(r.perm, dir)) return new DmaFault('permission', dir, addr, len, r, a);
      a = r.end;
    }
    return null;
  }

  /** A device read: throws DmaFault (with `context`, e.g. the TLP) unless every byte is readable by the device. */
  dmaRead(addr: Addr, len: number, context?: string): Uint8Array {
    const a = toAddr(addr);
    checkLen(len);
    // Permissions before the allocation: a bogus length (a corrupt descriptor's 4 GB) is a fault, not an allocation.
    const r = this.within(a, len);
    if (r === undefined || !permits(r.perm, 'read')) {
      const f = this.checkDma('read', a, len);
      if (f) throw withContext(f, context);
    }
    const out = new Uint8Array(len);
    if (r !== undefined && permits(r.perm, 'read')) r.backing.read(this.offsetIn(r, a), out);
    else this.readInto(a, out);
    return out;
  }

  /** dmaRead() into `out` (its length is the length read). */
  dmaReadInto(addr: Addr, out: Uint8Array, context?: string): void {
    const a = toAddr(addr);
    // The common case first: one region holds it all and lets the device read.
    const r = this.within(a, out.length);
    if (r !== undefined && permits(r.perm, 'read')) {
      r.backing.read(this.offsetIn(r, a), out);
      return;
    }
    const f = this.checkDma('read', a, out.length);
    if (f) throw withContext(f, context);
    this.readInto(a, out);
  }

  /** A device write, optionally with a per-byte enable mask (bytes whose mask is 0 are left alone). */
  dmaWrite(addr: Addr, data: Uint8Array, mask?: Uint8Array, context?: string): void {
    const a = toAddr(addr);
    const r = this.within(a, data.length);
    if (r !== undefined && permits(r.perm, 'write')) {
      r.backing.write(this.offsetIn(r, a), data, mask);
      return;
    }
    const f = this.checkDma('write', a, data.length);
    if (f) throw withContext(f, context);
    this.segments(
      a,
      data.length,
      (r, off, pos, n) => r.backing.write(off, data.subarray(pos, pos + n), mask?.subarray(pos, pos + n)),
      'dma write',
    );
  }

  // ---- internals ----

  private insert(region: Region, clear = false): Region {
    const clash = clear ? undefined : this.overlapping(region.addr, BigInt(region.size));
    if (clash) throw new RangeError(`hostmem: ${region.describe()} overlaps ${clash.describe()}`);
    if (region.end > ADDRESS_LIMIT)
      throw new RangeError(`hostmem: ${region.describe()} runs past the 64-bit address space`);
    // The overlap check above found none: the region goes where the first region after it is.
    this.list.splice(this.firstEndingAfter(region.addr), 0, region);
    if (!region.safe) this.unsafe++;
    return region;
  }

  /** The first region overlapping [addr, addr + size). A binary search: regions are sorted and disjoint, so their
   * ends are sorted too (the driver models allocate several buffers per request: a scan was a visible cost). */
  private overlapping(addr: bigint, size: bigint): Region | undefined {
    const list = this.list;
    const lo = this.firstEndingAfter(addr);
    return lo < list.length && list[lo].addr < addr + size ? list[lo] : undefined;
  }

  /** Index of the first region that ends after `addr` (the list's length if none does). */
  private firstEndingAfter(addr: bigint): number {
    const list = this.list;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].end <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private nearest(a: bigint): Region | undefined {
    let best: Region | undefined;
    let dist = -1n;
    for (const r of this.list) {
      const d = a < r.addr ? r.addr - a : a - r.end + 1n;
      if (dist < 0n || d < dist) {
        best = r;
        dist = d;
      }
    }
    return best;
  }

  /** The region holding all `len` bytes from `addr`, if one does (the common case: no need to cut the access into segments). */
  private within(addr: bigint, len: number): Region | undefined {
    const r = this.find(addr);
    if (r === undefined) return undefined;
    if (r.safe) return Number(addr) + len <= r.endNum ? r : undefined;
    return addr + BigInt(len) <= r.end ? r : undefined;
  }

  private segments(
    addr: bigint,
    len: number,
    f: (r: Region, off: number, pos: number, n: number) => void,
    what: string,
  ): void {
    let pos = 0;
    while (pos < len) {
      const a = addr + BigInt(pos);
      const r = this.find(a);
      if (!r) throw new RangeError(`hostmem: ${what} of ${len} bytes at ${hex(addr)}: byte ${hex(a)} is not mapped`);
      const off = this.offsetIn(r, a);
      const n = Math.min(len - pos, r.size - off);
      f(r, off, pos, n);
      pos += n;
    }
  }
}

/** Whether a region's permission lets the device access it in that direction. */
function permits(perm: Perm, dir: 'read' | 'write'): boolean {
  return perm === 'rw' || perm === (dir === 'read' ? 'ro' : 'wo');
}

function withContext(f: DmaFault, context?: string): DmaFault {
  return context ? new DmaFault(f.kind, f.dir, f.addr, f.length, f.region, f.faultAddr, context) : f;
}

/** Little-endian bytes of a value (two's complement for negatives). */
export function leBytes(v: bigint, n: number): Uint8Array {
  let x = BigInt.asUintN(8 * n, v);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/**
 * leBytes(BigInt(v), n) for n <= 4 in number arithmetic (the ring drivers write flags and indices this way on
 * every request); a value that is not a safe integer takes leBytes' path, and its error.
 */
function smallLeBytes(v: number, n: number): Uint8Array {
  if (!Number.isSafeInteger(v)) return leBytes(BigInt(v), n);
  const out = new Uint8Array(n);
  // `v % 2^32` then `>>> 0`: the low 32 bits of any safe integer, negative ones in two's complement
  const x = (v % 0x1_0000_0000) >>> 0;
  for (let i = 0; i < n; i++) out[i] = (x >>> (8 * i)) & 0xff;
  return out;
}

export function leToBigint(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}
