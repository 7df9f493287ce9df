// virtio-blk's test and benchmark top: the device with the DMA engines it is a client of and its storage, on one
// link. The queue engine's side (`chain` in, `done` out) and the configuration settings are top-level ports
// (tests play the queue engine with the simulator's handshake helpers); the storage is the on-chip AXI4 RAM,
// reachable through Verilator's public access (`ram.mem`) so tests can seed and check the disk.
//
//   rx -> dma_read (cpl) -> mem_wr -> blk -> storage (AXI4) -> ram
//   tx <- tx_slice <- tx_arb <- [ dma_read (MRd), dma_write (MWr) ]      dma_write.mem_rd -> blk
import { bit, connect, defineModule, lit, mux } from '../hdl';
import { DmaRead } from '../dma/read_engine';
import { DmaWrite } from '../dma/write_engine';
import { DMA_TEST_TIMEOUT_BITS, dmaTestParams } from '../dma/test_top';
import { PacketArbiter } from '../pcie/arbiter';
import { type DataWidth, RxError, tlpStream } from '../pcie/streams';
import { TlpSlice } from '../pcie/tlp_slice';
import { tlpFields } from '../pcie/tlp';
import { chainDesc, chainDone } from '../virtq/ports';
import { AxiRam } from './axi_ram';
import { paramHash, VirtioBlk, type VirtioBlkParams } from './device';

export type BlkTestTopParams = Omit<VirtioBlkParams, 'lenBits' | 'idBits' | 'addrBits' | 'base'> & {
  W: DataWidth;
  tags: number;
  /** The DMA read engine's command slots (commands with reads outstanding; default 8, the engines' tests'). */
  readSlots?: number;
};

/**
 * The configuration the tests and `npm run gen` build: a 250 KiB disk (500 sectors) in a 256 KiB storage window,
 * limits small enough for tests to reach (seg_max 6, size_max 16 KiB, 3 discard / 2 write-zeroes segments).
 */
export function blkTestParams(W: DataWidth, over: Partial<BlkTestTopParams> = {}): BlkTestTopParams {
  return {
    W,
    tags: 32,
    // Every request's header read is a command of its own: as many as the device has requests in flight.
    readSlots: 16,
    queueBits: 2,
    devBits: 19,
    capacity: 500,
    segMax: 6,
    sizeMax: 16384,
    flush: true,
    discard: { maxSectors: 64, maxSeg: 3 },
    writeZeroes: { maxSectors: 48, maxSeg: 2 },
    id: 'virtio-fpga blk 0001',
    ...over,
  };
}

/** The device's parameters in the test top (the DMA engines' command widths). */
export function blkTestDeviceParams(p: BlkTestTopParams): VirtioBlkParams {
  const q = dmaTestParams({ W: p.W, tags: p.tags, devBits: p.devBits });
  const { tags: _tags, readSlots: _readSlots, ...dev } = p;
  void _tags;
  void _readSlots;
  return { ...dev, lenBits: q.read.lenBits, idBits: q.read.idBits };
}

export const BlkTestTop = defineModule(
  'blk_test',
  (m, p: BlkTestTopParams) => {
    const W = p.W;
    const q = dmaTestParams({ W, tags: p.tags, devBits: p.devBits });
    const rx = m.input('rx', tlpStream(W));
    const tx = m.output('tx', tlpStream(W));
    const chain = m.input('chain', chainDesc(p.queueBits));
    const done = m.output('done', chainDone(p.queueBits));
    const features = m.input('features', 64);
    const busMaster = m.input('bus_master', bit);
    const mps = m.input('max_payload', 3);
    const mrrs = m.input('max_read_req', 3);
    const extTagEn = m.input('ext_tag_en', bit);
    const requesterId = m.input('requester_id', 16);
    const timeout = m.input('timeout', DMA_TEST_TIMEOUT_BITS);
    const busy = m.output('busy', bit);
    const badRequests = m.output('bad_requests', 16);
    const dmaErrors = m.output('dma_errors', 16);

    const blk = m.instance('blk', VirtioBlk, blkTestDeviceParams(p)).io;
    const rd = m.instance('dma_rd', DmaRead, { ...q.read, slots: p.readSlots ?? q.read.slots }).io;
    // The device answers reads in word order (gen/blk/line_axi.ts), everywhere in its region.
    const wr = m.instance('dma_wr', DmaWrite, { ...q.write, wordOrder: [[0, 2 ** p.devBits]] }).io;
    const ram = m.instance('ram', AxiRam, { dataBits: 2 * W, bytes: 2 ** (p.devBits - 1) }).io;
    const arb = m.instance('tx_arb', PacketArbiter, { spec: tlpStream(W), n: 2 }).io;
    const slice = m.instance('tx_slice', TlpSlice, { W }).io;

    rd.cpl.valid.set(rx.valid);
    rx.ready.set(rd.cpl.ready);
    rd.cpl.hdr.set(rx.hdr);
    rd.cpl.data.set(rx.data);
    rd.cpl.keep.set(rx.keep);
    rd.cpl.sop.set(rx.sop);
    rd.cpl.eop.set(rx.eop);
    rd.cpl.bar.set(0);
    rd.cpl.offset.set(0);
    rd.cpl.func.set(0);
    rd.cpl.error.set(mux(tlpFields(rx.hdr).ep, lit(RxError.POISONED, 4), lit(RxError.NONE, 4)));

    connect(blk.chain, chain);
    connect(done, blk.done);
    blk.features.set(features);
    connect(rd.cmd, blk.rd_cmd);
    connect(blk.rd_status, rd.status);
    connect(wr.cmd, blk.wr_cmd);
    connect(blk.wr_status, wr.status);
    connect(blk.mem_wr, rd.mem_wr);
    connect(blk.mem_rd, wr.mem_rd);
    connect(ram.s, blk.storage);
    for (const e of [rd, wr]) {
      e.bus_master.set(busMaster);
      e.requester_id.set(requesterId);
    }
    rd.max_read_req.set(mrrs);
    rd.ext_tag_en.set(extTagEn);
    rd.timeout.set(timeout);
    wr.max_payload.set(mps);

    connect(arb.in[0], rd.req);
    connect(arb.in[1], wr.req);
    connect(slice.in, arb.out);
    connect(tx, slice.out);

    const count = (name: string, ev: typeof blk.ev_bad_request) => {
      const c = m.reg(name, 16, { reset: 0 });
      m.if(ev.and(c.andR().not()), () => c.next(c.inc()));
      return c;
    };
    badRequests.set(count('bad_count', blk.ev_bad_request));
    dmaErrors.set(count('dma_error_count', blk.ev_dma_error));
    busy.set(blk.busy.or(rd.busy).or(wr.busy));
  },
  {
    name: (p) => `blk_test_w${p.W}_${paramHash(p)}`,
    doc: 'virtio-blk test top: the device, both DMA engines, a TX arbiter and an on-chip AXI4 RAM as storage.',
  },
);
