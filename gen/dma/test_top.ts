// The DMA engines' test and benchmark top: the read and write engines on one link, sharing a two-bank device
// memory, with their command and status ports and the configuration settings as top-level ports (tests drive
// them with the simulator's handshake helpers, docs/byo-rtl.md) and the memory reachable through Verilator's
// public access. Every received TLP goes to the read engine (the root complex only sends it completions).
//
//   rx -> dma_read (cpl) -> mem_wr -> ram <- mem_rd <- dma_write
//   tx <- tx_slice <- tx_arb <- [ dma_read (MRd), dma_write (MWr) ]
import { bit, connect, defineModule, lit, mux } from '../hdl';
import { PacketArbiter } from '../pcie/arbiter';
import { type DataWidth, RxError, tlpStream } from '../pcie/streams';
import { TlpSlice } from '../pcie/tlp_slice';
import { tlpFields } from '../pcie/tlp';
import { dmaCommand, dmaStatus } from './ports';
import { DmaRam } from './ram';
import { DmaRead } from './read_engine';
import { DmaWrite } from './write_engine';

export interface DmaTestTopParams {
  W: DataWidth;
  tags: number;
  /** log2 of the device memory's size in bytes. */
  devBits: number;
}

export const DMA_TEST_LEN_BITS = 20;
export const DMA_TEST_ID_BITS = 8;
export const DMA_TEST_TIMEOUT_BITS = 20;

/** The engines' parameters in the test top (the tops in gen/tops.ts use the same). */
export function dmaTestParams(p: DmaTestTopParams) {
  return {
    read: {
      W: p.W,
      tags: p.tags,
      devBits: p.devBits,
      lenBits: DMA_TEST_LEN_BITS,
      idBits: DMA_TEST_ID_BITS,
      timeoutBits: DMA_TEST_TIMEOUT_BITS,
      slots: 8,
    },
    write: {
      W: p.W,
      devBits: p.devBits,
      lenBits: DMA_TEST_LEN_BITS,
      idBits: DMA_TEST_ID_BITS,
      mpsSupported: 5,
      readAhead: 8,
    },
  };
}

export const DmaTestTop = defineModule(
  'dma_test',
  (m, p: DmaTestTopParams) => {
    const W = p.W;
    const q = dmaTestParams(p);
    const rx = m.input('rx', tlpStream(W));
    const tx = m.output('tx', tlpStream(W));
    const rdCmd = m.input('rd_cmd', dmaCommand(p.devBits, DMA_TEST_LEN_BITS, DMA_TEST_ID_BITS));
    const rdStatus = m.output('rd_status', dmaStatus(DMA_TEST_ID_BITS));
    const wrCmd = m.input('wr_cmd', dmaCommand(p.devBits, DMA_TEST_LEN_BITS, DMA_TEST_ID_BITS));
    const wrStatus = m.output('wr_status', dmaStatus(DMA_TEST_ID_BITS));
    const busMaster = m.input('bus_master', bit);
    const mps = m.input('max_payload', 3);
    const mrrs = m.input('max_read_req', 3);
    const extTagEn = m.input('ext_tag_en', bit);
    const requesterId = m.input('requester_id', 16);
    const timeout = m.input('timeout', DMA_TEST_TIMEOUT_BITS);
    const busy = m.output('busy', bit);
    const unexpected = m.output('unexpected_count', 16);

    const rd = m.instance('dma_rd', DmaRead, q.read).io;
    const wr = m.instance('dma_wr', DmaWrite, q.write).io;
    const ram = m.instance('ram', DmaRam, { W, bytes: 2 ** p.devBits }).io;
    const arb = m.instance('tx_arb', PacketArbiter, { spec: tlpStream(W), n: 2 }).io;
    const slice = m.instance('tx_slice', TlpSlice, { W }).io;

    // rx: a completion stream with the poisoned bit as the receive sideband's error code
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

    connect(rd.cmd, rdCmd);
    connect(rdStatus, rd.status);
    connect(wr.cmd, wrCmd);
    connect(wrStatus, wr.status);
    for (const e of [rd, wr]) {
      e.bus_master.set(busMaster);
      e.requester_id.set(requesterId);
    }
    rd.max_read_req.set(mrrs);
    rd.ext_tag_en.set(extTagEn);
    rd.timeout.set(timeout);
    wr.max_payload.set(mps);
    connect(ram.wr, rd.mem_wr);
    connect(ram.rd, wr.mem_rd);

    connect(arb.in[0], rd.req);
    connect(arb.in[1], wr.req);
    connect(slice.in, arb.out);
    connect(tx, slice.out);

    const count = m.reg('unexpected', 16, { reset: 0 });
    m.if(rd.ev_unexpected.and(count.andR().not()), () => count.next(count.inc()));
    unexpected.set(count);
    busy.set(rd.busy.or(wr.busy));
  },
  {
    name: (p) => `dma_test_w${p.W}_t${p.tags}_d${p.devBits}`,
    doc: 'DMA engines test top: read and write engines, a two-bank device memory, command/status ports.',
  },
);
