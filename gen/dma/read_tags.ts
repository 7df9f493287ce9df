// The read engine's per-tag bookkeeping (gen/dma/read_engine.ts): for each outstanding memory read, the
// bytes still to come, where its data ends in device memory and in host memory (low 7 bits, to check a
// completion's Lower Address), the command slot it belongs to, and its age for the completion timeout.
//
// The tables are distributed (LUT) RAM, one write port each, read asynchronously by tag: a tag's entries are
// written when its read is issued, and read by the completion path's lookup and the timeout's slot lookup. The
// bytes still to come have two writers (the read issued, a completion taken) and so two tables: the read's
// size, written with its other entries, and the remaining bytes, written when a completion is taken; a flag
// per tag (`fresh`: no completion taken yet) says which one holds the tag's count. As flip-flops with a mux
// tree per table, 64 tags were most of the read engine (3.3k flip-flops and the 64-way selects). Only the bits
// every tag needs at once stay flip-flops: valid.
//
// `fresh` has two writers too (set by the read issued, cleared by a completion taken), so it is the XOR of two
// one-bit tables with one writer each: the issue writes its table with the other's bit inverted (fresh), a
// completion taken writes its table with the other's bit (not fresh). As a flip-flop per tag it was a flip-flop,
// its next-state LUT and a share of two 64-way selects per tag (the completion path's lookup, the timeout's scan).
//
// The timeout is coarse, so that a tag costs four bits of distributed RAM instead of a counter: a shared
// prescaler ticks every `timeout / 4` cycles (rounded down, plus one; at least 2^log2(tags) + 1), a 4-bit epoch
// counts the ticks, and each read's epoch at issue is kept in `epoch` (LUT RAM). A read has timed out once the
// epoch is TIMEOUT_TICKS past its own, so between `timeout` and 1.25 x `timeout` cycles after it was issued
// (2.8); it is freed within `tags` + 3 cycles (tagExpiry's scan), long before the epoch could wrap (16 ticks).
import {
  bit,
  cat,
  type Expr,
  lit,
  log2ceil,
  type Memory,
  type ModuleBuilder,
  mux,
  orAll,
  type SignalArray,
} from '../hdl';
import { muxTree } from '../lib/mux';

/** Ticks of the prescaler after which an outstanding tag has timed out. */
export const TIMEOUT_TICKS = 5;
/** Bits of the timeout's epoch. */
const EPOCH_BITS = 4;

export interface ReadTags {
  valid: SignalArray;
  /**
   * Bytes of the read not yet received (1..4096, 13 bits), once a completion has been taken (else the read's
   * size in `ends`): the Byte Count its next completion must carry; 0 once the completion that ends it is taken.
   */
  remaining: Memory;
  /** Per tag, as freshSet XOR freshClear: no completion taken yet (its remaining bytes are the read's size). */
  freshSet: Memory;
  freshClear: Memory;
  /** {the read's size in bytes (13), device byte address just past its last byte, host address bits 6:0 just past it}. */
  ends: Memory;
  /** Command slot of the read. */
  slot: Memory;
  devBits: number;
  slotBits: number;
  /** Per tag: the timeout epoch when the read was issued. */
  epoch: Memory;
  /** Per tag: the completion taken last ended the read (its last beats may still be coming): never timed out. */
  closed: Memory;
  /** The timeout's epoch now. */
  now: Expr;
}

/** Whether a read issued in `epoch` is out of time (no completion is accepted for it any more). */
export function outOfTime(tags: ReadTags, epoch: Expr): Expr {
  return tags.now.sub(epoch).ge(TIMEOUT_TICKS);
}

/** Whether no completion has been taken yet for the read of `tag` (see freshSet). */
export function tagFresh(tags: ReadTags, tag: Expr): Expr {
  return tags.freshSet.readAsync(tag).xor(tags.freshClear.readAsync(tag));
}

/** Outstanding and not out of time: a completion may be for it (its epoch read asynchronously, a mux tree). */
export function tagLive(tags: ReadTags, tag: Expr): Expr {
  return muxTree(tag, tags.valid.items).and(outOfTime(tags, tags.epoch.readAsync(tag)).not());
}

