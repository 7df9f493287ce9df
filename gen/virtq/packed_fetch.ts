// The packed-ring engine's available side (docs/queue-engine.md, "Packed rings"): the fetch buffer (the read
// engine's writes into the engine's region, kept in registers), the staging memory that holds a chain's
// descriptors until the whole chain is known good, then hands it to the device, and the types and item layout the
// walker (packed_walker.ts: it fetches ring descriptors and indirect tables in batches and validates chains) and
// the stager (packed_expand.ts) share. Each function builds its logic in the caller's module.
import {
  bit,
  type Drivable,
  cat,
  type Expr,
  lit,
  log2ceil,
  type ModuleBuilder,
  mux,
  select,
  type Signal,
  type SignalArray,
} from '../hdl';
import { lineBytes } from '../dma/ports';
import { Fifo } from '../lib/fifo';
import { CHAIN_ID_BITS } from './ports';
import { type PackedEngineParams, type PackedLayout, PACKED_FAULT_BITS } from './packed_params';

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
  /** The walker found a fault in the queue (the stager raises it in ring order): not walked again. */
  halted: SignalArray;
  /** Items of the queue in the item queue or at the stager. */
  items: SignalArray;
  /** The walker wrote DISABLE into the queue's device event structure (the driver does not kick). */
  evOff: SignalArray;
  /**
   * The structure says ENABLE (or, with EVENT_IDX, DESC at the queue's next position), and the ring was read
   * after that write: a turn that finds nothing new may end at once.
   */
  evArmed: SignalArray;
}

/** A queue's handover fields the engine reads (gen/virtio/ports.ts queueHandover). */
export interface PackedQueueConfig {
  size: Expr;
  enable: Expr;
  desc: Expr;
  driver: Expr;
  device: Expr;
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
  /** The fetch slot it reads into (none: the event line). */
  slot?: Drivable;
  len: Drivable;
  grant: Drivable;
}

/** A descriptor read from the fetch slots. */
export interface SlotRead {
  desc: Expr;
}

/**
 * The fetch slots and the event word. The read engine's line writes (`mem_wr`) into the slots go into two
 * distributed RAMs, one for the ring slots (read by the walker) and one for the table slots (read by the
 * stager), each of two banks (even and odd lines, so that a write's two lines land in one cycle, byte by byte
 * under the byte enables); a write on the event line goes into a register. `ring(d)` / `table(d)` are the
 * read ports (call each once): descriptor d of the area (slot s's k-th descriptor is d = s * batch + k), 128
 * bits little-endian, with no clock; `event` is the event word (32 bits).
 */
