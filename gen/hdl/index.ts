// The TypeScript HDL: everything a generator imports.
export { bit, bitsFor, cat, Expr, fits, lit, log2ceil, mux, select, sint, uint, andAll, orAll } from './expr';
export type { HwType, Operand } from './expr';
export { bundle, flip, stream, tlpStream } from './bundle';
export type { BundleSpec } from './bundle';
export { Signal } from './signal';
export type { ClockDomain, HwModule, CombPaths } from './ir';
export { ModuleBuilder, SignalArray } from './builder';
export type { Instance } from './builder';
export { Memory } from './memory';
export { Fsm } from './fsm';
export type { BundleValue } from './io';
export { connect } from './connect';
export { defineBlackbox, defineModule } from './define';
export type { ModuleDef } from './define';
export { collectModules, emitDesign, emitModule, portsJson } from './emit';
export type { PortsJson } from './emit';
export { callerLocOutside, HdlError, fmtLoc } from './srcloc';
export type { SrcLoc } from './srcloc';
