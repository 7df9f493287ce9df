// The split-ring queue engine (docs/queue-engine.md "Split rings"; virtio 1.2 2.7, Linux virtio_ring.c): for
// `queues` split virtqueues it finds available buffers (avail->idx, then the available ring's entries in
// batches), walks and checks their descriptor chains (NEXT, INDIRECT tables) as the golden model
// (tb/virtio/ring/device.ts) does, hands each whole checked chain to the device (`chain`), writes the used
// elements of what the device completes (`done`), publishes them with used->idx after the elements, and decides
// the used buffer notification from avail->flags or used_event (EVENT_IDX). With EVENT_IDX it writes
// avail_event before it stops looking, so the driver's kick suppression cannot strand a buffer.
//
// One sequencer does the ring work, one DMA command at a time (reads of ring data land in the fetch half of
// the engine's scratch memory, writes leave from its out half: split_layout.ts); a checked chain waits in the
// chain buffer while the device takes it, so the sequencer goes on with completions meanwhile.
//
// A malformed ring (any error of the golden model's for split rings, a chain of more than maxChain
// descriptors, a DMA error on a ring access) pulses fatal_error and stops that queue: nothing more is read or
// written for it until it is reset. Device reset and queue reset (RING_RESET) wait for the sequencer's DMA,
// drop completions for the queue (a queue reset waits until the device has returned every chain it took from
// the queue), forget the queue's state and pulse reset_done / queue_reset_done.
import { bit, cat, defineModule, type Expr, intParam, lit, log2ceil, mux, paramError, select } from '../hdl';
import { dmaCommand, dmaStatus, lineBytes, lineRead, lineWrite } from '../dma/ports';
import { DmaRam } from '../dma/ram';
import { featureDef } from '../virtio/regmap';
import { queueHandover } from '../virtio/ports';
import type { DataWidth } from '../pcie/streams';
import { chainDesc, chainDone } from './ports';
import { doorbellPending, pickQueue } from './sched';
import { fieldAt, splitLayout } from './split_layout';

export interface SplitEngineParams {
  W: DataWidth;
  queues: number;
  /** Device address bits (the DMA engines' devBits). */
  devBits: number;
  /** The region's base device address (a multiple of its size). */
  base: number;
  /** log2 of the region's size in bytes. */
  regionBits: number;
  /** The DMA commands' length and id bits. */
  lenBits: number;
  idBits: number;
  /** Longest chain handed to the device (descriptors, indirect ones counted); a longer one is fatal. */
  maxChain: number;
  /** Available ring entries per read (a power of two). */
  availBatch: number;
  /** Descriptors per read (a power of two). */
  descBatch: number;
  /** Used elements per write. */
  usedBatch: number;
}

const VRING_DESC_F_NEXT = 0;
const VRING_DESC_F_WRITE = 1;
const VRING_DESC_F_INDIRECT = 2;
const VRING_AVAIL_F_NO_INTERRUPT = 0;
const featureBit = (name: string) => featureDef(name, 'blk').bit;
/** `e` at width `w` (a length that fits by construction). */
const fit = (e: Expr, w: number) => (e.width < w ? e.zext(w) : e.trunc(w));

const STATES = [
  'idle',
  'load',
  // the available side
  'idx_cmd',
  'idx_wait',
  'idx_mem',
  'idx_check',
  'event_cmd',
  'event_wait',
  'heads_cmd',
  'heads_wait',
  'head_mem',
  'head_check',
  'desc_need',
  'desc_wait',
  'desc_mem',
  'desc_check',
  'desc_walk',
  // the used side
  'used_take',
  'used_elems',
  'used_idx',
  'note_wait',
  'note_mem',
  'note_check',
  'fatal',
] as const;

