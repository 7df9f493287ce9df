// The guest's seeded pattern (scripts/linux/init.sh), made on the host to check what the device stored: 16-byte
// records "%08x %06x\n" of (seed * 7919 + i * 40503) mod 2^31 (busybox awk saturates %x at 2^31) and the record number i mod 2^24.
export const RECORD_BYTES = 16;

/** `bytes` bytes of the pattern for `seed` (a multiple of 16). */
export function guestPattern(seed: number, bytes: number): Uint8Array {
  const n = bytes / RECORD_BYTES;
  if (!Number.isInteger(n)) throw new RangeError(`pattern: ${bytes} bytes is not a whole number of records`);
  const out = new Uint8Array(bytes);
  const hex = (v: number, width: number, at: number) => {
    for (let k = width - 1; k >= 0; k--) {
      const d = v % 16;
      out[at + k] = d < 10 ? 48 + d : 87 + d;
      v = Math.floor(v / 16);
    }
  };
  for (let i = 0; i < n; i++) {
    const at = i * RECORD_BYTES;
    hex((seed * 7919 + i * 40503) % 2147483648, 8, at);
    out[at + 8] = 0x20;
    hex(i % 16777216, 6, at + 9);
    out[at + 15] = 0x0a;
  }
  return out;
}
