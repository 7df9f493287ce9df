// A stand-in for a PCIe hard IP that forwards part of the configuration space to user logic (Xilinx 7-series
// pcie_7x with EXT_CFG_CAP_PTR: configuration requests at and above that dword reach the user's RX stream; the
// core answers the rest from its own registers and tells the user its state on cfg_* outputs). For simulation
// only (not in gen/tops.ts): it lets the endpoint built with `cfgForward` be checked whole, by the same driver
// and golden model as the soft endpoint.
//
//   rx -> route -+- configuration requests outside the range -> hard (VirtioCfgSpace, serve 'hardip') -> cpl_gen -+
//                +- everything else -> endpoint (VirtioEndpoint with cfgForward) -> tx -------------------------+-> tx_arb -> tx
//   hard.pci -> endpoint.pci (the PCI state the function obeys; the endpoint's status events back)
//
// The route is decided on each TLP's first beat and held to its last; beats pass through without a register.
import { bit, bitsFor, connect, defineModule, lit, mux } from '../hdl';
import { PacketArbiter } from '../pcie/arbiter';
import { CplGen } from '../pcie/cpl_gen';
import { RxError, tlpStream } from '../pcie/streams';
import { tlpFields, Type } from '../pcie/tlp';
import { VirtioCfgSpace } from './cfg_space';
import type { CfgForward } from './cfg_layout';
import { virtioHandover } from './ports';
import { DEVICE_TYPES } from './regmap';
import { VirtioEndpoint, type VirtioEndpointParams } from './top';

export interface HardIpStandInParams extends VirtioEndpointParams {
  cfgForward: CfgForward;
}

export const HardIpStandIn = defineModule(
  'virtio_hardip_standin',
  (m, p: HardIpStandInParams) => {
    const W = p.W;
    const ep = m.instance('endpoint', VirtioEndpoint, p).io;
    const hard = m.instance('hard', VirtioCfgSpace, {
      layout: p.layout,
      W,
      serve: 'hardip',
      forward: p.cfgForward,
    }).io;
    const hardCpl = m.instance('hard_cpl', CplGen, { W }).io;
    const txArb = m.instance('tx_arb', PacketArbiter, { spec: tlpStream(W), n: 2 }).io;

    const rx = m.input('rx', tlpStream(W));
    const tx = m.output('tx', tlpStream(W));
    const l = p.layout;
    const dp = m.output('dp', virtioHandover(l.queues.count, bitsFor(DEVICE_TYPES[l.deviceType].config.length - 1)));
    const dpTx = m.input('dp_tx', tlpStream(W));
    const dpCpl = m.output('dp_cpl', tlpStream(W));
    connect(dp, ep.dp);
    connect(ep.dp_tx, dpTx);
    connect(dpCpl, ep.dp_cpl);

    // ---- route: a type-0 configuration request outside the forwarded range is the hard IP's
    const f = tlpFields(rx.hdr);
    const dword = f.cfgDword;
    const inRange = dword.ge(p.cfgForward.from >> 2).and(dword.lt(p.cfgForward.to >> 2));
    const isCfg0 = f.fmt.bit(2).not().and(f.is4dw.not()).and(f.type.eq(Type.Cfg0));
    const held = m.reg('to_hard_q', bit, { reset: 0 });
    m.if(rx.valid.and(rx.sop), () => held.next(isCfg0.and(inRange.not())));
    const toHard = m.let('to_hard', mux(rx.sop, isCfg0.and(inRange.not()), held));
    const hreq = hard.req;
    hreq.valid.set(rx.valid.and(toHard));
    hreq.hdr.set(rx.hdr);
    hreq.data.set(rx.data);
    hreq.keep.set(rx.keep);
    hreq.sop.set(rx.sop);
    hreq.eop.set(rx.eop);
    hreq.bar.set(lit(0, 3));
    hreq.offset.set(lit(0, 64));
    hreq.func.set(f.cfgFunction.zext(8));
    hreq.error.set(lit(RxError.NONE, 4));
    ep.rx.valid.set(rx.valid.and(toHard.not()));
    ep.rx.hdr.set(rx.hdr);
    ep.rx.data.set(rx.data);
    ep.rx.keep.set(rx.keep);
    ep.rx.sop.set(rx.sop);
    ep.rx.eop.set(rx.eop);
    rx.ready.set(mux(toHard, hreq.ready, ep.rx.ready));

    // ---- the hard IP's own registers: served one at a time, nothing to wait for
    hard.access_idle.set(lit(1, 1));
    connect(ep.pci!, hard.pci!);
    connect(hardCpl.req, hard.cpl);
    hardCpl.completer_id.set(hard.completer_id);

    // ---- transmit: the endpoint's TLPs and the hard IP's completions
    connect(txArb.in[0], ep.tx);
    connect(txArb.in[1], hardCpl.cpl);
    connect(tx, txArb.out);
    return { rx, tx, dp, dp_tx: dpTx, dp_cpl: dpCpl };
  },
  {
    name: (p) =>
      `virtio_hardip_standin_${p.layout.name}_${p.cfgForward.from.toString(16)}_${p.cfgForward.to.toString(16)}_w${p.W}`,
    doc: 'Simulation stand-in for a hard IP that forwards part of configuration space: the endpoint in forwarded mode plus the rest of the space.',
  },
);
