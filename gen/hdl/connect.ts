// connect(): two bundles of one type joined field by field.
import { type BundleSpec, type FieldSpec, isBundleSpec, isFlipped } from './bundle';
import { bundleTypeOf } from './io';
import { stableJson } from './names';
import type { Signal } from './signal';
import { callerLoc, HdlError } from './srcloc';

/**
 * Connect two bundles of the same type, field by field: forward fields flow from `source` to `sink`, flipped
 * fields (a stream's `ready`) from `sink` back to `source`. Either side may be ports, wires or instance pins.
 */
export function connect(sink: unknown, source: unknown): void {
  const loc = callerLoc();
  const ss = bundleTypeOf(sink);
  const sr = bundleTypeOf(source);
  if (!ss || !sr)
    throw new HdlError('connect() takes two bundles (ports, wires or instance io of a bundle type)', loc, 'type');
  if (ss.kind !== sr.kind || stableJson(ss.params) !== stableJson(sr.params)) {
    throw new HdlError(
      `connect(): bundle types differ: ${ss.kind} ${stableJson(ss.params)} vs ${sr.kind} ${stableJson(sr.params)}`,
      loc,
      'type',
    );
  }
  connectFields(ss, sink as Record<string, unknown>, source as Record<string, unknown>, false);
}

function connectFields(
  spec: BundleSpec,
  sink: Record<string, unknown>,
  source: Record<string, unknown>,
  flipped: boolean,
): void {
  for (const [k, f0] of Object.entries(spec.fields) as [string, FieldSpec][]) {
    const flip = isFlipped(f0) !== flipped;
    const f = isFlipped(f0) ? f0.flipped : f0;
    if (isBundleSpec(f)) {
      connectFields(f, sink[k] as Record<string, unknown>, source[k] as Record<string, unknown>, flip);
      continue;
    }
    const a = sink[k] as Signal;
    const b = source[k] as Signal;
    if (flip) b.set(a);
    else a.set(b);
  }
}
