// The PCIe blocks' interfaces:
//  - tlpStream: the project's TLP stream (docs/tlp-stream.md), between the device and the link and inside;
//  - tlpRxStream: a received TLP stream with its routing sideband (BAR, offset, function, error code);
//  - cplReqStream: a completion to send, as the request it answers plus a status and the payload beats;
//  - ramWrite / ramRead: a dword-addressed memory port one beat wide (DMA engines and MMIO use device RAM);
//  - regBus: a one-dword register port with combinational read data (MMIO to register blocks).
// Join two views of one of these with gen/hdl's `connect`.
import { bit, bundle, type BundleSpec, type Drivable, type Expr, flip, lit, type PortOf, uint } from '../hdl';

export type DataWidth = 64 | 128 | 256 | 512;

/** A bundle of type `S` as a port of the module being built: `'in'` for m.input, `'out'` for m.output. */
export type BundleOf<S extends BundleSpec, D extends 'in' | 'out'> = PortOf<S, D>;

/** Dwords per beat of a TLP stream of `W` bits. */
export function lanesOf(W: DataWidth): number {
  return W / 32;
}

/**
 * The project's vendor-neutral PCIe TLP stream (docs/tlp-stream.md): header beside the data, valid on the
 * start-of-packet beat; payload dwords from lane 0; dword enables; at most one TLP starts per beat.
 */
export function tlpStream(W: DataWidth) {
  return bundle(
    'tlp_stream',
    { valid: bit, ready: flip(bit), hdr: uint(128), data: uint(W), keep: uint(W / 32), sop: bit, eop: bit },
    { dataWidth: W },
  );
}

/** Widths of the receive sideband fields (docs/tlp-stream.md, "Receive sideband"). */
export const RX_BAR_BITS = 3;
export const RX_FUNC_BITS = 8;
export const RX_ERROR_BITS = 4;
/** The offset is a whole 64-bit byte offset, whatever the BAR's size: bits at and above the size are 0. */
export const RX_OFFSET_BITS = 64;

/** `bar` values besides the BAR indices 0..5 (a 64-bit BAR is named by its lower index). */
export const RxBar = { EXPANSION_ROM: 6 } as const;

/**
 * `error` codes: the values verilog-pcie's TLP interface uses (PCIE_ERROR_*), which its hard-IP shims
 * produce from the vendors' own codes (UltraScale+ RC error codes: see docs/tlp-stream.md).
 */
export const RxError = {
  NONE: 0,
  /** The TLP is poisoned (EP = 1, or the hard IP says so). */
  POISONED: 1,
  /** A completion with a status other than SC. */
  BAD_STATUS: 2,
  /** A completion whose requester ID, TC or attributes do not match its request. */
  MISMATCH: 3,
  INVALID_LENGTH: 4,
  INVALID_ADDRESS: 5,
  INVALID_TAG: 6,
  /** A request terminated by a Function Level Reset. */
  FLR: 8,
  /** A completion timeout reported by the hard IP (a header-only descriptor). */
  TIMEOUT: 15,
} as const;

/**
 * A received TLP stream with its routing sideband, valid on the sop beat like the header: `bar` is the
 * BAR a memory request hit (0..5, RxBar.EXPANSION_ROM), `offset` the request's byte offset inside it,
 * `func` the function the TLP is for (a configuration
 * request's function number, a memory request's BAR owner, a completion's requester), `error` an RxError.
 * `bar` and `offset` mean something only on memory requests that hit a BAR. Whoever knows these fills them in: a hard IP's adapter from its
 * descriptor or user bits, the soft endpoint from its configuration space (RxClassifier).
 */
export function tlpRxStream(W: DataWidth) {
  return bundle(
    'tlp_rx_stream',
    {
      valid: bit,
      ready: flip(bit),
      hdr: uint(128),
      data: uint(W),
      keep: uint(W / 32),
      sop: bit,
      eop: bit,
      bar: uint(RX_BAR_BITS),
      offset: uint(RX_OFFSET_BITS),
      func: uint(RX_FUNC_BITS),
      error: uint(RX_ERROR_BITS),
    },
    { dataWidth: W },
  );
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

/** The fields of a packet stream (a TLP stream, a completion request) that frame its beats. */
export interface PacketBeat {
  valid: Drivable;
  hdr: Drivable;
  data: Drivable;
  keep: Drivable;
  sop: Drivable;
  eop: Drivable;
}

/**
 * Drive a packet stream with one-beat packets: `valid`, the header, and at most one payload dword in lane 0
 * (keep 1), or none (keep 0). Other fields (a completion request's status) and `ready` are the caller's.
 */
export function driveOneBeat(s: PacketBeat, o: { valid: Expr; hdr: Expr; dword?: Expr }): void {
  const W = s.data.width;
  s.valid.set(o.valid);
  s.hdr.set(o.hdr);
  s.data.set(o.dword ? o.dword.zext(W) : lit(0, W));
  s.keep.set(lit(o.dword ? 1 : 0, W / 32));
  s.sop.set(1);
  s.eop.set(1);
}
