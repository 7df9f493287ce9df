// The packed-ring engine's used side (docs/queue-engine.md, "Packed rings"): used elements written back for the
// device's `done`s, in the order they come, and used buffer notifications decided from the driver's event
// suppression structure. Each function builds its logic in the caller's module.
//
// A used element is two DMA writes into the descriptor at the queue's used position: id and len first (bytes
// 8..13), then the flags word (bytes 14..15, AVAIL = USED = the used wrap counter) that makes it visible to
// the driver, as a TLP of its own after it: posted writes stay in order on the link, and the bytes inside one
// TLP are not promised to become visible in address order. The elements' 8 bytes wait in registers (the used
// area) until the write engine has read them (`mem_rd`). The same writer writes the device event structure (the
// driver's kick suppression) when the walker asks: one such write at a time, its word in the used area too.
import { bit, cat, type Drivable, type Expr, lit, log2ceil, type ModuleBuilder, mux, select } from '../hdl';
import { lineBytes } from '../dma/ports';
import { roundRobinArbiter } from '../lib/arbiter';
import {
  EVENT_FLAG,
  type PackedEngineParams,
  type PackedLayout,
  PackedFault,
  PACKED_FAULT_BITS,
} from './packed_params';
import type { PackedQueueConfig, PackedQueueState, ReadRequest } from './packed_fetch';

/**
 * A write of a queue's device event structure, asked for by the walker (one at a time: a new one only when
 * `busy` is clear) and carried out by the used writer.
 */
export interface EventWrite {
  /** Asked for (from a register: the device's `done` handshake waits for it); held until `grant`. */
  valid: Drivable;
  queue: Drivable;
  /** The structure's 4 bytes: off_wrap in bits 15..0, flags in bits 31..16. */
  word: Drivable;
  /** All 4 bytes (ENABLE, DESC with off_wrap), else the flags alone (DISABLE). */
  full: Drivable;
  /** The used writer took it this cycle. */
  grant: Drivable;
  /** Its status is back (`error`: it failed, the queue is stopped). */
  done: Drivable;
  error: Drivable;
  /** Taken and its status not back yet. */
  busy: Drivable;
}

export interface UsedContext {
  p: PackedEngineParams;
  layout: PackedLayout;
  queueBits: number;
  cfg: PackedQueueConfig[];
  st: PackedQueueState;
  done: { valid: Expr; ready: Drivable; queue: Expr; id: Expr; slots: Expr; len: Expr };
  /** The chains the device takes (`chain`'s handshake and fields): their writable bytes, for IN_ORDER batches. */
  chain: { valid: Expr; ready: Expr; queue: Expr; id: Expr; len: Expr; write: Expr; last: Expr };
  featInOrder: Expr;
  wrCmd: { valid: Drivable; ready: Expr; host_addr: Drivable; dev_addr: Drivable; len: Drivable; id: Drivable };
  wrStatus: { valid: Expr; id: Expr; error: Expr };
  memRd: { valid: Expr; addr: Expr; rvalid: Drivable; rdata: Drivable };
  event: EventWrite;
}

/** Counts of used elements accepted and fully written, for the notifier's fence. */
export const SEQ_BITS = 8;

/** log2 of the chains per queue whose writable bytes are kept for IN_ORDER batches (by id, low bits). */
const WRITABLE_BITS = 4;

/**
 * The used writer: takes `done` (through a register) when a used slot is free (or at once for a queue that failed
 * or is resetting: nothing is written for it), fills the slot, moves the queue's used position by the chain's
 * slots (flipping the used wrap counter past the ring's end); the issue side writes the slots' elements in
 * order, a batch at a time. A device event structure write asked for goes between batches.
 *
 * Batches: elements of one queue in consecutive descriptors (each but the last took one ring position, none
 * past the ring's end) are written together (virtio 1.2 2.8.9 "Multi-buffer requests": the first element made
 * used after the rest): one write of the first's id and len and the others' whole descriptors, then the first's
 * flags. The driver polls only the next descriptor (2.8.2), the first of the batch, so it sees none of them before
 * that last write. In the first write the first's flags read "available" (AVAIL = the wrap counter, USED not:
 * what the driver wrote there), the others' addresses 0 (unused in a used descriptor, 2.8.4). The issue side waits
 * up to `usedHold` cycles for a batch to grow to `usedBatch` elements (not when the next element is already
 * known not to fit, or nothing more can come: no chain of the queue at the device).
 *
 * IN_ORDER batches (virtio 1.2 2.8.21.1 / 2.7.9): a `done` of the same queue that follows an element not yet
 * issued replaces it (the element keeps its position and takes the new buffer's id and len; the used position
 * moves past both) if the buffer it stood for was used completely: its `len` equals its chain's writable bytes,
 * since the driver takes a skipped buffer as used completely. The writable bytes of the chains the device took
 * are kept per queue by id (its low WRITABLE_BITS bits, the full id as a tag): an entry another chain took over
 * is simply not batched.
 */
