// What the DMA read and write engines share: error codes and how a transfer is cut into requests.
import { type Expr, lit, mux, select } from '../hdl';

/** DMA completion codes (3 bits), reported with `done`. */
export const DmaError = {
  NONE: 0,
  /** Bus Master Enable was 0 at the start or was cleared during the transfer (7.5.1.1.3: no requests then). */
  BUS_MASTER_DISABLED: 1,
  /** A read completion came back with status Unsupported Request. */
  UNSUPPORTED_REQUEST: 2,
  /** A read completion came back with status Completer Abort. */
  COMPLETER_ABORT: 3,
  /** A read completion was poisoned (EP=1): its data was not written. */
  POISONED: 4,
  /** A read request got no (complete) answer within the timeout (2.8 Completion Timeout Mechanism). */
  TIMEOUT: 5,
  /** Rejected before starting: device offset and host address differ mod 4, or the range leaves the RAM. */
  BAD_PARAMS: 6,
  /** A completion inconsistent with its request (lower address, byte count, CRS or SC without data). */
  BAD_COMPLETION: 7,
} as const;

/** 128 << code: Max_Payload_Size / Max_Read_Request_Size encodings (7.5.3.4), 13 bits. */
export function sizeFromCode(code: Expr, maxCode: number): Expr {
  const c = mux(code.gt(maxCode), lit(maxCode, 3), code);
  return select(
    c,
    [128, 256, 512, 1024, 2048, 4096].slice(0, maxCode + 1).map((v) => lit(v, 13)),
  );
}

/**
 * Bytes of the next request of a transfer at `addr` with `remaining` bytes left: at most `size` (a power
 * of two from 128 to 4096) and never past the next multiple of `size`, so no request crosses a 4 KB
 * boundary (2.2.7) and, after the first, every request starts aligned. Result: 13 bits, 1..4096 (when
 * remaining > 0).
 */
export function nextChunk(addr: Expr, remaining: Expr, size: Expr): Expr {
  const w = Math.max(remaining.width, 13);
  const toBoundary = size.sub(addr.bits(11, 0).zext(13).and(size.sub(1)));
  const rem = remaining.zext(w);
  const tb = toBoundary.zext(w);
  return mux(rem.lt(tb), rem, tb).trunc(13);
}
