// testdev: a small PCI Express endpoint that exercises a root-complex model: enumeration (configuration
// space with BARs and capabilities), MMIO (registers and a RAM behind BAR0), DMA in both directions with
// several read tags, and MSI-X. See docs/testdev.md.
//
//   rx -> rx_class -> rx_demux -+- cfg   -> cfg (type-0 configuration space) ---------------+
//          (BAR match,          +- other -> ur (UR completions for unsupported requests) ----+-> cpl_arb -+
//           sideband, select)   +- mem   -> mmio (BAR0 RAM / registers, BAR2 MSI-X table) ---+            |
//                               +- cpl   -> dma_rd (completion data -> ram)                  cpl_gen <---+
//   tx <- tx_arb <- [ cpl_gen, dma_rd (MRd), dma_wr (MWr), msix (MWr) ]
//
// The arbiters (full register slices) and the completion generator (a forward register, ahead of tx_arb's
// slice) register their outputs, so the paths between blocks end in registers.
import { bit, connect, defineModule, type ModuleBuilder } from '../hdl';
import { PacketArbiter } from '../pcie/arbiter';
import { type CfgSpaceParams, CfgSpace } from '../pcie/cfg_space';
import { CplGen } from '../pcie/cpl_gen';
import { DmaRd } from '../pcie/dma_rd';
import { DmaWr } from '../pcie/dma_wr';
import { Msix } from '../pcie/msix';
import { RX_PORTS, RxClassifier, RxDemux } from '../pcie/rx_demux';
import { cplReqStream, type DataWidth, lanesOf, tlpStream } from '../pcie/streams';
import { UrResponder } from '../pcie/ur_responder';
import { DevRam } from './ram';
import { Mmio } from './mmio';
import {
  BAR0_BYTES,
  BAR2_BYTES,
  MSIX_PBA_OFFSET,
  MSIX_TABLE_OFFSET,
  MSIX_VECTORS,
  RAM_BYTES,
  RAM_OFFSET,
} from './regs';
import { TestdevRegs } from './regs_block';

/** The TLP stream widths the test device is built and tested at: all the stream allows. */
export const TESTDEV_WIDTHS: readonly DataWidth[] = [64, 128, 256, 512];

/**
 * The function's identity and configuration-space parameters. Vendor 0x1234 / device 0x0001 are TEST IDs
 * (0x1234 is not a vendor this device belongs to; it is the ID QEMU uses for its own test devices): never
 * ship them in hardware.
 */
export const TESTDEV_CFG: CfgSpaceParams = {
  name: 'testdev',
  vendorId: 0x1234,
  deviceId: 0x0001,
  subsystemVendorId: 0x1234,
  subsystemId: 0x0001,
  revisionId: 0x01,
  classCode: 0xff0000, // "device does not fit any defined class"
  bars: [
    { index: 0, kind: 'mem64', prefetchable: true, sizeLog2: Math.log2(BAR0_BYTES) },
    { index: 2, kind: 'mem32', prefetchable: false, sizeLog2: Math.log2(BAR2_BYTES) },
  ],
  msix: { vectors: MSIX_VECTORS, tableBar: 2, tableOffset: MSIX_TABLE_OFFSET, pbaBar: 2, pbaOffset: MSIX_PBA_OFFSET },
  mpsSupported: 2, // 512 bytes
  extTagSupported: true,
  linkSpeed: 3, // 8 GT/s
  linkWidth: 8,
};

/** Per-width build parameters. */
export function testdevParams(W: DataWidth) {
  return {
    W,
    lanes: lanesOf(W),
    readTags: W === 64 ? 8 : 16,
    ramLog2: Math.log2(RAM_BYTES),
    lenBits: 15,
    timeoutBits: 24,
    /** MMIO reads longer than this (dwords) get Completer Abort. */
    maxReadDw: 32,
  };
}

