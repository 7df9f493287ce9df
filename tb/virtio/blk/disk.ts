// The storage behind the virtio-blk golden model: a byte-addressable sparse disk. Pages are allocated on first
// write and freed when zeroed or discarded whole, so a 1 GiB disk costs only what is written. Tests read and
// write it directly (to seed contents and to check what requests did).

const PAGE = 4096;

export class SparseDisk {
  private readonly pages = new Map<number, Uint8Array>();

  constructor(
    /** Size in bytes. */
    readonly size: number,
  ) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`disk: size ${size} is not a byte count`);
  }

  /** Pages holding data (zero pages are not kept). */
  get allocatedPages(): number {
    return this.pages.size;
  }

  private check(off: number, len: number, what: string): void {
    if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0 || off + len > this.size)
      throw new RangeError(`disk: ${what} of ${len} bytes at ${off} outside the disk's ${this.size} bytes`);
  }

  /** Calls f(page, offsetInPage, positionInAccess, n) over the pages an access covers. */
  private each(off: number, len: number, f: (p: number, po: number, pos: number, n: number) => void): void {
    for (let pos = 0; pos < len;) {
      const p = Math.floor((off + pos) / PAGE);
      const po = (off + pos) % PAGE;
      const n = Math.min(PAGE - po, len - pos);
      f(p, po, pos, n);
      pos += n;
    }
  }

  read(off: number, len: number): Uint8Array {
    this.check(off, len, 'read');
    const out = new Uint8Array(len);
    this.each(off, len, (p, po, pos, n) => {
      const page = this.pages.get(p);
      if (page) out.set(page.subarray(po, po + n), pos);
    });
    return out;
  }

  write(off: number, data: Uint8Array): void {
    this.check(off, data.length, 'write');
    this.each(off, data.length, (p, po, pos, n) => {
      let page = this.pages.get(p);
      if (!page) this.pages.set(p, (page = new Uint8Array(PAGE)));
      page.set(data.subarray(pos, pos + n), po);
    });
  }

  /** Zeroes a range; whole pages are deallocated. */
  zero(off: number, len: number): void {
    this.check(off, len, 'zero');
    this.each(off, len, (p, po, _pos, n) => {
      if (n === PAGE) this.pages.delete(p);
      else this.pages.get(p)?.fill(0, po, po + n);
    });
  }
}
