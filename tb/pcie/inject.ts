/**
 * Error injection on the device's receive side: how the root complex answers a device's
 * memory read, chosen per request by a hook or at random with a seed.
 *
 *  - 'ok'        normal completions (split, delayed, reordered as configured)
 *  - 'ur' / 'ca' one Cpl with Unsupported Request / Completer Abort status
 *  - 'poison'    the normal completions with EP set (poisoned data)
 *  - 'drop'      no completion at all: the device's completion timeout must fire
 *  - 'duplicate' the normal completions, then the last one again: the device must flag an
 *                unexpected completion (or, if it reused the tag already, misread data)
 */
import type { MemReadTlp } from './tlp';
import type { Rng } from '../../sim/random';

export type ReadAction = 'ok' | 'ur' | 'ca' | 'poison' | 'drop' | 'duplicate';
export const READ_ACTIONS: readonly ReadAction[] = ['ok', 'ur', 'ca', 'poison', 'drop', 'duplicate'];

/** A device memory read as the injection hook sees it. */
export interface DeviceRead {
  tlp: MemReadTlp;
  /** Cycle the request left the device. */
  cycle: number;
  /** Running count of device reads (0 for the first). */
  index: number;
}

/** Return an action, or undefined to fall through to the random rates (then 'ok'). */
export type ReadHook = (req: DeviceRead) => ReadAction | undefined | void;

/** Probability of each fault per device read (independent draws, checked in this order). */
export type FaultRates = Partial<Record<Exclude<ReadAction, 'ok'>, number>>;

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

  decide(tlp: MemReadTlp, cycle: number): ReadAction {
    const index = this.index++;
    let action = this.hook?.({ tlp, cycle, index }) ?? undefined;
    if (action !== undefined && !READ_ACTIONS.includes(action))
      throw new Error(`rc: onRead hook returned ${String(action)}, expected one of ${READ_ACTIONS.join(', ')}`);
    if (action === undefined) {
      for (const a of FAULTS) {
        const p = this.rates[a];
        if (p && this.rng.chance(p)) {
          action = a;
          break;
        }
      }
    }
    action ??= 'ok';
    this.counts[action]++;
    return action;
  }
}

/** The faults in the order their rates are drawn. */
const FAULTS = ['ur', 'ca', 'poison', 'drop', 'duplicate'] as const;
