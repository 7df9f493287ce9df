// Helpers the library's generators share: operand checks (at the caller's line, like every parameter check:
// gen/hdl paramError), default-dropping wrappers for definitions, and optional output ports.
import { type Expr, type ModuleBuilder, type ModuleDef, type OutPort, paramError } from '../hdl';

/** Check that a control operand (enable, ack, take ...) is one bit. */
export function oneBit(e: Expr, what: string): Expr {
  if (e.width !== 1) throw paramError(`${what} must be 1 bit, got ${e.describe()}`, 'width');
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
