// The packed-ring engine's walker (docs/queue-engine.md, "Packed rings"): the scheduler's pick of a queue, its
// ring fetched ahead in batches into the ring slots, and the descriptors checked one per cycle and handed to the
// stager (packed_expand.ts) as items. packedWalker builds it in the caller's module from the parts below, each a
// function that builds one part of its logic there and returns the signals and helpers the later parts use; the
// walker's record (`w`) gathers them, and each part is given the record of the parts before it. The order of the
// calls is the order of the generated Verilog's declarations and statements, so it stays.
import {
  bit,
  type Drivable,
  bitsFor,
  cat,
  type Expr,
  lit,
  log2ceil,
  type ModuleBuilder,
  mux,
  orAll,
  select,
} from '../hdl';
import { roundRobinArbiter } from '../lib/arbiter';
import {
  DESC_F,
  EVENT_FLAG,
  type PackedEngineParams,
  type PackedLayout,
  PackedFault,
  PACKED_FAULT_BITS,
} from './packed_params';
import {
  fit,
  type ItemLayout,
  ItemKind,
  type PackedQueueConfig,
  type PackedQueueState,
  type ReadRequest,
  type SlotRead,
} from './packed_fetch';
import type { EventWrite } from './packed_used';

export interface WalkerContext {
  p: PackedEngineParams;
  layout: PackedLayout;
  queueBits: number;
  cfg: PackedQueueConfig[];
  st: PackedQueueState;
  driverOk: Expr;
  featIndirect: Expr;
  featInOrder: Expr;
  featEventIdx: Expr;
  /**
   * The walker's queue will get a used buffer notification decision later (chains of it staged or at the
   * device, used positions not yet decided on, or the notifier on it): the notifier then sets its doorbell.
   */
  expectDecision: Expr;
  /** A notification decision on `queue` (DISABLE) set its doorbell: the walker's polls of it start over. */
  decided: { valid: Expr; queue: Expr };
  /** The device event structure's writes (the used writer carries them out). */
  event: EventWrite;
  /** Descriptor d of the ring slots (the ring area's read port). */
  desc: (d: Expr) => SlotRead;
  /** The read engine's status for a ring read, and for a table read. */
  ringStatus: { valid: Expr; error: Expr };
  tableStatus: { valid: Expr; error: Expr };
  /** The item queue's write side. */
  items: { valid: Drivable; ready: Expr; data: Drivable };
  item: ItemLayout;
  ringRead: ReadRequest;
  tableRead: ReadRequest;
}

/** The walker's chain state a loaded descriptor will be checked against (as it will be when it is decided on). */
interface ChainState {
  /** One more ring descriptor would make the chain longer than the queue. */
  tooLong: Expr;
  /** The chain has maxChain segments. */
  segsFull: Expr;
  /** Segments the chain may still take (maxChain - segments). */
  room: Expr;
  sawWrite: Expr;
  /** Bytes of the chain before this descriptor. */
  total: Expr;
  /** The ring position of the chain's head (IN_ORDER: the id a chain's last descriptor must carry). */
  headPos: Expr;
}

/**
 * The walker: a round-robin pick among queues with a doorbell pending, then the queue's ring read ahead in
 * batches of `batch` descriptors (never past the ring's end) into `ringSlots` slots, several reads outstanding,
 * while the walker checks one descriptor per cycle: available (AVAIL = the driver wrap counter, USED not),
 * chained (NEXT), indirect (its table's first batch read at once into the next table slot; the stager walks it
 * when it comes). Each segment, table and fault goes to the stager as an item, in ring order. A queue keeps the
 * walker while it has descriptors available and no other queue waits; it is released at the first head that is
 * not available (prefetched batches dropped), or after a batch when another queue has a doorbell pending (its
 * own re-armed: fair). A descriptor after a chain's head that is not available is read again once before it is
 * a fault (the read ahead may have seen the ring before the driver published the head).
 */
export function packedWalker(m: ModuleBuilder, c: WalkerContext) {
  // Each part's signals join the record the later parts are given (w1 holds the sizes and the turn's state, ...).
  const w0 = walkerSizes(c);
  const w1 = { ...w0, ...walkTurn(m, c, w0) };
  const w2 = { ...w1, ...walkEvent(m, c) };
  const w3 = { ...w2, ...ringSlots(m, c, w2) };
  const w4 = { ...w3, ...tableSlots(m, c, w3) };
  const w5 = { ...w4, ...scheduler(m, c, w4) };
  const w6 = { ...w5, ...fetcher(m, c, w5) };
  const w7 = { ...w6, ...cursor(m, c, w6) };
  const w8 = { ...w7, ...itemPush(m, c, w7) };
  const w9 = { ...w8, ...turnSteps(m, c, w8) };
  const w10 = { ...w9, ...kickControl(m, c, w9) };
  walkerArms(m, c, w10);
  return walkerResult(m, c, w10);
}

/** The walker's sizes (no hardware). */
function walkerSizes(c: WalkerContext) {
  const { p } = c;
  const Q = p.queues;
  const B = p.batch;
  const R = p.ringSlots;
  const T = p.tableSlots;
  const nb = bitsFor(B);
  const kb = log2ceil(B);
  const sb = bitsFor(p.maxChain);
  const rb = log2ceil(R);
  const tb = log2ceil(T);
  // ring pointers count modulo 4R: after a flush the walker's pointer runs up to R ahead of the statuses
  const slotBits = log2ceil(p.ringSlots + p.tableSlots);
  return { Q, B, R, T, nb, kb, sb, rb, tb, slotBits };
}
type WalkSizes = ReturnType<typeof walkerSizes>;