/** Every block of the device, instantiated in `m` (see the diagram at the top). */
function instantiateBlocks(m: ModuleBuilder, W: DataWidth) {
  const q = testdevParams(W);
  return {
    classifier: m.instance('rx_class', RxClassifier, {
      W,
      bars: TESTDEV_CFG.bars.map((b) => ({ index: b.index, sizeLog2: b.sizeLog2 })),
    }).io,
    demux: m.instance('rx_demux', RxDemux, { W, ports: RX_PORTS }).io,
    cfg: m.instance('cfg', CfgSpace, { ...TESTDEV_CFG, W }).io,
    ur: m.instance('ur', UrResponder, { W }).io,
    mmio: m.instance('mmio', Mmio, {
      W,
      bar0Log2: Math.log2(BAR0_BYTES),
      bar2Log2: Math.log2(BAR2_BYTES),
      ramOffset: RAM_OFFSET,
      ramLog2: q.ramLog2,
      maxReadDw: q.maxReadDw,
    }).io,
    dmaRd: m.instance('dma_rd', DmaRd, {
      W,
      tags: q.readTags,
      ramLog2: q.ramLog2,
      lenBits: q.lenBits,
      timeoutBits: q.timeoutBits,
    }).io,
    dmaWr: m.instance('dma_wr', DmaWr, {
      W,
      ramLog2: q.ramLog2,
      lenBits: q.lenBits,
      mpsSupported: TESTDEV_CFG.mpsSupported,
    }).io,
    ram: m.instance('ram', DevRam, { W, bytes: RAM_BYTES }).io,
    regs: m.instance('regs', TestdevRegs, { lanes: q.lanes, readTags: q.readTags, addrBits: Math.log2(BAR0_BYTES) - 2 })
      .io,
    msix: m.instance('msix', Msix, {
      W,
      vectors: MSIX_VECTORS,
      tableOffset: MSIX_TABLE_OFFSET,
      pbaOffset: MSIX_PBA_OFFSET,
      barLog2: Math.log2(BAR2_BYTES),
    }).io,
    cplArb: m.instance('cpl_arb', PacketArbiter, { spec: cplReqStream(W), n: 3 }).io,
    cplGen: m.instance('cpl_gen', CplGen, { W }).io,
    txArb: m.instance('tx_arb', PacketArbiter, { spec: tlpStream(W), n: 4 }).io,
  };
}
type Blocks = ReturnType<typeof instantiateBlocks>;

/** The configuration space's settings into the blocks that obey them. */
function wireConfiguration(b: Blocks): void {
  const { cfg, classifier, dmaRd, dmaWr, regs, msix } = b;
  classifier.mem_enable.set(cfg.mem_enable);
  for (const bar of TESTDEV_CFG.bars) classifier.bar_base[bar.index].set(cfg.bar_base[bar.index]);
  for (const d of [dmaRd, dmaWr]) {
    d.bus_master.set(cfg.bus_master);
    d.requester_id.set(cfg.completer_id);
    d.host_addr.set(regs.dma_host_addr);
    d.ram_addr.set(regs.dma_ram_addr);
    d.len.set(regs.dma_len);
  }
  dmaRd.max_read_req.set(cfg.max_read_req);
  dmaRd.ext_tag_en.set(cfg.ext_tag_en);
  dmaRd.timeout.set(regs.dma_timeout);
  dmaRd.start.set(regs.rd_start);
  dmaWr.max_payload.set(cfg.max_payload);
  dmaWr.start.set(regs.wr_start);
  msix.msix_enable.set(cfg.msix_enable);
  msix.function_mask.set(cfg.msix_function_mask);
  msix.bus_master.set(cfg.bus_master);
  msix.requester_id.set(cfg.completer_id);
}

/** Status events into the configuration space. */
function wireStatusEvents(b: Blocks): void {
  const { cfg, dmaRd, mmio, ur } = b;
  cfg.ev_received_master_abort.set(dmaRd.ev_ur);
  cfg.ev_received_target_abort.set(dmaRd.ev_ca);
  cfg.ev_poisoned_cpl.set(dmaRd.ev_poisoned);
  cfg.ev_poisoned_req.set(mmio.ev_poisoned);
  cfg.ev_sent_completer_abort.set(mmio.ev_ca);
  cfg.ev_unsupported_request.set(ur.ur_detected);
  cfg.transactions_pending.set(dmaRd.outstanding);
}

