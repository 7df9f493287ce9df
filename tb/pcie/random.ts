/**
 * Seeded randomness for the test bench (latencies, completion splitting, fault injection).
 * mulberry32: tiny, fast, good enough for test stimulus; never for anything secret.
 */

export class Rng {
  private s: number;
  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new Error(`Rng: seed must be a non-negative integer, got ${seed}`);
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }
  /** A derived, independent generator (so adding draws in one place does not shift another). */
  fork(salt: number): Rng {
    return new Rng(((this.seed ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0) % 0x7fff_ffff);
  }
}

/** The seed for a test bench: VFPGA_SEED (shared with the simulator) if set, else random. */
export function envSeed(): number {
  const env = process.env.VFPGA_SEED;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`VFPGA_SEED must be a non-negative integer, got ${env}`);
    return n;
  }
  return Math.floor(Math.random() * 0x7fff_ffff);
}
