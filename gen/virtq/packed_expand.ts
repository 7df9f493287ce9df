// The packed-ring engine's stager (docs/queue-engine.md, "Packed rings"): it takes the walker's items in ring
// order (packed_fetch.ts) and puts chains into the staging memory: a ring segment as it is, an indirect table
// once its read is back (its entries checked one per cycle, more batches read when it is longer than a slot),
// a fault raised (the queue stopped, the chain being staged dropped) only when every chain before it is staged.
// So table reads of many chains are in flight at once while chains still reach the device in ring order.
import { bit, bitsFor, cat, type Drivable, type Expr, lit, log2ceil, type ModuleBuilder, mux } from '../hdl';
import { DESC_F, type PackedEngineParams, PackedFault, PACKED_FAULT_BITS } from './packed_params';
import {
  type chainStaging,
  fit,
  ItemKind,
  type ItemLayout,
  type PackedQueueState,
  type ReadRequest,
  type SlotRead,
} from './packed_fetch';

export interface StagerContext {
  p: PackedEngineParams;
  queueBits: number;
  st: PackedQueueState;
  items: { valid: Expr; ready: Drivable; data: Expr };
  item: ItemLayout;
  staging: ReturnType<typeof chainStaging>;
  /** Descriptor d of the table slots (the table area's read port). */
  desc: (d: Expr) => SlotRead;
  /** The walker's table slots: reads asked for and statuses back (counts), a slot's read error. */
  tableFill: Expr;
  tableErr: (slot: Expr) => Expr;
  /** The read of a table's further batches into its slot, and its status. */
  read: ReadRequest;
  status: { valid: Expr; error: Expr };
}

