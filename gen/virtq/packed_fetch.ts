// The packed-ring engine's available side (docs/queue-engine.md, "Packed rings"): the fetch buffer (the read
// engine's writes into the engine's region, kept in registers), the walker that fetches ring descriptors and
// indirect tables in batches and validates chains, and the staging memory that holds a chain's descriptors
// until the whole chain is known good, then hands it to the device. Each function builds its logic in the
// caller's module.
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
  type Signal,
  type SignalArray,
} from '../hdl';
import { lineBytes } from '../dma/ports';
import { roundRobinArbiter } from '../lib/arbiter';
import { Fifo } from '../lib/fifo';
import { CHAIN_ID_BITS } from './ports';
import { DESC_F, type PackedEngineParams, type PackedLayout, PackedFault, PACKED_FAULT_BITS } from './packed_params';

/** The per-queue state the engine's parts share (register arrays indexed by queue). */
export interface PackedQueueState {
  pending: SignalArray;
  failed: SignalArray;
  resetting: SignalArray;
  availPos: SignalArray;
  availWrap: SignalArray;
  usedPos: SignalArray;
  usedWrap: SignalArray;
  /** Used ring positions published and not yet covered by a notification decision. */
  unsignalled: SignalArray;
  /** Chains committed (staged or at the device) and not yet done. */
  inflight: SignalArray;
}

/** A queue's handover fields the engine reads (gen/virtio/ports.ts queueHandover). */
export interface PackedQueueConfig {
  size: Expr;
  enable: Expr;
  desc: Expr;
  driver: Expr;
}

/** A fatal error found by one of the engine's parts, for the queue it names. */
export interface PackedFatal {
  valid: Signal;
  queue: Expr;
  code: Signal;
}

/** A read command a part wants issued, and the grant (the read engine took it). */
export interface ReadRequest {
  valid: Drivable;
  host: Drivable;
  /** Byte offset in the region, and length. */
  offset: number;
  len: Drivable;
  grant: Drivable;
}

/**
 * The fetch buffer and the event word: the read engine's line writes (`mem_wr`) that fall on the buffer's lines
 * or the event line are kept in registers, byte by byte under the byte enables. Returns descriptor k of the
 * buffer (128 bits, little-endian) and the event word (32 bits).
 */
export function fetchBuffer(
  m: ModuleBuilder,
  p: PackedEngineParams,
  layout: PackedLayout,
  memWr: { valid: Expr; addr: Expr; data: Expr; be: Expr },
) {
  const LB = lineBytes(p.W);
  const W = p.W;
  const regionLineBits = p.regionBits - log2ceil(LB);
  const lines = layout.bufBytes / LB;
  const regionLines = 2 ** regionLineBits;
  const line = m.let('memwr_line', memWr.addr.trunc(regionLineBits));
  const half = (v: Expr, w: number, i: number) => v.bits(w * (i + 1) - 1, w * i);
  const bytesMask = (be: Expr) => cat(...Array.from({ length: be.width }, (_, i) => be.bit(be.width - 1 - i).rep(8)));
  /** Line l's next value: its bytes written from whichever half of the write lands on it. */
  const written = (l: number, old: Expr) => {
    const lo = memWr.valid.and(line.eq(l));
    const hi = memWr.valid.and(line.eq((l - 1 + regionLines) % regionLines));
    const data = mux(lo, half(memWr.data, W, 0), half(memWr.data, W, 1));
    const be = mux(lo, half(memWr.be, LB, 0), mux(hi, half(memWr.be, LB, 1), lit(0, LB)));
    const mask = bytesMask(be);
    return old.and(mask.not()).or(data.and(mask));
  };
  const buf = m.regArray('fetch_buf', lines, W);
  buf.items.forEach((r, l) => r.next(written(l, r)));
  const evLine = m.reg('event_line', W);
  evLine.next(written(layout.eventOffset / LB, evLine));
  const flat = cat(...[...buf.items].reverse());
  const descs = Array.from({ length: p.batch }, (_, k) => flat.bits(128 * k + 127, 128 * k));
  return {
    desc: (k: Expr) => select(k, descs),
    event: evLine.bits(31, 0),
  };
}

/** A staged descriptor: addr 64, len 32, write, last. */
const ENTRY_BITS = 98;