// The walker's turn on a queue: its state machine, the queue and ring position, the chain being validated, and
// whether the queue is resetting or stopped (the turn then ends).
function walkTurn(m: ModuleBuilder, c: WalkerContext, w: WalkSizes) {
  const { st } = c;
  const { kb, sb } = w;
  const f = m.fsm('walk_state', ['idle', 'start', 'slot', 'load', 'walk', 'table', 'ended', 'enable_wait'] as const);
  const cq = m.reg('walk_queue', c.queueBits, { reset: 0 });
  const pos = m.reg('walk_pos', 16);
  // pos + 1 at the ring's size (0 past its end), and whether pos is the ring's last position: kept a step ahead
  const posN = m.reg('walk_pos_next', 16);
  const posLast = m.reg('walk_pos_last', bit);
  const wrap = m.reg('walk_wrap', bit);
  const k = m.reg('walk_k', kb);
  const inChain = m.reg('walk_open', bit, { reset: 0 });
  const head = m.reg('walk_head', 16);
  const descs = m.reg('walk_descs', 16);
  const segs = m.reg('walk_segs', sb);
  const total = m.reg('walk_total', 32 + sb);
  const sawWrite = m.reg('walk_saw_write', bit);
  const retried = m.reg('walk_retried', bit, { reset: 0 });
  const size = m.reg('walk_size', 16);
  // A queue resetting, or stopped by a fault the stager raised (its items after it are dropped): the turn ends.
  // A register, a cycle late (the queue's select is not in front of the walker's decisions and the item push
  // behind them): the scheduler picks no failed or resetting queue, a reset waits for the walker to leave the
  // queue and the stager drops the items of a resetting or failed queue; right from `slot` on after a pick.
  const resetting = m.reg('walk_resetting', bit, { reset: 0 });
  resetting.next(st.resetting.at(cq).or(st.failed.at(cq)));
  return { f, cq, pos, posN, posLast, wrap, k, inChain, head, descs, segs, total, sawWrite, retried, size, resetting };
}
type WalkTurn = ReturnType<typeof walkTurn>;

// ---- the device event structure (the driver's kicks): DISABLE once the turn has found work, and when the
// ring is found empty with nothing of the queue in flight ENABLE (DESC at the next position with EVENT_IDX),
// then the ring read once more after that write (a buffer the driver made available while it still read
// DISABLE is found by that read). With chains in flight it stays DISABLE: the notifier's next decision on the
// queue sets its doorbell (a poll), so no kick is needed while the device is busy with the queue.
function walkEvent(m: ModuleBuilder, c: WalkerContext) {
  /** evOff and evArmed of the walker's queue (only the walker changes them while it is on the queue). */
  const curEvOff = m.reg('walk_ev_off', bit, { reset: 0 });
  const checked = m.reg('walk_ev_checked', bit, { reset: 0 });
  /** The turn went past a descriptor since the pick or the last ENABLE (DESC's off_wrap is behind). */
  const moved = m.reg('walk_moved', bit, { reset: 0 });
  /** The turn found work and the structure is not DISABLE yet: ask for the write. */
  const offWanted = m.reg('walk_ev_off_wanted', bit, { reset: 0 });
  const expectReg = m.reg('walk_expect_decision', bit, { reset: 0 });
  expectReg.next(c.expectDecision);
  const evReq = m.reg('walk_ev_req', bit, { reset: 0 });
  const evWord = m.reg('walk_ev_word', 32);
  const evFull = m.reg('walk_ev_full', bit);
  const evQueue = m.reg('walk_ev_queue', c.queueBits, { reset: 0 });
  c.event.valid.set(evReq);
  c.event.word.set(evWord);
  c.event.full.set(evFull);
  c.event.queue.set(evQueue);
  m.if(c.event.grant as Expr, () => evReq.next(0));
  const evFree = m.let('walk_ev_free', evReq.not().and((c.event.busy as Expr).not()));
  /** ENABLE (DESC at `pos` with EVENT_IDX) written and the ring read after it, nothing taken since. */
  const armedNow = m.let('walk_ev_armed_now', curEvOff.not().and(checked).and(c.featEventIdx.not().or(moved.not())));
  return { curEvOff, checked, moved, offWanted, expectReg, evReq, evWord, evFull, evQueue, evFree, armedNow };
}
type WalkEvent = ReturnType<typeof walkEvent>;

