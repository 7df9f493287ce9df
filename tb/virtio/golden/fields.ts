// Byte-lane access to a block of little-endian fields: any offset, any length, any byte-enable mask. Every
// structure of the golden model (common configuration, device configuration, MSI-X table) is a list of FieldPorts;
// this file is the one place that turns accesses into field reads and writes (choices.ts "partialWrites").

export interface FieldPort {
  readonly name: string;
  readonly offset: number;
  /** Bytes. */
  readonly width: number;
  /** The value (no side effects). */
  get(): bigint;
  /** Applies a write; absent for read-only fields (writes ignored). `value` is the byte-merged new value. */
  set?(value: bigint): void;
  /** Side effect of a read touching any byte of the field. */
  onRead?(): void;
}

/** The field covering a byte, if any. */
export function fieldAt(fields: readonly FieldPort[], byte: number): FieldPort | undefined {
  return fields.find((f) => byte >= f.offset && byte < f.offset + f.width);
}

function overlapping(fields: readonly FieldPort[], off: number, len: number): FieldPort[] {
  return fields.filter((f) => f.offset < off + len && off < f.offset + f.width).sort((a, b) => a.offset - b.offset);
}

/** Reads `len` bytes at `off`; bytes no field covers read 0. With `commit`, the fields' read side effects run. */
export function readFields(fields: readonly FieldPort[], off: number, len: number, commit: boolean): Uint8Array {
  const out = new Uint8Array(len);
  for (const f of overlapping(fields, off, len)) {
    const v = f.get();
    for (let i = 0; i < f.width; i++) {
      const at = f.offset + i - off;
      if (at >= 0 && at < len) out[at] = Number((v >> BigInt(8 * i)) & 0xffn);
    }
    if (commit) f.onRead?.();
  }
  return out;
}

/** Writes the enabled bytes of `data` at `off` (mask: one entry per byte, non-zero = enabled; default all). */
export function writeFields(fields: readonly FieldPort[], off: number, data: Uint8Array, mask?: Uint8Array): void {
  for (const f of overlapping(fields, off, data.length)) {
    let v = f.get();
    let touched = false;
    for (let i = 0; i < f.width; i++) {
      const at = f.offset + i - off;
      if (at < 0 || at >= data.length || (mask && !mask[at])) continue;
      const sh = BigInt(8 * i);
      v = (v & ~(0xffn << sh)) | (BigInt(data[at]) << sh);
      touched = true;
    }
    if (touched) f.set?.(v);
  }
}

/** Names of the fields an access touches (for messages), e.g. "queue_select, queue_size" or "(no field)". */
export function fieldNames(fields: readonly FieldPort[], off: number, len: number): string {
  const names = overlapping(fields, off, len).map((f) => f.name);
  return names.length ? names.join(', ') : '(no field)';
}
