// The packed-ring engine's test top: the engine with its own DMA read and write engines on one link (the
// engine's region is the whole device address space here), its control-plane inputs (features, driver_ok,
// resets, the queues' handover fields) and its device side (`chain`, `done`) as top-level ports, so tests play
// the control plane and the device from TypeScript against the root-complex model.
//
//   rx -> dma_read (cpl) -> mem_wr -> engine -> mem_rd <- dma_write
//   tx <- tx_slice <- tx_arb <- [ dma_read (MRd), dma_write (MWr) ]
import { bit, connect, defineModule, lit, log2ceil, mux } from '../hdl';
import { DMA_TEST_ID_BITS, DMA_TEST_LEN_BITS, DMA_TEST_TIMEOUT_BITS } from '../dma/test_top';
import { DmaRead } from '../dma/read_engine';
import { DmaWrite } from '../dma/write_engine';
import { PacketArbiter } from '../pcie/arbiter';
import { type DataWidth, RxError, tlpStream } from '../pcie/streams';
import { tlpFields } from '../pcie/tlp';
import { TlpSlice } from '../pcie/tlp_slice';
import { queueHandover } from '../virtio/ports';
import { PackedEngine } from './packed_engine';
import { PACKED_DEFAULTS, type PackedEngineParams, PACKED_FAULT_BITS } from './packed_params';
import { chainDesc, chainDone } from './ports';

export interface PackedTestTopParams {
  W: DataWidth;
  queues: number;
}

/** The engine's parameters in the test top: the default region (4 KiB) at device address 0. */
export function packedTestParams(p: PackedTestTopParams): PackedEngineParams {
  return {
    W: p.W,
    queues: p.queues,
    devBits: PACKED_DEFAULTS.regionBits,
    base: 0,
    lenBits: DMA_TEST_LEN_BITS,
    idBits: DMA_TEST_ID_BITS,
    ...PACKED_DEFAULTS,
  };
}

export const PackedTestTop = defineModule(
  'virtq_packed_test',
  (m, p: PackedTestTopParams) => {
    const W = p.W;
    const e = packedTestParams(p);
    const qb = log2ceil(p.queues);
    const rx = m.input('rx', tlpStream(W));
    const tx = m.output('tx', tlpStream(W));
    const busMaster = m.input('bus_master', bit);
    const mps = m.input('max_payload', 3);
    const mrrs = m.input('max_read_req', 3);
    const extTagEn = m.input('ext_tag_en', bit);
    const requesterId = m.input('requester_id', 16);
    const timeout = m.input('timeout', DMA_TEST_TIMEOUT_BITS);
    const features = m.input('features', 64);
    const driverOk = m.input('driver_ok', bit);
    const resetReq = m.input('reset_req', bit);
    const qs = Array.from({ length: p.queues }, (_, i) => m.input(`q${i}`, queueHandover()));
    const irq = m.output('irq_queue', p.queues);
    const fatal = m.output('fatal_error', bit);
    const fatalCode = m.output('fatal_code', PACKED_FAULT_BITS);
    const qResetDone = m.output('queue_reset_done', p.queues);
    const resetDone = m.output('reset_done', bit);
    const busy = m.output('busy', bit);
    const chain = m.output('chain', chainDesc(qb));
    const done = m.input('done', chainDone(qb));

    const eng = m.instance('engine', PackedEngine, e).io;
    const rd = m.instance('dma_rd', DmaRead, {
      W,
      tags: 32,
      devBits: e.devBits,
      lenBits: e.lenBits,
      idBits: e.idBits,
      timeoutBits: DMA_TEST_TIMEOUT_BITS,
      slots: 32,
    }).io;
    const wr = m.instance('dma_wr', DmaWrite, {
      W,
      devBits: e.devBits,
      lenBits: e.lenBits,
      idBits: e.idBits,
      mpsSupported: 5,
      readAhead: 8,
    }).io;
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
    for (const x of [rd, wr]) {
      x.bus_master.set(busMaster);
      x.requester_id.set(requesterId);
    }
    rd.max_read_req.set(mrrs);
    rd.ext_tag_en.set(extTagEn);
    rd.timeout.set(timeout);
    wr.max_payload.set(mps);

    connect(rd.cmd, eng.rd_cmd);
    connect(eng.rd_status, rd.status);
    connect(wr.cmd, eng.wr_cmd);
    connect(eng.wr_status, wr.status);
    connect(eng.mem_wr, rd.mem_wr);
    connect(eng.mem_rd, wr.mem_rd);
    connect(arb.in[0], rd.req);
    connect(arb.in[1], wr.req);
    connect(slice.in, arb.out);
    connect(tx, slice.out);

    eng.features.set(features);
    eng.driver_ok.set(driverOk);
    eng.reset_req.set(resetReq);
    qs.forEach((q, i) => connect(eng.q[i], q));
    irq.set(eng.irq_queue);
    // one bit per queue as well, for the simulator's per-signal watches
    qs.forEach((_, i) => m.output(`irq_q${i}`, bit).set(eng.irq_queue.bit(i)));
    fatal.set(eng.fatal_error);
    fatalCode.set(eng.fatal_code);
    qResetDone.set(eng.queue_reset_done);
    resetDone.set(eng.reset_done);
    busy.set(eng.busy.or(rd.busy).or(wr.busy));
    connect(chain, eng.chain);
    connect(eng.done, done);
  },
  {
    name: (p) => `virtq_packed_test_w${p.W}_q${p.queues}`,
    doc: 'Packed-ring queue engine test top: the engine, DMA read and write engines, TX arbiter.',
  },
);
