/**
 * Error injection on the device's receive side: how the root complex answers a device's
 * memory read, chosen per request by a hook or at random with a seed.
 *
 *  - 'ok'        normal completions (split, delayed, reordered as configured)
 *  - 'ur' / 'ca' one Cpl with Unsupported Request / Completer Abort status (aimed at completion k: the first k
 *                completions with data, then the error completion for the rest)
 *  - 'poison'    the normal completions with EP set (poisoned data; aimed: only completion k)
 *  - 'drop'      no completion at all (aimed: completion k is lost): the device's completion timeout must fire
 *  - 'duplicate' the normal completions, one of them twice. A completion is repeated as is only while its
 *                read is still outstanding (right behind itself, before the read's last completion); the
 *                last completion cannot be, since the device may legally reuse the tag as soon as it has it,
 *                so its repeat goes out as a completion no request of the device can match (see Completer).
 */
import type { MemReadTlp } from './tlp';
import type { Rng } from '../../sim/random';

export type ReadAction = 'ok' | 'ur' | 'ca' | 'poison' | 'drop' | 'duplicate';
export const READ_ACTIONS: readonly ReadAction[] = ['ok', 'ur', 'ca', 'poison', 'drop', 'duplicate'];

/**
 * A fault aimed at one completion of a read. `completion` counts the read's completions from 0 (negative
 * values from the end: -1 is the last); past either end it means the nearest one. Without it the action
 * applies as described in READ_ACTIONS' comment (a duplicate repeats the last completion).
 */
export interface ReadFault {
  action: ReadAction;
  completion?: number;
}

/** A device memory read as the injection hook sees it. */
export interface DeviceRead {
  tlp: MemReadTlp;
  /** Cycle the request left the device. */
  cycle: number;
  /** Running count of device reads (0 for the first). */
  index: number;
}

/** Return an action (or a fault aimed at one completion), or undefined to fall through to the random rates (then 'ok'). */
export type ReadHook = (req: DeviceRead) => ReadAction | ReadFault | undefined | void;

/** Probability of each fault per device read (independent draws, checked in this order). */
export type FaultRates = Partial<Record<Exclude<ReadAction, 'ok'>, number>>;

/** One shared ReadFault per plain action, so the common case allocates nothing per read. */
const PLAIN: Readonly<Record<ReadAction, ReadFault>> = Object.freeze({
  ok: Object.freeze({ action: 'ok' }),
  ur: Object.freeze({ action: 'ur' }),
  ca: Object.freeze({ action: 'ca' }),
  poison: Object.freeze({ action: 'poison' }),
  drop: Object.freeze({ action: 'drop' }),
  duplicate: Object.freeze({ action: 'duplicate' }),
});

/** Actions that may name one completion. */
const TARGETED: ReadonlySet<ReadAction> = new Set(['ur', 'ca', 'poison', 'drop', 'duplicate']);

export class FaultInjector {
  /** How many reads got each action. */
  readonly counts: Record<ReadAction, number> = { ok: 0, ur: 0, ca: 0, poison: 0, drop: 0, duplicate: 0 };
  private index = 0;
  constructor(
    private readonly rng: Rng,
    public hook?: ReadHook,
    public rates: FaultRates = {},
  ) {
    for (const [k, p] of Object.entries(rates)) {
      if (!(p! >= 0 && p! <= 1)) throw new RangeError(`fault rate ${k}=${p} is not a probability`);
    }
  }

  decide(tlp: MemReadTlp, cycle: number): ReadFault {
    const index = this.index++;
    const got = this.hook?.({ tlp, cycle, index }) ?? undefined;
    let fault: ReadFault | undefined;
    if (typeof got === 'string') {
      fault = PLAIN[got];
      if (!fault)
        throw new Error(`rc: onRead hook returned ${String(got)}, expected one of ${READ_ACTIONS.join(', ')}`);
    } else if (got !== undefined) fault = checkFault(got);
    if (fault === undefined) {
      // ur, ca, poison, drop, duplicate: each rate read by name (a loop over the names was a megamorphic keyed load)
      const r = this.rates;
      if (r.ur && this.rng.chance(r.ur)) fault = PLAIN.ur;
      else if (r.ca && this.rng.chance(r.ca)) fault = PLAIN.ca;
      else if (r.poison && this.rng.chance(r.poison)) fault = PLAIN.poison;
      else if (r.drop && this.rng.chance(r.drop)) fault = PLAIN.drop;
      else if (r.duplicate && this.rng.chance(r.duplicate)) fault = PLAIN.duplicate;
    }
    fault ??= PLAIN.ok;
    this.counts[fault.action]++;
    return fault;
  }
}

function checkFault(f: ReadFault): ReadFault {
  if (typeof f !== 'object' || f === null || !PLAIN[f.action])
    throw new Error(
      `rc: onRead hook returned ${JSON.stringify(f)}, expected one of ${READ_ACTIONS.join(', ')} or { action, completion }`,
    );
  if (f.completion !== undefined) {
    if (!Number.isSafeInteger(f.completion))
      throw new Error(`rc: onRead hook: completion ${String(f.completion)} is not an integer (${f.action})`);
    if (!TARGETED.has(f.action)) throw new Error(`rc: onRead hook: '${f.action}' cannot be aimed at one completion`);
  }
  return f;
}

/** Index of the completion a fault aims at among `n` (see ReadFault), or -1 without a target. */
export function targetCompletion(f: ReadFault, n: number): number {
  const k = f.completion;
  if (k === undefined) return -1;
  return Math.min(n - 1, Math.max(0, k < 0 ? n + k : k));
}
