// Receive-side routing, in two parts as verilog-pcie's pcie_tlp_demux has it: a demultiplexer that steers
// whole TLPs to the port an outside classifier selects, passing each TLP's sideband (docs/tlp-stream.md,
// "Receive sideband") along; and the soft endpoint's classifier, which fills in that sideband and the
// selection from the header and the function's BAR registers. A design behind a hard IP, which already
// knows the BAR, drives the demux from its adapter and its own selection instead.
//
// The endpoint's usual four ports (RX_PORTS, RxPort):
//   cfg   : configuration requests of type 0 (CfgRd0, CfgWr0): the function's configuration space;
//   mem   : memory requests (MRd, MWr, 3DW or 4DW) that hit one of its BARs;
//   cpl   : completions (Cpl, CplD): the DMA engines waiting for read data;
//   other : everything else: memory requests that hit no BAR (or arrive with Memory Space disabled), MRdLk,
//           IO, type 1 configuration, AtomicOps, messages, locked completions. An endpoint without those
//           features answers non-posted ones with Unsupported Request (2.3.1 "Request Handling Rules") and
//           drops the rest.
import { bit, defineModule, type Expr, lit, log2ceil, mux, tlpStream } from '../hdl';
import { paramError } from '../lib/util';
import { barMatch } from './bar_match';
import { type DataWidth, RxError, tlpRxStream } from './streams';
import { tlpFields, Type } from './tlp';

export const RX_PORTS = ['cfg', 'mem', 'cpl', 'other'] as const;
export const RxPort = { Cfg: 0, Mem: 1, Cpl: 2, Other: 3 } as const;

/** The usual endpoint port (RxPort, 2 bits) of a header, given whether a memory request hit a BAR. */
export function classifyRx(hdr: Expr, memHit: Expr): Expr {
  const f = tlpFields(hdr);
  const noPrefix = f.fmt.bit(2).not();
  const isMem = noPrefix.and(f.type.eq(Type.Mem));
  const isCfg0 = noPrefix.and(f.is4dw.not()).and(f.type.eq(Type.Cfg0));
  const isCpl = noPrefix.and(f.is4dw.not()).and(f.type.eq(Type.Cpl));
  return mux(
    isCfg0,
    lit(RxPort.Cfg, 2),
    mux(isMem.and(memHit), lit(RxPort.Mem, 2), mux(isCpl, lit(RxPort.Cpl, 2), lit(RxPort.Other, 2))),
  );
}

export interface RxDemuxParams {
  W: DataWidth;
  /** Output port names, in `sel` order. */
  ports: readonly string[];
}

/**
 * `sel` (the index of a port) and `drop` are sampled with each TLP's sop beat and hold for its beats; a TLP
 * that is dropped, or selects no port, is taken and discarded. Beats pass through combinationally.
 */
export const RxDemux = defineModule(
  'pcie_rx_demux',
  (m, p: RxDemuxParams) => {
    const n = p.ports.length;
    if (n < 2) throw paramError(`RxDemux: at least 2 ports, got ${n}`);
    if (new Set(p.ports).size !== n) throw paramError(`RxDemux: port names repeat: ${p.ports.join(', ')}`);
    const sw = log2ceil(n);
    const spec = tlpRxStream(p.W);
    const rx = m.input('rx', spec);
    const sel = m.input('sel', sw);
    const drop = m.input('drop', bit);
    const outs = p.ports.map((name) => m.output(name, spec));

    const heldPort = m.reg('port', sw, { reset: 0 });
    const heldDrop = m.reg('dropping', bit, { reset: 0 });
    const port = m.let('port_now', mux(rx.sop, sel, heldPort));
    const dropNow = m.let('drop_now', mux(rx.sop, drop, heldDrop));
    m.if(rx.valid.and(rx.sop), () => {
      heldPort.next(sel);
      heldDrop.next(drop);
    });

    let ready: Expr = dropNow;
    outs.forEach((o, i) => {
      const mine = dropNow.not().and(port.eq(i));
      o.valid.set(rx.valid.and(mine));
      o.hdr.set(rx.hdr);
      o.data.set(rx.data);
      o.keep.set(rx.keep);
      o.sop.set(rx.sop);
      o.eop.set(rx.eop);
      o.bar.set(rx.bar);
      o.offset.set(rx.offset);
      o.func.set(rx.func);
      o.error.set(rx.error);
      ready = ready.or(mine.and(o.ready));
    });
    // A selection past the last port drops the TLP.
    if (n < 1 << sw) ready = ready.or(port.ge(n));
    rx.ready.set(ready);
    /** The output ports by name. */
    const out = Object.fromEntries(p.ports.map((name, i) => [name, outs[i]]));
    return { rx, sel, drop, out };
  },
  {
    name: (p) => `pcie_rx_demux_w${p.W}_${p.ports.join('_')}`,
    doc: 'Steers whole received TLPs, with their sideband, to the port an outside classifier selects.',
  },
);

export interface RxClassifierParams {
  W: DataWidth;
  /** The function's memory BARs: index and log2 of the size in bytes. */
  bars: readonly { index: number; sizeLog2: number }[];
}

/**
 * The soft endpoint's receive classifier: passes the link's TLP stream through with its sideband filled in
 * (the BAR a memory request hits and the offset inside it, from the BAR registers and Memory Space Enable;
 * a configuration request's function number, 0 for everything else; POISONED for a TLP with EP set) and
 * selects its RX_PORTS port (classifyRx). Valid on the sop beat, like the header.
 */
export const RxClassifier = defineModule(
  'pcie_rx_classifier',
  (m, p: RxClassifierParams) => {
    const rx = m.input('rx', tlpStream(p.W));
    const out = m.output('out', tlpRxStream(p.W));
    const sel = m.output('sel', 2);
    const memEnable = m.input('mem_enable', bit);
    const bases = p.bars.map((b) => m.input(`bar${b.index}_base`, 64));

    const f = tlpFields(rx.hdr);
    const match = barMatch(
      f.addr,
      p.bars.map((b, i) => ({ ...b, base: bases[i] })),
      memEnable,
    );
    const isCfg = f.type.eq(Type.Cfg0).or(f.type.eq(Type.Cfg1));
    sel.set(classifyRx(rx.hdr, match.hit));
    out.valid.set(rx.valid);
    rx.ready.set(out.ready);
    out.hdr.set(rx.hdr);
    out.data.set(rx.data);
    out.keep.set(rx.keep);
    out.sop.set(rx.sop);
    out.eop.set(rx.eop);
    out.bar.set(match.bar);
    out.offset.set(match.offset);
    out.func.set(mux(isCfg, f.cfgFunction.zext(8), lit(0, 8)));
    out.error.set(mux(f.ep, lit(RxError.POISONED, 4), lit(RxError.NONE, 4)));
    /** BAR base addresses by BAR index (ports `bar<i>_base`). */
    const barBase = Object.fromEntries(p.bars.map((b, i) => [b.index, bases[i]]));
    return { rx, out, sel, mem_enable: memEnable, bar_base: barBase };
  },
  {
    name: (p) => `pcie_rx_classifier_w${p.W}_${p.bars.map((b) => `b${b.index}s${b.sizeLog2}`).join('_')}`,
    doc: 'Soft endpoint RX classifier: BAR match, function, error code and RX port for each TLP.',
  },
);
