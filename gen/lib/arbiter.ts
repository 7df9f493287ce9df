// Arbiters: pick one of N requesters, hold the choice until it is acknowledged (so a multi-beat packet keeps
// its grant, and a waiting valid/ready source keeps a stable grant), then move on. Round-robin or fixed
// priority. The functions build the arbiter inside the caller's module; the modules wrap them for testing.
import { defineModule, type Expr, intParam, lit, log2ceil, type ModuleBuilder, paramError, type Signal } from '../hdl';
import { prefixOr, priorityEncode } from './priority';
import { oneBit } from './util';

export interface Arbitration {
  /** One-hot grant (zero when `valid` is 0). */
  grant: Signal;
  /** Index of the granted requester (meaningful when `valid`). */
  index: Signal;
  /** A requester holds the grant. */
  valid: Signal;
}

/**
 * Round-robin arbiter over `req.width` requesters. After requester i is acknowledged, the search for the
 * next grant starts at i+1: with every input requesting, each is granted once every N grants, and a requester
 * that keeps requesting waits for at most N-1 other grants.
 *
 * Grant and lock: when nothing is locked, the grant is computed combinationally from `req` (so a lone request
 * is granted in the cycle it appears). A grant not acknowledged in its cycle is locked: it stays, whatever
 * `req` does, until a cycle with `ack` = 1, which releases it (the grant is still presented in that cycle).
 * Tie `ack` to the transfer (`fire`) for single beats, or to `fire && last` to keep packets whole.
 *
 * Timing: two parallel priority-encoder trees (requests above the last grant, and all requests), not a ripple
 * chain; the rotating priority is a registered mask, so nothing but `req` feeds the grant combinationally.
 */
export function roundRobinArbiter(m: ModuleBuilder, name: string, req: Expr, ack: Expr): Arbitration {
  return arbiter(m, name, req, ack, true);
}

/** Fixed-priority arbiter (the lowest index wins), with the same grant lock and `ack` as `roundRobinArbiter`. */
export function fixedPriorityArbiter(m: ModuleBuilder, name: string, req: Expr, ack: Expr): Arbitration {
  return arbiter(m, name, req, ack, false);
}

function arbiter(m: ModuleBuilder, name: string, req: Expr, ack: Expr, roundRobin: boolean): Arbitration {
  const n = req.width;
  oneBit(ack, `arbiter '${name}': ack`);
  if (req.signed) throw paramError(`arbiter '${name}': req must be unsigned, got ${req.describe()}`);
  const iw = log2ceil(n);
  const locked = m.reg(`${name}_locked`, 1, { reset: 0 });
  const lockIndex = m.reg(`${name}_lock_index`, iw, { reset: 0 });
  const lockGrant = m.reg(`${name}_lock_grant`, n, { reset: 0 });

  // The index comes from priority-encoder trees; the one-hot grant and the next round-robin mask (the requesters
  // above the grant) come from parallel-prefix ORs beside them, not from the index (decoding the index into the
  // grant and comparing it into the mask were 10 LUT levels at 16 requesters).
  const lowest = (tag: string, vec: Expr) => {
    const above = n === 1 ? lit(0, 1) : prefixOr(m, `${name}_${tag}_or`, vec).shl(1);
    return { onehot: vec.and(above.not()), above, pe: priorityEncode(m, `${name}_${tag}`, vec) };
  };
  let fresh: { index: Expr; onehot: Expr; above: Expr };
  let mask: Signal | undefined;
  if (roundRobin) {
    // mask bit i: requester i comes after the last acknowledged one. Those go first; otherwise wrap around.
    mask = m.reg(`${name}_mask`, n, { reset: 0 });
    const after = lowest('after', req.and(mask));
    const all = lowest('all', req);
    const useAfter = after.pe.valid;
    fresh = {
      index: useAfter.select(after.pe.index, all.pe.index),
      onehot: useAfter.select(after.onehot, all.onehot),
      above: useAfter.select(after.above, all.above),
    };
  } else {
    const pe = lowest('pe', req);
    fresh = { index: pe.pe.index, onehot: pe.onehot, above: pe.above };
  }

  const index = m.let(`${name}_index`, locked.select(lockIndex, fresh.index));
  const valid = m.let(`${name}_valid`, locked.or(req.orR()));
  const grant = m.let(`${name}_grant`, locked.select(lockGrant, fresh.onehot));

  const lockAbove = mask ? m.reg(`${name}_lock_above`, n, { reset: 0 }) : undefined;
  const above = lockAbove ? m.let(`${name}_above`, locked.select(lockAbove, fresh.above)) : undefined;
  m.if(valid, () => {
    m.if(ack, () => {
      locked.next(0);
      // Requesters above the acknowledged one get priority next time.
      if (mask && above) mask.next(above);
    }).else(() => {
      locked.next(1);
      lockIndex.next(index);
      lockGrant.next(grant);
      if (lockAbove && above) lockAbove.next(above);
    });
  });
  return { grant, index, valid };
}

