// The split queue engine's test top: the engine with its own DMA read and write engines (gen/dma) on one link,
// as the data plane's DMA fabric will give it a region of device memory. The control plane's handover (features,
// driver_ok, per-queue configuration and doorbells, resets) and the device side (`chain`, `done`) are top-level
// ports, driven by tests (test/virtq/) through the simulator; every received TLP goes to the read engine.
//
//   rx -> dma_read (cpl) -> mem_wr -> engine scratch <- mem_rd <- dma_write
//   tx <- tx_slice <- tx_arb <- [ dma_read (MRd), dma_write (MWr) ]
import { bit, connect, defineModule, type Expr, lit, mux } from '../hdl';
import { dmaTestParams } from '../dma/test_top';
import { DmaRead } from '../dma/read_engine';
import { DmaWrite } from '../dma/write_engine';
import { PacketArbiter } from '../pcie/arbiter';
import { type DataWidth, RxError, tlpStream } from '../pcie/streams';
import { TlpSlice } from '../pcie/tlp_slice';
import { tlpFields } from '../pcie/tlp';
import { queueHandover } from '../virtio/ports';
import { chainDesc, chainDone } from './ports';
import { SplitEngine, type SplitEngineParams } from './split_engine';

/** The widths and queue count of the tops in hdl/ (gen/tops.ts) that test/virtq simulates. */
export const SPLIT_TEST_WIDTHS: readonly DataWidth[] = [64, 256];
export const SPLIT_TEST_QUEUES = 3;
/** The test top's DMA read engine's command slots. */
export const SPLIT_TEST_READ_SLOTS = 16;

export interface SplitTestTopParams {
  W: DataWidth;
  queues: number;
  /** The engine's INDIRECT logic (SplitEngineParams `indirect`, default true). */
  indirect?: boolean;
}

/** The engine's parameters in the test top. */
export function splitTestParams(p: SplitTestTopParams): SplitEngineParams {
  const dma = dmaTestParams({ W: p.W, tags: 32, devBits: 16 });
  return {
    W: p.W,
    queues: p.queues,
    devBits: 16,
    base: 0x1000,
    regionBits: 12,
    lenBits: dma.read.lenBits,
    idBits: dma.read.idBits,
    maxChain: 64,
    availBatch: 16,
    descBatch: 8,
    usedBatch: 16,
    ...(p.indirect === false ? { indirect: false } : {}),
  };
}

export const SplitTestTop = defineModule(
  'virtq_split_test',
  (m, p: SplitTestTopParams) => {
    const W = p.W;
    const ep = splitTestParams(p);
    const q = dmaTestParams({ W, tags: 32, devBits: ep.devBits });
    const rx = m.input('rx', tlpStream(W));
    const tx = m.output('tx', tlpStream(W));
    const busMaster = m.input('bus_master', bit);
    const mps = m.input('max_payload', 3);
    const mrrs = m.input('max_read_req', 3);
    const extTagEn = m.input('ext_tag_en', bit);
    const requesterId = m.input('requester_id', 16);
    const timeout = m.input('timeout', q.read.timeoutBits);
    const features = m.input('features', 64);
    const driverOk = m.input('driver_ok', bit);
    const resetReq = m.input('reset_req', bit);
    const qs = Array.from({ length: p.queues }, (_, i) => m.input(`q${i}`, queueHandover()));
    const qb = Math.max(1, Math.ceil(Math.log2(p.queues)));
    const chain = m.output('chain', chainDesc(qb));
    const done = m.input('done', chainDone(qb));
    const irq = m.output('irq_queue', p.queues);
    const fatal = m.output('fatal_error', bit);
    const qResetDone = m.output('queue_reset_done', p.queues);
    const resetDone = m.output('reset_done', bit);
    const busy = m.output('busy', bit);

    const eng = m.instance('engine', SplitEngine, ep).io;
    // 16 command slots, as the data plane's fabric (gen/virtq/blk_top.ts): the reads ahead keep many outstanding
    const rd = m.instance('dma_rd', DmaRead, { ...q.read, slots: SPLIT_TEST_READ_SLOTS }).io;
    const wr = m.instance('dma_wr', DmaWrite, q.write).io;
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
    for (const e of [rd, wr]) {
      e.bus_master.set(busMaster);
      e.requester_id.set(requesterId);
    }
    rd.max_read_req.set(mrrs);
    rd.ext_tag_en.set(extTagEn);
    rd.timeout.set(timeout);
    wr.max_payload.set(mps);

    eng.features.set(features);
    eng.driver_ok.set(driverOk);
    eng.reset_req.set(resetReq);
    const engQueues = eng as unknown as Record<string, Parameters<typeof connect>[0]>;
    qs.forEach((x, i) => connect(engQueues[`q${i}`], x));
    connect(chain, eng.chain);
    connect(eng.done, done);
    irq.set(eng.irq_queue);
    fatal.set(eng.fatal_error);
    qResetDone.set(eng.queue_reset_done);
    resetDone.set(eng.reset_done);
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
    busy.set(eng.busy.or(rd.busy).or(wr.busy));

    // Event counters, so that a test reading them now and then misses no pulse.
    const counter = (name: string, ev: Expr) => {
      const c = m.reg(`${name}_r`, 16, { reset: 0 });
      m.if(ev, () => c.next(c.inc()));
      m.output(name, 16).set(c);
    };
    for (let i = 0; i < p.queues; i++) {
      counter(`irq_count_q${i}`, eng.irq_queue.bit(i));
      counter(`qreset_count_q${i}`, eng.queue_reset_done.bit(i));
    }
    counter('fatal_count', eng.fatal_error);
    counter('reset_count', eng.reset_done);
  },
  {
    name: (p) => `virtq_split_test_w${p.W}_q${p.queues}${p.indirect === false ? '_x0' : ''}`,
    doc: 'Split queue engine test top: the engine, DMA read and write engines, a TX arbiter.',
  },
);
