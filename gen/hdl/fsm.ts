// State machines: a register with named, binary-encoded states (FSM_STATE localparams in the Verilog), reset
// to the first state by name.
import { type Expr, log2ceil, type Operand } from './expr';
import type { ClockDomain } from './ir';
import type { Signal } from './signal';
import { callerLoc, HdlError } from './srcloc';

/** What a state machine needs from the module it lives in. */
export interface FsmHost {
  reg(name: string, width: number, opts: { reset: number; domain?: ClockDomain }): Signal;
  constant(name: string, value: number, width: number): Expr;
  switch(sel: Expr): { case(values: Operand, body: () => void): unknown };
}

/** The state register and one constant per state; the register resets to the first. */
export function buildFsm<S extends string>(
  m: FsmHost,
  name: string,
  states: readonly S[],
  opts: { domain?: ClockDomain },
): Fsm<S> {
  if (states.length < 2) throw new HdlError(`fsm '${name}' needs at least two states`, callerLoc(), 'param');
  const w = log2ceil(states.length);
  const reg = m.reg(name, w, { reset: 0, domain: opts.domain });
  const consts = new Map<S, Expr>();
  states.forEach((s, i) => consts.set(s, m.constant(`${name.toUpperCase()}_${s.toUpperCase()}`, i, w)));
  reg.resetSymbol = consts.get(states[0])!.attrs.symbol;
  return new Fsm(m, reg, consts);
}

export class Fsm<S extends string> {
  constructor(
    private readonly m: FsmHost,
    readonly state: Signal,
    private readonly consts: Map<S, Expr>,
  ) {}
  private c(s: S): Expr {
    const e = this.consts.get(s);
    if (!e) throw new HdlError(`fsm '${this.state.name}' has no state '${s}'`, callerLoc(), 'name');
    return e;
  }
  /** 1 when the machine is in state `s`. */
  is(s: S): Expr {
    return this.state.eq(this.c(s));
  }
  /** Move to `s` at the next clock edge. */
  goto(s: S): void {
    this.state.next(this.c(s));
  }
  /** The constant for state `s`. */
  value(s: S): Expr {
    return this.c(s);
  }
  /** A `case` over the states; states left out hold (no arm). */
  switch(arms: Partial<Record<S, () => void>>): void {
    const sw = this.m.switch(this.state);
    for (const [s, body] of Object.entries(arms) as [S, () => void][]) sw.case(this.c(s), body);
  }
}
