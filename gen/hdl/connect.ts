// connect(): join two views of one bundle (or two signals), each field driven by whichever side is its source.
import { type BundleSpec, type FieldSpec, isBundleSpec } from './bundle';
import { type BundleHelpers, bundleTypeOf, fieldsOf, type Val } from './io';
import { stableJson } from './names';
import { Signal } from './signal';
import { callerLoc, HdlError } from './srcloc';

/** What connect() joins: bundle values (ports, wires, an instance's io) or single signals. */
export type Connectable = BundleHelpers | Val;

type Role = 'sink' | 'source' | 'wire';

/** Which way a signal can take part in a connection, from its kind. */
function roleOf(s: Signal): Role {
  switch (s.kind) {
    case 'output': // driven by this module's logic
    case 'inst-in': // driven by the parent: an instance's input
      return 'sink';
    case 'wire':
      return 'wire';
    default: // input, inst-out, mem-rd: driven from elsewhere; reg: driven by its own next state
      return 'source';
  }
}

/**
 * Connect two views of the same bundle type (ports, wires or instance io in any combination), field by
 * field, or two signals. Each field is driven from the side that is a source (an input port, an instance's
 * output, a register) into the side that is a sink (an output port, an instance's input); a wire takes the
 * role the other side leaves. Between two wires, forward fields flow from `b` to `a` and flipped fields
 * (a stream's `ready`) from `a` to `b`. Nothing is driven when any field fails: bundles of different types,
 * or a field whose two sides are both sources or both sinks, are an error at the connect() line.
 */
export function connect(a: Connectable, b: Connectable): void {
  const loc = callerLoc();
  const plan: [Signal, Signal][] = []; // [sink, source]
  const conflicts: string[] = [];
  if (a instanceof Signal && b instanceof Signal) {
    planField('', a, b, false, plan, conflicts);
  } else {
    const ta = bundleTypeOf(a);
    const tb = bundleTypeOf(b);
    if (!ta || !tb || a instanceof Signal || b instanceof Signal) {
      throw new HdlError(
        'connect() joins two bundles (ports, wires or an instance io of one bundle type) or two signals',
        loc,
        'type',
      );
    }
    if (typeKey(ta) !== typeKey(tb)) {
      const [da, db] = [describeType(ta), describeType(tb)];
      const why = da === db ? ' (their fields differ)' : '';
      throw new HdlError(`connect(): bundle types differ: ${da} vs ${db}${why}`, loc, 'type');
    }
    planBundle(ta, a as unknown as Record<string, unknown>, b as unknown as Record<string, unknown>, '', false);
  }
  if (conflicts.length) {
    throw new HdlError(`connect(): ${conflicts.join('; ')}`, loc, 'direction');
  }
  for (const [sink, source] of plan) sink.set(source);

  function planBundle(
    spec: BundleSpec,
    x: Record<string, unknown>,
    y: Record<string, unknown>,
    path: string,
    flipped: boolean,
  ): void {
    for (const [k, f, flip] of fieldsOf(spec)) {
      const p = path ? `${path}.${k}` : k;
      if (isBundleSpec(f)) {
        planBundle(f, x[k] as Record<string, unknown>, y[k] as Record<string, unknown>, p, flipped !== flip);
      } else {
        planField(p, x[k] as Signal, y[k] as Signal, flipped !== flip, plan, conflicts);
      }
    }
  }
}

function planField(
  path: string,
  x: Signal,
  y: Signal,
  flipped: boolean,
  plan: [Signal, Signal][],
  conflicts: string[],
): void {
  const rx = roleOf(x);
  const ry = roleOf(y);
  const field = path ? `field '${path}': ` : '';
  if (rx === ry && rx !== 'wire') {
    conflicts.push(
      rx === 'source'
        ? `${field}${x.describe()} and ${y.describe()} are both sources (each is driven from elsewhere); one side must be a sink: an output port, an instance's input or a wire`
        : `${field}${x.describe()} and ${y.describe()} are both sinks (neither drives the other); one side must be a source: an input port, an instance's output, a register or a wire`,
    );
    return;
  }
  // x is the sink when it is one, or when y is a source; between two wires, by argument order and flip.
  const xSinks = rx === 'sink' || ry === 'source' || (rx === 'wire' && ry === 'wire' && !flipped);
  plan.push(xSinks ? [x, y] : [y, x]);
}

/** A bundle type as text: kind, parameters and every field's type and direction. */
function typeKey(spec: BundleSpec): string {
  const field = (f: FieldSpec): unknown =>
    isBundleSpec(f) ? typeKey(f) : 'flipped' in f ? { flip: field(f.flipped) } : `${f.signed ? 's' : 'u'}${f.width}`;
  return stableJson({
    kind: spec.kind,
    params: spec.params,
    fields: Object.entries(spec.fields).map(([k, f]) => [k, field(f)]),
  });
}

function describeType(spec: BundleSpec): string {
  return `${spec.kind} ${stableJson(spec.params)}`;
}