/**
 * A tag's entries, read asynchronously (distributed RAM). The bytes it still expects are `fresh ? size :
 * remaining`: the caller registers the three and selects a cycle later (a 64-way select of `fresh` and the
 * choice behind it in one cycle were 10 LUT levels).
 */
export function lookupTag(
  tags: ReadTags,
  tag: Expr,
): { fresh: Expr; size: Expr; remaining: Expr; devEnd: Expr; hostEnd: Expr; slot: Expr } {
  const ends = tags.ends.readAsync(tag);
  return {
    fresh: tagFresh(tags, tag),
    size: ends.bits(tags.devBits + 19, tags.devBits + 7),
    remaining: tags.remaining.readAsync(tag),
    devEnd: ends.bits(tags.devBits + 6, 7),
    hostEnd: ends.bits(6, 0),
    slot: tags.slot.readAsync(tag),
  };
}

/** A timed-out tag freed this cycle (one every three cycles at most): the tag and its slot. */
export interface TagExpiry {
  valid: Expr;
  tag: Expr;
  slot: Expr;
}

/** A completion in the completion path whose verdict is still to come: it may end the read of `tag`. */
export interface TagInFlight {
  valid: Expr;
  tag: Expr;
}

export function readTags(
  m: ModuleBuilder,
  o: { tags: number; devBits: number; slotBits: number; timeout: Expr },
): ReadTags {
  const T = o.tags;
  const valid = m.regArray('tag_valid', T, bit, { reset: 0 });
  const depth = 2 ** log2ceil(T);
  const remaining = m.memory('tag_remaining', { width: 13, depth });
  const freshSet = m.memory('tag_fresh_set', { width: 1, depth });
  const freshClear = m.memory('tag_fresh_clear', { width: 1, depth });
  const ends = m.memory('tag_ends', { width: 13 + o.devBits + 7, depth });
  const slot = m.memory('tag_slot', { width: o.slotBits, depth });
  const epoch = m.memory('tag_epoch', { width: EPOCH_BITS, depth });
  const closed = m.memory('tag_closed', { width: 1, depth });

  // The prescaler's period is at least 2^log2(tags) + 1 cycles, so that 11 ticks (the epoch's 16 less the 5 of the
  // timeout) outlast two rounds of tagExpiry's scan (3 x tags cycles each at most): a timed-out tag is freed before
  // the epoch wraps and makes it look young again (a timeout below 4 x 2^log2(tags) cycles counts as that).
  const minPeriod = 2 ** log2ceil(T);
  const quarter = o.timeout.shr(2);
  const reload = mux(quarter.lt(minPeriod), lit(minPeriod, quarter.width), quarter);
  const prescale = m.reg('timeout_prescale', o.timeout.width, { reset: 0 });
  const tick = m.let('timeout_tick', prescale.eq(0));
  prescale.next(tick.select(reload, prescale.dec()));
  const now = m.reg('timeout_epoch', EPOCH_BITS, { reset: 0 });
  m.if(tick, () => now.next(now.inc()));
  return {
    valid,
    remaining,
    freshSet,
    freshClear,
    ends,
    slot,
    devBits: o.devBits,
    slotBits: o.slotBits,
    epoch,
    closed,
    now,
  };
}

/**
 * The completion timeout's end of a read, one tag at a time (timeouts are rare): a scan visits one tag per
 * cycle and stops at a timed-out one; its slot is found while it is checked again, and it is freed the cycle
 * after (three cycles from the scan's stop). No other tag is looked at while one is on its way.
 *
 * The check keeps a read from ending twice, by its timeout and by a completion. A completion is judged two
 * cycles after its tag was looked up (gen/dma/read_cpl.ts), so one found in time may be judged after its tag
 * timed out, and it may be held in the completion path while the memory refuses writes. So the tag is
 * let go (and found again by the next scan if it is still out of time) when a completion has ended the read
 * (`closed`) or when a completion for it is in the completion path before its verdict (`inFlight`). Out of time
 * stays out of time (the epoch cannot wrap before the tag is freed), and the lookup uses the same test: one that
 * reaches the lookup after the scan found the tag finds it out of time, and is dropped.
 */
