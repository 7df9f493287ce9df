// Counters: a modulo counter, an occupancy (up/down) counter with registered empty/full flags, and a credit
// counter. The functions build the counter inside the caller's module with registers named after `name`; the
// modules wrap them for testing and standalone use.
import { bitsFor, defineModule, type Expr, lit, log2ceil, type ModuleBuilder, paramError, type Signal } from '../hdl';
import { dropDefaults, oneBit, optionalOutput, withDefaults } from './util';

/**
 * Up counter 0, 1, .., modulus-1, 0, .. (log2ceil(modulus) bits). Counts in cycles with `en`; `clear` (priority
 * over `en`) returns it to 0. `last`: the value is modulus-1 (a register, so the wrap costs no comparator on
 * the count's own path); `wrap`: `en && last` (the count returns to 0 at this edge).
 */
export function upCounter(
  m: ModuleBuilder,
  name: string,
  o: { modulus: number; en: Expr; clear?: Expr },
): { value: Signal; last: Signal; wrap: Signal } {
  if (!Number.isInteger(o.modulus) || o.modulus < 1)
    throw paramError(`upCounter '${name}': modulus must be a positive integer`);
  oneBit(o.en, `upCounter '${name}': en`);
  if (o.clear) oneBit(o.clear, `upCounter '${name}': clear`);
  const value = m.reg(name, log2ceil(o.modulus), { reset: 0 });
  const single = o.modulus === 1;
  const last = m.reg(`${name}_last`, 1, { reset: single ? 1 : 0 });
  const wrap = m.let(`${name}_wrap`, o.en.and(last));
  // A modulus that fills the register's range wraps by itself.
  const inc = 2 ** value.width === o.modulus ? value.inc() : last.select(0, value.inc());
  const count = () => {
    value.next(inc);
    last.next(single ? lit(1, 1) : value.eq(o.modulus - 2)); // at modulus-1 this is 0: the count wraps to 0
  };
  if (o.clear) {
    m.if(o.clear, () => {
      value.next(0);
      last.next(single ? 1 : 0);
    }).elseIf(o.en, count);
  } else {
    m.if(o.en, count);
  }
  return { value, last, wrap };
}

/**
 * Occupancy counter 0..max (bitsFor(max) bits) for buffers: `inc` and `dec` in the same cycle cancel. An `inc`
 * at `max` or a `dec` at 0 (without the other) is ignored. `empty`, `full` and the optional `atLeast` flag
 * (count >= threshold) are registers, updated from comparisons of the current count with constants, so they
 * cost no adder on their path and can drive a `ready` directly.
 */
export function occupancyCounter(
  m: ModuleBuilder,
  name: string,
  o: { max: number; inc: Expr; dec: Expr; atLeast?: number },
): { count: Signal; empty: Signal; full: Signal; atLeast?: Signal } {
  if (!Number.isInteger(o.max) || o.max < 1)
    throw paramError(`occupancyCounter '${name}': max must be a positive integer`);
  oneBit(o.inc, `occupancyCounter '${name}': inc`);
  oneBit(o.dec, `occupancyCounter '${name}': dec`);
  const count = m.reg(name, bitsFor(o.max), { reset: 0 });
  const empty = m.reg(`${name}_empty`, 1, { reset: 1 });
  const full = m.reg(`${name}_full`, 1, { reset: 0 });
  const up = m.let(`${name}_up`, o.inc.and(o.dec.not()).and(full.not()));
  const down = m.let(`${name}_down`, o.dec.and(o.inc.not()).and(empty.not()));
  m.if(up, () => {
    count.next(count.inc());
    empty.next(0);
    full.next(count.eq(o.max - 1));
  }).elseIf(down, () => {
    count.next(count.dec());
    empty.next(count.eq(1));
    full.next(0);
  });
  let atLeast: Signal | undefined;
  if (o.atLeast !== undefined) {
    const t = o.atLeast;
    if (!Number.isInteger(t) || t < 1 || t > o.max)
      throw paramError(`occupancyCounter '${name}': atLeast must be 1..max`);
    const ge = m.reg(`${name}_ge${t}`, 1, { reset: 0 });
    m.if(up.and(count.eq(t - 1)), () => ge.next(1)).elseIf(down.and(count.eq(t)), () => ge.next(0));
    atLeast = ge;
  }
  return { count, empty, full, atLeast };
}

export interface CreditOptions {
  /** Largest number of credits (the counter's range is 0..max). */
  max: number;
  /** Credits at reset (default `max`: all free). */
  init?: number;
  /** Take credits this cycle. */
  take: Expr;
  /** How many (default 1); at most `maxTake`. */
  takeN?: Expr;
  /** Largest `takeN` (default 1): `avail` means this many can be taken. */
  maxTake?: number;
  /** Return credits this cycle. */
  give: Expr;
  /** How many (default 1). */
  giveN?: Expr;
}

/**
 * Credit counter (tags, buffer space): `credits` starts at `init`; `take` subtracts `takeN` (default 1), `give`
 * adds `giveN` (default 1), both in the same cycle allowed. `avail` (a register) is 1 when at least `maxTake`
 * credits are free, so a take of any size up to `maxTake` may go ahead without an adder on its path (for an
 * exact check of one amount, compare `credits` yourself). The caller must not take more than are free nor give
 * back more than were taken: nothing checks it, and the count would wrap.
 */
