// The signals of an AXI4 master port (ARM IHI 0022, AMBA AXI4) as one table: gen/lib/axi.ts builds the bundle the
// generators use from it, and the simulator (sim/ports.ts, sim/harness.ts) checks and reaches the `axi4` interfaces
// of a ports file with it. Dependency-free, so the simulator can import it without the HDL.
//
// Only what an in-order, single-ID master needs: no ID, lock, cache, prot, qos, region or user signals (a card's
// interconnect ties them off: ID 0, cache 0b0011, prot 0).

/** The interface kind of such a port in a ports file (`interfaces[].kind`). */
export const AXI4_KIND = 'axi4';

/** Who drives a signal. */
export type AxiDriver = 'master' | 'slave';
/** A signal's width: bits, or the port's address width, data width or strobe width (data bytes). */
export type AxiWidth = 1 | 2 | 3 | 8 | 'addr' | 'data' | 'strb';

/** Every signal in port order: write address, write data, write response, read address, read data. */
export const AXI4_FIELDS = {
  awvalid: { by: 'master', width: 1 },
  awready: { by: 'slave', width: 1 },
  awaddr: { by: 'master', width: 'addr' },
  awlen: { by: 'master', width: 8 },
  awsize: { by: 'master', width: 3 },
  awburst: { by: 'master', width: 2 },
  wvalid: { by: 'master', width: 1 },
  wready: { by: 'slave', width: 1 },
  wdata: { by: 'master', width: 'data' },
  wstrb: { by: 'master', width: 'strb' },
  wlast: { by: 'master', width: 1 },
  bvalid: { by: 'slave', width: 1 },
  bready: { by: 'master', width: 1 },
  bresp: { by: 'slave', width: 2 },
  arvalid: { by: 'master', width: 1 },
  arready: { by: 'slave', width: 1 },
  araddr: { by: 'master', width: 'addr' },
  arlen: { by: 'master', width: 8 },
  arsize: { by: 'master', width: 3 },
  arburst: { by: 'master', width: 2 },
  rvalid: { by: 'slave', width: 1 },
  rready: { by: 'master', width: 1 },
  rdata: { by: 'slave', width: 'data' },
  rresp: { by: 'slave', width: 2 },
  rlast: { by: 'slave', width: 1 },
} as const satisfies Record<string, { by: AxiDriver; width: AxiWidth }>;

export type Axi4Field = keyof typeof AXI4_FIELDS;

/** A field's width in bits on a port of `dataBits` data and `addrBits` address bits. */
export function axiFieldWidth(width: AxiWidth, dataBits: number, addrBits: number): number {
  return width === 'addr' ? addrBits : width === 'data' ? dataBits : width === 'strb' ? dataBits / 8 : width;
}

/** AXI4 burst types (AxBURST). */
export const AXI_BURST = { FIXED: 0, INCR: 1, WRAP: 2 } as const;
/** AXI4 responses (xRESP). */
export const AXI_RESP = { OKAY: 0, EXOKAY: 1, SLVERR: 2, DECERR: 3 } as const;
