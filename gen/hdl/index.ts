// The TypeScript HDL: everything a generator imports.
export { bit, bitsFor, cat, Expr, fits, lit, log2ceil, mux, select, sint, uint, andAll, orAll } from './expr';
export type { HwType, Operand } from './expr';
export { bundle, flip, stream } from './bundle';
export type { BundleSpec, Fields, FieldSpec, Flipped } from './bundle';
export { Signal } from './signal';
export type { ClockDomain, HwModule, CombPaths } from './ir';
export { ModuleBuilder, SignalArray } from './builder';
export type { Instance, RegOptions, DomainOptions } from './builder';
export { Memory } from './memory';
export { Fsm } from './fsm';
export type {
  BundleHelpers,
  BundlePort,
  BundleValue,
  Drivable,
  InPin,
  InPort,
  InstanceIo,
  OutPin,
  OutPort,
  PinsOf,
  PortOf,
  Val,
  WidthOf,
  WireOf,
} from './io';
export { connect } from './connect';
export type { Connectable } from './connect';
export { defineBlackbox, defineModule } from './define';
export type { BlackboxIo, BlackboxPort, ModuleDef } from './define';
export { collectModules, emitDesign, emitModule, portsJson } from './emit';
export { parsePortsJson, PortsJsonError, validatePortsJson } from './ports_schema';
export type { InterfaceJson, ParameterValue, PortJson, PortsJson, ResetJson, VerilatorJson } from './ports_schema';
export { intParam, paramError } from './params';
export {
  atCaller,
  callerLocOutside,
  designErrors,
  fmtLoc,
  generatorCallerLoc,
  HdlError,
  HdlErrors,
  HdlInternalError,
} from './srcloc';
export type { HdlErrorKind } from './srcloc';
export type { SrcLoc } from './srcloc';