// ---- ring slots: allocated (read asked for), filled (status back), consumed (walked), in that order
function ringSlots(m: ModuleBuilder, c: WalkerContext, w: WalkSizes & WalkTurn & WalkEvent) {
  const { p } = c;
  const { B, R, nb, rb, curEvOff } = w;
  const rAlloc = m.reg('ring_alloc', rb + 2, { reset: 0 });
  const rFill = m.reg('ring_fill', rb + 2, { reset: 0 });
  const rCons = m.reg('ring_cons', rb + 2, { reset: 0 });
  const rDiff = m.let('ring_filled_ahead', rFill.sub(rCons));
  const rFilled = m.let('ring_filled', rDiff.ne(0).and(rDiff.msb().not()));
  const slotN = m.regArray('ring_slot_n', R, nb);
  const slotErr = m.regArray('ring_slot_err', R, bit);
  const slotQueue = m.regArray('ring_slot_queue', R, c.queueBits);
  const fetching = m.reg('fetch_on', bit, { reset: 0 });
  const fIssue = m.reg('fetch_issue', bit, { reset: 0 });
  const fpos = m.reg('fetch_pos', 16);
  const fn = m.reg('fetch_n', nb);
  const fhost = m.reg('fetch_host', 64);
  // A look at a DISABLE queue's ring (every turn while the driver does not kick is a poll) reads ahead two
  // batches until it finds an available descriptor, then as many as the slots take: most polls find nothing,
  // and their reads compete with the device's data reads for the read engine. (Measured in the virtio-blk
  // bench, 512 B reads: one batch 53.2 cycles per request, two 49.6, four 52.1.)
  const seen = m.reg('walk_seen', bit, { reset: 0 });
  const POLL_READS = Math.min(2, R);
  const oneAhead = p.kickSuppression ? curEvOff.and(seen.not()) : lit(0, 1);
  const rFree = m.let(
    'ring_slot_free',
    rAlloc
      .sub(rCons)
      .lt(R)
      .and(rAlloc.sub(rFill).lt(R))
      .and(oneAhead.not().or(rAlloc.sub(rCons).lt(POLL_READS))),
  );
  const n16 = (v: Expr) => mux(v.ge(B), lit(B, nb), v.trunc(nb));
  return {
    rAlloc,
    rFill,
    rCons,
    rDiff,
    rFilled,
    slotN,
    slotErr,
    slotQueue,
    fetching,
    fIssue,
    fpos,
    fn,
    fhost,
    seen,
    POLL_READS,
    oneAhead,
    rFree,
    n16,
  };
}
type WalkRing = ReturnType<typeof ringSlots>;

// ---- table slots (the stager consumes them: its count comes back as tableCons)
// (Both kinds of slot are filled in order: a read's status fills the next one and marks its error.)
function tableSlots(m: ModuleBuilder, c: WalkerContext, w: WalkSizes & WalkTurn & WalkEvent & WalkRing) {
  const { T, rb, tb, rFill, slotErr } = w;
  const tAlloc = m.reg('table_alloc', tb + 1, { reset: 0 });
  const tFill = m.reg('table_fill', tb + 1, { reset: 0 });
  const tCons = m.wire('table_cons', tb + 1);
  const tErr = m.regArray('table_slot_err', T, bit);
  const tFree = m.let('table_slot_free', tAlloc.sub(tCons).lt(T).and(tAlloc.sub(tFill).lt(T)));

  m.if(c.ringStatus.valid, () => {
    rFill.next(rFill.inc());
    slotErr.nextAt(rFill.trunc(rb), c.ringStatus.error.ne(0));
  });
  m.if(c.tableStatus.valid, () => {
    tFill.next(tFill.inc());
    tErr.nextAt(tFill.trunc(tb), c.tableStatus.error.ne(0));
  });
  return { tAlloc, tFill, tCons, tErr, tFree };
}
type WalkTable = ReturnType<typeof tableSlots>;

// ---- scheduler: queues with a doorbell pending, enabled, configured and not stopped (whether a queue is
// enabled with a size: a register, a cycle behind the handover, which changes only while the queue is idle)
function scheduler(m: ModuleBuilder, c: WalkerContext, w: WalkSizes & WalkTurn & WalkEvent & WalkRing & WalkTable) {
  const { st, cfg } = c;
  const { Q, f, cq } = w;
  const ready = m.regArray('walk_q_ready', Q, bit, { reset: 0 });
  cfg.forEach((q, i) => ready.item(i).next(q.enable.and(q.size.ne(0))));
  const runnable = cat(
    ...cfg
      .map((_, i) =>
        andBits(
          st.pending.item(i),
          ready.item(i),
          st.failed.item(i).not(),
          st.halted.item(i).not(),
          st.resetting.item(i).not(),
        ),
      )
      .reverse(),
  );
  const req = m.let('sched_req', runnable.and(f.is('idle').and(c.driverOk).rep(Q)));
  const pick = roundRobinArbiter(m, 'sched', req, f.is('idle'));
  /** Another queue than the walker's has a doorbell pending (checked at a batch's end). */
  const othersWait = m.reg('walk_others_wait', bit, { reset: 0 });
  othersWait.next(runnable.and(lit(1, Q).shl(cq).not()).ne(0));
  return { ready, runnable, req, pick, othersWait };
}
type WalkSched = ReturnType<typeof scheduler>;

