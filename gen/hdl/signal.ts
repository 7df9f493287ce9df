// Named signals (ports, wires, registers, instance pins): expressions that statements drive.
import { Expr, type HwType, lift, type Operand } from './expr';
import type { ClockDomain, InterfaceRef, SignalKind, Stmt, SyncCarries } from './ir';
import { callerLoc, HdlError, type SrcLoc } from './srcloc';

/** Where a signal's statements go: the module being elaborated. */
export interface SignalOwner {
  readonly moduleName: string;
  record(stmt: Stmt): void;
  /** A mistake found while the body runs, reported with the others when the body is done. */
  report(error: HdlError): void;
  isElaborating(): boolean;
}

export class Signal extends Expr {
  /** Value taken on paths where the signal is not assigned (combinational signals only). */
  default?: Expr;
  /** First stage of a synchronizer, and what it carries: may sample other clock domains (checks/crossing.ts). */
  synchronizer?: SyncCarries;
  /** Reset value (registers); undefined: no reset. */
  resetValue?: bigint;
  /** A name for the reset value in the Verilog (an FSM's first state). */
  resetSymbol?: string;
  /** Load enable (registers): the register only takes its next value when `enable` is 1. */
  enable?: Expr;
  domain?: ClockDomain;
  iface?: InterfaceRef;
  /** Set when a statement drives this signal (to detect undriven signals). */
  driven = false;
  /** Free-form note emitted beside the declaration. */
  note?: string;

  constructor(
    readonly name: string,
    type: HwType,
    readonly kind: SignalKind,
    readonly owner: SignalOwner,
    loc: SrcLoc,
  ) {
    super('ref', type.width, type.signed, [], {}, loc);
  }

  override describe(): string {
    const k = this.kind === 'inst-in' || this.kind === 'inst-out' ? 'instance pin' : this.kind;
    return `${k} '${this.name}' (${this.typeName()})`;
  }

  /** Drive a combinational signal (wire, output, instance input). Last assignment wins. */
  set(v: Operand): void {
    const loc = callerLoc();
    const misuse =
      this.kind === 'reg'
        ? new HdlError(`${this.describe()} is a register: use .next(value) to give its next state`, loc, 'context')
        : this.driverConflict(loc);
    this.assign(v, loc, misuse);
  }

  /** Give a register the value it takes at the next clock edge. Last assignment wins; unassigned paths hold. */
  next(v: Operand): void {
    const loc = callerLoc();
    const misuse =
      this.kind !== 'reg'
        ? new HdlError(`${this.describe()} is not a register: use .set(value) to drive it`, loc, 'context')
        : undefined;
    this.assign(v, loc, misuse);
  }

  /** Driving a signal that something else drives already. */
  private driverConflict(loc: SrcLoc): HdlError | undefined {
    const who =
      this.kind === 'input'
        ? 'it is an input port, driven from outside the module'
        : this.kind === 'inst-out'
          ? 'it is an output of an instance, which drives it'
          : this.kind === 'mem-rd'
            ? 'it is a memory read port, driven by the memory'
            : undefined;
    return who ? new HdlError(`multiple drivers for ${this.describe()}: ${who}`, loc, 'multiple-drivers') : undefined;
  }

  /**
   * Record the assignment. Mistakes in it are reported to the module and elaboration goes on, so that one run
   * finds every mistake of the body: a wrong-width or wrong-method (.set/.next) assignment is still recorded
   * (the checks then see the signal as driven, as the designer meant), a second driver is not.
   */
  private assign(v: Operand, loc: SrcLoc, misuse: HdlError | undefined): void {
    if (!this.owner.isElaborating()) {
      throw new HdlError(
        `${this.describe()} belongs to module '${this.owner.moduleName}', which is not being elaborated here`,
        loc,
        'context',
      );
    }
    const value = lift(v, this, `assignment to '${this.name}'`);
    if (misuse) {
      this.owner.report(misuse);
      if (misuse.kind === 'multiple-drivers') return;
    }
    if (value.width !== this.width || value.signed !== this.signed) {
      this.owner.report(
        new HdlError(
          `width mismatch in assignment: ${this.describe()} is ${this.width} bits, value ${value.describe()} is ${value.width} bits${value.signed !== this.signed ? ' (and differs in signedness)' : ''}`,
          loc,
          'width',
        ),
      );
    }
    this.driven = true;
    this.owner.record({ k: 'assign', target: this, value, loc });
  }
}