export function fetchSlots(
  m: ModuleBuilder,
  p: PackedEngineParams,
  layout: PackedLayout,
  memWr: { valid: Expr; addr: Expr; data: Expr; be: Expr },
) {
  const LB = lineBytes(p.W);
  const W = p.W;
  const regionLineBits = p.regionBits - log2ceil(LB);
  const regionLines = 2 ** regionLineBits;
  const a = m.let('memwr_line', memWr.addr.trunc(regionLineBits));
  const a1 = m.let('memwr_line_next', a.inc());
  const half = (v: Expr, w: number, i: number) => v.bits(w * (i + 1) - 1, w * i);
  const odd = a.bit(0);

  /** An area of `lines` lines from line `first` (both even): two banks and one read port. */
  const area = (name: string, first: number, lines: number) => {
    const ab = log2ceil(lines / 2);
    const bank = (which: 0 | 1) => {
      const mem = m.memory(`${name}_${which ? 'odd' : 'even'}`, { width: W, depth: lines / 2 });
      // the bank's line of this write: the write's own line when it has the bank's parity, else the one after
      const mine = which === 1 ? odd : odd.not();
      const t = mux(mine, a, a1);
      const data = mux(mine, half(memWr.data, W, 0), half(memWr.data, W, 1));
      const be = mux(mine, half(memWr.be, LB, 0), half(memWr.be, LB, 1));
      const inArea = first === 0 ? t.lt(lines) : t.ge(first).and(t.lt(first + lines));
      const at = t.sub(first).bits(ab, 1);
      mem.write(at, data, memWr.valid.and(inArea), be);
      return mem;
    };
    const even = bank(0);
    const oddBank = bank(1);
    return (d: Expr): SlotRead => {
      if (LB === 8) {
        // a descriptor is two lines: the even line (bytes 0..7) and the odd one after it
        const at = fit(d, ab);
        const whole = cat(oddBank.readAsync(at), even.readAsync(at));
        return { desc: whole };
      }
      const perLine = LB / 16;
      const pb = perLine === 1 ? 0 : log2ceil(perLine);
      const line = pb === 0 ? d : d.bits(d.width - 1, pb);
      const at = fit(line, ab + 1).bits(ab, 1);
      const data = mux(line.bit(0), oddBank.readAsync(at), even.readAsync(at));
      if (pb === 0) return { desc: data };
      const parts = Array.from({ length: perLine }, (_, i) => data.bits(128 * i + 127, 128 * i));
      const part = d.trunc(pb);
      return { desc: select(part, parts) };
    };
  };
  const ringLines = (p.ringSlots * layout.bufBytes) / LB;
  const ring = area('fetch_ring', 0, ringLines);
  const table = area('fetch_table', ringLines, (p.tableSlots * layout.bufBytes) / LB);

  const bytesMask = (be: Expr) => cat(...Array.from({ length: be.width }, (_, i) => be.bit(be.width - 1 - i).rep(8)));
  const evLineNo = layout.eventOffset / LB;
  // only the line's first 4 bytes (the structure) are kept: the read is 4 bytes
  const evWord = m.reg('event_line', 32);
  const evGot = m.reg('event_got', 4, { reset: 0 });
  const evClear = m.wire('event_clear', bit, { default: 0 });
  {
    const lo = memWr.valid.and(a.eq(evLineNo));
    const hi = memWr.valid.and(a.eq((evLineNo - 1 + regionLines) % regionLines));
    const data = mux(lo, memWr.data.bits(31, 0), memWr.data.bits(W + 31, W));
    const be = mux(lo, memWr.be.bits(3, 0), mux(hi, memWr.be.bits(LB + 3, LB), lit(0, 4)));
    const mask = bytesMask(be);
    evWord.next(evWord.and(mask.not()).or(data.and(mask)));
    // which of the word's bytes were written since the notifier's read was issued (`eventClear`): all four, and
    // the read has ended well (a failed or poisoned completion writes nothing), so the notifier decides at once
    // instead of waiting for the read's status, which comes in command order behind the device's earlier reads
    evGot.next(mux(evClear, lit(0, 4), evGot.or(be)));
  }
  return { ring, table, event: evWord as Expr, eventGot: evGot.andR() as Expr, eventClear: evClear };
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
  // whether committed entries wait (rd != cm), as a register: the device's handshake starts from flip-flops
  const waiting = m.reg('stage_waiting', bit, { reset: 0 });
  chain.valid.set(waiting.and(hdr.deq.valid));
  chain.addr.set(entry.bits(97, 34));
  chain.len.set(entry.bits(33, 2));
  chain.write.set(entry.bit(1));
  chain.last.set(entry.bit(0));
  chain.queue.set(hdr.deq.data.bits(hdrW - 1, 32));
  chain.id.set(hdr.deq.data.bits(31, 16));
  chain.slots.set(hdr.deq.data.bits(15, 0));
  const take = chain.valid.and(chain.ready);
  const rdNext = take.select(rd.inc(), rd);
  rd.next(rdNext);
  // a commit adds at least one entry after rd
  waiting.next(commit.or(rdNext.ne(cm)));
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

/** `e` zero-extended or truncated to `w` bits. */
export function fit(e: Expr, w: number): Expr {
  if (e.width === w) return e;
  return e.width < w ? e.zext(w) : e.trunc(w);
}

/**
 * What the walker hands the stager (packed_expand.ts), in ring order: a validated segment of a chain (the
 * chain's header with its last one), an indirect table to fetch-wait-walk (its first batch already asked for,
 * into the next table slot), or a fault (code NONE: drop the chain being staged, no error).
 */
export const ItemKind = { SEG: 0, TABLE: 1, FAULT: 2 } as const;

export function itemLayout(queueBits: number, sb: number) {
  // [kind 2][queue][addr 64][len 32][write][last][id 16][slots 16][idBad][sawWrite][total 32+sb][code]
  const fields: [string, number][] = [
    ['code', PACKED_FAULT_BITS],
    ['total', 32 + sb],
    ['sawWrite', 1],
    ['idBad', 1],
    ['slots', 16],
    ['id', 16],
    ['last', 1],
    ['write', 1],
    ['len', 32],
    ['addr', 64],
    ['queue', queueBits],
    ['kind', 2],
  ];
  let at = 0;
  const pos: Record<string, [number, number]> = {};
  for (const [n, w] of fields) {
    pos[n] = [at + w - 1, at];
    at += w;
  }
  return {
    width: at,
    get: (item: Expr, name: string) => item.bits(pos[name][0], pos[name][1]),
    /** An item from its fields (missing ones 0), in the layout's order. */
    pack: (v: Record<string, Expr>) => cat(...[...fields].reverse().map(([n, w]) => (v[n] ? fit(v[n], w) : lit(0, w)))),
  };
}
export type ItemLayout = ReturnType<typeof itemLayout>;