// ---- the fetcher: the walker's queue's ring, batch after batch, while ring slots are free
function fetcher(
  m: ModuleBuilder,
  c: WalkerContext,
  w: WalkSizes & WalkTurn & WalkEvent & WalkRing & WalkTable & WalkSched,
) {
  const { p, cfg } = c;
  const { rb, slotBits, cq, size, rAlloc, rCons, slotN, slotQueue, fetching, fIssue, fpos, fn, fhost, rFree, n16 } = w;
  const ringDescs = select(
    cq,
    cfg.map((q) => q.desc),
  );
  c.ringRead.valid.set(fIssue);
  c.ringRead.host.set(fhost);
  c.ringRead.slot!.set(fit(rAlloc.trunc(rb), slotBits));
  c.ringRead.len.set(fn.zext(p.lenBits).shl(4));
  const fposAdv = m.let('fetch_pos_adv', fpos.zext(17).add(fn.zext(17)));
  m.if(fetching.and(fIssue.not()).and(rFree), () => {
    fn.next(n16(size.sub(fpos)));
    fhost.next(ringDescs.add(fpos.zext(64).shl(4)));
    fIssue.next(1);
  });
  const rAllocNext = m.let('ring_alloc_next', mux(c.ringRead.grant, rAlloc.inc(), rAlloc));
  m.if(c.ringRead.grant, () => {
    slotN.nextAt(rAlloc.trunc(rb), fn);
    slotQueue.nextAt(rAlloc.trunc(rb), cq);
    rAlloc.next(rAlloc.inc());
    fIssue.next(0);
    fpos.next(fposAdv.eq(size.zext(17)).select(lit(0, 16), fposAdv.trunc(16)));
  });
  /** Drops the batches read ahead (their reads still land, in slots not reused before their statuses). */
  const flush = () => {
    fetching.next(0);
    fIssue.next(0);
    rCons.next(rAllocNext);
  };
  const fetchFrom = (at: Expr) => {
    flush();
    fetching.next(1);
    fpos.next(at);
  };
  return { ringDescs, fposAdv, rAllocNext, flush, fetchFrom };
}
type WalkFetch = ReturnType<typeof fetcher>;

// ---- the descriptor under the cursor: a register, loaded a cycle ahead together with its checks against
// the state it will meet (so a decision starts from registers, not from the slots' read)
function cursor(
  m: ModuleBuilder,
  c: WalkerContext,
  w: WalkSizes & WalkTurn & WalkEvent & WalkRing & WalkTable & WalkSched & WalkFetch,
) {
  const { nb, sb, rb, f, k, descs, segs, total, size, rCons, slotN } = w;
  const cur = m.reg('walk_cur', 128);
  const curAvail = m.reg('walk_cur_avail', bit);
  const dAddr = cur.bits(63, 0);
  const dLen = cur.bits(95, 64);
  const dId = cur.bits(111, 96);
  const flag = (b: number) => cur.bit(112 + b);
  const dNext = flag(DESC_F.NEXT);
  const dWrite = flag(DESC_F.WRITE);
  const dIndirect = flag(DESC_F.INDIRECT);
  const n = m.let('walk_n', slotN.at(rCons.trunc(rb)));
  const batchEnd = m.let('walk_batch_end', k.zext(nb).eq(n.sub(1)));
  const tableLen = dLen.bits(31, 4);
  const segsNext = segs.inc();
  const descsNext = descs.inc();
  const totalNext = m.let('walk_total_next', total.add(dLen.zext(32 + sb)));
  // one read port of the fetch slots: the address of the descriptor a load takes
  // (from registers only: in `walk` the descriptor after the current one, else the current one)
  const rdAt = m.let('walk_rd_at', cat(rCons.trunc(rb), mux(f.is('walk'), k.inc(), k)));
  const rdPort = c.desc(rdAt);
  const rdData = rdPort.desc;

  /** The per-descriptor faults in the golden model's order. */
  const FAULTS = [
    PackedFault.CHAIN_TOO_LONG,
    PackedFault.INDIRECT_NOT_NEGOTIATED,
    PackedFault.INDIRECT_WITH_NEXT,
    PackedFault.INDIRECT_BAD_LENGTH,
    PackedFault.CHAIN_TOO_LONG,
    PackedFault.MAX_CHAIN,
    PackedFault.READABLE_AFTER_WRITABLE,
    PackedFault.MAX_CHAIN,
  ];
  const curFaults = m.reg('walk_cur_faults', FAULTS.length);
  /** The chain would pass 2^32 bytes with this descriptor; its id is not the head's position. */
  const curBig = m.reg('walk_cur_big', bit);
  /** The ring position the current descriptor's id must equal if it ends its chain (IN_ORDER). */
  const curHeadPos = m.reg('walk_cur_head_pos', 16);
  // compared from registers when the descriptor is decided on (not behind the slot memory's read and line
  // select), and only into the item (not the decision)
  const curIdBad = m.let('walk_cur_id_bad', c.featInOrder.and(dId.ne(curHeadPos)));
  /**
   * Loads the descriptor at `walk_rd_at` as the next current one, with its availability (the wrap
   * counter is the same for a whole batch: a batch never runs past the ring's end) and each fault it has
   * against `s`, as one bit per fault (the decision ORs them; the first is the code). chain-too-big and
   * IN_ORDER are checked when the chain ends.
   */
  const load = (atWrap: Expr, s: ChainState) => {
    const nd = rdData;
    const fl = (b: number) => nd.bit(112 + b);
    const len = nd.bits(95, 64);
    const tl = len.bits(31, 4);
    const ind = fl(DESC_F.INDIRECT);
    const conds = [
      s.tooLong,
      ind.and(c.featIndirect.not()),
      ind.and(fl(DESC_F.NEXT)),
      ind.and(len.eq(0).or(len.bits(3, 0).ne(0))),
      ind.and(tl.gt(size.zext(28))),
      ind.and(tl.gt(s.room.zext(28))),
      ind.not().and(fl(DESC_F.WRITE).not()).and(s.sawWrite),
      ind.not().and(s.segsFull),
    ];
    cur.next(nd);
    curAvail.next(fl(DESC_F.AVAIL).eq(atWrap).and(fl(DESC_F.USED).ne(atWrap)));
    curFaults.next(cat(...[...conds].reverse()));
    curBig.next(s.total.add(len.zext(32 + sb)).gt(2 ** 32));
    curHeadPos.next(s.headPos);
  };
  /** The first condition that holds, as a balanced tree of 2:1 choices (not a chain as long as the list). */
  const firstOf = (conds: [Expr, number][]): Expr => {
    if (conds.length === 1) return mux(conds[0][0], lit(conds[0][1], PACKED_FAULT_BITS), lit(0, PACKED_FAULT_BITS));
    const h = Math.ceil(conds.length / 2);
    const lo = conds.slice(0, h);
    return mux(orAll(...lo.map(([cnd]) => cnd)), firstOf(lo), firstOf(conds.slice(h)));
  };
  const curFault = m.let('walk_cur_fault', firstOf(FAULTS.map((code, i) => [curFaults.bit(i), code])));
  const anyFault = m.let('walk_cur_any_fault', curFaults.orR());
  return {
    cur,
    curAvail,
    dAddr,
    dLen,
    dId,
    flag,
    dNext,
    dWrite,
    dIndirect,
    n,
    batchEnd,
    tableLen,
    segsNext,
    descsNext,
    totalNext,
    rdAt,
    rdPort,
    rdData,
    FAULTS,
    curFaults,
    curBig,
    curHeadPos,
    curIdBad,
    load,
    firstOf,
    curFault,
    anyFault,
  };
}
type WalkCursor = ReturnType<typeof cursor>;