/**
 * Chains on their way to the device: descriptors are pushed as the walker validates them and become visible to
 * the device only when their chain is committed (its header pushed); a failed chain is discarded. Room for two
 * maximal chains, so the walker can validate one while the device takes the other.
 */
export function chainStaging(
  m: ModuleBuilder,
  p: PackedEngineParams,
  queueBits: number,
  chain: {
    valid: Drivable;
    ready: Expr;
    queue: Drivable;
    id: Drivable;
    slots: Drivable;
    addr: Drivable;
    len: Drivable;
    write: Drivable;
    last: Drivable;
  },
) {
  const depth = 2 * p.maxChain;
  const aw = log2ceil(depth);
  const mem = m.memory('stage', { width: ENTRY_BITS, depth });
  const wr = m.reg('stage_wr', aw + 1, { reset: 0 });
  const cm = m.reg('stage_commit', aw + 1, { reset: 0 });
  const rd = m.reg('stage_rd', aw + 1, { reset: 0 });
  const push = m.wire('stage_push', bit, { default: 0 });
  const pushData = m.wire('stage_push_data', ENTRY_BITS, { default: 0 });
  const commit = m.wire('stage_commit_now', bit, { default: 0 });
  const discard = m.wire('stage_discard', bit, { default: 0 });
  const hdrW = queueBits + CHAIN_ID_BITS + 16;
  const hdrData = m.wire('stage_hdr_data', hdrW, { default: 0 });
  const hdr = m.instance('stage_hdr', Fifo, { width: hdrW, depth: 4 }).io;

  const used = m.let('stage_used', wr.sub(rd));
  const room = m.let('stage_room', used.lt(depth));
  mem.write(wr.trunc(aw), pushData, push);
  const wrNext = push.select(wr.inc(), wr);
  m.if(discard, () => wr.next(cm)).else(() => wr.next(wrNext));
  m.if(commit, () => cm.next(wrNext));
  hdr.enq.valid.set(commit);
  hdr.enq.data.set(hdrData);

  const entry = mem.readAsync(rd.trunc(aw));
  chain.valid.set(rd.ne(cm).and(hdr.deq.valid));
  chain.addr.set(entry.bits(97, 34));
  chain.len.set(entry.bits(33, 2));
  chain.write.set(entry.bit(1));
  chain.last.set(entry.bit(0));
  chain.queue.set(hdr.deq.data.bits(hdrW - 1, 32));
  chain.id.set(hdr.deq.data.bits(31, 16));
  chain.slots.set(hdr.deq.data.bits(15, 0));
  const take = chain.valid.and(chain.ready);
  m.if(take, () => rd.next(rd.inc()));
  hdr.deq.ready.set(take.and(entry.bit(0)));

  return {
    room,
    /** Header room: a chain may be committed. */
    hdrReady: hdr.enq.ready as Expr,
    empty: m.let('stage_empty', rd.eq(wr)),
    /** A chain was committed this cycle. */
    committed: commit as Expr,
    push: (addr: Expr, len: Expr, write: Expr, last: Expr) => {
      push.set(1);
      pushData.set(cat(addr, len, write, last));
    },
    commit: (queue: Expr, id: Expr, slots: Expr) => {
      commit.set(1);
      hdrData.set(cat(queue, id, slots));
    },
    discard: () => discard.set(1),
  };
}

export interface WalkerContext {
  p: PackedEngineParams;
  queueBits: number;
  cfg: PackedQueueConfig[];
  st: PackedQueueState;
  driverOk: Expr;
  featIndirect: Expr;
  featInOrder: Expr;
  /** The descriptor at index k of the fetch buffer. */
  desc: (k: Expr) => Expr;
  /** The read engine's status for this part's read (valid, error). */
  status: { valid: Expr; error: Expr };
  staging: ReturnType<typeof chainStaging>;
  read: ReadRequest;
}

/**
 * The walker: a round-robin pick among queues with a doorbell pending, then batches of `batch` ring descriptors
 * (never past the ring's end) read into the fetch buffer and checked one per cycle: available (AVAIL = the
 * driver wrap counter, USED not), chained (NEXT), indirect (a table fetched in batches the same way), each
 * segment staged; a chain is committed when its last descriptor checks out. A queue is released after each
 * batch it used up (its doorbell re-armed, so the scheduler comes back to it after the others) or at the first
 * descriptor that is not available; a chain that runs past a batch keeps the queue.
 */
