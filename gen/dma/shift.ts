// The byte shifters that make the DMA engines byte-granular: a beat of W bits placed at any byte offset of a
// two-line window (the read engine, into device memory), and W bits taken from any byte offset of a
// two-line window (the write engine, out of device memory). Each is a barrel shifter of log2(W/8) byte
// stages (2:1 muxes; a LUT6 takes two stages as a 4:1 mux); no bytes are carried from one beat to the next,
// so a beat in is a beat out.
import type { Expr } from '../hdl';

/**
 * Bytes `data` (W bits) and their enables `be` (W/8) moved up by `shift` bytes (0..W/8-1) in a 2W window. The
 * window's two lines hold the same W bits, `data` rotated up by `shift` bytes (byte j of the low line is data
 * byte j - shift, byte j of the high line data byte W/8 + j - shift): only the enables differ. So the placement
 * is a W-bit byte rotation (log2(W/8) stages of 2:1 muxes), half the logic of a shift into 2W bits, and `data`
 * is W bits: the window is {data, data}.
 */
export function placeInWindow(data: Expr, be: Expr, shift: Expr): { data: Expr; be: Expr } {
  const W = data.width;
  let rotated = data;
  for (let k = 0; k < shift.width; k++) {
    const n = 8 << k; // bits moved by this stage
    rotated = shift.bit(k).select(rotated.bits(W - n - 1, 0).cat(rotated.bits(W - 1, W - n)), rotated);
  }
  return { data: rotated, be: be.zext((2 * W) / 8).shl(shift) };
}

/** The W bits of a 2W window starting at byte `shift` (0..W/8-1). */
export function takeFromWindow(window: Expr, shift: Expr): Expr {
  const W = window.width / 2;
  // A log shifter, the largest step first: after the step for shift bit k only the W + 8 * (2^k - 1) bits the
  // smaller steps can still reach are kept, so the steps narrow from 2W towards W (a plain right shift of the 2W
  // window, its smallest step first, carried 2W-wide steps: 1130 against 844 LUT at 256 bits, Yosys/ABC).
  let cur = window;
  for (let k = shift.width - 1; k >= 0; k--) {
    const n = 8 << k;
    const keep = W + n - 8; // W + 8 * (2^k - 1)
    cur = shift.bit(k).select(cur.bits(keep + n - 1, n), cur.bits(keep - 1, 0));
  }
  return cur;
}
