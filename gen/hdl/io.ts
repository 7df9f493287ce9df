// Bundle values: the objects a body gets for a bundle port or wire (one Signal per field, plus `fire()`), and
// the mapping of a child's io onto the parent's pins. Each bundle value remembers its bundle type, so that
// `connect` can compare the types of its two sides.
import type { BundleSpec, Fields } from './bundle';
import type { Expr } from './expr';
import { Signal } from './signal';
import { callerLoc, HdlError } from './srcloc';

type SignalsOf<F extends Fields> = { readonly [K in keyof F]: FieldValue<F[K]> };
type FieldValue<T> = T extends { flipped: infer U }
  ? FieldValue<U>
  : T extends BundleSpec<infer G>
    ? BundleValue<G>
    : Signal;
/** A bundle as seen in a module: one Signal per field, plus helpers. */
export type BundleValue<F extends Fields> = SignalsOf<F> & BundleHelpers;
export interface BundleHelpers {
  /** valid && ready, for bundles with those fields. */
  fire(): Expr;
}
export type Declared<T> = T extends BundleSpec<infer F> ? BundleValue<F> : Signal;

const bundleSpecOf = new WeakMap<object, BundleSpec>();

/** The bundle type of a bundle value, if `v` is one. */
export function bundleTypeOf(v: unknown): BundleSpec | undefined {
  return typeof v === 'object' && v !== null ? bundleSpecOf.get(v) : undefined;
}

/** Apply `f` to every Signal in a port tree (a Signal or a bundle value), keeping the shape. */
export function mapShape(v: unknown, f: (s: Signal) => Signal): unknown {
  if (v instanceof Signal) return f(v);
  const spec = bundleSpecOf.get(v as object);
  const out: Record<string, unknown> = {};
  for (const [k, child] of Object.entries(v as object)) out[k] = mapShape(child, f);
  return attachHelpers(out, spec);
}

/** Give a bundle value its helpers (`fire()`) and remember its bundle type. */
export function attachHelpers(obj: Record<string, unknown>, spec?: BundleSpec): unknown {
  Object.defineProperty(obj, 'fire', {
    enumerable: false,
    value: () => {
      const valid = obj.valid,
        ready = obj.ready;
      if (!(valid instanceof Signal) || !(ready instanceof Signal)) {
        throw new HdlError('fire() needs a bundle with valid and ready fields', callerLoc(), 'type');
      }
      return valid.and(ready);
    },
  });
  if (spec) bundleSpecOf.set(obj, spec);
  return obj;
}

/** All signals of a port tree, in field order. */
export function signalsOf(v: unknown): Signal[] {
  if (v instanceof Signal) return [v];
  return Object.values(v as object).flatMap(signalsOf);
}
