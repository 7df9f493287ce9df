// AXI4 memory-mapped interfaces (ARM IHI 0022, AMBA AXI4): the five channels of a master port as one bundle,
// seen from the master (a slave takes it flipped). Only what an in-order, single-ID master needs: no ID, lock,
// cache, prot, qos, region or user signals (a card's interconnect ties them off: ID 0, cache 0b0011, prot 0).
import { bit, bundle, flip, uint } from '../hdl';

/** AXI4 burst types (AxBURST). */
export const AXI_BURST = { FIXED: 0, INCR: 1, WRAP: 2 } as const;
/** AXI4 responses (xRESP). */
export const AXI_RESP = { OKAY: 0, EXOKAY: 1, SLVERR: 2, DECERR: 3 } as const;

/** AxSIZE of a full-width beat: log2 of the data bus's bytes. */
export const axiSize = (dataBits: number): number => Math.log2(dataBits / 8);

/** An AXI4 master port: write address, write data, write response, read address, read data. */
export function axi4(dataBits: number, addrBits: number) {
  return bundle(
    'axi4',
    {
      awvalid: bit,
      awready: flip(bit),
      awaddr: uint(addrBits),
      awlen: uint(8),
      awsize: uint(3),
      awburst: uint(2),
      wvalid: bit,
      wready: flip(bit),
      wdata: uint(dataBits),
      wstrb: uint(dataBits / 8),
      wlast: bit,
      bvalid: flip(bit),
      bready: bit,
      bresp: flip(uint(2)),
      arvalid: bit,
      arready: flip(bit),
      araddr: uint(addrBits),
      arlen: uint(8),
      arsize: uint(3),
      arburst: uint(2),
      rvalid: flip(bit),
      rready: bit,
      rdata: flip(uint(dataBits)),
      rresp: flip(uint(2)),
      rlast: flip(bit),
    },
    { dataBits, addrBits },
  );
}
