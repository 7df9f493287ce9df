/**
 * The raw TLP form shared by the TLP codec (tb/pcie/tlp.ts) and the simulator bridge.
 *
 * It mirrors the device's TLP stream: a fixed 4-dword header slot beside the payload.
 * How the header is packed onto the hardware port (hdr[127:0], DW0 in bits [127:96])
 * is the simulator's concern, not this module's.
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
