// Bundles: named groups of fields (a valid/ready stream, a TLP stream) declared once and used as ports, wires
// or instance connections. A field marked `flip` runs against the bundle's direction (a stream's `ready`).
import { bit, type HwType, uint } from './expr';

export interface Flipped<T extends FieldSpec = FieldSpec> {
  readonly flipped: T;
}
export type FieldSpec = HwType | BundleSpec<Fields> | Flipped<FieldSpec>;
export type Fields = Record<string, FieldSpec>;

/** A bundle type: its kind (recorded in the port description for tools), parameters, and fields in order. */
export interface BundleSpec<F extends Fields = Fields> {
  readonly kind: string;
  readonly params: Record<string, number | string | boolean>;
  readonly fields: F;
}

export function flip<T extends FieldSpec>(t: T): Flipped<T> {
  return { flipped: t };
}

export function bundle<F extends Fields>(
  kind: string,
  fields: F,
  params: Record<string, number | string | boolean> = {},
): BundleSpec<F> {
  return { kind, params, fields };
}

export function isFlipped(f: FieldSpec): f is Flipped {
  return typeof f === 'object' && 'flipped' in f;
}
export function isBundleSpec(f: unknown): f is BundleSpec {
  return typeof f === 'object' && f !== null && 'fields' in f && 'kind' in f;
}

/** A valid/ready stream carrying `data` from producer to consumer (`ready` flows back). */
export function stream<W extends number>(data: W | HwType<W>) {
  const t: HwType<W> = typeof data === 'number' ? uint(data) : data;
  return bundle('stream', { valid: bit, ready: flip(bit), data: t }, { dataWidth: t.width });
}
