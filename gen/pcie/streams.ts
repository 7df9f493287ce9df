// The internal interfaces the PCIe blocks share, besides the TLP stream itself (gen/hdl tlpStream):
//  - cplReqStream: a completion to send, as the request it answers plus a status and the payload beats;
//  - ramWrite / ramRead: a dword-addressed memory port one beat wide (DMA engines and MMIO use device RAM);
//  - regBus: a one-dword register port with combinational read data (MMIO to register blocks).
// Join two views of one of these with gen/hdl's `connect`.
import { bit, bundle, flip, uint } from '../hdl';

export type DataWidth = 64 | 128 | 256 | 512;

/** Dwords per beat of a TLP stream of `W` bits. */
export function lanesOf(W: DataWidth): number {
  return W / 32;
}

/**
 * A completion request: `hdr` is the header of the request being answered (the completion generator
 * derives every completion field from it), `status` the Completion Status, and the beats carry the payload
 * from lane 0 exactly like a TLP stream (a completion without data is one beat with keep = 0).
 */
export function cplReqStream(W: DataWidth) {
  return bundle(
    'cpl_req',
    {
      valid: bit,
      ready: flip(bit),
      hdr: uint(128),
      status: uint(3),
      data: uint(W),
      keep: uint(W / 32),
      sop: bit,
      eop: bit,
    },
    { dataWidth: W },
  );
}

/**
 * One beat written to a dword-addressed RAM: lane i of `data` goes to dword `addr + i`, with its four byte
 * enables in `be[4i+3:4i]` (a lane with no enables is not written).
 */
export function ramWrite(W: DataWidth, addrBits: number) {
  return bundle(
    'ram_write',
    { valid: bit, ready: flip(bit), addr: uint(addrBits), data: uint(W), be: uint(W / 8) },
    { dataWidth: W, addrBits },
  );
}

/**
 * A read of one beat from a dword-addressed RAM: the request (valid/ready/addr) asks for dwords
 * `addr .. addr + lanes - 1`; they come back in lanes 0.. of `rdata` with `rvalid` high exactly one cycle
 * after the request was accepted. The requester must be able to take that data (it reserves room first).
 */
export function ramRead(W: DataWidth, addrBits: number) {
  return bundle(
    'ram_read',
    { valid: bit, ready: flip(bit), addr: uint(addrBits), rvalid: flip(bit), rdata: flip(uint(W)) },
    { dataWidth: W, addrBits },
  );
}

/**
 * A register port, one dword per cycle: `addr` is a dword index, `wr` writes `wdata` under byte enables
 * `wbe`, `rdata` is the register at `addr`, combinationally. Reads have no side effects.
 */
export function regBus(addrBits: number) {
  return bundle(
    'reg_bus',
    { addr: uint(addrBits), wr: bit, wdata: uint(32), wbe: uint(4), rdata: flip(uint(32)) },
    { addrBits },
  );
}