// ---- items to the stager
// Every item carries the current descriptor's fields whatever its kind (the stager reads of each kind only
// what it needs: a table's length in 16-byte entries from len, a fault only its code), so that the item's
// 178 bits are not a multiplexer of the kinds' fields; only the kind and the code differ.
function itemPush(
  m: ModuleBuilder,
  c: WalkerContext,
  w: WalkSizes & WalkTurn & WalkEvent & WalkRing & WalkTable & WalkSched & WalkFetch & WalkCursor,
) {
  const { cq, total, sawWrite, dAddr, dLen, dId, dNext, dWrite, descsNext, curIdBad } = w;
  const push = m.wire('walk_item_push', bit, { default: 0 });
  const pushKind = m.wire('walk_item_kind', 2, { default: ItemKind.SEG });
  const pushCode = m.wire('walk_item_code', PACKED_FAULT_BITS, { default: PackedFault.NONE });
  c.items.valid.set(push);
  c.items.data.set(
    c.item.pack({
      queue: cq,
      kind: pushKind,
      code: pushCode,
      addr: dAddr,
      len: dLen,
      write: dWrite,
      last: dNext.not(),
      id: dId,
      slots: descsNext,
      idBad: curIdBad,
      sawWrite,
      total,
    }),
  );
  const emit = (kind: number, code?: Expr) => {
    push.set(1);
    pushKind.set(lit(kind, 2));
    if (code) pushCode.set(code);
  };
  return { push, pushKind, pushCode, emit };
}
type WalkItems = ReturnType<typeof itemPush>;

// The turn's steps the arms share: a chain opened, the turn ended (its queue's position saved, its doorbell re-armed
// when it has more to do), a fault, the next ring position, a batch's end, the next descriptor loaded.
function turnSteps(
  m: ModuleBuilder,
  c: WalkerContext,
  w: WalkSizes & WalkTurn & WalkEvent & WalkRing & WalkTable & WalkSched & WalkFetch & WalkCursor & WalkItems,
) {
  const { p, st } = c;
  const {
    sb,
    f,
    cq,
    pos,
    posN,
    posLast,
    wrap,
    k,
    inChain,
    head,
    descs,
    segs,
    total,
    sawWrite,
    size,
    moved,
    armedNow,
    rCons,
    othersWait,
    flush,
    dNext,
    dWrite,
    segsNext,
    descsNext,
    totalNext,
    load,
    emit,
  } = w;
  // A turn that ends with more to do (another queue waits) sets its queue's doorbell bit again a cycle later
  // (the queue is still `cq`: a pick is made in `idle` at the earliest): the walker's decision is not in front of
  // the pending bits. Before the pick's clear below, which wins.
  const repend = m.reg('walk_repend', bit, { reset: 0 });
  repend.next(0);
  m.if(repend, () => st.pending.nextAt(cq, 1));

  const openChain = () => {
    inChain.next(0);
    descs.next(0);
    segs.next(0);
    total.next(0);
    sawWrite.next(0);
  };
  const endTurn = (at: Expr, atWrap: Expr, more: Expr) => {
    st.availPos.nextAt(cq, at);
    st.availWrap.nextAt(cq, atWrap);
    st.evArmed.nextAt(cq, armedNow);
    m.if(more, () => repend.next(1));
    flush();
    f.goto('idle');
  };
  /** A fault of the walker's queue: to the stager (which raises it in ring order), the queue walked no more. */
  const fail = (code: number | Expr) => {
    emit(ItemKind.FAULT, typeof code === 'number' ? lit(code, PACKED_FAULT_BITS) : code);
    st.halted.nextAt(cq, 1);
    openChain();
    flush();
    f.goto('idle');
  };
  /** Past the current descriptor (its chain goes on, or ended with it): the next ring position. */
  const advance = () => {
    moved.next(1);
    pos.next(posN);
    const nInc = posN.inc();
    const nWraps = nInc.eq(size);
    posN.next(nWraps.select(lit(0, 16), nInc));
    posLast.next(nWraps);
    m.if(posLast, () => wrap.next(wrap.not()));
  };
  const wrapNext = posLast.select(wrap.not(), wrap);
  /** After the last descriptor of a batch (the chain ended with it when `ended`). */
  const batchDone = (ended: Expr) => {
    rCons.next(rCons.inc());
    m.if(ended.and(othersWait), () => endTurn(posN, wrapNext, lit(1, 1))).else(() => f.goto('slot'));
  };
  // The chain state a load is checked against: in `load` the walker's (a batch's first descriptor), in `walk`
  // the state after the current descriptor. One set of checks (adders, compares) on the choice, not one per site.
  const inWalk = f.is('walk');
  const loadState: ChainState = {
    tooLong: m.let(
      'walk_ld_too_long',
      inWalk
        .not()
        .or(dNext)
        .and(mux(inWalk, descsNext, descs).ge(size)),
    ),
    segsFull: m.let(
      'walk_ld_segs_full',
      inWalk
        .not()
        .or(dNext)
        .and(mux(inWalk, segsNext, segs).eq(p.maxChain)),
    ),
    room: m.let('walk_ld_room', lit(p.maxChain, sb).sub(mux(inWalk, mux(dNext, segsNext, lit(0, sb)), segs))),
    sawWrite: m.let('walk_ld_saw_write', mux(inWalk, dNext.and(sawWrite.or(dWrite)), sawWrite)),
    total: m.let('walk_ld_total', mux(inWalk.and(dNext.not()), lit(0, 32 + sb), mux(inWalk, totalNext, total))),
    headPos: m.let('walk_ld_head_pos', mux(inWalk.and(dNext.not()), posN, inChain.select(head, pos))),
  };
  const nextState = () => {
    k.next(k.inc());
    load(wrap, loadState);
  };
  return { repend, openChain, endTurn, fail, advance, wrapNext, batchDone, inWalk, loadState, nextState };
}
type WalkSteps = ReturnType<typeof turnSteps>;

