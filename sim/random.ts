/**
 * The project's one seeded random-number generator and its one reader of VFPGA_SEED, shared by the simulator, the
 * root-complex model and every randomized test. mulberry32: tiny, fast, and good enough for test stimulus; never
 * for anything secret. The C++ side (stream idle cycles, backpressure) draws from its own generator, seeded from here.
 */

export class Rng {
  private s: number;
  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new Error(`Rng: seed must be a non-negative integer, got ${seed}`);
    this.s = seed >>> 0;
  }
  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }
  /** Integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  /** Integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  /** n bytes, each the low byte of one u32() draw (the state kept in a local: workloads draw 4 KiB at a time). */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let s = this.s;
    for (let i = 0; i < n; i++) {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = Math.imul(s ^ (s >>> 15), s | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      out[i] = (t ^ (t >>> 14)) & 0xff;
    }
    this.s = s;
    return out;
  }
  /** A uniform `w`-bit unsigned value. */
  bits(w: number): bigint {
    let v = 0n;
    for (let i = 0; i < w; i += 32) v = (v << 32n) | BigInt(this.u32());
    return v & ((1n << BigInt(w)) - 1n);
  }
  /** A derived, independent generator (so adding draws in one place does not shift another). */
  fork(salt: number): Rng {
    return new Rng(((this.seed ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0) % 0x7fff_ffff);
  }
}

/** The seed used when neither the caller nor VFPGA_SEED gives one: runs are reproducible by default. */
export const DEFAULT_SEED = 1;

/** VFPGA_SEED, when set (a non-negative integer; anything else is an error naming the variable). */
export function envSeed(): number | undefined {
  const env = process.env.VFPGA_SEED;
  if (env === undefined || env === '') return undefined;
  const n = Number(env);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`VFPGA_SEED must be a non-negative integer, got '${env}'`);
  return n;
}

/** The seed for a component not given one: VFPGA_SEED if set, else DEFAULT_SEED. */
export function defaultSeed(): number {
  return envSeed() ?? DEFAULT_SEED;
}

/** A fresh seed for exploration (never used unless asked for). */
export function freshSeed(): number {
  return Math.floor(Math.random() * 0x7fff_ffff);
}