export function tagExpiry(m: ModuleBuilder, tags: ReadTags, inFlight: readonly TagInFlight[]): TagExpiry {
  const T = tags.valid.length;
  // A scan, one tag per cycle, instead of a priority pick over all tags (two 32-bit pickers, a one-hot register
  // and its encoder): a timed-out tag is found within `tags` cycles, which the timeout's coarse ticks dwarf.
  // The scan stops at a timed-out tag while it is checked and freed, and `tag` is the scan position. A tag whose
  // read a completion has ended (`closed`, once a completion has been taken: not `fresh`) is being received and
  // is never timed out.
  const tag = m.reg('expire_tag', log2ceil(T), { reset: 0 });
  const stage = m.reg('expire_stage', 2, { reset: 0 }); // 0 scanning, 1 found, 2 checked: freed if kept
  const slot = m.reg('expire_slot', tags.slotBits);
  const keep = m.reg('expire_keep', bit);
  const pickT = (items: readonly Expr[]) => (T === 1 ? items[0] : muxTree(tag, items));
  const ending = tagFresh(tags, tag).not().and(tags.closed.readAsync(tag));
  const timedOutAt = m.let(
    'expire_timed_out',
    pickT(tags.valid.items)
      .and(outOfTime(tags, tags.epoch.readAsync(tag)))
      .and(ending.not()),
  );
  const nextTag = T === 1 ? lit(0, 1) : mux(tag.eq(T - 1), lit(0, tag.width), tag.inc());
  // A read ended by a completion in the cycle before shows in `closed` now; one ended now is in `inFlight`.
  const held = orAll(...inFlight.map((f) => f.valid.and(f.tag.eq(tag))));
  m.switch(stage)
    .case(0, () => m.if(timedOutAt, () => stage.next(1)).else(() => tag.next(nextTag)))
    .case(1, () => {
      slot.next(tags.slot.readAsync(tag));
      keep.next(timedOutAt.and(held.not()));
      stage.next(2);
    })
    .default(() => {
      tag.next(nextTag);
      stage.next(0);
    });
  return { valid: m.let('expire_now', stage.eq(2).and(keep)), tag, slot };
}

/**
 * A read issued (`alloc`), a completion taken (`update`: the bytes still to come), a tag freed after the
 * last beat of the completion that ended its read (`release`), and the timed-out tag freed (`expire`). A tag
 * is never allocated while outstanding, and a completion never ends a read whose timeout frees its tag
 * (tagExpiry), so these never meet on one tag.
 */
export function updateReadTags(
  m: ModuleBuilder,
  tags: ReadTags,
  expire: TagExpiry,
  alloc: { en: Expr; tag: Expr; bytes: Expr; devEnd: Expr; hostEnd: Expr; slot: Expr },
  update: { en: Expr; tag: Expr; closing: Expr; remaining: Expr },
  release: { en: Expr; tag: Expr },
): void {
  tags.ends.write(alloc.tag, cat(alloc.bytes, alloc.devEnd, alloc.hostEnd), alloc.en);
  tags.slot.write(alloc.tag, alloc.slot, alloc.en);
  tags.remaining.write(update.tag, update.remaining, update.en);
  tags.closed.write(update.tag, update.closing, update.en);
  tags.epoch.write(alloc.tag, tags.now, alloc.en);
  tags.freshSet.write(alloc.tag, tags.freshClear.readAsync(alloc.tag).not(), alloc.en);
  tags.freshClear.write(update.tag, tags.freshSet.readAsync(update.tag), update.en);
  tags.valid.items.forEach((v, t) => {
    m.if(alloc.en.and(alloc.tag.eq(t)), () => v.next(1));
    m.if(release.en.and(release.tag.eq(t)), () => v.next(0));
    m.if(expire.valid.and(expire.tag.eq(t)), () => v.next(0));
  });
}
