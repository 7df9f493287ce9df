// A probe for the simulator's AXI4 memory model (sim/axi.ts, sim/cpp/axi.h) alone: a top whose AXI4 master port
// `mem` is driven straight from sideband inputs, so a test plays the master with the handshake helpers (AW, W and
// AR senders, B and R receivers) and can issue any burst, legal or not. The master's own backpressure on B and R
// comes from an LFSR in the probe: with `stall_mask` nonzero, bready and rready drop on cycles where the LFSR's bits
// under the mask are nonzero (and b_valid/r_valid as the receivers see them with them, so both sides count the same
// transfers).
import { bit, cat, defineModule } from '../../gen/hdl';
import { axi4 } from '../../gen/lib/axi';
import { designPorts } from '../../sim/design';
import type { HandshakeReceiver, HandshakeSender, ReceivedItem, Sim } from '../../sim/index';

export interface AxiProbeParams {
  dataBits: number;
  addrBits: number;
}

export const AxiProbe = defineModule(
  'axi_probe',
  (m, p: AxiProbeParams) => {
    const axi = m.output('mem', axi4(p.dataBits, p.addrBits));
    const lfsr = m.reg('lfsr', 16, { reset: 0xace1 });
    lfsr.next(cat(lfsr.bits(14, 0), lfsr.bit(15).xor(lfsr.bit(13)).xor(lfsr.bit(12)).xor(lfsr.bit(10))));
    const mask = m.input('stall_mask', 4);
    const bStall = lfsr.bits(3, 0).and(mask).orR();
    const rStall = lfsr.bits(11, 8).and(mask).orR();

    axi.awvalid.set(m.input('aw_valid', bit));
    axi.awaddr.set(m.input('aw_addr', p.addrBits));
    axi.awlen.set(m.input('aw_len', 8));
    axi.awsize.set(m.input('aw_size', 3));
    axi.awburst.set(m.input('aw_burst', 2));
    m.output('aw_ready', bit).set(axi.awready);
    axi.wvalid.set(m.input('w_valid', bit));
    axi.wdata.set(m.input('w_data', p.dataBits));
    axi.wstrb.set(m.input('w_strb', p.dataBits / 8));
    axi.wlast.set(m.input('w_last', bit));
    m.output('w_ready', bit).set(axi.wready);
    axi.bready.set(m.input('b_ready', bit).and(bStall.not()));
    m.output('b_valid', bit).set(axi.bvalid.and(bStall.not()));
    m.output('b_resp', 2).set(axi.bresp);
    axi.arvalid.set(m.input('ar_valid', bit));
    axi.araddr.set(m.input('ar_addr', p.addrBits));
    axi.arlen.set(m.input('ar_len', 8));
    axi.arsize.set(m.input('ar_size', 3));
    axi.arburst.set(m.input('ar_burst', 2));
    m.output('ar_ready', bit).set(axi.arready);
    axi.rready.set(m.input('r_ready', bit).and(rStall.not()));
    m.output('r_valid', bit).set(axi.rvalid.and(rStall.not()));
    m.output('r_data', p.dataBits).set(axi.rdata);
    m.output('r_resp', 2).set(axi.rresp);
    m.output('r_last', bit).set(axi.rlast);
  },
  { name: (p) => `axi_probe_d${p.dataBits}_a${p.addrBits}` },
);

export const axiProbePorts = (p: AxiProbeParams): string => designPorts(AxiProbe.elaborate(p));

/** One burst as the test issues it. */
export interface Burst {
  addr: number;
  /** Beats (AxLEN + 1). */
  beats: number;
  /** AxSIZE (log2 of the bytes per beat). */
  size: number;
  /** AxBURST: 0 FIXED, 1 INCR, 2 WRAP. */
  burst: number;
}

/** The master's five channels on the probe. */
export class AxiMaster {
  readonly aw: HandshakeSender;
  readonly w: HandshakeSender;
  readonly b: HandshakeReceiver;
  readonly ar: HandshakeSender;
  readonly r: HandshakeReceiver;
  constructor(readonly sim: Sim) {
    this.aw = sim.handshakeSender({
      valid: 'aw_valid',
      ready: 'aw_ready',
      data: ['aw_addr', 'aw_len', 'aw_size', 'aw_burst'],
    });
    this.w = sim.handshakeSender({ valid: 'w_valid', ready: 'w_ready', data: ['w_data', 'w_strb', 'w_last'] });
    this.b = sim.handshakeReceiver({ valid: 'b_valid', ready: 'b_ready', data: ['b_resp'] });
    this.ar = sim.handshakeSender({
      valid: 'ar_valid',
      ready: 'ar_ready',
      data: ['ar_addr', 'ar_len', 'ar_size', 'ar_burst'],
    });
    this.r = sim.handshakeReceiver({ valid: 'r_valid', ready: 'r_ready', data: ['r_data', 'r_resp', 'r_last'] });
  }
  write(b: Burst, beats: { data: bigint; strb: bigint }[]): void {
    this.aw.send({ aw_addr: b.addr, aw_len: b.beats - 1, aw_size: b.size, aw_burst: b.burst });
    beats.forEach((x, i) => this.w.send({ w_data: x.data, w_strb: x.strb, w_last: i === beats.length - 1 ? 1 : 0 }));
  }
  read(b: Burst): void {
    this.ar.send({ ar_addr: b.addr, ar_len: b.beats - 1, ar_size: b.size, ar_burst: b.burst });
  }
  /** Runs until `writes` B responses and `beats` R beats have come in (in total since the start). */
  settle(writes: number, beats: number, maxCycles = 200_000): void {
    if (this.b.count < writes) this.sim.run({ until: this.b.reaches(writes), maxCycles });
    if (this.r.count < beats) this.sim.run({ until: this.r.reaches(beats), maxCycles });
    if (this.b.count < writes || this.r.count < beats)
      throw new Error(`AXI probe: ${this.b.count}/${writes} responses, ${this.r.count}/${beats} read beats`);
  }
}

export type { ReceivedItem };