/** The register port: BAR0 registers or the BAR2 MSI-X table. */
function wireRegisterPort(b: Blocks): void {
  const { mmio, regs, msix } = b;
  const bus = mmio.reg;
  const bar2 = mmio.reg_bar2;
  regs.reg.addr.set(bus.addr);
  regs.reg.wr.set(bus.wr.and(bar2.not()));
  regs.reg.wdata.set(bus.wdata);
  regs.reg.wbe.set(bus.wbe);
  msix.reg.addr.set(bus.addr.trunc(Math.log2(BAR2_BYTES) - 2));
  msix.reg.wr.set(bus.wr.and(bar2));
  msix.reg.wdata.set(bus.wdata);
  msix.reg.wbe.set(bus.wbe);
  bus.rdata.set(bar2.select(msix.reg.rdata, regs.reg.rdata));
}

/** DMA status into the registers, interrupts out of them. */
function wireDmaStatus(b: Blocks): void {
  const { regs, dmaRd, dmaWr, msix } = b;
  regs.rd_busy.set(dmaRd.busy);
  regs.rd_done.set(dmaRd.done);
  regs.rd_error.set(dmaRd.error);
  regs.wr_busy.set(dmaWr.busy);
  regs.wr_done.set(dmaWr.done);
  regs.wr_error.set(dmaWr.error);
  regs.ev_unexpected.set(dmaRd.ev_unexpected);
  msix.irq.set(regs.irq);
}

export const Testdev = defineModule(
  'testdev',
  (m, p: { W: DataWidth }) => {
    const W = p.W;
    const rx = m.input('rx', tlpStream(W));
    const tx = m.output('tx', tlpStream(W));
    const dmaBusy = m.output('dma_busy', bit);
    const completerId = m.output('completer_id', 16);
    const msixPending = m.output('irq_pending', MSIX_VECTORS);

    const b = instantiateBlocks(m, W);
    const { classifier, demux, cfg, ur, mmio, dmaRd, dmaWr, ram, regs, msix, cplArb, cplGen, txArb } = b;

    // ---- receive side: the BAR match from the configuration space's BARs picks each TLP's port
    connect(classifier.rx, rx);
    connect(demux.rx, classifier.out);
    demux.sel.set(classifier.sel);
    connect(cfg.req, demux.out.cfg);
    connect(ur.req, demux.out.other);
    connect(mmio.req, demux.out.mem);
    connect(dmaRd.cpl, demux.out.cpl);

    // ---- configuration seen by everyone, status events into the configuration space
    wireConfiguration(b);
    wireStatusEvents(b);

    // ---- RAM: DMA completion data wins the write port, MMIO reads win the read port
    connect(ram.wr_a, dmaRd.ram_wr);
    connect(ram.wr_b, mmio.ram_wr);
    connect(ram.rd_a, mmio.ram_rd);
    connect(ram.rd_b, dmaWr.ram_rd);

    // ---- register port, DMA status, interrupts
    wireRegisterPort(b);
    wireDmaStatus(b);

    // ---- transmit side: completions, DMA requests and MSI-X writes, whole TLPs
    connect(cplArb.in[0], cfg.cpl);
    connect(cplArb.in[1], ur.cpl);
    connect(cplArb.in[2], mmio.cpl);
    connect(cplGen.req, cplArb.out);
    cplGen.completer_id.set(cfg.completer_id);
    connect(txArb.in[0], cplGen.cpl);
    connect(txArb.in[1], dmaRd.req);
    connect(txArb.in[2], dmaWr.req);
    connect(txArb.in[3], msix.msg);
    connect(tx, txArb.out);

    dmaBusy.set(regs.rd_busy.or(regs.wr_busy).or(regs.rd_start).or(regs.wr_start));
    completerId.set(cfg.completer_id);
    msixPending.set(msix.pending);
  },
  {
    name: (p) => `testdev_w${p.W}`,
    doc: 'PCI Express test endpoint: config space, BAR0 registers + RAM, DMA read/write engines, MSI-X.',
  },
);