export function packedStager(m: ModuleBuilder, c: StagerContext) {
  const { p, st } = c;
  const B = p.batch;
  const T = p.tableSlots;
  const nb = bitsFor(B);
  const kb = log2ceil(B);
  const sb = bitsFor(p.maxChain);
  const tb = log2ceil(T);
  const slotBits = log2ceil(p.ringSlots + p.tableSlots);
  const f = m.fsm('stage_state', ['idle', 'wait', 'check', 'load', 'walk', 'more', 'more_wait'] as const);
  const tCons = m.reg('table_cons_reg', tb + 1, { reset: 0 });
  const sq = m.reg('stage_queue', c.queueBits, { reset: 0 });
  const host = m.reg('stage_table_host', 64);
  const left = m.reg('stage_table_left', 16);
  const tn = m.reg('stage_table_n', nb);
  const k = m.reg('stage_k', kb);
  const id = m.reg('stage_id', 16);
  const slots = m.reg('stage_slots', 16);
  const idBad = m.reg('stage_id_bad', bit);
  const sawWrite = m.reg('stage_saw_write', bit);
  const total = m.reg('stage_total', 32 + sb);
  const n16 = (v: Expr) => mux(v.ge(B), lit(B, nb), v.trunc(nb));

  const it = c.items.data;
  const get = (name: string) => c.item.get(it, name);
  const iq = get('queue');
  const kind = get('kind');
  const dropped = (q: Expr) => st.failed.at(q).or(st.resetting.at(q));
  const itemDrop = m.let('stage_item_drop', dropped(iq));
  const curDrop = m.let('stage_cur_drop', dropped(sq));

  const fatal = m.wire('stage_fatal', bit, { default: 0 });
  const fatalQueue = m.wire('stage_fatal_queue', c.queueBits, { default: 0 });
  const fatalCode = m.wire('stage_fatal_code', PACKED_FAULT_BITS, { default: PackedFault.NONE });
  const pop = m.wire('stage_pop', bit, { default: 0 });
  c.items.ready.set(pop);
  /** An item (or the table being walked) of queue q is done with: the queue's item count goes down. */
  const retireNow = m.wire('stage_retire_now', bit, { default: 0 });
  const retireNowQueue = m.wire('stage_retire_now_queue', c.queueBits, { default: 0 });
  const retireOf = (q: Expr) => {
    retireNow.set(1);
    retireNowQueue.set(q);
  };
  // reported a cycle late (registers): a queue's item count is then high for a cycle, which only delays its reset
  const retire = m.reg('stage_retire', bit, { reset: 0 });
  const retireQueue = m.reg('stage_retire_queue', c.queueBits, { reset: 0 });
  retire.next(retireNow);
  retireQueue.next(retireNowQueue);
  const headErr = m.reg('stage_head_err', bit);
  headErr.next(c.tableErr(tCons.trunc(tb)));
  const tableDone = () => {
    tCons.next(tCons.inc());
    retireOf(sq);
    f.goto('idle');
  };
  const failTable = (code: number) => {
    fatal.set(1);
    fatalQueue.set(sq);
    fatalCode.set(lit(code, PACKED_FAULT_BITS));
    c.staging.discard();
    tableDone();
  };

  // ---- the table entry under the cursor, loaded a cycle ahead with its faults (as the walker does)
  const cur = m.reg('stage_cur', 128);
  const curInd = m.reg('stage_cur_indirect', bit);
  const curRaw = m.reg('stage_cur_raw', bit);
  const curBig = m.reg('stage_cur_big', bit);
  const dAddr = cur.bits(63, 0);
  const dLen = cur.bits(95, 64);
  const dWrite = cur.bit(112 + DESC_F.WRITE);
  const slot = m.let('stage_slot', lit(p.ringSlots, slotBits).add(fit(tCons.trunc(tb), slotBits)));
  // (from registers only: in `walk` the entry after the current one, else the current one)
  const rdAt = m.let('stage_rd_at', cat(tCons.trunc(tb), mux(f.is('walk'), k.inc(), k)));
  const rdData = c.desc(rdAt).desc;
  const load = () => {
    const saw = loadSaw;
    const tot = loadTotal;
    const nd = rdData;
    const len = nd.bits(95, 64);
    cur.next(nd);
    curInd.next(nd.bit(112 + DESC_F.INDIRECT));
    curRaw.next(
      nd
        .bit(112 + DESC_F.WRITE)
        .not()
        .and(saw),
    );
    curBig.next(tot.add(len.zext(32 + sb)).gt(2 ** 32));
  };
  const totalNext = m.let('stage_total_next', total.add(dLen.zext(32 + sb)));
  // (in `walk` after the current entry, else from the start: one adder on the choice, not one per call site)
  const loadSaw = m.let('stage_ld_saw', mux(f.is('walk'), sawWrite.or(dWrite), sawWrite));
  const loadTotal = m.let('stage_ld_total', mux(f.is('walk'), totalNext, total));
  const last = m.let('stage_last', left.eq(1));
  const batchEnd = m.let('stage_batch_end', k.zext(nb).eq(tn.sub(1)));

  c.read.valid.set(f.is('more'));
  c.read.host.set(host);
  c.read.slot!.set(slot);
  c.read.len.set(tn.zext(p.lenBits).shl(4));

  f.switch({
    idle: () =>
      m.if(c.items.valid, () => {
        // (a chain's last segment whose end check failed in the walker, IN_ORDER or chain-too-big, carries the
        // fault's code: it is a fault item)
        m.if(kind.eq(ItemKind.FAULT).or(get('code').ne(PackedFault.NONE)), () => {
          pop.set(1);
          retireOf(iq);
          c.staging.discard();
          m.if(itemDrop.not().and(get('code').ne(PackedFault.NONE)), () => {
            fatal.set(1);
            fatalQueue.set(iq);
            fatalCode.set(get('code'));
          });
        })
          .elseIf(kind.eq(ItemKind.TABLE), () => {
            pop.set(1);
            sq.next(iq);
            host.next(get('addr'));
            // (a table item's len is its descriptor's: bytes; entries of 16 bytes, at most the queue size)
            left.next(get('len').bits(19, 4));
            tn.next(n16(get('len').bits(19, 4)));
            id.next(get('id'));
            slots.next(get('slots'));
            idBad.next(get('idBad'));
            sawWrite.next(get('sawWrite'));
            total.next(get('total'));
            f.goto('wait');
          })
          .elseIf(itemDrop, () => {
            pop.set(1);
            retireOf(iq);
            c.staging.discard();
          })
          .elseIf(c.staging.room.and(get('last').not().or(c.staging.hdrReady)), () => {
            pop.set(1);
            retireOf(iq);
            c.staging.push(get('addr'), get('len'), get('write'), get('last'));
            m.if(get('last'), () => c.staging.commit(iq, get('id'), get('slots')));
          });
      }),
    // the table's first batch: the walker's read into the slot (waited for even when the queue is dropped, so
    // that the slot is not reused under a read in flight)
    wait: () =>
      m.if(c.tableFill.ne(tCons), () => {
        k.next(0);
        f.goto('check');
      }),
    // (the slot's error bit, set with its status, read into a register meanwhile)
    check: () =>
      m
        .if(curDrop, () => {
          c.staging.discard();
          tableDone();
        })
        .elseIf(headErr, () => failTable(PackedFault.DMA_FAULT))
        .else(() => f.goto('load')),
    load: () => {
      load();
      f.goto('walk');
    },
    walk: () => {
      m.if(curDrop, () => {
        c.staging.discard();
        tableDone();
      })
        .elseIf(curInd, () => failTable(PackedFault.INDIRECT_IN_INDIRECT))
        .elseIf(curRaw, () => failTable(PackedFault.READABLE_AFTER_WRITABLE))
        .elseIf(last.and(idBad), () => failTable(PackedFault.IN_ORDER_VIOLATION))
        .elseIf(last.and(curBig), () => failTable(PackedFault.CHAIN_TOO_BIG))
        .elseIf(c.staging.room.and(last.not().or(c.staging.hdrReady)), () => {
          c.staging.push(dAddr, dLen, dWrite, last);
          sawWrite.next(sawWrite.or(dWrite));
          total.next(totalNext);
          left.next(left.dec());
          k.next(k.inc());
          load();
          m.if(last, () => {
            c.staging.commit(sq, id, slots);
            tableDone();
          }).elseIf(batchEnd, () => {
            host.next(host.add(tn.zext(64).shl(4)));
            tn.next(n16(left.dec()));
            f.goto('more');
          });
        });
    },
    more: () => m.if(c.read.grant, () => f.goto('more_wait')),
    more_wait: () =>
      m.if(c.status.valid, () => {
        k.next(0);
        m.if(c.status.error.ne(0), () => failTable(PackedFault.DMA_FAULT)).else(() => f.goto('load'));
      }),
  });

  return {
    tableCons: tCons as Expr,
    /** The queue of the chain committed this cycle (staging.committed). */
    queue: mux(f.is('idle'), iq, sq),
    retire: retire as Expr,
    retireQueue: retireQueue as Expr,
    active: m.let('stage_active', f.is('idle').not()),
    fatal: { valid: fatal, queue: fatalQueue as Expr, code: fatalCode as Expr },
  };
}
