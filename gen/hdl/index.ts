// The TypeScript HDL: everything a generator imports.
export { bit, bitsFor, cat, Expr, fits, lit, log2ceil, mux, select, sint, uint, andAll, orAll } from './expr';
export type { HwType, Operand } from './expr';
export { bundle, flip, stream, tlpStream } from './bundle';
export type { BundleSpec } from './bundle';
export { Signal } from './signal';
export type { ClockDomain } from './signal';
export { connect, defineBlackbox, defineModule, ModuleBuilder, SignalArray, Memory, Fsm } from './module';
export type { HwModule, ModuleDef, Instance, BundleValue } from './module';
export { collectModules, emitDesign, emitModule, portsJson } from './emit';
export { parsePortsJson, PortsJsonError, validatePortsJson } from './ports_schema';
export type { InterfaceJson, ParameterValue, PortJson, PortsJson, ResetJson, VerilatorJson } from './ports_schema';
export { callerLocOutside, HdlError, fmtLoc } from './srcloc';
export type { SrcLoc } from './srcloc';
