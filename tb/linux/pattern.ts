// The guest's seeded pattern (scripts/linux/init.sh), made on the host to check what the device stored: 16-byte
// records, the decimal numbers 10^14 + seed * 10^9 + i (i = 0, 1, ...) each followed by a newline.
export const RECORD_BYTES = 16;

/** `bytes` bytes of the pattern for `seed` (a multiple of 16; seed below 90000, so every number has 15 digits). */
export function guestPattern(seed: number, bytes: number): Uint8Array {
  const n = bytes / RECORD_BYTES;
  if (!Number.isInteger(n)) throw new RangeError(`pattern: ${bytes} bytes is not a whole number of records`);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 90000)
    throw new RangeError(`pattern: seed ${seed} is not 0..89999`);
  const out = new Uint8Array(bytes);
  const first = 1e14 + seed * 1e9;
  for (let i = 0; i < n; i++) {
    out.set(Buffer.from(`${first + i}\n`, 'latin1'), i * RECORD_BYTES);
  }
  return out;
}
