// The storage behind the virtio-blk golden model: a byte-addressable sparse disk. Pages are allocated on first
// write and freed when zeroed or discarded whole, so a 1 GiB disk costs only what is written. Tests read and
// write it directly (to seed contents and to check what requests did).

import { PagedBytes } from '../../lib/paged_bytes';

const PAGE = 4096;

export class SparseDisk {
  private readonly bytes = new PagedBytes(PAGE);

  constructor(
    /** Size in bytes. */
    readonly size: number,
  ) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`disk: size ${size} is not a byte count`);
  }

  /** Pages holding data (zero pages are not kept). */
  get allocatedPages(): number {
    return this.bytes.allocatedPages;
  }

  private check(off: number, len: number, what: string): void {
    if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0 || off + len > this.size)
      throw new RangeError(`disk: ${what} of ${len} bytes at ${off} outside the disk's ${this.size} bytes`);
  }

  read(off: number, len: number): Uint8Array {
    this.check(off, len, 'read');
    const out = new Uint8Array(len);
    this.bytes.read(off, out);
    return out;
  }

  write(off: number, data: Uint8Array): void {
    this.check(off, data.length, 'write');
    this.bytes.write(off, data);
  }

  /** Zeroes a range; whole pages are deallocated. */
  zero(off: number, len: number): void {
    this.check(off, len, 'zero');
    this.bytes.zero(off, len);
  }
}
