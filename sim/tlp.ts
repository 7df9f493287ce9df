// The packed form in which raw TLPs cross the TypeScript <-> C++ boundary.
//
// RawTlp itself (sim/raw.ts) is the shape shared with the TLP codec: hdr = DW0..DW3 as the
// spec draws them, data = payload dwords (byte 0 in bits 7:0), cycle = injection/sop cycle.
import type { RawTlp, TlpBatch } from './raw';

export type { RawTlp, TlpBatch };

/** Packed layout (sim/cpp/bench.h): [ndw, cycle_lo, cycle_hi, DW0, DW1, DW2, DW3, payload...] per TLP. */
export const TLP_HEAD = 7;
/** In cycle_hi of a TLP sent to the design: report the cycle its last beat is taken (Sim.sendTracked). */
export const REPORT_DELIVERY = 0x8000_0000;
/** Words of the largest packed TLP (1024 payload dwords). */
export const MAX_PACKED_TLP = TLP_HEAD + 1024;

/** Words needed to pack these TLPs. */
export function packedLength(tlps: readonly RawTlp[]): number {
  let n = 0;
  for (const t of tlps) n += TLP_HEAD + t.data.length;
  return n;
}

/**
 * Packs one TLP with its injection cycle into `out` at word `at` (`out` must hold TLP_HEAD + its payload
 * dwords from there); returns the words written. `report` marks a TLP whose delivery the design's rx driver
 * reports (REPORT_DELIVERY).
 */
export function packTlp(tlp: RawTlp, cycle: number, out: Uint32Array, at: number, report = false): number {
  const data = tlp.data;
  const hdr = tlp.hdr;
  out[at] = data.length;
  out[at + 1] = cycle % 0x1_0000_0000;
  out[at + 2] = (Math.floor(cycle / 0x1_0000_0000) | (report ? REPORT_DELIVERY : 0)) >>> 0;
  out[at + 3] = hdr[0];
  out[at + 4] = hdr[1];
  out[at + 5] = hdr[2];
  out[at + 6] = hdr[3];
  if (data.length > 0) out.set(data, at + TLP_HEAD);
  return TLP_HEAD + data.length;
}

/**
 * Packs TLP k of a batch (sim/raw.ts TlpBatch) with its injection cycle into `out` at word `at`, as packTlp() packs
 * a RawTlp (the same layout); returns the words written.
 */
export function packBatchTlp(
  b: TlpBatch,
  k: number,
  cycle: number,
  out: Uint32Array,
  at: number,
  report = false,
): number {
  const n = b.length[k];
  const h = 4 * k;
  out[at] = n;
  out[at + 1] = cycle % 0x1_0000_0000;
  out[at + 2] = (Math.floor(cycle / 0x1_0000_0000) | (report ? REPORT_DELIVERY : 0)) >>> 0;
  out[at + 3] = b.hdr[h];
  out[at + 4] = b.hdr[h + 1];
  out[at + 5] = b.hdr[h + 2];
  out[at + 6] = b.hdr[h + 3];
  const d = b.data;
  const from = b.offset[k];
  // Completions are short (16 dwords at a 64-byte RCB): copied by hand, without a subarray() per completion.
  if (n <= 64) for (let i = 0; i < n; i++) out[at + TLP_HEAD + i] = d[from + i];
  else out.set(d.subarray(from, from + n), at + TLP_HEAD);
  return TLP_HEAD + n;
}

/**
 * Packs TLPs with their injection cycles into `out` (which must hold packedLength(tlps)
 * words); returns the words written. The caller reuses one `out` buffer allocated with
 * `new ArrayBuffer`: a fresh small typed array per call would live on the V8 heap and cost
 * a copy to off-heap memory the moment C++ asks for its data pointer. `report[i]` marks the
 * TLPs whose delivery the design's rx driver reports (REPORT_DELIVERY).
 */
export function packTlps(
  tlps: readonly RawTlp[],
  cycles: readonly number[],
  out: Uint32Array,
  report?: readonly boolean[],
): number {
  let o = 0;
  for (let i = 0; i < tlps.length; i++) o += packTlp(tlps[i], cycles[i], out, o, report?.[i] ?? false);
  return o;
}

/** Unpacks a packed buffer; hdr and data are views into it (no copies; TLPs without payload share one empty array). */
export function unpackTlps(buf: Uint32Array): RawTlp[] {
  const out: RawTlp[] = [];
  const at = buf.byteOffset;
  for (let o = 0; o < buf.length;) {
    const ndw = buf[o];
    const cycle = buf[o + 1] + buf[o + 2] * 0x1_0000_0000;
    // new Uint32Array(buffer, ...) rather than subarray(): no species lookup, measurably cheaper per TLP.
    const hdr = new Uint32Array(buf.buffer, at + 4 * (o + 3), 4);
    const data = ndw === 0 ? NO_PAYLOAD : new Uint32Array(buf.buffer, at + 4 * (o + TLP_HEAD), ndw);
    out.push({ hdr, data, cycle });
    o += TLP_HEAD + ndw;
  }
  return out;
}

/** The payload of every unpacked TLP without one (it has no elements to change). */
const NO_PAYLOAD = new Uint32Array(0);