export function usedWriter(m: ModuleBuilder, c: UsedContext) {
  const { p, st, cfg } = c;
  const U = p.usedSlots;
  const ub = log2ceil(U);
  const slotWord = m.regArray('used_slot', U, 50); // write, wrap, id 16, len 32
  const slotQueue = m.regArray('used_slot_queue', U, c.queueBits);
  const slotCont = m.regArray('used_slot_cont', U, bit);
  const slotFirst = m.regArray('used_slot_first', U, bit, { reset: 0 });
  const slotBatch = m.regArray('used_slot_batch', U, ub + 1);
  const slotPos = m.memory('used_slot_pos', { width: 16, depth: U });
  const head = m.reg('used_head', ub + 1, { reset: 0 });
  const tail = m.reg('used_tail', ub + 1, { reset: 0 });
  const seq = m.reg('used_seq', SEQ_BITS, { reset: 0 });
  const seqDone = m.reg('used_seq_done', SEQ_BITS, { reset: 0 });

  // ---- the device's `done`, taken into a register first: nothing of the device's handshake (its queue, id and
  // length, as combinational as the device makes them) reaches this writer's decisions, its memory reads or
  // `done.ready` in the same cycle. The register is refilled in the cycle its done is taken (one per cycle).
  const dIn = c.done;
  const dValid = m.reg('done_in_valid', bit, { reset: 0 });
  const dQueue = m.reg('done_in_queue', c.queueBits);
  const dId = m.reg('done_in_id', dIn.id.width);
  const dSlots = m.reg('done_in_slots', 16);
  const dLen = m.reg('done_in_len', 32);
  const take = m.wire('done_in_take', bit);
  dIn.ready.set(dValid.not().or(take));
  const inFire = dIn.valid.and(dValid.not().or(take));
  dValid.next(inFire.or(dValid.and(take.not())));
  m.if(inFire, () => {
    dQueue.next(dIn.queue);
    dId.next(dIn.id);
    dSlots.next(dIn.slots);
    dLen.next(dIn.len);
  });

  // ---- the chains' writable bytes (IN_ORDER batches): summed as the device takes the chain's beats
  const ch = c.chain;
  const lensAt = (queue: Expr, id: Expr) => cat(queue, id.trunc(WRITABLE_BITS));
  const lens = m.memory('used_writable', { width: 48, depth: 2 ** (c.queueBits + WRITABLE_BITS) });
  const wsum = m.reg('used_writable_sum', 32, { reset: 0 });
  const chainTake = ch.valid.and(ch.ready);
  const wtotal = wsum.add(mux(ch.write, ch.len, lit(0, 32)));
  m.if(chainTake, () => wsum.next(mux(ch.last, lit(0, 32), wtotal)));
  lens.write(lensAt(ch.queue, ch.id), cat(ch.id, wtotal), chainTake.and(ch.last));

  // ---- the issue side's state machine (below); the device event structure's write is one of its states
  const f = m.fsm('used_state', ['gather', 'calc', 'body', 'flags', 'event'] as const);
  const ip = m.reg('used_issue', ub + 1, { reset: 0 });

  // ---- the device event structure's write: its word, queue and host address held until its status
  const ev = c.event;
  const evBusy = m.reg('event_busy', bit, { reset: 0 });
  const evWord = m.reg('event_word', 32, { reset: 0 });
  const evFull = m.reg('event_full', bit);
  const evQueue = m.reg('event_queue', c.queueBits, { reset: 0 });
  const evHost = m.reg('event_host', 64);
  const evTake = m.let(
    'event_take',
    f
      .is('gather')
      .and(ev.valid as Expr)
      .and(evBusy.not()),
  );
  ev.grant.set(evTake);
  ev.busy.set(evBusy);
  m.if(evTake, () => {
    evBusy.next(1);
    evWord.next(ev.word as Expr);
    evFull.next(ev.full as Expr);
    evQueue.next(ev.queue as Expr);
    // the flags alone at byte 2: an OR, not an adder (the structure is 4-byte aligned, virtio 1.2 2.8.10.1)
    evHost.next(
      select(
        ev.queue as Expr,
        cfg.map((q) => q.device),
      ).or(mux(ev.full as Expr, lit(0, 64), lit(2, 64))),
    );
    f.goto('event');
  });

  // ---- accept (from the register): a new slot, an IN_ORDER merge into the last element not issued, or a drop
  const dq = dQueue as Expr;
  const drop = m.let('used_drop', st.failed.at(dq).or(st.resetting.at(dq)));
  const slotFree = m.let('used_slot_free', tail.sub(head).lt(U));
  const unissued = m.let('used_unissued', tail.ne(ip));
  /** The last element accepted: its queue, whether the queue's next element goes right after it. */
  const lastQueue = m.reg('used_last_queue', c.queueBits, { reset: 0 });
  const lastAdjacent = m.reg('used_last_adjacent', bit, { reset: 0 });
  const openFull = m.reg('used_open_complete', bit, { reset: 0 });
  const merge = m.let(
    'used_merge',
    dValid.and(c.featInOrder).and(openFull).and(unissued).and(dq.eq(lastQueue)).and(drop.not()),
  );
  take.set(dValid.and(drop.or(merge).or(slotFree)));
  const accept = m.let('used_accept', take.and(drop.not()));
  const entry = lens.readAsync(lensAt(dq, dId));
  const usedAll = m.let('used_complete', entry.bits(47, 32).eq(dId).and(entry.bits(31, 0).eq(dLen)));
  const wrapNow = st.usedWrap.at(dq);
  const posNow = st.usedPos.at(dq);
  const size = select(
    dq,
    cfg.map((q) => q.size),
  );
  const sum = posNow.zext(17).add(dSlots.zext(17));
  const wraps = sum.ge(size.zext(17));
  const lastSlot = tail.dec().trunc(ub);
  const tailSlot = tail.trunc(ub);
  slotPos.write(tailSlot, posNow, accept.and(merge.not()));
  m.if(accept, () => {
    st.usedPos.nextAt(dq, wraps.select(sum.sub(size.zext(17)), sum).trunc(16));
    m.if(wraps, () => st.usedWrap.nextAt(dq, wrapNow.not()));
    openFull.next(usedAll);
    lastQueue.next(dq);
    m.if(merge, () => {
      // the element stays at its position (its wrap counter), the new buffer's id and len
      slotWord.nextAt(lastSlot, cat(dLen.ne(0), slotWord.at(lastSlot).bit(48), dId, dLen));
      lastAdjacent.next(0);
    }).else(() => {
      slotWord.nextAt(tailSlot, cat(dLen.ne(0), wrapNow, dId, dLen));
      slotQueue.nextAt(tailSlot, dq);
      slotCont.nextAt(tailSlot, lastAdjacent.and(lastQueue.eq(dq)));
      slotFirst.nextAt(tailSlot, 0);
      lastAdjacent.next(dSlots.eq(1).and(wraps.not()));
      tail.next(tail.inc());
      seq.next(seq.inc());
    });
  });

  // ---- gather: the batch from `ip` grows by one element a cycle while the next one is adjacent, up to
  // usedBatch; it is issued when the next one is not, or none has come within usedHold cycles, or none can come
  const maxBatch = Math.min(p.usedBatch, U);
  const k = m.reg('used_batch_k', ub + 1, { reset: 0 });
  const holdBits = Math.max(1, log2ceil(p.usedHold + 1));
  const age = m.reg('used_batch_age', holdBits, { reset: 0 });
  const pend = m.let('used_pending', tail.sub(ip));
  const nextAt = ip.add(k).trunc(ub);
  const nextHere = k.lt(pend);
  const ipSlot = ip.trunc(ub);
  const bq = slotQueue.at(ipSlot);
  // nothing more can come for the batch's queue (a register: a hint a cycle late, off the issue decision's path)
  const quiet = m.reg('used_batch_quiet', bit, { reset: 0 });
  // the batch has waited usedHold cycles: a register, a cycle late (the age's compare is not in front of the
  // close and the slot writes behind it; a closed batch's age is 0 again before the writer is back in gather)
  const aged = m.reg('used_batch_aged', bit, { reset: 0 });
  aged.next(age.eq(p.usedHold));
  quiet.next(st.inflight.at(bq).eq(0).and(dValid.not()).or(st.resetting.at(bq)).or(st.failed.at(bq)));
  const full = k.eq(maxBatch);
  const grow = nextHere.and(slotCont.at(nextAt)).and(full.not());
  const close = k.ne(0).and(grow.not()).and(full.or(nextHere).or(aged).or(quiet));
  const bslot = m.reg('used_batch_slot', ub);
  const bk = m.reg('used_batch_n', ub + 1);
  const bqueue = m.reg('used_batch_queue', c.queueBits, { reset: 0 });
  const host = m.reg('used_host', 64);

  // ---- the two writes of a batch: the first's id and len and the rest's descriptors (the records view of the
  // used area: the first's flags still "available"), then the first's flags (the flags view: as used)
  const area = c.layout.usedOffset;
  const flagsView = 32 * U;
  const recDev = (off: number) => lit(p.base + area + off, p.devBits).or(bslot.zext(p.devBits).shl(4));
  const evDev = (off: number) => lit(p.base + c.layout.deviceEventOffset + off, p.devBits);
  const inEvent = f.is('event');
  const inFlags = f.is('flags');
  const eventId = lit(1, p.idBits).shl(ub + 1);
  // the host address of the batch's first descriptor's len (byte 8) in `calc`, of its flags (byte 14) after
  const hostNext = select(
    bqueue,
    cfg.map((q) => q.desc),
  ).add(cat(slotPos.readAsync(bslot), mux(f.is('calc'), lit(8, 4), lit(14, 4))).zext(64));
  const bodyLen = mux(bk.eq(1), lit(6, p.lenBits), bk.zext(p.lenBits).shl(4).sub(8));
  c.wrCmd.valid.set(f.is('body').or(inFlags).or(inEvent));
  c.wrCmd.host_addr.set(mux(inEvent, evHost, host));
  c.wrCmd.dev_addr.set(mux(inEvent, mux(evFull, evDev(0), evDev(2)), mux(inFlags, recDev(flagsView + 14), recDev(8))));
  c.wrCmd.len.set(
    mux(inEvent, mux(evFull, lit(4, p.lenBits), lit(2, p.lenBits)), mux(inFlags, lit(2, p.lenBits), bodyLen)),
  );
  c.wrCmd.id.set(mux(inEvent, eventId, cat(bslot, inFlags).zext(p.idBits)));
  f.switch({
    gather: () =>
      m.if(evTake.not(), () => {
        m.if(pend.ne(0).and(k.eq(0)), () => k.next(1));
        m.if(grow, () => k.next(k.inc()));
        m.if(k.ne(0).and(age.ne(p.usedHold)), () => age.next(age.inc()));
        m.if(close, () => {
          bslot.next(ipSlot);
          bk.next(k);
          bqueue.next(bq);
          ip.next(ip.add(k));
          slotFirst.nextAt(ipSlot, k.ne(1));
          slotBatch.nextAt(ipSlot, k);
          k.next(0);
          age.next(0);
          f.goto('calc');
        });
      }),
    calc: () => {
      host.next(hostNext);
      f.goto('body');
    },
    body: () =>
      m.if(c.wrCmd.ready, () => {
        host.next(hostNext);
        f.goto('flags');
      }),
    flags: () => m.if(c.wrCmd.ready, () => f.goto('gather')),
    event: () => m.if(c.wrCmd.ready, () => f.goto('gather')),
  });

  // ---- statuses: a flags write's status frees its batch's slots (statuses come in command order); the event
  // write's ends it
  const isEvent = c.wrStatus.id.bit(ub + 1);
  const stSlot = c.wrStatus.id.bits(ub, 1);
  const flagsDone = m.let('used_flags_done', c.wrStatus.valid.and(c.wrStatus.id.bit(0)));
  const freed = slotBatch.at(stSlot);
  m.if(flagsDone, () => {
    head.next(head.add(freed));
    seqDone.next(seqDone.add(freed.zext(SEQ_BITS)));
  });
  const evDone = m.let('event_done', c.wrStatus.valid.and(isEvent));
  m.if(evDone, () => evBusy.next(0));
  ev.done.set(evDone);
  ev.error.set(c.wrStatus.error.ne(0));
  const fatal = m.let('used_fatal', c.wrStatus.valid.and(c.wrStatus.error.ne(0)));

  // ---- the used area as the write engine reads it (two lines, a cycle later): the slots as 16-byte descriptors
  // (address 0, len, id, flags) twice over from 0 (a batch's write may run past the last slot into the first),
  // the same with every flags word as used from 32 * usedSlots, the device event word at 64 * usedSlots
  const LB = lineBytes(p.W);
  const lines = c.layout.usedBytes / LB;
  const recLines = (16 * U) / LB;
  const viewBit = log2ceil(recLines) + 1;
  const eventLine = c.layout.deviceEventOffset - area;
  const record = (i: number, asUsed: Expr) => {
    const w = slotWord.item(i);
    const wrap = w.bit(48);
    const avail = slotFirst.item(i).and(asUsed.not());
    const flags = cat(wrap.xor(avail), lit(0, 7), wrap, lit(0, 5), w.bit(49).and(avail.not()), lit(0, 1));
    return cat(flags, w.bits(47, 0), lit(0, 64));
  };
  const lineAt = (l: Expr) => {
    const asUsed = l.bit(viewBit);
    const all = cat(...Array.from({ length: U }, (_, i) => record(U - 1 - i, asUsed)));
    const recs = Array.from({ length: recLines }, (_, j) => all.bits(p.W * (j + 1) - 1, p.W * j));
    const j = recLines === 1 ? lit(0, 1) : l.trunc(log2ceil(recLines));
    return mux(l.eq(eventLine / LB), evWord.zext(p.W), recLines === 1 ? recs[0] : select(j, recs));
  };
  const la = c.memRd.addr.trunc(log2ceil(lines));
  const rdata = m.reg('used_rdata', 2 * p.W);
  const rvalid = m.reg('used_rvalid', bit, { reset: 0 });
  rdata.next(cat(lineAt(la.inc()), lineAt(la)));
  rvalid.next(c.memRd.valid);
  c.memRd.rvalid.set(rvalid);
  c.memRd.rdata.set(rdata);

  return {
    /** Accepted a non-dropped done for queue `acceptQueue`, with `acceptSlots` positions. */
    accept,
    acceptQueue: dq,
    acceptSlots: dSlots as Expr,
    busy: m.let('used_busy', f.is('gather').not().or(head.ne(tail)).or(evBusy).or(dValid)),
    seq,
    seqDone,
    fatal: {
      valid: fatal,
      queue: mux(isEvent, evQueue, slotQueue.at(stSlot)),
      code: lit(PackedFault.DMA_FAULT, PACKED_FAULT_BITS),
    },
  };
}

