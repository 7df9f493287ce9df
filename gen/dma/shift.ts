// The byte shifters that make the DMA engines byte-granular: a beat of W bits placed at any byte offset of a
// two-line window (the read engine, into device memory), and W bits taken from any byte offset of a
// two-line window (the write engine, out of device memory). Each is a barrel shifter of log2(W/8) byte
// stages; no bytes are carried from one beat to the next, so a beat in is a beat out.
import { cat, type Expr, lit } from '../hdl';

/** Bytes `data` (W bits) and their enables `be` (W/8) moved up by `shift` bytes (0..W/8-1) in a 2W window. */
export function placeInWindow(data: Expr, be: Expr, shift: Expr): { data: Expr; be: Expr } {
  const W = data.width;
  return {
    data: data.zext(2 * W).shl(cat(shift, lit(0, 3))),
    be: be.zext((2 * W) / 8).shl(shift),
  };
}

/** The W bits of a 2W window starting at byte `shift` (0..W/8-1). */
export function takeFromWindow(window: Expr, shift: Expr): Expr {
  return window.shr(cat(shift, lit(0, 3))).trunc(window.width / 2);
}
