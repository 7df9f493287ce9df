// Parameter and operand checks for library functions, reported at the designer's line: the first stack frame
// outside the DSL core and this library (the core's own `callerLoc` stops at the library's frames).
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  callerLocOutside,
  type Expr,
  HdlError,
  type ModuleBuilder,
  type ModuleDef,
  type OutPort,
  type SrcLoc,
} from '../hdl';

const libDir = path.dirname(fileURLToPath(import.meta.url));

/** Where the library was called from. */
export function userLoc(): SrcLoc {
  return callerLocOutside(libDir);
}

/** A bad library parameter, reported at the caller's line. */
export function paramError(message: string): HdlError {
  return new HdlError(message, userLoc(), 'param');
}

/** Check that a control operand (enable, ack, take ...) is one bit. */
export function oneBit(e: Expr, what: string): Expr {
  if (e.width !== 1) throw new HdlError(`${what} must be 1 bit, got ${e.describe()}`, userLoc(), 'width');
  return e;
}

/**
 * A definition whose parameters are normalized (defaults dropped) before elaboration. The core caches modules
 * by their parameter object, so `{ outReg: true }` and `{}` would elaborate twice into two modules with one
 * name, which a design using both rejects as a name collision.
 */
export function withDefaults<P, IO>(def: ModuleDef<P, IO>, normalize: (p: P) => P): ModuleDef<P, IO> {
  return {
    base: def.base,
    elaborate: (p: P) => def.elaborate(normalize(p)),
    nameFor: (p: P) => def.nameFor(normalize(p)),
  };
}

/** `p` without the keys whose value is undefined or equal to the given default. */
export function dropDefaults<P extends object>(p: P, defaults: Partial<P>): P {
  const out: Partial<P> = {};
  for (const [k, v] of Object.entries(p) as [keyof P, P[keyof P]][]) {
    if (v !== undefined && v !== defaults[k]) out[k] = v;
  }
  return out as P;
}

/** An output port driven by `value`, declared only when there is a value (an optional port): for the io. */
export function optionalOutput(m: ModuleBuilder, name: string, value: Expr | undefined): OutPort | undefined {
  if (!value) return undefined;
  const port = m.output(name, value);
  port.set(value);
  return port;
}