// Room for an item, the event structure's DISABLE write once the turn found work, and the polls.
function kickControl(
  m: ModuleBuilder,
  c: WalkerContext,
  w: WalkSizes &
    WalkTurn &
    WalkEvent &
    WalkRing &
    WalkTable &
    WalkSched &
    WalkFetch &
    WalkCursor &
    WalkItems &
    WalkSteps,
) {
  const { p, st } = c;
  const { f, cq, resetting, curEvOff, checked, offWanted, evReq, evWord, evFull, evQueue, evFree, seen, curAvail } = w;
  const itemRoom = c.items.ready;

  // DISABLE as soon as the turn has found work (an available descriptor to be pushed as an item, or its table
  // when it is indirect: decided from registers, not from the item push behind the walker's decision), the
  // flags alone
  const found = m.let('walk_found', f.is('walk').and(itemRoom).and(resetting.not()).and(curAvail));
  if (p.kickSuppression) m.if(found.and(curEvOff.not()), () => offWanted.next(1));
  m.if(found, () => seen.next(1));

  // ---- polls: after a notification decision on a DISABLE queue (which looks at the ring itself), `polls` more
  // looks `pollGap` cycles apart, for one queue at a time (the last decided on). Only a hint: without them the
  // buffers are found by the next decision (chains in flight) or the driver kicks (ENABLE / DESC written).
  const polls = p.polls;
  const pollGap = p.pollGap;
  if (p.kickSuppression && polls > 0) {
    const pollQueue = m.reg('poll_queue', c.queueBits, { reset: 0 });
    const pollLeft = m.reg('poll_left', bitsFor(polls), { reset: 0 });
    const pollTimer = m.reg('poll_timer', bitsFor(pollGap), { reset: 0 });
    const due = m.let('poll_due', pollLeft.ne(0).and(pollTimer.eq(0)));
    m.if(pollTimer.ne(0), () => pollTimer.next(pollTimer.dec()));
    m.if(due, () => {
      m.if(st.evOff.at(pollQueue), () => st.pending.nextAt(pollQueue, 1));
      pollLeft.next(pollLeft.dec());
      pollTimer.next(pollGap - 1);
    });
    m.if(st.resetting.at(pollQueue).or(st.failed.at(pollQueue)), () => pollLeft.next(0));
    m.if(c.decided.valid, () => {
      pollQueue.next(c.decided.queue);
      pollLeft.next(polls);
      pollTimer.next(pollGap - 1);
    });
  }
  m.if(offWanted.and(evFree), () => {
    evReq.next(1);
    evWord.next(lit(EVENT_FLAG.DISABLE << 16, 32));
    evFull.next(0);
    evQueue.next(cq);
    offWanted.next(0);
    curEvOff.next(1);
    checked.next(0);
    st.evOff.nextAt(cq, 1);
  });
  return { itemRoom, found, polls, pollGap };
}
type WalkKick = ReturnType<typeof kickControl>;

/** All the parts' signals: what the state machine's arms and the walker's outputs are built from. */
type Walk = WalkSizes &
  WalkTurn &
  WalkEvent &
  WalkRing &
  WalkTable &
  WalkSched &
  WalkFetch &
  WalkCursor &
  WalkItems &
  WalkSteps &
  WalkKick;
