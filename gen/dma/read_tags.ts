// The read engine's per-tag bookkeeping (gen/dma/read_engine.ts): for each outstanding memory read, the
// bytes still to come, where its data ends in device memory and in host memory (low 7 bits, to check a
// completion's Lower Address), the command slot it belongs to, and its age for the completion timeout.
//
// The timeout is coarse, so that a tag costs three bits of timer instead of a full counter: a shared
// prescaler ticks every `timeout / 4` cycles (rounded down, plus one) and each outstanding tag counts ticks
// up to 5, so a read times out between `timeout` and 1.25 x `timeout` cycles after it was issued (2.8), and is
// freed three cycles later.
import { bit, type Expr, lit, log2ceil, type ModuleBuilder, type SignalArray } from '../hdl';
import { priorityEncode } from '../lib/priority';

/** Ticks of the prescaler after which an outstanding tag has timed out. */
export const TIMEOUT_TICKS = 5;

export interface ReadTags {
  valid: SignalArray;
  /** Bytes of the read not yet received (1..4096, 13 bits): the Byte Count its next completion must carry. */
  remaining: SignalArray;
  /** Device byte address just past the read's last byte. */
  devEnd: SignalArray;
  /** Host address bits 6:0 just past the read's last byte. */
  hostEnd: SignalArray;
  /** Command slot of the read. */
  slot: SignalArray;
  /** Prescaler ticks since the read was issued, up to TIMEOUT_TICKS. */
  age: SignalArray;
  /** Per tag: outstanding and out of time (no completion is accepted for it any more). */
  timedOut: Expr[];
  /** A timed-out tag freed this cycle, and its slot (registered: one every three cycles at most). */
  expire: { valid: Expr; tag: Expr; slot: Expr };
}

export function readTags(
  m: ModuleBuilder,
  o: { tags: number; devBits: number; slotBits: number; timeout: Expr },
): ReadTags {
  const T = o.tags;
  const valid = m.regArray('tag_valid', T, bit, { reset: 0 });
  const remaining = m.regArray('tag_remaining', T, 13);
  const devEnd = m.regArray('tag_dev_end', T, o.devBits);
  const hostEnd = m.regArray('tag_host_end', T, 7);
  const slot = m.regArray('tag_slot', T, o.slotBits);
  const age = m.regArray('tag_age', T, 3);

  const prescale = m.reg('timeout_prescale', o.timeout.width, { reset: 0 });
  const tick = m.let('timeout_tick', prescale.eq(0));
  prescale.next(tick.select(o.timeout.shr(2), prescale.dec()));
  age.items.forEach((a) => m.if(tick.and(a.ne(TIMEOUT_TICKS)), () => a.next(a.inc())));

  const timedOut = valid.items.map((v, t) => v.and(age.item(t).eq(TIMEOUT_TICKS)));
  const enc = priorityEncode(
    m,
    'timeout_pick',
    timedOut.length === 1 ? timedOut[0] : m.let('timed_out', catBits(timedOut)),
  );
  const tw = log2ceil(T);
  // The lowest timed-out tag is picked into a register, its slot looked up into another, and then it is freed
  // (the pick and the lookup are long paths; timeouts are rare). No tag is picked while one is on its way, so
  // none is picked twice.
  const expStage = m.reg('expire_stage', 2, { reset: 0 }); // 0 idle, 1 picked, 2 slot known: freed now
  const expTag = m.reg('expire_tag', tw);
  const expSlot = m.reg('expire_slot', o.slotBits);
  const picked = T === 1 ? lit(0, tw) : enc.index;
  m.switch(expStage)
    .case(0, () =>
      m.if(enc.valid, () => {
        expTag.next(picked);
        expStage.next(1);
      }),
    )
    .case(1, () => {
      expSlot.next(slot.at(expTag));
      expStage.next(2);
    })
    .default(() => expStage.next(0));
  const expValid = m.let('expire_now', expStage.eq(2));
  return {
    valid,
    remaining,
    devEnd,
    hostEnd,
    slot,
    age,
    timedOut,
    expire: { valid: expValid, tag: expTag, slot: expSlot },
  };
}

/** Bits b[0] (lsb) .. b[n-1] as one vector. */
function catBits(b: Expr[]): Expr {
  return b.reduceRight((acc: Expr | undefined, x) => (acc ? acc.cat(x) : x), undefined)!;
}

/**
 * A read issued (`alloc`), a completion taken (`update`: the bytes still to come), a tag freed after the
 * last beat of the completion that ended its read (`release`), and the timed-out tag freed. A tag is never allocated while outstanding, and the
 * completion path never touches a timed-out tag, so the three never meet on one tag.
 */
export function updateReadTags(
  m: ModuleBuilder,
  tags: ReadTags,
  alloc: { en: Expr; tag: Expr; bytes: Expr; devEnd: Expr; hostEnd: Expr; slot: Expr },
  update: { en: Expr; tag: Expr; closing: Expr; remaining: Expr },
  release: { en: Expr; tag: Expr },
): void {
  tags.valid.items.forEach((v, t) => {
    m.if(alloc.en.and(alloc.tag.eq(t)), () => {
      v.next(1);
      tags.remaining.item(t).next(alloc.bytes);
      tags.devEnd.item(t).next(alloc.devEnd);
      tags.hostEnd.item(t).next(alloc.hostEnd);
      tags.slot.item(t).next(alloc.slot);
      tags.age.item(t).next(0);
    });
    m.if(update.en.and(update.tag.eq(t)), () => {
      tags.remaining.item(t).next(update.remaining);
      // The completion that ends the read is being received: it cannot time out before its last beat.
      m.if(update.closing, () => tags.age.item(t).next(0));
    });
    m.if(release.en.and(release.tag.eq(t)), () => v.next(0));
    m.if(tags.expire.valid.and(tags.expire.tag.eq(t)), () => v.next(0));
  });
}
