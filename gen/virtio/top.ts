// The virtio-pci endpoint's control plane (issue 7), assembled from gen/pcie's blocks and this folder's:
//
//   rx -> rx_class -> rx_demux -+- cfg   -> cfg (type-0 configuration space, PCI_CFG window) ----+
//         (BAR match,           |             | window accesses                                 |
//          sideband)            +- mem   -> access (BAR access engine) --ops--> regs             +-> cpl_arb -> cpl_gen
//                               +- other -> ur (UR completions; posted writes dropped) ----------+          |
//                               +- cpl   -> dp_cpl (completions of the data plane's reads)                   |
//   tx <- tx_arb <- [ cpl_gen <-----------------------------------------------------------------------------+
//                     regs.msg (MSI-X), intx (Assert/Deassert_INTA), dp_gate <- dp_tx ]
//
// tx_arb leaves from a full register slice (its own: 2 x (W + 132) flip-flops and W + 132 LUTs), so nothing behind
// the link's ready reaches the blocks combinationally. cpl_arb and the completion generator leave from forward
// registers (W + 132 flip-flops each, no LUT per bit): tx_arb's input ready is two registers ANDed, and it reaches
// the completion sources' readies through one LUT per register. No further slice is needed between them.
//
// The data plane (issue 8's queue engine) plugs in at `dp` (state and events: gen/virtio/ports.ts
// virtioHandover), `dp_tx` (its requests; they leave only with Bus Master Enable) and `dp_cpl` (the completions
// for them). Until it exists a testbench drives those ports. See docs/virtio-transport.md
// ("The RTL endpoint").
import { bitsFor, connect, defineModule, type ModuleBuilder } from '../hdl';
import { PacketArbiter } from '../pcie/arbiter';
import { CplGen } from '../pcie/cpl_gen';
import { RX_PORTS, RxClassifier, RxDemux } from '../pcie/rx_demux';
import { cplReqStream, type DataWidth, tlpStream } from '../pcie/streams';
import { tlpFields, Type } from '../pcie/tlp';
import { UrResponder } from '../pcie/ur_responder';
import { VirtioAccess } from './access';
import { VirtioCfgSpace } from './cfg_space';
import { BusMasterGate, IntxMessages } from './intx';
import { endpointConfigTag, validateLayout } from './layout';
import { pciState, virtioHandover } from './ports';
import type { CfgForward } from './cfg_layout';
import { DEVICE_TYPES } from './regmap';
import { VirtioRegs, type VirtioRegsParams } from './regs';

/** The TLP stream widths the endpoint is built at (all the stream allows). */
export const VIRTIO_WIDTHS: readonly DataWidth[] = [64, 128, 256, 512];

/** Longest MMIO read answered: one completion within the smallest Max_Payload_Size (128 bytes). */
export const VIRTIO_MAX_READ_DW = 32;

export interface VirtioEndpointParams extends VirtioRegsParams {
  /**
   * The configuration range a hard IP forwards to user logic; the hard IP answers the rest and holds the PCI
   * state, which comes in on the `pci` port. Default: the whole configuration space in soft logic.
   */
  cfgForward?: CfgForward;
}

function instantiateBlocks(m: ModuleBuilder, p: VirtioEndpointParams) {
  const l = p.layout;
  const W = p.W;
  return {
    classifier: m.instance('rx_class', RxClassifier, {
      W,
      bars: l.bars.map((b) => ({ index: b.index, sizeLog2: Math.log2(b.size) })),
    }).io,
    demux: m.instance('rx_demux', RxDemux, { W, ports: RX_PORTS }).io,
    cfg: m.instance('cfg', VirtioCfgSpace, {
      layout: l,
      W,
      ...(p.cfgForward ? { serve: 'forwarded' as const, forward: p.cfgForward } : {}),
    }).io,
    access: m.instance('access', VirtioAccess, { W, bars: l.bars, maxReadDw: VIRTIO_MAX_READ_DW }).io,
    regs: m.instance('regs', VirtioRegs, {
      layout: p.layout,
      W,
      deviceConfig: p.deviceConfig,
      requiredFeatures: p.requiredFeatures,
      dataPlaneFeatures: p.dataPlaneFeatures,
      staticDeviceConfig: p.staticDeviceConfig,
    }).io,
    ur: m.instance('ur', UrResponder, { W }).io,
    intx: m.instance('intx', IntxMessages, { W }).io,
    gate: m.instance('dp_gate', BusMasterGate, { W }).io,
    cplArb: m.instance('cpl_arb', PacketArbiter, { spec: cplReqStream(W), n: 3, forward: true }).io,
    cplGen: m.instance('cpl_gen', CplGen, { W }).io,
    txArb: m.instance('tx_arb', PacketArbiter, { spec: tlpStream(W), n: 4 }).io,
  };
}