export interface NotifierContext {
  p: PackedEngineParams;
  queueBits: number;
  cfg: PackedQueueConfig[];
  st: PackedQueueState;
  featEventIdx: Expr;
  event: Expr;
  /** All 4 bytes of the event word written since `eventClear` (the notifier's read has ended well). */
  eventGot: Expr;
  eventClear: Drivable;
  seq: Expr;
  seqDone: Expr;
  status: { valid: Expr; error: Expr };
  read: ReadRequest;
}

/**
 * The notifier: for a queue with used positions not yet covered by a decision (round robin), it takes a
 * snapshot (the positions, the used position and wrap counter), waits until every element accepted so far has
 * been written (so its read of the driver event structure goes out after the writes it must see), reads the
 * structure and decides as virtio 1.2 2.8.10 and Linux's virtqueue_enable_cb_prepare_packed pair them: ENABLE
 * notifies, DISABLE does not, DESC (with EVENT_IDX) when the used position passed off_wrap; DESC without
 * EVENT_IDX is reserved and counts as ENABLE (as the golden model does).
 */
export function notifier(m: ModuleBuilder, c: NotifierContext) {
  const { p, st, cfg } = c;
  const Q = p.queues;
  const f = m.fsm('notify_state', ['idle', 'fence', 'read', 'wait', 'decide'] as const);
  const nq = m.reg('notify_queue', c.queueBits, { reset: 0 });
  const adv = m.reg('notify_adv', 16);
  const nIdx = m.reg('notify_idx', 16);
  const nWrap = m.reg('notify_wrap', bit);
  const snap = m.reg('notify_seq', SEQ_BITS);

  const want = cat(
    ...cfg
      .map((_, i) => st.unsignalled.item(i).ne(0).and(st.failed.item(i).not()).and(st.resetting.item(i).not()))
      .reverse(),
  );
  const pick = roundRobinArbiter(m, 'notify_pick', want.and(f.is('idle').rep(Q)), f.is('idle'));
  const taken = m.let('notify_taken', f.is('idle').and(pick.valid));

  const fatal = m.wire('notify_fatal', bit, { default: 0 });
  const irq = m.wire('notify_irq', Q, { default: 0 });
  const polled = m.wire('notify_polled', bit, { default: 0 });

  // The read's status comes in command order behind the device's earlier reads (a queue's worth of data on a
  // busy link): the decision is made when the word has arrived, and the next read waits for the status instead
  // (one status outstanding at a time, so a status is always the one outstanding read's).
  const stOut = m.reg('notify_status_out', bit, { reset: 0 });
  m.if(c.read.grant as Expr, () => stOut.next(1));
  m.if(c.status.valid, () => stOut.next(0));
  (c.eventClear as Drivable).set(c.read.grant as Expr);
  c.read.valid.set(f.is('read').and(stOut.not()));
  c.read.host.set(
    select(
      nq,
      cfg.map((q) => q.driver),
    ),
  );
  c.read.len.set(lit(4, p.lenBits));

  const size = select(
    nq,
    cfg.map((q) => q.size),
  );
  const evFlags = c.event.bits(31, 16);
  const offWrap = c.event.bits(15, 0);
  const off = offWrap.bits(14, 0).zext(16);
  const eventIdx = mux(offWrap.bit(15).ne(nWrap), off.sub(size), off);
  // vring_need_event(event, new, old) with old = new - adv: (new - event - 1) mod 2^16 < adv
  const passed = nIdx.sub(eventIdx).sub(1).lt(adv);
  const need = m.let(
    'notify_need',
    mux(evFlags.eq(EVENT_FLAG.DESC).and(c.featEventIdx), passed, evFlags.ne(EVENT_FLAG.DISABLE)),
  );

  f.switch({
    idle: () =>
      m.if(pick.valid, () => {
        nq.next(pick.index);
        adv.next(st.unsignalled.at(pick.index));
        nIdx.next(st.usedPos.at(pick.index));
        nWrap.next(st.usedWrap.at(pick.index));
        snap.next(c.seq);
        f.goto('fence');
      }),
    // every element accepted before the snapshot has been written (seqDone caught up with it)
    fence: () => m.if(c.seqDone.sub(snap).msb().not(), () => f.goto('read')),
    read: () => m.if(c.read.grant as Expr, () => f.goto('wait')),
    wait: () =>
      m
        .if(c.status.valid, () => {
          m.if(c.status.error.ne(0), () => {
            fatal.set(1);
            f.goto('idle');
          }).else(() => f.goto('decide'));
        })
        .elseIf(c.eventGot, () => f.goto('decide')),
    decide: () => {
      m.if(need.and(st.failed.at(nq).not()).and(st.resetting.at(nq).not()), () => irq.set(lit(1, Q).shl(nq)));
      // the driver kicks no more (DISABLE): look at its ring again, it may have added buffers (and again a few
      // times after, the walker's polls: the driver adds them once told, after this look has gone out)
      m.if(st.evOff.at(nq), () => {
        st.pending.nextAt(nq, 1);
        polled.set(1);
      });
      f.goto('idle');
    },
  });

  return {
    /** The snapshot taken this cycle: queue and positions now covered. */
    taken,
    takenQueue: pick.index as Expr,
    active: m.let('notify_active', f.is('idle').not()),
    /** A read's status is still to come. */
    statusOut: stOut as Expr,
    queue: nq as Expr,
    irq,
    /** A decision on a queue the driver does not kick (DISABLE) set its doorbell (`queue`). */
    polled: polled as Expr,
    fatal: { valid: fatal, queue: nq as Expr, code: lit(PackedFault.DMA_FAULT, PACKED_FAULT_BITS) },
  };
}
