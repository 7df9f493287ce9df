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
 * The used writer: takes `done` when a used slot is free (or at once for a queue that failed or is resetting:
 * nothing is written for it), fills the slot, moves the queue's used position by the chain's slots (flipping
 * the used wrap counter past the ring's end) and issues the element's two writes. A device event structure
 * write asked for goes first (they are rare: at most two per walker turn).
 *
 * IN_ORDER batches (virtio 1.2 2.8.21.1 / 2.7.9): while an element waits for its writes to be issued (`calc`),
 * a `done` of the same queue that follows it replaces it (the element keeps its position and takes the new
 * buffer's id and len; the used position moves past both) if the buffer it stood for was used completely: its
 * `len` equals its chain's writable bytes, since the driver takes a skipped buffer as used completely. The
 * writable bytes of the chains the device took are kept per queue by id (its low WRITABLE_BITS bits, the full
 * id as a tag): an entry another chain took over is simply not batched.
 */
export function usedWriter(m: ModuleBuilder, c: UsedContext) {
  const { p, st, cfg } = c;
  const U = p.usedSlots;
  const ub = log2ceil(U);
  const f = m.fsm('used_state', ['idle', 'calc', 'elem', 'flags', 'event'] as const);
  const slotWord = m.regArray('used_slot', U, 64);
  const slotQueue = m.regArray('used_slot_queue', U, c.queueBits);
  const head = m.reg('used_head', ub + 1, { reset: 0 });
  const tail = m.reg('used_tail', ub + 1, { reset: 0 });
  const uq = m.reg('used_queue', c.queueBits, { reset: 0 });
  const upos = m.reg('used_pos_cur', 16);
  const slot = m.reg('used_slot_cur', ub);
  const host = m.reg('used_host', 64);
  const seq = m.reg('used_seq', SEQ_BITS, { reset: 0 });
  const seqDone = m.reg('used_seq_done', SEQ_BITS, { reset: 0 });
  const uwrap = m.reg('used_wrap_cur', bit);
  const openFull = m.reg('used_open_complete', bit, { reset: 0 });

  // ---- the chains' writable bytes (IN_ORDER batches): summed as the device takes the chain's beats
  const ch = c.chain;
  const lensAt = (queue: Expr, id: Expr) => cat(queue, id.trunc(WRITABLE_BITS));
  const lens = m.memory('used_writable', { width: 48, depth: 2 ** (c.queueBits + WRITABLE_BITS) });
  const wsum = m.reg('used_writable_sum', 32, { reset: 0 });
  const chainTake = ch.valid.and(ch.ready);
  const wtotal = wsum.add(mux(ch.write, ch.len, lit(0, 32)));
  m.if(chainTake, () => wsum.next(mux(ch.last, lit(0, 32), wtotal)));
  lens.write(lensAt(ch.queue, ch.id), cat(ch.id, wtotal), chainTake.and(ch.last));

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
      .is('idle')
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
    evHost.next(
      select(
        ev.queue as Expr,
        cfg.map((q) => q.device),
      ).add(mux(ev.full as Expr, lit(0, 64), lit(2, 64))),
    );
    f.goto('event');
  });

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
  const done = {
    valid: dValid as Expr,
    queue: dQueue as Expr,
    id: dId as Expr,
    slots: dSlots as Expr,
    len: dLen as Expr,
  };
  dIn.ready.set(dValid.not().or(take));
  const inFire = dIn.valid.and(dValid.not().or(take));
  dValid.next(inFire.or(dValid.and(take.not())));
  m.if(inFire, () => {
    dQueue.next(dIn.queue);
    dId.next(dIn.id);
    dSlots.next(dIn.slots);
    dLen.next(dIn.len);
  });

  const dq = done.queue;
  const drop = m.let('used_drop', st.failed.at(dq).or(st.resetting.at(dq)));
  const slotFree = m.let('used_slot_free', tail.sub(head).lt(U));
  // IN_ORDER: the done replaces the element waiting in `calc` (same queue, that buffer used completely)
  const merge = m.let(
    'used_merge',
    f.is('calc').and(c.featInOrder).and(openFull).and(done.valid).and(dq.eq(uq)).and(drop.not()),
  );
  take.set(done.valid.and(f.is('idle').and(evTake.not()).and(drop.or(slotFree)).or(merge)));
  const accept = m.let('used_accept', take.and(drop.not()));
  const entry = lens.readAsync(lensAt(dq, done.id));
  const usedAll = m.let('used_complete', entry.bits(47, 32).eq(done.id).and(entry.bits(31, 0).eq(done.len)));

  // ---- accept: the slot's bytes, the queue's used position and wrap counter
  const wrapNow = st.usedWrap.at(dq);
  const posNow = st.usedPos.at(dq);
  const size = select(
    dq,
    cfg.map((q) => q.size),
  );
  // flags: USED (15) and AVAIL (7) = the used wrap counter, WRITE (1) when the length means something
  const flags = cat(wrapNow, lit(0, 7), wrapNow, lit(0, 5), done.len.ne(0), lit(0, 1));
  const sum = posNow.zext(17).add(done.slots.zext(17));
  const wraps = sum.ge(size.zext(17));
  m.if(accept, () => {
    st.usedPos.nextAt(dq, wraps.select(sum.sub(size.zext(17)), sum).trunc(16));
    m.if(wraps, () => st.usedWrap.nextAt(dq, wrapNow.not()));
    openFull.next(usedAll);
    m.if(merge, () => {
      // the element stays at its position (its wrap counter in the flags), the new buffer's id and len
      slotWord.nextAt(slot, cat(uwrap, lit(0, 7), uwrap, lit(0, 5), done.len.ne(0), lit(0, 1), done.id, done.len));
    }).else(() => {
      slotWord.nextAt(tail.trunc(ub), cat(flags, done.id, done.len));
      slotQueue.nextAt(tail.trunc(ub), dq);
      slot.next(tail.trunc(ub));
      tail.next(tail.inc());
      uq.next(dq);
      upos.next(posNow);
      uwrap.next(wrapNow);
      seq.next(seq.inc());
      f.goto('calc');
    });
  });

  // ---- the two writes
  const devSlot = (off: number) => lit(p.base + c.layout.usedOffset + off, p.devBits).or(slot.zext(p.devBits).shl(3));
  const evDev = (off: number) => lit(p.base + c.layout.deviceEventOffset + off, p.devBits);
  const inEvent = f.is('event');
  const eventId = lit(1, p.idBits).shl(ub + 1);
  c.wrCmd.valid.set(f.is('elem').or(f.is('flags')).or(inEvent));
  c.wrCmd.host_addr.set(mux(inEvent, evHost, mux(f.is('flags'), host.add(6), host)));
  c.wrCmd.dev_addr.set(mux(inEvent, mux(evFull, evDev(0), evDev(2)), mux(f.is('flags'), devSlot(6), devSlot(0))));
  c.wrCmd.len.set(
    mux(
      inEvent,
      mux(evFull, lit(4, p.lenBits), lit(2, p.lenBits)),
      mux(f.is('flags'), lit(2, p.lenBits), lit(6, p.lenBits)),
    ),
  );
  c.wrCmd.id.set(mux(inEvent, eventId, cat(slot, f.is('flags')).zext(p.idBits)));
  f.switch({
    event: () => m.if(c.wrCmd.ready, () => f.goto('idle')),
    calc: () => {
      host.next(
        select(
          uq,
          cfg.map((q) => q.desc),
        )
          .add(upos.zext(64).shl(4))
          .add(8),
      );
      m.if(merge.not(), () => f.goto('elem'));
    },
    elem: () => m.if(c.wrCmd.ready, () => f.goto('flags')),
    flags: () => m.if(c.wrCmd.ready, () => f.goto('idle')),
  });

  // ---- statuses: a flags write's status frees its slot (statuses come in command order); the event write's
  // ends it
  const isEvent = c.wrStatus.id.bit(ub + 1);
  const flagsDone = m.let('used_flags_done', c.wrStatus.valid.and(c.wrStatus.id.bit(0)));
  m.if(flagsDone, () => {
    head.next(head.inc());
    seqDone.next(seqDone.inc());
  });
  const evDone = m.let('event_done', c.wrStatus.valid.and(isEvent));
  m.if(evDone, () => evBusy.next(0));
  ev.done.set(evDone);
  ev.error.set(c.wrStatus.error.ne(0));
  const stSlot = c.wrStatus.id.bits(ub, 1);
  const fatal = m.let('used_fatal', c.wrStatus.valid.and(c.wrStatus.error.ne(0)));

  // ---- the used area as the write engine reads it: two lines from the slots' bytes, a cycle later
  const LB = lineBytes(p.W);
  const lines = c.layout.usedBytes / LB;
  const perLine = LB / 8;
  const slotAt = (i: number) => (i < U ? slotWord.item(i) : i === U ? evWord.zext(64) : lit(0, 64));
  const lineExprs = Array.from({ length: lines }, (_, l) =>
    cat(...Array.from({ length: perLine }, (_, j) => slotAt(l * perLine + perLine - 1 - j))),
  );
  const la = c.memRd.addr.trunc(log2ceil(lines));
  const rdata = m.reg('used_rdata', 2 * p.W);
  const rvalid = m.reg('used_rvalid', bit, { reset: 0 });
  rdata.next(cat(select(la.inc(), lineExprs), select(la, lineExprs)));
  rvalid.next(c.memRd.valid);
  c.memRd.rvalid.set(rvalid);
  c.memRd.rdata.set(rdata);

  return {
    /** Accepted a non-dropped done for queue `acceptQueue`, with `acceptSlots` positions. */
    accept,
    acceptQueue: dq,
    acceptSlots: done.slots,
    busy: m.let('used_busy', f.is('idle').not().or(head.ne(tail)).or(evBusy).or(dValid)),
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

  c.read.valid.set(f.is('read'));
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
    read: () => m.if(c.read.grant, () => f.goto('wait')),
    wait: () =>
      m.if(c.status.valid, () => {
        m.if(c.status.error.ne(0), () => {
          fatal.set(1);
          f.goto('idle');
        }).else(() => f.goto('decide'));
      }),
    decide: () => {
      m.if(need.and(st.failed.at(nq).not()).and(st.resetting.at(nq).not()), () => irq.set(lit(1, Q).shl(nq)));
      // the driver kicks no more (DISABLE): look at its ring again, it may have added buffers
      m.if(st.evOff.at(nq), () => st.pending.nextAt(nq, 1));
      f.goto('idle');
    },
  });

  return {
    /** The snapshot taken this cycle: queue and positions now covered. */
    taken,
    takenQueue: pick.index as Expr,
    active: m.let('notify_active', f.is('idle').not()),
    queue: nq as Expr,
    irq,
    fatal: { valid: fatal, queue: nq as Expr, code: lit(PackedFault.DMA_FAULT, PACKED_FAULT_BITS) },
  };
}
