/**
 * The raw TLP form: what crosses the simulator boundary (sim/index.ts, sim/tlp.ts) and what the
 * test bench's TLP codec (pcie/tlp.ts) encodes to and decodes from. It lives here, at the
 * boundary, so the simulator depends on nothing of the test bench, which imports it from here.
 *
 * It mirrors the device's TLP stream: a fixed 4-dword header slot beside the payload.
 * How the header is packed onto the hardware port (hdr[127:0], DW0 in bits [127:96])
 * is sim/cpp/bench.h's concern, not this module's.
 */

/** A TLP as it crosses the device's TLP stream: four header dwords beside the payload. */
export interface RawTlp {
  /** Header dwords DW0..DW3 as the spec draws them (DW0 bits 31:29 = Fmt, 28:24 = Type). 3-DW headers have hdr[3] = 0. */
  hdr: Uint32Array; // length 4
  /** Payload dwords; dword i holds payload bytes 4i..4i+3 little-endian (byte 4i in bits 7:0). */
  data: Uint32Array;
  /** Simulation cycle the TLP left the device / is to be injected at (optional). */
  cycle?: number;
}

/**
 * TLPs that share one payload buffer, each a slice of it: how a completer hands over all the completions of one
 * read at once (Sim.sendBatch, Link.sendBatch) instead of a RawTlp, a header array and a payload view per
 * completion. The first `count` entries are used; the arrays may be longer (they are reused from read to read).
 */
export interface TlpBatch {
  count: number;
  /** Header dwords DW0..DW3 of TLP k at [4k, 4k + 4). */
  hdr: Uint32Array;
  /** The payload buffer the slices are taken from. */
  data: Uint32Array;
  /** TLP k's payload: data[offset[k], offset[k] + length[k]) (dwords). */
  offset: Int32Array;
  length: Int32Array;
  /** Cycle TLP k is to be injected at. */
  cycle: Float64Array;
}

/** A TlpBatch with room for `n` TLPs (its data buffer set by the user). */
export function tlpBatch(n: number): TlpBatch {
  return {
    count: 0,
    hdr: new Uint32Array(4 * n),
    data: new Uint32Array(0),
    offset: new Int32Array(n),
    length: new Int32Array(n),
    cycle: new Float64Array(n),
  };
}

/** TLP k of a batch as a RawTlp (views, no copies), for links that take one TLP at a time. */
export function batchTlp(b: TlpBatch, k: number): RawTlp {
  return {
    hdr: b.hdr.subarray(4 * k, 4 * k + 4),
    data: b.data.subarray(b.offset[k], b.offset[k] + b.length[k]),
    cycle: b.cycle[k],
  };
}

const hex8 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');

/**
 * Hex dump for logs: `hdr=00000001_0100050f_00001000_00000000 data=[...]`.
 * Long payloads are cut after `maxDataDw` dwords.
 */
export function formatRawTlp(raw: RawTlp, maxDataDw = 8): string {
  const hdr = Array.from(raw.hdr, hex8).join('_');
  const shown = Array.from(raw.data.subarray(0, maxDataDw), hex8).join(' ');
  const more = raw.data.length > maxDataDw ? ` ...(+${raw.data.length - maxDataDw} dw)` : '';
  const cycle = raw.cycle === undefined ? '' : ` @${raw.cycle}`;
  return `hdr=${hdr} data=[${shown}${more}]${cycle}`;
}

/**
 * 64 KiB: small enough that malloc recycles freed chunks (bigger ones are mapped fresh from
 * the kernel, and every page then faults on first touch, ~1.7 us per 4 KiB here).
 */
const DEFAULT_CHUNK_DWORDS = 1 << 14;

/**
 * Zeroed dword storage for raw TLPs on hot paths, carved one view after another out of big
 * chunks. V8 keeps typed arrays over 64 bytes off its heap: a fresh one costs ~0.5 us, a view
 * of an existing buffer ~40 ns. At tens of thousands of TLPs per simulated millisecond that
 * difference was a fifth of the simulator bench's TypeScript time.
 *
 * Nothing handed out is ever handed out again, so every view stays valid and independent of
 * the others, exactly like a fresh array; a chunk is freed by the GC once no view of it is left.
 */
export class DwordArena {
  private chunk: ArrayBuffer;
  private size: number;
  private used = 0;
  /** The last view free() returned, while nothing was allocated since. */
  private room: Uint32Array | undefined;

  /** `chunkDwords`: size of each chunk; larger requests get a chunk of their own size. */
  constructor(readonly chunkDwords = DEFAULT_CHUNK_DWORDS) {
    this.size = chunkDwords;
    this.chunk = new ArrayBuffer(4 * chunkDwords);
  }

  /** A zeroed view of `n` dwords. */
  alloc(n: number): Uint32Array {
    if (this.used + n > this.size) this.fresh(n);
    const v = new Uint32Array(this.chunk, 4 * this.used, n);
    this.used += n;
    this.room = undefined;
    return v;
  }

  /**
   * The free space after the last allocation, at least `min` dwords (starting a new chunk if
   * the current one has less). For a producer that learns the size only while writing (the
   * simulator's run() and takeTx()): it writes at the start of this view, then claims exactly
   * what it wrote with alloc(), which returns the same memory.
   */
  free(min: number): Uint32Array {
    if (this.used + min > this.size) this.fresh(min);
    return (this.room ??= new Uint32Array(this.chunk, 4 * this.used, this.size - this.used));
  }

  private fresh(min: number): void {
    this.size = Math.max(min, this.chunkDwords);
    this.chunk = new ArrayBuffer(4 * this.size);
    this.used = 0;
    this.room = undefined;
  }
}
