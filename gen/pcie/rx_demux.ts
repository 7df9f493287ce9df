// RX demultiplexer: steers each received TLP, whole, to the block that handles its type.
//   cfg   : configuration requests of type 0 (CfgRd0, CfgWr0): the function's configuration space;
//   mem   : memory requests (MRd, MWr, 3DW or 4DW): the BARs;
//   cpl   : completions (Cpl, CplD): the DMA engines waiting for read data;
//   other : everything else (MRdLk, IO, type 1 configuration, AtomicOps, messages, locked completions):
//           an endpoint without those features answers non-posted ones with Unsupported Request
//           (2.3.1 "Request Handling Rules") and drops the rest.
// The decision is made on the sop beat (the header is valid there) and held until the packet's eop.
import { defineModule, type Expr, lit, mux, tlpStream } from '../hdl';
import type { DataWidth } from './streams';
import { tlpFields, Type } from './tlp';

export const RxPort = { Cfg: 0, Mem: 1, Cpl: 2, Other: 3 } as const;

/** Which RxPort a header belongs to (2 bits). */
export function classifyRx(hdr: Expr): Expr {
  const f = tlpFields(hdr);
  const noPrefix = f.fmt.bit(2).not();
  const isMem = noPrefix.and(f.type.eq(Type.Mem));
  const isCfg0 = noPrefix.and(f.is4dw.not()).and(f.type.eq(Type.Cfg0));
  const isCpl = noPrefix.and(f.is4dw.not()).and(f.type.eq(Type.Cpl));
  return mux(
    isCfg0,
    lit(RxPort.Cfg, 2),
    mux(isMem, lit(RxPort.Mem, 2), mux(isCpl, lit(RxPort.Cpl, 2), lit(RxPort.Other, 2))),
  );
}

export const RxDemux = defineModule(
  'pcie_rx_demux',
  (m, p: { W: DataWidth }) => {
    const rx = m.input('rx', tlpStream(p.W));
    const cfg = m.output('cfg', tlpStream(p.W));
    const mem = m.output('mem', tlpStream(p.W));
    const cpl = m.output('cpl', tlpStream(p.W));
    const other = m.output('other', tlpStream(p.W));
    const outs = [cfg, mem, cpl, other];

    const held = m.reg('port', 2, { reset: 0 });
    const port = m.let('port_now', mux(rx.sop, classifyRx(rx.hdr), held));
    m.if(rx.valid.and(rx.sop), () => held.next(port));

    outs.forEach((o, i) => {
      const mine = port.eq(i);
      o.valid.set(rx.valid.and(mine));
      o.hdr.set(rx.hdr);
      o.data.set(rx.data);
      o.keep.set(rx.keep);
      o.sop.set(rx.sop);
      o.eop.set(rx.eop);
    });
    rx.ready.set(
      mux(port.eq(0), outs[0].ready, mux(port.eq(1), outs[1].ready, mux(port.eq(2), outs[2].ready, outs[3].ready))),
    );
    return { rx, cfg, mem, cpl, other };
  },
  {
    name: (p) => `pcie_rx_demux_w${p.W}`,
    doc: 'Steers received TLPs by type: type-0 config, memory requests, completions, other (UR/drop).',
  },
);
