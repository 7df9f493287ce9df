// The DMA engines' interfaces (docs/dma.md):
//  - dmaCommand: a transfer to start (host address, device byte address, length, the caller's id);
//  - dmaStatus: the end of a transfer (its id and a DmaError code), in the order the commands came;
//  - lineWrite / lineRead: the device-side memory as lines of W bits, reached two consecutive lines at a
//    time, so that W/8 bytes at any byte address are one write or one read (a memory of two banks, even and
//    odd lines, serves both lines in one cycle: DmaRam).
import { bit, bundle, flip, uint } from '../hdl';
import type { DataWidth } from '../pcie/streams';

/** Bytes per line (one beat of the TLP stream). */
export const lineBytes = (W: DataWidth): number => W / 8;

/** A transfer: `len` bytes (0 is allowed: no request, status at once) between host and device addresses. */
export function dmaCommand(devBits: number, lenBits: number, idBits: number) {
  return bundle(
    'dma_command',
    {
      valid: bit,
      ready: flip(bit),
      host_addr: uint(64),
      dev_addr: uint(devBits),
      len: uint(lenBits),
      id: uint(idBits),
    },
    { devBits, lenBits, idBits },
  );
}

/** A transfer's end: its command's id and a DmaError code (gen/pcie/dma_common.ts). */
export function dmaStatus(idBits: number) {
  return bundle('dma_status', { valid: bit, ready: flip(bit), id: uint(idBits), error: uint(3) }, { idBits });
}

/**
 * A write of up to W/8 bytes at any byte address, as two consecutive lines: line `addr` takes the low half of
 * `data` and `be`, line `addr + 1` (wrapping) the high half. Byte i of a half is byte i of its line.
 */
export function lineWrite(W: DataWidth, lineBits: number) {
  return bundle(
    'line_write',
    { valid: bit, ready: flip(bit), addr: uint(lineBits), data: uint(2 * W), be: uint((2 * W) / 8) },
    { dataWidth: W, lineBits },
  );
}

/**
 * A read of two consecutive lines: the request (valid/ready/addr) asks for lines `addr` and `addr + 1`
 * (wrapping); they come back in order, low half first, in `rdata` with `rvalid` some fixed or variable number
 * of cycles later (in request order). The requester always takes `rdata` (it reserves room first).
 */
export function lineRead(W: DataWidth, lineBits: number) {
  return bundle(
    'line_read',
    { valid: bit, ready: flip(bit), addr: uint(lineBits), rvalid: flip(bit), rdata: flip(uint(2 * W)) },
    { dataWidth: W, lineBits },
  );
}