/** Arms of the walker's state machine (its `switch`). */
type WalkArms = Parameters<WalkTurn['f']['switch']>[0];

// The walker's state machine, its arms in four groups (the pick and a batch's first descriptor; the walk; the ring
// found empty; an indirect table), in this order, which is the order of the generated `case` arms; then the table
// reads the `table` state asks for.
function walkerArms(m: ModuleBuilder, c: WalkerContext, w: Walk) {
  w.f.switch({ ...pickArms(m, c, w), ...walkArm(m, c, w), ...emptyRingArms(m, c, w), ...tableArm(m, c, w) });
  const { p } = c;
  const { R, tb, slotBits, f, tFree, dAddr, tableLen, n16, tAlloc, itemRoom } = w;
  c.tableRead.valid.set(f.is('table').and(tFree).and(itemRoom));
  c.tableRead.host.set(dAddr);
  c.tableRead.slot!.set(lit(R, slotBits).add(fit(tAlloc.trunc(tb), slotBits)));
  c.tableRead.len.set(n16(tableLen.trunc(16)).zext(p.lenBits).shl(4));
}

// A queue picked (idle), its ring's read from its position asked for (start), a batch's slot waited for (slot),
// its first descriptor loaded (load).
function pickArms(m: ModuleBuilder, c: WalkerContext, w: Walk) {
  const { st, cfg } = c;
  const {
    rb,
    f,
    cq,
    pos,
    posN,
    posLast,
    wrap,
    k,
    inChain,
    retried,
    size,
    resetting,
    curEvOff,
    checked,
    moved,
    offWanted,
    rCons,
    rFilled,
    slotErr,
    seen,
    pick,
    fetchFrom,
    load,
    emit,
    openChain,
    endTurn,
    fail,
    loadState,
    itemRoom,
  } = w;
  return {
    idle: () => {
      m.if(pick.valid, () => {
        cq.next(pick.index);
        size.next(
          select(
            pick.index,
            cfg.map((q) => q.size),
          ),
        );
        pos.next(st.availPos.at(pick.index));
        wrap.next(st.availWrap.at(pick.index));
        st.pending.nextAt(pick.index, 0);
        retried.next(0);
        curEvOff.next(st.evOff.at(pick.index));
        checked.next(st.evArmed.at(pick.index));
        seen.next(0);
        moved.next(0);
        offWanted.next(0);
        openChain();
        f.goto('start');
      });
    },
    start: () => {
      const inc = pos.inc();
      const wraps = inc.eq(size);
      posN.next(wraps.select(lit(0, 16), inc));
      posLast.next(wraps);
      fetchFrom(pos);
      f.goto('slot');
    },
    slot: () => {
      m.if(resetting.or(itemRoom.not()), () => {
        // (nothing to decide without room for an item; a reset ends the turn)
        m.if(resetting.and(itemRoom), () => {
          m.if(inChain, () => emit(ItemKind.FAULT));
          openChain();
          endTurn(pos, wrap, lit(0, 1));
        });
      }).elseIf(rFilled, () => {
        k.next(0);
        m.if(slotErr.at(rCons.trunc(rb)), () => fail(PackedFault.DMA_FAULT)).else(() => f.goto('load'));
      });
    },
    // A cycle after the status (which comes after the data is written, docs/dma.md), the slot's first
    // descriptor is readable even if the memory write reached it a cycle late.
    load: () => {
      load(wrap, loadState);
      f.goto('walk');
    },
  } satisfies WalkArms;
}

// The walk: one descriptor a cycle (walkRing), while the stager has room for an item and the queue is not resetting.
function walkArm(m: ModuleBuilder, c: WalkerContext, w: Walk) {
  const { p } = c;
  const {
    f,
    pos,
    wrap,
    inChain,
    head,
    descs,
    segs,
    total,
    sawWrite,
    retried,
    resetting,
    fetchFrom,
    curAvail,
    dNext,
    dWrite,
    dIndirect,
    batchEnd,
    segsNext,
    descsNext,
    totalNext,
    curBig,
    curIdBad,
    curFault,
    anyFault,
    emit,
    openChain,
    endTurn,
    fail,
    advance,
    batchDone,
    nextState,
    itemRoom,
  } = w;
  function walkRing() {
    const chainEnd = dNext.not();
    m.if(curAvail.not(), () => {
      m.if(inChain.not(), () => (p.kickSuppression ? f.goto('ended') : endTurn(pos, wrap, lit(0, 1))))
        .elseIf(retried, () => fail(PackedFault.DESC_NOT_AVAILABLE))
        .else(() => {
          // read the ring again from here: the chain's state stays
          retried.next(1);
          fetchFrom(pos);
          f.goto('slot');
        });
    })
      .elseIf(anyFault, () => fail(curFault))
      .elseIf(dIndirect, () => {
        // The table ends the chain (no NEXT). IN_ORDER is checked when the table is done (its own faults first).
        m.if(inChain.not(), () => head.next(pos));
        f.goto('table');
      })
      .else(() => {
        inChain.next(1);
        descs.next(descsNext);
        segs.next(segsNext);
        total.next(totalNext);
        sawWrite.next(sawWrite.or(dWrite));
        retried.next(0);
        m.if(inChain.not(), () => head.next(pos));
        // The buffer id is the chain's last descriptor's (virtio 1.2 2.8.6 / the golden model).
        // A chain's end checks (IN_ORDER, then chain-too-big) go with its last segment as the item's code: the
        // stager raises the fault when it reaches it (in ring order; the chain is not committed, the queue stops),
        // so the compare of the id is not in front of the walker's decision.
        emit(
          ItemKind.SEG,
          mux(
            chainEnd,
            mux(
              curIdBad,
              lit(PackedFault.IN_ORDER_VIOLATION, PACKED_FAULT_BITS),
              mux(curBig, lit(PackedFault.CHAIN_TOO_BIG, PACKED_FAULT_BITS), lit(PackedFault.NONE, PACKED_FAULT_BITS)),
            ),
            lit(PackedFault.NONE, PACKED_FAULT_BITS),
          ),
        );
        m.if(chainEnd, () => openChain());
        advance();
        m.if(batchEnd, () => batchDone(chainEnd)).else(() => nextState());
      });
  }

  return {
    walk: () => {
      m.if(itemRoom.not(), () => {
        /* wait for the stager */
      })
        .elseIf(resetting, () => {
          m.if(inChain, () => emit(ItemKind.FAULT));
          openChain();
          endTurn(pos, wrap, lit(0, 1));
        })
        .else(() => walkRing());
    },
  } satisfies WalkArms;
}

