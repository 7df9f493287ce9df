// A sparse byte array: pages allocated on first write, unwritten bytes read as zero, whole pages freed when zeroed.
// One implementation for both sparse stores of the testbench: host memory's big regions (tb/pcie/hostmem.ts, a
// 1 GB region costs nothing until touched) and the virtio-blk golden model's disk (tb/virtio/blk/disk.ts, a 1 GiB
// disk costs only what is written). Offsets are not range-checked here: the owners check them against their own
// sizes and name themselves in the error.

export class PagedBytes {
  private readonly pages = new Map<number, Uint8Array>();

  constructor(readonly pageSize: number) {
    if (!Number.isSafeInteger(pageSize) || pageSize <= 0) throw new RangeError(`paged: page size ${pageSize}`);
  }

  /** Pages holding data (a page zeroed whole is freed). */
  get allocatedPages(): number {
    return this.pages.size;
  }

  read(off: number, out: Uint8Array): void {
    const P = this.pageSize;
    for (let done = 0; done < out.length;) {
      const p = Math.floor((off + done) / P);
      const po = (off + done) % P;
      const n = Math.min(P - po, out.length - done);
      const page = this.pages.get(p);
      if (page) out.set(page.subarray(po, po + n), done);
      else out.fill(0, done, done + n);
      done += n;
    }
  }

  /** Writes `src` at `off`; with a mask, only the bytes whose mask byte is non-zero. */
  write(off: number, src: Uint8Array, mask?: Uint8Array): void {
    const P = this.pageSize;
    for (let done = 0; done < src.length;) {
      const p = Math.floor((off + done) / P);
      const po = (off + done) % P;
      const n = Math.min(P - po, src.length - done);
      let page = this.pages.get(p);
      if (!page) this.pages.set(p, (page = new Uint8Array(P)));
      if (!mask) page.set(src.subarray(done, done + n), po);
      else for (let i = 0; i < n; i++) if (mask[done + i]) page[po + i] = src[done + i];
      done += n;
    }
  }

  /** Zeroes a range; pages it covers whole are freed. */
  zero(off: number, len: number): void {
    const P = this.pageSize;
    for (let done = 0; done < len;) {
      const p = Math.floor((off + done) / P);
      const po = (off + done) % P;
      const n = Math.min(P - po, len - done);
      if (n === P) this.pages.delete(p);
      else this.pages.get(p)?.fill(0, po, po + n);
      done += n;
    }
  }

  /** Index of the first byte of `data` that differs from the bytes from `off` on, or -1. */
  firstDifference(off: number, data: Uint8Array): number {
    const P = this.pageSize;
    for (let done = 0; done < data.length;) {
      const p = Math.floor((off + done) / P);
      const po = (off + done) % P;
      const n = Math.min(P - po, data.length - done);
      const page = this.pages.get(p);
      const at = page ? firstDifference(page, po, data, done, n) : firstNonZero(data, done, n);
      if (at >= 0) return at;
      done += n;
    }
    return -1;
  }
}

/** The first i in [from, from + n) with data[i] !== mem[at + i - from], or -1. */
export function firstDifference(mem: Uint8Array, at: number, data: Uint8Array, from: number, n: number): number {
  // Long ranges are compared natively first (memcmp over views, no copy): the golden model compares every
  // request's data, and equal is the common case (a JavaScript loop over 4 KiB was a visible cost per request).
  if (n >= NATIVE_COMPARE && sameBytes(mem, at, data, from, n)) return -1;
  const d = at - from;
  for (let i = from; i < from + n; i++) if (mem[d + i] !== data[i]) return i;
  return -1;
}
/** Ranges from this length on are compared natively first. */
const NATIVE_COMPARE = 128;
function sameBytes(a: Uint8Array, at: number, b: Uint8Array, from: number, n: number): boolean {
  return Buffer.from(a.buffer, a.byteOffset + at, n).equals(Buffer.from(b.buffer, b.byteOffset + from, n));
}

/** The first i in [from, from + n) with data[i] !== 0 (unwritten bytes read as zero), or -1. */
function firstNonZero(data: Uint8Array, from: number, n: number): number {
  for (let i = from; i < from + n; i++) if (data[i] !== 0) return i;
  return -1;
}