export const VirtioEndpoint = defineModule(
  'virtio_endpoint',
  (m, p: VirtioEndpointParams) => {
    const l = validateLayout(p.layout);
    const W = p.W;
    const rx = m.input('rx', tlpStream(W));
    const tx = m.output('tx', tlpStream(W));
    const dp = m.output('dp', virtioHandover(l.queues.count, bitsFor(DEVICE_TYPES[l.deviceType].config.length - 1)));
    const dpTx = m.input('dp_tx', tlpStream(W));
    const dpCpl = m.output('dp_cpl', tlpStream(W));
    const pci = p.cfgForward ? m.input('pci', pciState(l.bars.map((b) => b.index))) : undefined;
    const b = instantiateBlocks(m, p);
    const { classifier, demux, cfg, access, regs, ur, intx, gate, cplArb, cplGen, txArb } = b;

    // ---- receive side: the BAR match from configuration space picks each TLP's port
    connect(classifier.rx, rx);
    classifier.mem_enable.set(cfg.mem_enable);
    for (const bar of l.bars) classifier.bar_base[bar.index].set(cfg.bar_base[bar.index]);
    connect(demux.rx, classifier.out);
    demux.sel.set(classifier.sel);
    connect(cfg.req, demux.out.cfg);
    connect(access.req, demux.out.mem);
    connect(ur.req, demux.out.other);
    const cplIn = demux.out.cpl;
    dpCpl.valid.set(cplIn.valid);
    dpCpl.hdr.set(cplIn.hdr);
    dpCpl.data.set(cplIn.data);
    dpCpl.keep.set(cplIn.keep);
    dpCpl.sop.set(cplIn.sop);
    dpCpl.eop.set(cplIn.eop);
    cplIn.ready.set(dpCpl.ready);

    // ---- configuration space <-> access engine: one request at a time, the PCI_CFG window
    connect(access.win, cfg.win!);
    if (pci) connect(cfg.pci!, pci);
    cfg.access_idle.set(access.idle);
    access.cfg_busy.set(cfg.busy);

    // ---- access engine -> register file
    connect(regs.op, access.op);
    regs.latch_sel.set(access.latch_sel);
    access.rd_valid.set(regs.rd_valid);
    access.rd_data.set(regs.rd_data);

    // ---- PCI state into the register file, status events into configuration space
    regs.msix_enable.set(cfg.msix_enable);
    regs.msix_function_mask.set(cfg.msix_function_mask);
    regs.bus_master.set(cfg.bus_master);
    regs.d0.set(cfg.d0);
    regs.intx_disable.set(cfg.intx_disable);
    regs.flr.set(cfg.flr);
    regs.requester_id.set(cfg.completer_id);
    regs.max_payload.set(cfg.max_payload);
    regs.max_read_req.set(cfg.max_read_req);
    regs.ext_tag_en.set(cfg.ext_tag_en);
    regs.tx_dropped.set(gate.dropped);
    connect(dp, regs.dp);
    // Unsupported Requests: UR completions, memory writes that hit no BAR (posted: dropped, 2.3.1), and the
    // access engine's unclaimed requests.
    const other = demux.out.other;
    const fo = tlpFields(other.hdr);
    const postedMem = fo.fmt.bit(2).not().and(fo.hasData).and(fo.type.eq(Type.Mem));
    const droppedWrite = other.valid.and(other.ready).and(other.sop).and(postedMem);
    cfg.ev_unsupported_request!.set(ur.ur_detected.or(droppedWrite).or(access.ev_ur));
    cfg.ev_signaled_target_abort!.set(access.ev_ca);
    cfg.ev_detected_parity!.set(access.ev_poisoned);
    cfg.interrupt_status!.set(regs.interrupt_status);
    cfg.transactions_pending!.set(dp.dma_outstanding);

    // ---- interrupts and the data plane's requests
    intx.level.set(regs.intx_level);
    intx.requester_id.set(cfg.completer_id);
    // dp_tx's handshake is tx_arb's acceptance (the gate is combinational): the data plane's notification gate
    // (gen/virtq/dma_fabric.ts) counts a TLP as ordered before a later MSI-X message from there on. Keep it so.
    connect(gate.in, dpTx);
    gate.bus_master.set(cfg.bus_master.and(cfg.d0));

    // ---- transmit side: completions, MSI-X writes, INTx messages, data-plane requests; whole TLPs
    connect(cplArb.in[0], cfg.cpl);
    connect(cplArb.in[1], ur.cpl);
    connect(cplArb.in[2], access.cpl);
    connect(cplGen.req, cplArb.out);
    cplGen.completer_id.set(cfg.completer_id);
    connect(txArb.in[0], cplGen.cpl);
    connect(txArb.in[1], regs.msg);
    connect(txArb.in[2], intx.msg);
    connect(txArb.in[3], gate.out);
    connect(tx, txArb.out);
    return { rx, tx, dp, dp_tx: dpTx, dp_cpl: dpCpl, pci };
  },
  {
    name: (p) =>
      `virtio_${p.layout.deviceType}_${p.layout.name}` +
      (p.cfgForward ? `_fwd${p.cfgForward.from.toString(16)}_${p.cfgForward.to.toString(16)}` : '') +
      `_w${p.W}${endpointConfigTag(p)}`,
    doc: 'virtio-pci endpoint control plane: configuration space, BAR structures, MSI-X, INTx, data-plane handover.',
  },
);
