// Typed views of ports and pins, and bundle values.
//
// A module body sees its own ports as `InPort<W>` (read only) and `OutPort<W>` (driven with `.set`); a parent
// sees an instance's ports, through `inst.io`, the other way round: the child's input as an `InPin<W>` it
// drives, the child's output as an `OutPin<W>` it can only read. `W` is the width as a literal type when the
// declaration spelled a literal (`m.input('x', 8)`, `uint(8)`) and `number` when it was computed. Bundles map
// field by field, flipped fields the other way. All of these are `Signal`s at run time; the types only narrow
// what TypeScript lets a designer call, and the run-time checks in Signal stay.
import type { BundleSpec, Fields, Flipped, FieldSpec } from './bundle';
import type { Expr, HwType, Operand } from './expr';
import type { SignalKind } from './ir';
import { Signal } from './signal';
import { callerLoc, HdlError } from './srcloc';

/** Which side of a module boundary a view is on (a type-level tag only; no such property exists). */
declare const viewOf: unique symbol;

/** A named value of W bits a module can read. */
export interface Val<W extends number = number> extends Expr {
  readonly width: W;
  readonly name: string;
  readonly kind: SignalKind;
}
/** A named value a module drives combinationally (last assignment wins) and can read. */
export interface Drivable<W extends number = number> extends Val<W> {
  set(v: Operand): void;
}

/** An input port, in the module that declares it: read only. */
export interface InPort<W extends number = number> extends Val<W> {
  readonly [viewOf]: 'in-port';
}
/** An output port, in the module that declares it: driven with `.set`. */
export interface OutPort<W extends number = number> extends Drivable<W> {
  readonly [viewOf]: 'out-port';
}
/** A child's input, seen from the parent through `inst.io`: the parent drives it (and may read it). */
export interface InPin<W extends number = number> extends Drivable<W> {
  readonly [viewOf]: 'in-pin';
}
/** A child's output, seen from the parent through `inst.io`: read only. */
export interface OutPin<W extends number = number> extends Val<W> {
  readonly [viewOf]: 'out-pin';
}

export interface BundleHelpers {
  /** valid && ready, for bundles with those fields. */
  fire(): Expr;
}

/** The width of a declared type as a type: the literal when there is one. */
export type WidthOf<T> = T extends number ? T : T extends HwType<infer W> ? W : number;

type Dir = 'in' | 'out';
type Flip<D extends Dir> = D extends 'in' ? 'out' : 'in';

/**
 * What `m.input(name, T)` (D = 'in') or `m.output(name, T)` (D = 'out') gives the declaring body. A field
 * known only as `FieldSpec` (generic code over any bundle) is `unknown`: narrow it with `instanceof Signal`.
 */
export type PortOf<T, D extends Dir> = [FieldSpec] extends [T]
  ? unknown
  : T extends Flipped<infer U>
    ? PortOf<U, Flip<D>>
    : T extends BundleSpec<infer F>
      ? BundlePort<F, D>
      : D extends 'in'
        ? InPort<WidthOf<T>>
        : OutPort<WidthOf<T>>;
/** A bundle port: a port view per field (flipped fields run the other way), plus helpers. */
export type BundlePort<F extends Fields, D extends Dir> = { readonly [K in keyof F]: PortOf<F[K], D> } & BundleHelpers;

/**
 * A child's io as its parent sees it: inputs become pins the parent drives, outputs pins it reads; bundles,
 * arrays and plain objects map member by member. Untyped signals stay as they are; an optional port left
 * out (undefined) stays undefined.
 */
export type PinsOf<T> = unknown extends T
  ? T
  : T extends undefined
    ? undefined
    : T extends InPort<infer W>
      ? InPin<W>
      : T extends OutPort<infer W>
        ? OutPin<W>
        : T extends Expr
          ? T
          : T extends (...args: never[]) => unknown
            ? T
            : T extends readonly unknown[]
              ? { readonly [I in keyof T]: PinsOf<T[I]> }
              : T extends object
                ? { readonly [K in keyof T]: PinsOf<T[K]> }
                : never;

/** The `io` of an instance: the child's returned io as pins, or nothing when its body returns none. */
export type InstanceIo<IO> = IO extends object ? PinsOf<IO> : Record<string, never>;

// ---------------------------------------------------------------------------------------------------------
// Bundle values (wires)

type SignalsOf<F extends Fields> = { readonly [K in keyof F]: FieldValue<F[K]> };
type FieldValue<T> = [FieldSpec] extends [T]
  ? unknown
  : T extends { flipped: infer U }
    ? FieldValue<U>
    : T extends BundleSpec<infer G>
      ? BundleValue<G>
      : Signal;
/** A bundle of wires (`m.wire(name, bundle)`): one Signal per field, plus helpers. */
export type BundleValue<F extends Fields> = SignalsOf<F> & BundleHelpers;
/** What `m.wire(name, T)` gives. */
export type WireOf<T> = T extends BundleSpec<infer F> ? BundleValue<F> : Signal;

// ---------------------------------------------------------------------------------------------------------
// Run time: bundle types and the mapping of a child's io onto its pins

const bundleSpecOf = new WeakMap<object, BundleSpec>();

/** The bundle type of a bundle value, if `v` is one. */
export function bundleTypeOf(v: unknown): BundleSpec | undefined {
  return typeof v === 'object' && v !== null ? bundleSpecOf.get(v) : undefined;
}

/** Apply `f` to every Signal in an io tree (Signals, bundle values, arrays, plain objects), keeping the shape. */
export function mapShape(v: unknown, f: (s: Signal) => Signal): unknown {
  if (v instanceof Signal) return f(v);
  if (v === undefined) return v; // an optional port left out
  if (Array.isArray(v)) return v.map((x) => mapShape(x, f));
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

/** Every Signal of an io tree with its path (`rx.valid`, `in[0].data`), in order. */
export function leavesOf(v: unknown, path = ''): { path: string; value: unknown }[] {
  if (v instanceof Signal || v === null || typeof v !== 'object') return [{ path, value: v }];
  if (Array.isArray(v)) return v.flatMap((x, i) => leavesOf(x, `${path}[${i}]`));
  return Object.entries(v).flatMap(([k, x]) => leavesOf(x, path ? `${path}.${k}` : k));
}

/** The field specs of a bundle type in order, each with whether it runs against the bundle's direction. */
export function fieldsOf(spec: BundleSpec): [string, FieldSpec, boolean][] {
  return Object.entries(spec.fields).map(([k, f]) => {
    const flipped = typeof f === 'object' && 'flipped' in f;
    return [k, flipped ? (f as Flipped).flipped : f, flipped];
  });
}
