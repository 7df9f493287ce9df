// What every queue engine needs to choose the next queue to serve, whatever the ring format: a pending bit per
// queue set by its doorbell (available buffer notification) and cleared when the engine looks at the ring, and
// a fair round-robin choice among the queues with work. Functions building the logic in the caller's module.
import { type Expr, type ModuleBuilder, type Signal } from '../hdl';
import { roundRobinArbiter } from '../lib/arbiter';

/**
 * One pending bit per queue: set by `notify` (a doorbell), cleared by `clear` (the engine is about to read the
 * ring, so what the doorbell announced will be seen) and by `reset` (the queue or the device is reset). A
 * doorbell in the cycle of a clear wins: it may announce something the read is too early for.
 */
export function doorbellPending(m: ModuleBuilder, name: string, notify: Expr, clear: Expr, reset: Expr): Signal {
  const pending = m.reg(name, notify.width, { reset: 0 });
  pending.next(pending.and(clear.or(reset).not()).or(notify.and(reset.not())));
  return pending;
}

/**
 * The next queue to serve among `work` (one bit per queue): round-robin, so a queue with work waits for at most
 * one turn of each other queue. `take` (1 bit) acknowledges the choice; the next search starts after it.
 */
export function pickQueue(m: ModuleBuilder, name: string, work: Expr, take: Expr): { valid: Signal; index: Signal } {
  const a = roundRobinArbiter(m, name, work, take);
  return { valid: a.valid, index: a.index };
}