/**
 * Round-robin arbiter whose grant is a register: what it hands a requester this cycle depends only on its own
 * flip-flops, so a requester's next-state logic that looks at its grant (a valid/ready source's `ready`) sees no
 * path through the arbiter's priority logic or through the other requesters' `req`. The grant is picked a cycle
 * ahead, from `req`: a requester that raises `req` is granted the next cycle at the earliest (one cycle more than
 * `roundRobinArbiter`), unless the grant is already parked on it.
 *
 * The granted requester keeps the grant while it requests and is not acknowledged (`ack` = 1: its request is
 * taken this cycle; `ack` only feeds registers). Otherwise the grant moves to the first other requester after it
 * (wrapping around), or, when no other requester requests, stays where it is (parked): a lone requester keeps the
 * grant and is served every cycle. With every input requesting, each is granted once every N grants.
 * `grant` is zero only until the first request after reset; `index` is its index.
 */
export function registeredRoundRobinArbiter(
  m: ModuleBuilder,
  name: string,
  req: Expr,
  ack: Expr,
): { grant: Signal; index: Signal } {
  const n = req.width;
  oneBit(ack, `arbiter '${name}': ack`);
  if (req.signed) throw paramError(`arbiter '${name}': req must be unsigned, got ${req.describe()}`);
  const iw = log2ceil(n);
  const grant = m.reg(`${name}_grant`, n, { reset: 0 });
  const index = m.reg(`${name}_index`, iw, { reset: 0 });
  // The requesters after the granted one (the round robin's order from it); zero while nothing is granted.
  const after = m.reg(`${name}_after`, n, { reset: 0 });
  const hold = grant.and(req).ne(0).and(ack.not());
  const others = m.let(`${name}_others`, req.and(grant.not()));
  const lowest = (tag: string, vec: Expr) => {
    const above = n === 1 ? lit(0, 1) : prefixOr(m, `${name}_${tag}_or`, vec).shl(1);
    return { onehot: vec.and(above.not()), above, pe: priorityEncode(m, `${name}_${tag}`, vec) };
  };
  const next = lowest('next', others.and(after));
  const wrap = lowest('wrap', others);
  const useNext = next.pe.valid;
  m.if(hold.not().and(wrap.pe.valid), () => {
    grant.next(useNext.select(next.onehot, wrap.onehot));
    index.next(useNext.select(next.pe.index, wrap.pe.index));
    after.next(useNext.select(next.above, wrap.above));
  });
  return { grant, index };
}

export interface ArbiterParams {
  /** Number of requesters. */
  n: number;
}

function arbiterModule(m: ModuleBuilder, p: ArbiterParams, roundRobin: boolean) {
  intParam(`${roundRobin ? 'RoundRobinArbiter' : 'FixedPriorityArbiter'}: n`, p.n, 1, 65536);
  const req = m.input('req', p.n);
  const ack = m.input('ack', 1);
  const grant = m.output('grant', p.n);
  const grantIndex = m.output('grant_idx', log2ceil(p.n));
  const grantValid = m.output('grant_valid', 1);
  const a = arbiter(m, 'arb', req, ack, roundRobin);
  grant.set(a.grant);
  grantIndex.set(a.index);
  grantValid.set(a.valid);
  return { req, ack, grant, grant_idx: grantIndex, grant_valid: grantValid };
}

/**
 * Round-robin arbiter module (see `roundRobinArbiter`). Ports: `req` (n), `ack`; `grant` (one-hot, n),
 * `grant_idx`, `grant_valid`. Grants combinationally from `req` when unlocked; `ack` only feeds registers.
 */
export const RoundRobinArbiter = defineModule('rr_arb', (m, p: ArbiterParams) => arbiterModule(m, p, true), {
  name: (p) => `rr_arb_n${p.n}`,
});

/** Fixed-priority arbiter module (lowest index wins), same ports and lock as `RoundRobinArbiter`. */
export const FixedPriorityArbiter = defineModule('fp_arb', (m, p: ArbiterParams) => arbiterModule(m, p, false), {
  name: (p) => `fp_arb_n${p.n}`,
});

/**
 * Registered-grant round-robin arbiter module (see `registeredRoundRobinArbiter`). Ports: `req` (n), `ack`;
 * `grant` (one-hot, n), `grant_idx`: registers, no input reaches them combinationally.
 */
export const RegisteredRoundRobinArbiter = defineModule(
  'rr_arb_reg',
  (m, p: ArbiterParams) => {
    intParam('RegisteredRoundRobinArbiter: n', p.n, 1, 65536);
    const req = m.input('req', p.n);
    const ack = m.input('ack', 1);
    const grant = m.output('grant', p.n);
    const grantIndex = m.output('grant_idx', log2ceil(p.n));
    const a = registeredRoundRobinArbiter(m, 'arb', req, ack);
    grant.set(a.grant);
    grantIndex.set(a.index);
    return { req, ack, grant, grant_idx: grantIndex };
  },
  { name: (p) => `rr_arb_reg_n${p.n}` },
);
