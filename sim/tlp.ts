// The packed form in which raw TLPs cross the TypeScript <-> C++ boundary.
//
// RawTlp itself is the shape shared with the TLP codec (tb/pcie/raw.ts): hdr = DW0..DW3 as the
// spec draws them, data = payload dwords (byte 0 in bits 7:0), cycle = injection/sop cycle.
import type { RawTlp } from '../tb/pcie/raw';

export type { RawTlp };

/** Packed layout (sim/cpp/bench.h): [ndw, cycle_lo, cycle_hi, DW0, DW1, DW2, DW3, payload...] per TLP. */
export const TLP_HEAD = 7;

/** Packs TLPs with their injection cycles into one Uint32Array (one crossing for the batch). */
export function packTlps(tlps: readonly RawTlp[], cycles: readonly number[]): Uint32Array {
  let n = 0;
  for (const t of tlps) n += TLP_HEAD + t.data.length;
  const out = new Uint32Array(n);
  let o = 0;
  tlps.forEach((t, i) => {
    const c = cycles[i];
    out[o] = t.data.length;
    out[o + 1] = c % 0x1_0000_0000;
    out[o + 2] = Math.floor(c / 0x1_0000_0000);
    out[o + 3] = t.hdr[0] ?? 0;
    out[o + 4] = t.hdr[1] ?? 0;
    out[o + 5] = t.hdr[2] ?? 0;
    out[o + 6] = t.hdr[3] ?? 0;
    out.set(t.data, o + TLP_HEAD);
    o += TLP_HEAD + t.data.length;
  });
  return out;
}

/** Unpacks a packed buffer; hdr and data are views into it (no copies). */
export function unpackTlps(buf: Uint32Array): RawTlp[] {
  const out: RawTlp[] = [];
  for (let o = 0; o < buf.length; ) {
    const ndw = buf[o];
    const cycle = buf[o + 1] + buf[o + 2] * 0x1_0000_0000;
    out.push({ hdr: buf.subarray(o + 3, o + 7), data: buf.subarray(o + TLP_HEAD, o + TLP_HEAD + ndw), cycle });
    o += TLP_HEAD + ndw;
  }
  return out;
}