export function packedWalker(m: ModuleBuilder, c: WalkerContext) {
  const { p, st, cfg } = c;
  const Q = p.queues;
  const B = p.batch;
  const nb = bitsFor(B);
  const kb = log2ceil(B);
  const sb = bitsFor(p.maxChain);
  const f = m.fsm('walk_state', ['idle', 'calc', 'fetch', 'wait', 'load', 'walk'] as const);
  const cq = m.reg('walk_queue', c.queueBits, { reset: 0 });
  const pos = m.reg('walk_pos', 16);
  const wrap = m.reg('walk_wrap', bit);
  const table = m.reg('walk_table', bit, { reset: 0 });
  const tAddr = m.reg('walk_table_addr', 64);
  const tLeft = m.reg('walk_table_left', 16);
  const n = m.reg('walk_n', nb);
  const k = m.reg('walk_k', kb);
  const host = m.reg('walk_host', 64);
  const inChain = m.reg('walk_open', bit, { reset: 0 });
  const head = m.reg('walk_head', 16);
  const descs = m.reg('walk_descs', 16);
  const segs = m.reg('walk_segs', sb);
  const total = m.reg('walk_total', 32 + sb);
  const sawWrite = m.reg('walk_saw_write', bit);
  const id = m.reg('walk_id', CHAIN_ID_BITS);

  // the queue's size, held while the walker serves it (a register: no handover select on the decision paths)
  const size = m.reg('walk_size', 16);
  const resetting = m.let('walk_resetting', st.resetting.at(cq));

  // ---- scheduler: queues with a doorbell pending, enabled, configured and not stopped
  const runnable = cat(
    ...cfg
      .map((q, i) =>
        andBits(st.pending.item(i), q.enable, q.size.ne(0), st.failed.item(i).not(), st.resetting.item(i).not()),
      )
      .reverse(),
  );
  const req = m.let('sched_req', runnable.and(f.is('idle').and(c.driverOk).rep(Q)));
  const pick = roundRobinArbiter(m, 'sched', req, f.is('idle'));

  // ---- the descriptor under the cursor: a register, loaded a cycle ahead together with its checks against
  // the state it will meet (so a decision starts from registers, not from the fetch buffer's select)
  const cur = m.reg('walk_cur', 128);
  const curAvail = m.reg('walk_cur_avail', bit);
  const dAddr = cur.bits(63, 0);
  const dLen = cur.bits(95, 64);
  const dId = cur.bits(111, 96);
  const flag = (b: number) => cur.bit(112 + b);
  const dNext = flag(DESC_F.NEXT);
  const dWrite = flag(DESC_F.WRITE);
  const dIndirect = flag(DESC_F.INDIRECT);
  const posInc = pos.inc();
  const posWraps = m.let('walk_pos_wraps', posInc.eq(size));
  const posNext = posWraps.select(lit(0, 16), posInc);
  const batchEnd = m.let('walk_batch_end', k.zext(nb).eq(n.sub(1)));
  const tableLen = dLen.bits(31, 4);
  const segsNext = segs.inc();
  const descsNext = descs.inc();
  const totalNext = m.let('walk_total_next', total.add(dLen.zext(32 + sb)));

  /** The walker's chain state a loaded descriptor will be checked against (as it will be when it is decided on). */
  interface ChainState {
    table: Expr;
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
  /** The per-descriptor faults in the golden model's order (a table entry can only have the first and the RAW). */
  const FAULTS = [
    PackedFault.INDIRECT_IN_INDIRECT,
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
  const curIdBad = m.reg('walk_cur_id_bad', bit);
  const tableIdBad = m.reg('walk_table_id_bad', bit);
  /**
   * Loads descriptor `at` of the fetch buffer as the next current one, with its availability (the wrap counter
   * is the same for a whole batch: a batch never runs past the ring's end) and each fault it has against `s`, as
   * one bit per fault (the decision ORs them; the first is the code). chain-too-big and IN_ORDER are checked
   * when the chain ends.
   */
  const load = (at: Expr, s: ChainState) => {
    const nd = c.desc(at);
    const fl = (b: number) => nd.bit(112 + b);
    const len = nd.bits(95, 64);
    const tl = len.bits(31, 4);
    const ind = fl(DESC_F.INDIRECT);
    const raw = fl(DESC_F.WRITE).not().and(s.sawWrite);
    const ring = s.table.not();
    const conds = [
      s.table.and(ind),
      ring.and(s.tooLong),
      ring.and(ind).and(c.featIndirect.not()),
      ring.and(ind).and(fl(DESC_F.NEXT)),
      ring.and(ind).and(len.eq(0).or(len.bits(3, 0).ne(0))),
      ring.and(ind).and(tl.gt(size.zext(28))),
      ring.and(ind).and(tl.gt(s.room.zext(28))),
      ind.not().and(raw),
      ring.and(ind.not()).and(s.segsFull),
    ];
    cur.next(nd);
    curAvail.next(fl(DESC_F.AVAIL).eq(wrap).and(fl(DESC_F.USED).ne(wrap)));
    curFaults.next(cat(...[...conds].reverse()));
    curBig.next(s.total.add(len.zext(32 + sb)).gt(2 ** 32));
    curIdBad.next(c.featInOrder.and(nd.bits(111, 96).ne(s.headPos)));
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

  const fatal = m.wire('walk_fatal', bit, { default: 0 });
  const fatalCode = m.wire('walk_fatal_code', PACKED_FAULT_BITS, { default: PackedFault.NONE });
  const fail = (code: number | Expr) => {
    fatal.set(1);
    fatalCode.set(code);
  };

  const releaseQueue = (at: Expr, atWrap: Expr, more: Expr) => {
    st.availPos.nextAt(cq, at);
    st.availWrap.nextAt(cq, atWrap);
    m.if(more, () => st.pending.nextAt(cq, 1));
    f.goto('idle');
  };
  const openChain = () => {
    inChain.next(0);
    descs.next(0);
    segs.next(0);
    total.next(0);
    sawWrite.next(0);
  };
  /** Stages the descriptor's segment; commits the chain when it is the last one. */
  const stage = (last: Expr, chainId: Expr, slots: Expr) => {
    c.staging.push(dAddr, dLen, dWrite, last);
    segs.next(segsNext);
    total.next(totalNext);
    sawWrite.next(sawWrite.or(dWrite));
    m.if(last, () => {
      c.staging.commit(cq, chainId, slots);
      openChain();
    });
  };

  c.read.valid.set(f.is('fetch'));
  c.read.host.set(host);
  c.read.len.set(n.zext(p.lenBits).shl(4));
  const n16 = (v: Expr) => mux(v.ge(B), lit(B, nb), v.trunc(nb));

  f.switch({
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
        table.next(0);
        openChain();
        f.goto('calc');
      });
    },
    calc: () => {
      m.if(table, () => {
        n.next(n16(tLeft));
        host.next(tAddr);
      }).else(() => {
        n.next(n16(size.sub(pos)));
        host.next(
          select(
            cq,
            cfg.map((q) => q.desc),
          ).add(pos.zext(64).shl(4)),
        );
      });
      m.if(resetting, () => {
        c.staging.discard();
        f.goto('idle');
      }).else(() => f.goto('fetch'));
    },
    fetch: () => {
      m.if(c.read.grant, () => {
        m.if(table, () => tAddr.next(tAddr.add(n.zext(64).shl(4))));
        f.goto('wait');
      });
    },
    wait: () => {
      m.if(c.status.valid, () => {
        k.next(0);
        m.if(c.status.error.ne(0), () => fail(PackedFault.DMA_FAULT)).else(() => f.goto('load'));
      });
    },
    // A cycle after the status (which comes after the data is written, docs/dma.md), descriptor 0 is in the
    // fetch buffer's registers even if the memory write reached them a cycle late.
    load: () => {
      load(lit(0, kb), {
        table,
        tooLong: descs.ge(size),
        segsFull: segs.eq(p.maxChain),
        room: lit(p.maxChain, sb).sub(segs),
        sawWrite,
        total,
        headPos: inChain.select(head, pos),
      });
      f.goto('walk');
    },
    walk: () => {
      m.if(resetting, () => {
        c.staging.discard();
        f.goto('idle');
      })
        .elseIf(table, () => walkTable())
        .else(() => walkRing());
    },
  });

  function walkRing() {
    const chainEnd = dNext.not();
    m.if(curAvail.not(), () => {
      m.if(inChain, () => fail(PackedFault.DESC_NOT_AVAILABLE)).else(() => releaseQueue(pos, wrap, lit(0, 1)));
    })
      .elseIf(anyFault, () => fail(curFault))
      .elseIf(dIndirect, () => {
        // The table ends the chain (no NEXT): walk it, then come back to the ring after this descriptor.
        m.if(inChain.not(), () => head.next(pos));
        // IN_ORDER: checked when the table is done (its own faults first, as the golden model)
        tableIdBad.next(curIdBad);
        table.next(1);
        tAddr.next(dAddr);
        tLeft.next(tableLen.trunc(16));
        descs.next(descsNext);
        id.next(dId);
        inChain.next(1);
        pos.next(posNext);
        m.if(posWraps, () => wrap.next(wrap.not()));
        f.goto('calc');
      })
      .elseIf(chainEnd.and(curIdBad), () => fail(PackedFault.IN_ORDER_VIOLATION))
      .elseIf(chainEnd.and(curBig), () => fail(PackedFault.CHAIN_TOO_BIG))
      .elseIf(c.staging.room.and(dNext.or(c.staging.hdrReady)), () => {
        id.next(dId);
        inChain.next(1);
        descs.next(descsNext);
        m.if(inChain.not(), () => head.next(pos));
        // The buffer id is the chain's last descriptor's (virtio 1.2 2.8.6 / the golden model).
        stage(chainEnd, dId, descsNext);
        pos.next(posNext);
        const wrapNext = posWraps.select(wrap.not(), wrap);
        wrap.next(wrapNext);
        k.next(k.inc());
        load(k.inc(), {
          table: lit(0, 1),
          tooLong: dNext.and(descsNext.ge(size)),
          segsFull: dNext.and(segsNext.eq(p.maxChain)),
          room: mux(dNext, lit(p.maxChain, sb).sub(segsNext), lit(p.maxChain, sb)),
          sawWrite: dNext.and(sawWrite.or(dWrite)),
          total: mux(dNext, totalNext, lit(0, 32 + sb)),
          headPos: mux(dNext, inChain.select(head, pos), posNext),
        });
        m.if(batchEnd, () => {
          // A chain that goes on keeps the queue (the next batch, or the ring's start after its end).
          m.if(dNext, () => f.goto('calc')).else(() => releaseQueue(posNext, wrapNext, lit(1, 1)));
        });
      });
  }

  function walkTable() {
    const last = tLeft.eq(1);
    m.if(anyFault, () => fail(curFault))
      .elseIf(last.and(tableIdBad), () => fail(PackedFault.IN_ORDER_VIOLATION))
      .elseIf(last.and(curBig), () => fail(PackedFault.CHAIN_TOO_BIG))
      .elseIf(c.staging.room.and(last.not().or(c.staging.hdrReady)), () => {
        stage(last, id, descs);
        tLeft.next(tLeft.dec());
        k.next(k.inc());
        load(k.inc(), {
          table,
          tooLong: lit(0, 1),
          segsFull: lit(0, 1),
          room: lit(0, sb),
          sawWrite: sawWrite.or(dWrite),
          total: totalNext,
          headPos: head,
        });
        m.if(last, () => {
          table.next(0);
          // Back to the ring at the descriptor after the indirect one, after the other queues had a turn.
          releaseQueue(pos, wrap, lit(1, 1));
        }).elseIf(batchEnd, () => f.goto('calc'));
      });
  }

  m.if(fatal, () => {
    st.failed.nextAt(cq, 1);
    c.staging.discard();
    openChain();
    table.next(0);
    f.goto('idle');
  });

  return {
    active: m.let('walk_active', f.is('idle').not()),
    queue: cq as Expr,
    fatal: { valid: fatal, queue: cq as Expr, code: fatalCode },
  };
}

function andBits(...xs: Expr[]): Expr {
  return xs.reduce((a, b) => a.and(b));
}