// The ring found empty (ended) and the event structure's ENABLE / DESC write waited for (enable_wait).
function emptyRingArms(m: ModuleBuilder, c: WalkerContext, w: Walk) {
  const { st } = c;
  const {
    f,
    cq,
    pos,
    wrap,
    resetting,
    curEvOff,
    checked,
    moved,
    offWanted,
    expectReg,
    evReq,
    evWord,
    evFull,
    evQueue,
    evFree,
    armedNow,
    flush,
    fetchFrom,
    endTurn,
  } = w;
  return {
    // The ring is empty at `pos` (no chain open): stay DISABLE while a notification decision is to come (it
    // brings the walker back); end at once when ENABLE / DESC at `pos` was written and the ring read after it;
    // else write it and read the ring again (after the write's status: the read goes out behind the write).
    ended: () => {
      flush();
      m.if(resetting.or(curEvOff.and(expectReg)).or(armedNow), () => endTurn(pos, wrap, lit(0, 1))).elseIf(
        evFree,
        () => {
          const flags = mux(c.featEventIdx, lit(EVENT_FLAG.DESC, 16), lit(EVENT_FLAG.ENABLE, 16));
          evReq.next(1);
          evWord.next(cat(flags, wrap, pos.bits(14, 0)));
          evFull.next(1);
          evQueue.next(cq);
          offWanted.next(0);
          curEvOff.next(0);
          st.evOff.nextAt(cq, 0);
          f.goto('enable_wait');
        },
      );
    },
    enable_wait: () => {
      m.if(c.event.done as Expr, () => {
        m.if((c.event.error as Expr).or(resetting), () => endTurn(pos, wrap, lit(0, 1))).else(() => {
          checked.next(1);
          moved.next(0);
          fetchFrom(pos);
          f.goto('slot');
        });
      });
    },
  } satisfies WalkArms;
}

// An indirect descriptor's table read asked for (table).
function tableArm(m: ModuleBuilder, c: WalkerContext, w: Walk) {
  const { f, k, retried, tAlloc, batchEnd, emit, openChain, advance, batchDone } = w;
  return {
    // An indirect descriptor: its table's first batch is read into the next table slot, the stager told.
    table: () => {
      m.if(c.tableRead.grant, () => {
        emit(ItemKind.TABLE);
        tAlloc.next(tAlloc.inc());
        openChain();
        retried.next(0);
        advance();
        m.if(batchEnd, () => batchDone(lit(1, 1))).else(() => {
          k.next(k.inc());
          f.goto('load');
        });
      });
    },
  } satisfies WalkArms;
}

// The walker's outputs to the engine: whether it is busy, with which queue, and its table slots' counts.
function walkerResult(
  m: ModuleBuilder,
  c: WalkerContext,
  w: WalkSizes &
    WalkTurn &
    WalkEvent &
    WalkRing &
    WalkTable &
    WalkSched &
    WalkFetch &
    WalkCursor &
    WalkItems &
    WalkSteps &
    WalkKick,
) {
  const { R, rb, f, cq, rAlloc, rFill, slotQueue, tAlloc, tFill, tCons, tErr } = w;
  const ringBusy = (i: number) =>
    orAll(
      ...Array.from({ length: R }, (_, s) =>
        // slot s holds a read in flight: it is among rFill .. rAlloc - 1
        lit(s, rb)
          .sub(rFill.trunc(rb))
          .zext(rb + 2)
          .lt(rAlloc.sub(rFill))
          .and(slotQueue.item(s).eq(i)),
      ),
    );

  return {
    active: m.let('walk_active', f.is('idle').not().or(rAlloc.ne(rFill))),
    /** The walker is on queue i, or a ring read of queue i is in flight. */
    busyWith: (i: number) => f.is('idle').not().and(cq.eq(i)).or(ringBusy(i)),
    queue: cq as Expr,
    tableAlloc: tAlloc as Expr,
    tableFill: tFill as Expr,
    tableCons: tCons,
    tableErr: (slot: Expr) => tErr.at(slot),
  };
}

function andBits(...xs: Expr[]): Expr {
  return xs.reduce((a, b) => a.and(b));
}
