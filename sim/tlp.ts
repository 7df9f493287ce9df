// The packed form in which raw TLPs cross the TypeScript <-> C++ boundary.
//
// RawTlp itself (sim/raw.ts) is the shape shared with the TLP codec: hdr = DW0..DW3 as the
// spec draws them, data = payload dwords (byte 0 in bits 7:0), cycle = injection/sop cycle.
import type { RawTlp } from './raw';

export type { RawTlp };

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
  for (let i = 0; i < tlps.length; i++) {
    const t = tlps[i];
    const c = cycles[i];
    out[o] = t.data.length;
    out[o + 1] = c % 0x1_0000_0000;
    out[o + 2] = (Math.floor(c / 0x1_0000_0000) | (report?.[i] ? REPORT_DELIVERY : 0)) >>> 0;
    out[o + 3] = t.hdr[0];
    out[o + 4] = t.hdr[1];
    out[o + 5] = t.hdr[2];
    out[o + 6] = t.hdr[3];
    out.set(t.data, o + TLP_HEAD);
    o += TLP_HEAD + t.data.length;
  }
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
