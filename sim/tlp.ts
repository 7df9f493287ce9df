// The raw TLP as it crosses the TypeScript <-> C++ boundary, and its packed form.
//
// RawTlp is the shape shared with the TLP codec (tb/pcie/raw.ts, written in parallel);
// it is defined here identically so sim/ does not depend on tb/ being there yet. Both are
// structural types, so values of one are values of the other.

export interface RawTlp {
  /** The four header dwords, DW0 first, each the PCIe spec's dword value (DW0[31:29] = Fmt); DW3 = 0 for 3DW headers. */
  hdr: Uint32Array;
  /** Payload dwords; dword 0 holds the lowest-addressed byte in bits 7:0. */
  data: Uint32Array;
  /** On TLPs from takeTx(): the cycle the sop beat transferred. */
  cycle?: number;
}

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