export function creditCounter(m: ModuleBuilder, name: string, o: CreditOptions): { credits: Signal; avail: Signal } {
  const maxTake = o.maxTake ?? 1;
  const init = o.init ?? o.max;
  if (!Number.isInteger(o.max) || o.max < 1 || init < 0 || init > o.max || maxTake < 1 || maxTake > o.max) {
    throw paramError(`creditCounter '${name}': need 1 <= max, 0 <= init <= max, 1 <= maxTake <= max`);
  }
  oneBit(o.take, `creditCounter '${name}': take`);
  oneBit(o.give, `creditCounter '${name}': give`);
  const w = bitsFor(o.max);
  const credits = m.reg(name, w, { reset: init });
  const avail = m.reg(`${name}_avail`, 1, { reset: init >= maxTake ? 1 : 0 });
  const amount = (n: Expr | undefined, what: string) => {
    if (!n) return lit(1, w);
    if (n.width > w)
      throw paramError(`creditCounter '${name}': ${what} is ${n.width} bits, wider than the ${w}-bit count`);
    return n.zext(w);
  };
  const taken = o.take.select(amount(o.takeN, 'takeN'), lit(0, w));
  const given = o.give.select(amount(o.giveN, 'giveN'), lit(0, w));
  // Modulo 2^w: exact, since the true result lies in 0..max.
  const next = m.let(`${name}_next`, credits.add(given).sub(taken));
  m.if(o.take.or(o.give), () => {
    credits.next(next);
    avail.next(next.ge(maxTake));
  });
  return { credits, avail };
}

// ---------------------------------------------------------------------------------------------------------
// Modules

/**
 * Modulo counter module: `en`, `clear` → `value` (log2ceil(modulus) bits), `last` (registers), and
 * `wrap` = `en && last`.
 */
export const Counter = defineModule(
  'counter',
  (m, p: { modulus: number }) => {
    const en = m.input('en', 1);
    const clear = m.input('clear', 1);
    const value = m.output('value', log2ceil(p.modulus));
    const last = m.output('last', 1);
    const wrap = m.output('wrap', 1);
    const c = upCounter(m, 'cnt', { modulus: p.modulus, en, clear });
    value.set(c.value);
    last.set(c.last);
    wrap.set(c.wrap);
    return { en, clear, value, last, wrap };
  },
  { name: (p) => `counter_mod${p.modulus}` },
);

/**
 * Occupancy counter module: `inc`, `dec` → `count` (0..max), `empty`, `full`, and `at_least` (count >= the
 * `atLeast` parameter) when given. All outputs are registers.
 */
export const OccupancyCounter = defineModule(
  'occupancy',
  (m, p: { max: number; atLeast?: number }) => {
    const inc = m.input('inc', 1);
    const dec = m.input('dec', 1);
    const count = m.output('count', bitsFor(p.max));
    const empty = m.output('empty', 1);
    const full = m.output('full', 1);
    const c = occupancyCounter(m, 'occ', { max: p.max, inc, dec, atLeast: p.atLeast });
    count.set(c.count);
    empty.set(c.empty);
    full.set(c.full);
    return { inc, dec, count, empty, full, at_least: optionalOutput(m, 'at_least', c.atLeast) };
  },
  { name: (p) => `occupancy_max${p.max}${p.atLeast !== undefined ? `_ge${p.atLeast}` : ''}` },
);

export interface CreditCounterParams {
  max: number;
  init?: number;
  /** Largest take (default 1); above 1 the module has a `take_n` port. */
  maxTake?: number;
  /** Largest give (default 1); above 1 the module has a `give_n` port. */
  maxGive?: number;
}

// The definition; `CreditCounter` (below) wraps it so that spelled-out defaults give the same module.
const creditCounterDef = defineModule(
  'credits',
  (m, p: CreditCounterParams) => {
    if ((p.maxGive ?? 1) > p.max) throw paramError(`CreditCounter: maxGive ${p.maxGive} exceeds max ${p.max}`);
    const take = m.input('take', 1);
    const takeN = (p.maxTake ?? 1) > 1 ? m.input('take_n', bitsFor(p.maxTake!)) : undefined;
    const give = m.input('give', 1);
    const giveN = (p.maxGive ?? 1) > 1 ? m.input('give_n', bitsFor(p.maxGive!)) : undefined;
    const credits = m.output('credits', bitsFor(p.max));
    const avail = m.output('avail', 1);
    const c = creditCounter(m, 'cred', { max: p.max, init: p.init, take, takeN, maxTake: p.maxTake, give, giveN });
    credits.set(c.credits);
    avail.set(c.avail);
    return { take, take_n: takeN, give, give_n: giveN, credits, avail };
  },
  {
    name: (p) =>
      `credits_max${p.max}` +
      (p.init !== undefined && p.init !== p.max ? `_init${p.init}` : '') +
      ((p.maxTake ?? 1) > 1 ? `_take${p.maxTake}` : '') +
      ((p.maxGive ?? 1) > 1 ? `_give${p.maxGive}` : ''),
  },
);

/**
 * Credit counter module: `take` (+ `take_n` when maxTake > 1), `give` (+ `give_n` when maxGive > 1) →
 * `credits`, `avail` (at least maxTake free). All outputs are registers.
 */
export const CreditCounter = withDefaults(creditCounterDef, (p) =>
  dropDefaults(p, { init: p.max, maxTake: 1, maxGive: 1 }),
);
