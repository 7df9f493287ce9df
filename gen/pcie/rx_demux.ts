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
import { bit, cat, defineModule, type Drivable, type Expr, lit, type ModuleBuilder, mux, paramError } from '../hdl';
import { PipeReg } from '../lib/skid';
import { barCompare, barResolve } from './bar_match';
import { type DataWidth, RxError, tlpRxStream, tlpStream } from './streams';
import { tlpFields, Type } from './tlp';

export const RX_PORTS = ['cfg', 'mem', 'cpl', 'other'] as const;
export const RxPort = { Cfg: 0, Mem: 1, Cpl: 2, Other: 3 } as const;

/**
 * The usual endpoint port of a header, given whether a memory request hit a BAR: one-hot over RX_PORTS (bit
 * RxPort.X for port X). Each bit is its own function, so the configuration and completion ports do not wait
 * for the BAR match.
 */
export function classifyRx(hdr: Expr, memHit: Expr): Expr {
  const f = tlpFields(hdr);
  const noPrefix = f.fmt.bit(2).not();
  const isMem = noPrefix.and(f.type.eq(Type.Mem)).and(memHit);
  const isCfg0 = noPrefix.and(f.is4dw.not()).and(f.type.eq(Type.Cfg0));
  const isCpl = noPrefix.and(f.is4dw.not()).and(f.type.eq(Type.Cpl));
  const isOther = isCfg0.or(isMem).or(isCpl).not();
  const bits: Expr[] = [];
  bits[RxPort.Cfg] = isCfg0;
  bits[RxPort.Mem] = isMem;
  bits[RxPort.Cpl] = isCpl;
  bits[RxPort.Other] = isOther;
  return cat(...bits.reverse());
}

export interface RxDemuxParams {
  W: DataWidth;
  /** Output port names: bit i of `sel` selects port i. */
  ports: readonly string[];
}

/**
 * `sel` (one bit per port, at most one set) is sampled with each TLP's sop beat and holds for its beats; a
 * TLP that selects no port is taken and discarded. Beats pass through combinationally. One-hot, so that a
 * port's valid depends only on its own select bit (a completion need not wait for a BAR match).
 */
export const RxDemux = defineModule(
  'pcie_rx_demux',
  (m, p: RxDemuxParams) => {
    const n = p.ports.length;
    if (n < 2) throw paramError(`RxDemux: at least 2 ports, got ${n}`);
    if (new Set(p.ports).size !== n) throw paramError(`RxDemux: port names repeat: ${p.ports.join(', ')}`);
    const spec = tlpRxStream(p.W);
    const rx = m.input('rx', spec);
    const sel = m.input('sel', n);
    const outs = p.ports.map((name) => m.output(name, spec));

    const held = m.reg('port', n, { reset: 0 });
    const port = m.let('port_now', mux(rx.sop, sel, held));
    m.if(rx.valid.and(rx.sop), () => held.next(sel));

    let ready: Expr = port.orR().not(); // no port: discarded
    outs.forEach((o, i) => {
      const mine = port.bit(i);
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
    rx.ready.set(ready);
    /** The output ports by name. */
    const out = Object.fromEntries(p.ports.map((name, i) => [name, outs[i]]));
    return { rx, sel, out };
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
 * One forward pipeline register (gen/lib PipeReg) carrying several values of a stream's beat, packed; the
 * registered values come back in the same order. `ready` is the stage's input ready, `out.ready` its output's.
 */
function pipeStage(m: ModuleBuilder, name: string, valid: Expr, values: readonly Expr[]) {
  const width = values.reduce((w, e) => w + e.width, 0);
  const pipe = m.instance(name, PipeReg, { width }).io;
  pipe.in.valid.set(valid);
  pipe.in.data.set(cat(...values));
  let hi = width - 1;
  const outs = values.map((e) => {
    const o = pipe.out.data.bits(hi, hi - e.width + 1);
    hi -= e.width;
    return o;
  });
  return { ready: pipe.in.ready, valid: pipe.out.valid, outReady: pipe.out.ready, values: outs };
}

/**
 * The soft endpoint's receive classifier: passes the link's TLP stream on with its sideband filled in (the
 * BAR a memory request hits and the offset inside it, from the BAR registers and Memory Space Enable; a
 * configuration request's function number, 0 for everything else; POISONED for a TLP with EP set) and its
 * RX_PORTS port selected (classifyRx), both valid on the sop beat like the header. Two forward pipeline
 * stages (gen/lib PipeReg, two cycles): the first registers the beat with the 64-bit compares of its address
 * against each BAR (bar_match.ts barCompare), the second resolves BAR, offset and port from those flags, so
 * that neither the wide compares nor the selection reach the blocks behind the demux.
 */
export const RxClassifier = defineModule(
  'pcie_rx_classifier',
  (m, p: RxClassifierParams) => {
    const rx = m.input('rx', tlpStream(p.W));
    const out = m.output('out', tlpRxStream(p.W));
    const sel = m.output('sel', RX_PORTS.length);
    const memEnable = m.input('mem_enable', bit);
    const bases = p.bars.map((b) => m.input(`bar${b.index}_base`, 64));

    // ---- stage 1: the beat and its address compared with every BAR
    const flags = barCompare(
      tlpFields(rx.hdr),
      p.bars.map((b, i) => ({ ...b, base: bases[i] })),
    );
    const s1 = pipeStage(m, 'compare', rx.valid, [rx.hdr, rx.data, rx.keep, rx.sop, rx.eop, flags, memEnable]);
    rx.ready.set(s1.ready);
    const [hdr, data, keep, sop, eop, flagsQ, memEnableQ] = s1.values;

    // ---- stage 2: BAR, offset, function, error code and port
    const f = tlpFields(hdr);
    const match = barResolve(f, p.bars, flagsQ, memEnableQ);
    const isCfg = f.type.eq(Type.Cfg0).or(f.type.eq(Type.Cfg1));
    const func = mux(isCfg, f.cfgFunction.zext(8), lit(0, 8));
    const error = mux(f.ep, lit(RxError.POISONED, 4), lit(RxError.NONE, 4));
    const fields: [Expr, Drivable][] = [
      [hdr, out.hdr],
      [data, out.data],
      [keep, out.keep],
      [sop, out.sop],
      [eop, out.eop],
      [match.bar, out.bar],
      [match.offset, out.offset],
      [func, out.func],
      [error, out.error],
      [classifyRx(hdr, match.hit), sel],
    ];
    const s2 = pipeStage(
      m,
      'resolve',
      s1.valid,
      fields.map(([e]) => e),
    );
    s1.outReady.set(s2.ready);
    out.valid.set(s2.valid);
    s2.outReady.set(out.ready);
    fields.forEach(([, o], i) => o.set(s2.values[i]));
    /** BAR base addresses by BAR index (ports `bar<i>_base`). */
    const barBase = Object.fromEntries(p.bars.map((b, i) => [b.index, bases[i]]));
    return { rx, out, sel, mem_enable: memEnable, bar_base: barBase };
  },
  {
    name: (p) => `pcie_rx_classifier_w${p.W}_${p.bars.map((b) => `b${b.index}s${b.sizeLog2}`).join('_')}`,
    doc: 'Soft endpoint RX classifier: BAR match, function, error code and RX port for each TLP, two pipeline stages.',
  },
);