function checkParams(p: SplitEngineParams): void {
  intParam('SplitEngine: queues', p.queues, 1, 64);
  intParam('SplitEngine: maxChain', p.maxChain, 1, 4096);
  intParam('SplitEngine: usedBatch', p.usedBatch, 1, 256);
  for (const [k, v] of [
    ['availBatch', p.availBatch],
    ['descBatch', p.descBatch],
  ] as const) {
    intParam(`SplitEngine: ${k}`, v, 2, 256);
    if (v & (v - 1)) throw paramError(`SplitEngine: ${k} must be a power of two, got ${v}`);
  }
  intParam('SplitEngine: regionBits', p.regionBits, 6, p.devBits);
  if (p.base % 2 ** p.regionBits !== 0 || p.base < 0 || p.base >= 2 ** p.devBits)
    throw paramError(
      `SplitEngine: base 0x${p.base.toString(16)} is not a multiple of the region's size inside the device space`,
    );
  if (2 ** p.lenBits <= 16 * Math.max(p.descBatch, p.usedBatch, p.availBatch))
    throw paramError(`SplitEngine: lenBits ${p.lenBits} cannot express one batch`);
}

export const SplitEngine = defineModule(
  'virtq_split',
  (m, p: SplitEngineParams) => {
    checkParams(p);
    const Q = p.queues;
    const qb = log2ceil(Q);
    const B = lineBytes(p.W);
    const lb = log2ceil(B);
    const lay = splitLayout({ lineBytes: B, ...p });
    const halfLineBits = p.regionBits - 1 - lb;
    const devLineBits = p.devBits - lb;

    // ---- ports
    const features = m.input('features', 64);
    const driverOk = m.input('driver_ok', bit);
    const resetReq = m.input('reset_req', bit);
    const qs = Array.from({ length: Q }, (_, i) => m.input(`q${i}`, queueHandover()));
    const irqQueue = m.output('irq_queue', Q);
    const fatalError = m.output('fatal_error', bit);
    const queueResetDone = m.output('queue_reset_done', Q);
    const resetDone = m.output('reset_done', bit);
    const busy = m.output('busy', bit);
    const chain = m.output('chain', chainDesc(qb));
    const done = m.input('done', chainDone(qb));
    const rdCmd = m.output('rd_cmd', dmaCommand(p.devBits, p.lenBits, p.idBits));
    const rdStatus = m.input('rd_status', dmaStatus(p.idBits));
    const wrCmd = m.output('wr_cmd', dmaCommand(p.devBits, p.lenBits, p.idBits));
    const wrStatus = m.input('wr_status', dmaStatus(p.idBits));
    const memWr = m.input('mem_wr', lineWrite(p.W, devLineBits));
    const memRd = m.input('mem_rd', lineRead(p.W, devLineBits));

    const feat = (name: string) => features.bit(featureBit(name));
    const fIndirect = feat('VIRTIO_F_INDIRECT_DESC');
    const fEventIdx = feat('VIRTIO_F_EVENT_IDX');
    const fInOrder = feat('VIRTIO_F_IN_ORDER');
    const running = m.let('running', driverOk.and(feat('VIRTIO_F_RING_PACKED').not()));

    // ---- scratch memory: the fetch half (DMA read engine -> sequencer), the out half (sequencer -> DMA write)
    const fetchRam = m.instance('fetch_ram', DmaRam, { W: p.W, bytes: lay.half }).io;
    const outRam = m.instance('out_ram', DmaRam, { W: p.W, bytes: lay.half }).io;
    const inHalf = (line: Expr) => line.bits(halfLineBits - 1, 0);
    const toOut = memWr.addr.bit(halfLineBits);
    fetchRam.wr.valid.set(memWr.valid.and(toOut.not()));
    fetchRam.wr.addr.set(inHalf(memWr.addr));
    fetchRam.wr.data.set(memWr.data);
    fetchRam.wr.be.set(memWr.be);
    memWr.ready.set(toOut.or(fetchRam.wr.ready));
    outRam.rd.valid.set(memRd.valid);
    outRam.rd.addr.set(inHalf(memRd.addr));
    memRd.ready.set(outRam.rd.ready);
    memRd.rvalid.set(outRam.rd.rvalid);
    memRd.rdata.set(outRam.rd.rdata);
    const devAddr = (half: 0 | 1, off: Expr | number) => {
      const baseLit = lit(p.base + half * lay.half, p.devBits);
      return typeof off === 'number' ? lit(p.base + half * lay.half + off, p.devBits) : baseLit.or(off.zext(p.devBits));
    };

    // ---- per-queue state
    const st = m.fsm('seq', STATES);
    const cq = m.reg('cq', qb, { reset: 0 });
    // The current queue's configuration, registered (one cycle after cq changes: the `load` state waits for it).
    const cfgReg = <T extends Expr>(name: string, pick: (q: (typeof qs)[number]) => T) => {
      const r = m.reg(name, pick(qs[0]).width);
      r.next(select(cq, qs.map(pick)));
      return r;
    };
    const num = cfgReg('num', (q) => q.size);
    const numMask = cfgReg('num_mask', (q) => q.size.sub(1));
    const descBase = cfgReg('desc_base', (q) => q.desc);
    const driverBase = cfgReg('driver_base', (q) => q.driver);
    const deviceBase = cfgReg('device_base', (q) => q.device);

    const lastAvail = m.regArray('last_avail', Q, 16, { reset: 0 });
    const availSeen = m.regArray('avail_seen', Q, 16, { reset: 0 });
    const headsEnd = m.regArray('heads_end', Q, 16, { reset: 0 });
    const usedIdx = m.regArray('used_idx', Q, 16, { reset: 0 });
    const expectHead = m.regArray('expect_head', Q, 16, { reset: 0 });
    const eventSent = m.regArray('event_sent', Q, 16, { reset: 0 });
    const eventValid = m.reg('event_valid', Q, { reset: 0 });
    const inflight = m.regArray('inflight', Q, 16, { reset: 0 });
    const failed = m.reg('failed', Q, { reset: 0 });
    const qResetting = m.reg('q_resetting', Q, { reset: 0 });
    const devResetting = m.reg('dev_resetting', bit, { reset: 0 });
    const notifyBits = cat(...qs.map((q) => q.notify).reverse());
    const enableBits = cat(...qs.map((q) => q.enable.and(q.size.ne(0))).reverse());
    const qResetReq = cat(...qs.map((q) => q.reset_req).reverse());
    const onehot = (i: Expr) => lit(1, Q).shl(i);
    const cqBit = onehot(cq);
    const clearPending = m.wire('clear_pending', Q, { default: 0 });
    const forget = m.wire('forget', Q, { default: 0 });
    const pending = doorbellPending(m, 'pending', notifyBits, clearPending, forget);

    // ---- chain buffer: a checked chain waits here while the device takes it
    const cbBits = log2ceil(p.maxChain);
    const cbLenBits = log2ceil(p.maxChain + 1);
    const cbuf = m.memory('chain_buf', { width: 64 + 32 + 1, depth: 2 ** cbBits });
    const cbWr = m.wire('cb_wr', bit, { default: 0 });
    const cbLen = m.reg('cb_len', cbLenBits, { reset: 0 });
    const outActive = m.reg('out_active', bit, { reset: 0 });
    const outQueue = m.reg('out_queue', qb);
    const outId = m.reg('out_id', 16);
    const outSlots = m.reg('out_slots', 16);
    const outCount = m.reg('out_count', cbLenBits);
    const outPos = m.reg('out_pos', cbBits, { reset: 0 });
    const outWord = cbuf.readAsync(outPos);
    chain.valid.set(outActive);
    chain.queue.set(outQueue);
    chain.id.set(outId);
    chain.slots.set(outSlots);
    chain.addr.set(outWord.bits(96, 33));
    chain.len.set(outWord.bits(32, 1));
    chain.write.set(outWord.bit(0));
    const outLast = outPos.zext(cbLenBits).eq(outCount.sub(1));
    chain.last.set(outLast);
    m.if(chain.valid.and(chain.ready), () => {
      outPos.next(outPos.inc());
      m.if(outLast, () => outActive.next(0));
    });

    // ---- DMA commands (one read and up to two writes outstanding)
    const rdValid = m.reg('rd_valid', bit, { reset: 0 });
    const rdHost = m.reg('rd_host', 64);
    const rdDev = m.reg('rd_dev', p.devBits);
    const rdLen = m.reg('rd_len', p.lenBits);
    rdCmd.valid.set(rdValid);
    rdCmd.host_addr.set(rdHost);
    rdCmd.dev_addr.set(rdDev);
    rdCmd.len.set(rdLen);
    rdCmd.id.set(0);
    m.if(rdCmd.ready, () => rdValid.next(0));
    const read = (host: Expr, devOff: Expr | number, len: Expr | number) => {
      rdValid.next(1);
      rdHost.next(host);
      rdDev.next(devAddr(0, devOff));
      rdLen.next(typeof len === 'number' ? lit(len, p.lenBits) : fit(len, p.lenBits));
    };
    const wrValid = m.reg('wr_valid', bit, { reset: 0 });
    const wrHost = m.reg('wr_host', 64);
    const wrDev = m.reg('wr_dev', p.devBits);
    const wrLen = m.reg('wr_len', p.lenBits);
    const wrOut = m.reg('wr_out', 2, { reset: 0 });
    const wrErr = m.reg('wr_err', bit, { reset: 0 });
    wrCmd.valid.set(wrValid);
    wrCmd.host_addr.set(wrHost);
    wrCmd.dev_addr.set(wrDev);
    wrCmd.len.set(wrLen);
    wrCmd.id.set(0);
    const wrIssue = m.wire('wr_issue', bit, { default: 0 });
    m.if(wrCmd.ready, () => wrValid.next(0));
    const write = (host: Expr, devOff: number, len: Expr | number) => {
      wrIssue.set(1);
      wrValid.next(1);
      wrHost.next(host);
      wrDev.next(devAddr(1, devOff));
      wrLen.next(typeof len === 'number' ? lit(len, p.lenBits) : fit(len, p.lenBits));
    };
    wrStatus.ready.set(1);
    const wrDone = wrStatus.valid;
    m.if(wrDone.and(wrStatus.error.ne(0)), () => wrErr.next(1));
    wrOut.next(wrOut.add(wrIssue.zext(2)).sub(wrDone.zext(2)));
    // The out half's write port: one line window per cycle.
    const outWr = {
      valid: m.wire('out_wr_valid', bit, { default: 0 }),
      off: m.wire('out_wr_off', p.regionBits - 1, { default: 0 }),
      data: m.wire('out_wr_data', 64, { default: 0 }),
      be: m.wire('out_wr_be', 8, { default: 0 }),
    };
    const outShift = outWr.off.bits(lb - 1, 0);
    outRam.wr.valid.set(outWr.valid);
    outRam.wr.addr.set(outWr.off.bits(p.regionBits - 2, lb));
    outRam.wr.data.set(outWr.data.zext(2 * p.W).shl(cat(outShift, lit(0, 3))));
    outRam.wr.be.set(outWr.be.zext((2 * p.W) / 8).shl(outShift));
    const stage = (off: Expr | number, value: Expr, bytes: 2 | 8) => {
      outWr.valid.set(1);
      outWr.off.set(typeof off === 'number' ? lit(off, p.regionBits - 1) : off);
      outWr.data.set(value.zext(64));
      outWr.be.set(lit((1 << bytes) - 1, 8));
    };

    // ---- fetch-half reads: the sequencer's window on what the DMA read engine fetched
    const memBusy = m.reg('mem_busy', bit, { reset: 0 });
    const memOff = m.reg('mem_off', lb);
    const win = m.reg('win', 2 * p.W);
    fetchRam.rd.valid.set(0);
    fetchRam.rd.addr.set(0);
    /** In a *_mem state: read the line holding byte `off`, then `then` once it is in `win`. */
    const fetchWindow = (off: Expr, then: () => void) => {
      m.if(memBusy.not(), () => {
        fetchRam.rd.valid.set(1);
        fetchRam.rd.addr.set(off.bits(p.regionBits - 2, lb));
        memOff.next(off.bits(lb - 1, 0));
        memBusy.next(1);
      });
      m.if(fetchRam.rd.rvalid, () => {
        win.next(fetchRam.rd.rdata);
        memBusy.next(0);
        then();
      });
    };
    const word16 = fieldAt(win, memOff, 2, 2);

    // ---- the available side's working registers
    const la = m.let('la', lastAvail.at(cq));
    const seen = m.let('seen', availSeen.at(cq));
    const ahead = m.let('ahead', seen.sub(la));
    const head = m.reg('head', 16);
    const tblBase = m.reg('tbl_base', 64);
    const tblN = m.reg('tbl_n', 16);
    const j = m.reg('j', 16);
    const count = m.reg('count', 17);
    const slots = m.reg('slots', 16);
    const inIndirect = m.reg('in_indirect', bit);
    const sawWrite = m.reg('saw_write', bit);
    const total = m.reg('total', 34);
    const winValid = m.reg('win_valid', bit, { reset: 0 });
    const winStart = m.reg('win_start', 16);
    const winCount = m.reg('win_count', 17);
    const d = {
      addr: m.reg('d_addr', 64),
      len: m.reg('d_len', 32),
      flags: m.reg('d_flags', 16),
      next: m.reg('d_next', 16),
    };
    const fatalPulse = m.wire('fatal_pulse', bit, { default: 0 });
    const irqPulse = m.wire('irq_pulse', Q, { default: 0 });
    const qResetPulse = m.wire('q_reset_pulse', Q, { default: 0 });
    const resetPulse = m.wire('reset_pulse', bit, { default: 0 });
    const abandon = m.let('abandon', devResetting.or(qResetting.and(cqBit).orR()));
    const fail = () => st.goto('fatal');

    // Read a status: on an error the queue fails; abandoned work (a reset) goes back to idle.
    const onReadStatus = (then: () => void) => {
      rdStatus.ready.set(1);
      m.if(rdStatus.valid, () => {
        m.if(abandon, () => st.goto('idle'))
          .elseIf(rdStatus.error.ne(0), fail)
          .else(then);
      });
    };
    rdStatus.ready.set(0);

    // ---- the used side's working registers
    const uCount = m.reg('u_count', 9);
    const uOld = m.reg('u_old', 16);
    const uDrop = m.reg('u_drop', bit);
    const forUsed = m.reg('for_used', bit);
    const uSlot = m.let('u_slot', usedIdx.at(cq).and(numMask));
    const uNew = m.let('u_new', uOld.add(uCount.zext(16)));
    done.ready.set(0);

    // ---- the scheduler: which queue to look at next
    const idle = st.is('idle');
    const known = cat(...Array.from({ length: Q }, (_, i) => lastAvail.item(i).ne(availSeen.item(i))).reverse());
    // With EVENT_IDX a queue also needs a turn until avail_event names its next entry and avail->idx was read
    // after that write: otherwise the driver's kicks for new buffers could be suppressed for good.
    const eventDue = cat(
      ...Array.from({ length: Q }, (_, i) =>
        eventValid
          .bit(i)
          .not()
          .or(eventSent.item(i).ne(lastAvail.item(i))),
      ).reverse(),
    );
    // Registered (a cycle late: a turn given to a queue whose work just ended only reads avail->idx again);
    // failed and resetting queues are masked with the current bits.
    const workReg = m.reg('work_reg', Q, { reset: 0 });
    workReg.next(
      pending
        .or(known)
        .or(eventDue.and(fEventIdx.rep(Q)))
        .and(enableBits),
    );
    const work = m.let('work', workReg.and(failed.or(qResetting).not()));
    const canFetch = m.let(
      'can_fetch',
      idle.and(running).and(devResetting.not()).and(outActive.not()).and(done.valid.not()),
    );
    const pick = pickQueue(m, 'sched', work.and(canFetch.rep(Q)), lit(1, 1));

    // Queue resets: done once the queue's chains are all back and the sequencer is not on it.
    const rqDone = cat(
      ...Array.from({ length: Q }, (_, i) =>
        qResetting
          .bit(i)
          .and(inflight.item(i).eq(0))
          .and(outActive.and(outQueue.eq(i)).not()),
      ).reverse(),
    );

    m.if(resetReq, () => devResetting.next(1));
    qResetting.next(qResetting.or(qResetReq));

    st.switch({
      idle: () => {
        m.if(devResetting, () => {
          // No DMA of the sequencer is outstanding here; the chain on its way out is dropped.
          forget.set(lit((1n << BigInt(Q)) - 1n, Q));
          devResetting.next(resetReq);
          qResetting.next(0);
          outActive.next(0);
          resetPulse.set(resetReq.not());
        })
          .elseIf(rqDone.orR(), () => {
            forget.set(rqDone);
            qResetting.next(qResetting.and(rqDone.not()).or(qResetReq));
            qResetPulse.set(rqDone);
          })
          .elseIf(done.valid, () => {
            cq.next(done.queue);
            forUsed.next(1);
            st.goto('load');
          })
          .elseIf(pick.valid, () => {
            cq.next(pick.index);
            forUsed.next(0);
            st.goto('load');
          });
      },
      // cq's configuration is in its registers from here on
      load: () => {
        m.if(forUsed, () => {
          uCount.next(0);
          uDrop.next(failed.or(qResetting).or(enableBits.not()).and(cqBit).orR().or(running.not()));
          uOld.next(usedIdx.at(cq));
          st.goto('used_take');
        })
          .elseIf(la.ne(headsEnd.at(cq)), () => st.goto('head_mem'))
          .elseIf(la.ne(seen), () => st.goto('heads_cmd'))
          .else(() => st.goto('idx_cmd'));
      },

      // avail->idx: how far the driver has gone
      idx_cmd: () => {
        clearPending.set(cqBit);
        read(driverBase.add(2), lay.word, 2);
        st.goto('idx_wait');
      },
      idx_wait: () => onReadStatus(() => st.goto('idx_mem')),
      idx_mem: () => fetchWindow(lit(lay.word, p.regionBits - 1), () => st.goto('idx_check')),
      idx_check: () => {
        const idx = word16;
        const n = idx.sub(la);
        m.if(n.zext(17).gt(num.zext(17)), fail)
          .elseIf(n.eq(0), () => {
            // Nothing new. With EVENT_IDX ask for a kick at this index, then look once more.
            m.if(fEventIdx.and(eventValid.and(cqBit).orR().not().or(eventSent.at(cq).ne(idx))), () => {
              eventSent.nextAt(cq, idx);
              stage(lay.availEvent, idx, 2);
              write(deviceBase.add(num.zext(64).shl(3)).add(4), lay.availEvent, 2);
              st.goto('event_wait');
            }).else(() => st.goto('idle'));
          })
          .else(() => {
            availSeen.nextAt(cq, idx);
            st.goto('heads_cmd');
          });
      },
      event_wait: () => {
        m.if(wrOut.eq(0).and(wrValid.not()), () => {
          m.if(abandon, () => st.goto('idle'))
            .elseIf(wrErr, fail)
            .else(() => {
              eventValid.next(eventValid.or(cqBit));
              st.goto('idx_cmd');
            });
        });
      },

      // the available ring's entries from lastAvail: up to the batch's end, the ring's end and avail->idx
      heads_cmd: () => {
        const slot = la.and(numMask);
        const inBatch = la.bits(log2ceil(p.availBatch) - 1, 0);
        const toBatchEnd = lit(p.availBatch, 17).sub(inBatch.zext(17));
        const toRingEnd = num.zext(17).sub(slot.zext(17));
        const a = ahead.zext(17);
        const n1 = mux(toBatchEnd.lt(toRingEnd), toBatchEnd, toRingEnd);
        const n = mux(a.lt(n1), a, n1);
        const off = lit(lay.avail, p.regionBits - 1).add(cat(cq, inBatch, lit(0, 1)).zext(p.regionBits - 1));
        read(driverBase.add(4).add(slot.zext(64).shl(1)), off, n.shl(1));
        headsEnd.nextAt(cq, la.add(n.trunc(16)));
        st.goto('heads_wait');
      },
      heads_wait: () => onReadStatus(() => st.goto('head_mem')),
      head_mem: () => {
        const inBatch = la.bits(log2ceil(p.availBatch) - 1, 0);
        const off = lit(lay.avail, p.regionBits - 1).add(cat(cq, inBatch, lit(0, 1)).zext(p.regionBits - 1));
        fetchWindow(off, () => st.goto('head_check'));
      },
      head_check: () => {
        const h = word16;
        head.next(h);
        tblBase.next(descBase);
        tblN.next(num);
        j.next(h);
        count.next(0);
        inIndirect.next(0);
        sawWrite.next(0);
        total.next(0);
        cbLen.next(0);
        winValid.next(0);
        m.if(h.zext(17).ge(num.zext(17)), fail)
          .elseIf(fInOrder.and(h.ne(expectHead.at(cq))), fail)
          .else(() => st.goto('desc_need'));
      },

      // the descriptor at j of the current table: from the window, or a new window from j
      desc_need: () => {
        const inWin = winValid.and(j.zext(17).sub(winStart.zext(17)).lt(winCount));
        m.if(inWin, () => st.goto('desc_mem')).else(() => {
          const left = tblN.zext(17).sub(j.zext(17));
          const k = mux(left.lt(p.descBatch), left, lit(p.descBatch, 17));
          read(tblBase.add(j.zext(64).shl(4)), lay.desc, k.shl(4));
          winValid.next(1);
          winStart.next(j);
          winCount.next(k);
          st.goto('desc_wait');
        });
      },
      desc_wait: () => onReadStatus(() => st.goto('desc_mem')),
      desc_mem: () => {
        const idx = j.sub(winStart).trunc(log2ceil(p.descBatch) + 1);
        const off = lit(lay.desc, p.regionBits - 1).add(idx.zext(p.regionBits - 1).shl(4));
        fetchWindow(off, () => st.goto('desc_check'));
      },
      desc_check: () => {
        const raw = fieldAt(win, memOff, 16, 16);
        const addr = raw.bits(63, 0);
        const len = raw.bits(95, 64);
        const flags = raw.bits(111, 96);
        const next = raw.bits(127, 112);
        d.addr.next(addr);
        d.len.next(len);
        d.flags.next(flags);
        d.next.next(next);
        st.goto('desc_walk');
      },
      // the checks of the golden model (tb/virtio/ring/device.ts nextSplit, walkSplitIndirect, addSeg)
      desc_walk: () => {
        const flags = d.flags;
        const isNext = flags.bit(VRING_DESC_F_NEXT);
        const isWrite = flags.bit(VRING_DESC_F_WRITE);
        const isIndirect = flags.bit(VRING_DESC_F_INDIRECT);
        const countNext = count.add(1);
        const tableEntries = d.len.bits(31, 4);
        const newTotal = total.add(d.len.zext(34));
        const nextIdx = mux(inIndirect, j.add(1), j.add(1).and(numMask));
        m.if(countNext.gt(tblN.zext(17)), fail)
          .elseIf(isIndirect, () => {
            m.if(
              inIndirect
                .or(fIndirect.not())
                .or(isNext)
                .or(d.len.eq(0))
                .or(d.len.bits(3, 0).ne(0))
                .or(tableEntries.gt(num.zext(28))),
              fail,
            ).else(() => {
              slots.next(countNext.trunc(16));
              inIndirect.next(1);
              tblBase.next(d.addr);
              tblN.next(tableEntries.trunc(16));
              j.next(0);
              count.next(0);
              winValid.next(0);
              st.goto('desc_need');
            });
          })
          .elseIf(isWrite.not().and(sawWrite), fail)
          .elseIf(cbLen.eq(p.maxChain), fail)
          .elseIf(newTotal.gt(lit(2 ** 32, 34)), fail)
          .elseIf(isNext.and(d.next.zext(17).ge(tblN.zext(17))), fail)
          .elseIf(isNext.and(fInOrder).and(d.next.ne(nextIdx)), fail)
          .else(() => {
            cbWr.set(1);
            cbLen.next(cbLen.inc());
            count.next(countNext);
            total.next(newTotal);
            sawWrite.next(sawWrite.or(isWrite));
            m.if(isNext, () => {
              j.next(d.next);
              st.goto('desc_need');
            }).else(() => {
              // The chain is whole and checked: to the device.
              outActive.next(1);
              outQueue.next(cq);
              outId.next(head);
              const s = mux(inIndirect, slots, countNext.trunc(16));
              outSlots.next(s);
              outCount.next(cbLen.inc());
              outPos.next(0);
              lastAvail.nextAt(cq, la.add(1));
              expectHead.nextAt(cq, head.add(s).and(numMask));
              inflight.nextAt(cq, inflight.at(cq).inc());
              st.goto('idle');
            });
          });
      },

      // completions: the used elements of consecutive `done`s of one queue (up to the batch and the ring's
      // end; with IN_ORDER one element for the batch), then used->idx
      used_take: () => {
        const roomEnd = uSlot.zext(17).add(uCount.zext(17)).lt(num.zext(17));
        const take = done.valid.and(done.queue.eq(cq)).and(uCount.lt(p.usedBatch)).and(roomEnd.or(fInOrder).or(uDrop));
        m.if(take, () => {
          done.ready.set(1);
          inflight.nextAt(cq, inflight.at(cq).dec());
          m.if(uDrop.not(), () => {
            uCount.next(uCount.inc());
            const pos = mux(fInOrder, lit(0, 9), uCount);
            const off = lit(lay.elems, p.regionBits - 1).add(pos.zext(p.regionBits - 1).shl(3));
            stage(off, cat(done.len, done.id.zext(32)), 8);
          });
        })
          .elseIf(uCount.eq(0), () => st.goto('idle'))
          .else(() => {
            const elems = mux(fInOrder, lit(1, 9), uCount);
            write(deviceBase.add(4).add(uSlot.zext(64).shl(3)), lay.elems, elems.zext(12).shl(3));
            st.goto('used_elems');
          });
      },
      used_elems: () => {
        // used->idx after the elements (the write engine keeps commands in order on the link)
        m.if(wrValid.not(), () => {
          stage(lay.usedIdx, uNew, 2);
          write(deviceBase.add(2), lay.usedIdx, 2);
          st.goto('used_idx');
        });
      },
      used_idx: () => {
        m.if(wrOut.eq(0).and(wrValid.not()), () => {
          m.if(abandon, () => st.goto('idle'))
            .elseIf(wrErr, fail)
            .else(() => {
              usedIdx.nextAt(cq, uNew);
              // The driver's suppression, read after the publishing write: used_event or avail->flags.
              read(mux(fEventIdx, driverBase.add(num.zext(64).shl(1)).add(4), driverBase), lay.word, 2);
              st.goto('note_wait');
            });
        });
      },
      note_wait: () => onReadStatus(() => st.goto('note_mem')),
      note_mem: () => fetchWindow(lit(lay.word, p.regionBits - 1), () => st.goto('note_check')),
      note_check: () => {
        const v = word16;
        // vring_need_event(used_event, new, old)
        const need = uNew.sub(v).sub(1).lt(uNew.sub(uOld));
        const notify = mux(fEventIdx, need, v.bit(VRING_AVAIL_F_NO_INTERRUPT).not());
        m.if(notify, () => irqPulse.set(cqBit));
        st.goto('idle');
      },

      fatal: () => {
        fatalPulse.set(1);
        m.if(abandon.not(), () => failed.next(failed.or(cqBit)));
        st.goto('idle');
      },
    });
    m.if(forget.orR(), () => {
      failed.next(failed.and(forget.not()));
      eventValid.next(eventValid.and(forget.not()));
      for (let i = 0; i < Q; i++)
        m.if(forget.bit(i), () => {
          for (const a of [lastAvail, availSeen, headsEnd, usedIdx, expectHead, inflight]) a.nextAt(i, 0);
        });
    });
    m.if(wrErr.and(idle), () => wrErr.next(0));
    cbuf.write(cbLen.trunc(cbBits), cat(d.addr, d.len, d.flags.bit(VRING_DESC_F_WRITE)), cbWr);

    irqQueue.set(irqPulse);
    fatalError.set(fatalPulse);
    queueResetDone.set(qResetPulse);
    resetDone.set(resetPulse);
    busy.set(idle.not().or(outActive).or(rdValid).or(wrValid).or(wrOut.ne(0)));
    return {
      features,
      driver_ok: driverOk,
      reset_req: resetReq,
      ...Object.fromEntries(qs.map((q, i) => [`q${i}`, q])),
      irq_queue: irqQueue,
      fatal_error: fatalError,
      queue_reset_done: queueResetDone,
      reset_done: resetDone,
      busy,
      chain,
      done,
      rd_cmd: rdCmd,
      rd_status: rdStatus,
      wr_cmd: wrCmd,
      wr_status: wrStatus,
      mem_wr: memWr,
      mem_rd: memRd,
    };
  },
  {
    name: (p) =>
      `virtq_split_w${p.W}_q${p.queues}_d${p.devBits}_b${p.base.toString(16)}_r${p.regionBits}_l${p.lenBits}_i${p.idBits}` +
      `_c${p.maxChain}_a${p.availBatch}_e${p.descBatch}_u${p.usedBatch}`,
    doc: 'Split virtqueue engine: avail ring and descriptor fetch in batches, chain checks, used ring write-back, notifications.',
  },
);
