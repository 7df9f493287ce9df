// Seeds for randomized tests, one policy for the whole suite:
//  - `npm test` runs every randomized test on a fixed list of seeds (FIXED_SEEDS), so CI is reproducible and any
//    failure replays;
//  - VFPGA_SEED=n runs exactly that seed (the replay command every failure prints);
//  - `npm run explore` (VFPGA_EXPLORE=1) draws fresh seeds instead and prints each one it tries.
// The generator and the VFPGA_SEED reader themselves live in sim/random.ts.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { envSeed, freshSeed } from '../../sim/random';

export const FIXED_SEEDS: readonly number[] = [1, 0x5eed, 0xc0ffee];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function exploring(): boolean {
  const v = process.env.VFPGA_EXPLORE;
  return v !== undefined && v !== '' && v !== '0';
}

/** The seeds a randomized test runs on: VFPGA_SEED alone, else fresh ones when exploring, else the fixed list. */
export function testSeeds(count = FIXED_SEEDS.length): number[] {
  const env = envSeed();
  if (env !== undefined) return [env];
  if (exploring()) return Array.from({ length: count }, freshSeed);
  return FIXED_SEEDS.slice(0, count);
}

/** A test name as vitest's -t option expects it: suite and test names joined by spaces, regex-escaped. */
function testPattern(fullName: string): string {
  return fullName
    .split(' > ')
    .join(' ')
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The command that replays the running test with `seed`. */
export function replayCommand(seed: number): string {
  const st = expect.getState();
  const file = st.testPath ? path.relative(root, st.testPath) : '<test file>';
  const name = st.currentTestName ? ` -t ${JSON.stringify(testPattern(st.currentTestName))}` : '';
  return `VFPGA_SEED=${seed} npx vitest run ${file}${name}`;
}

/** Runs `body(seed)`; on failure the error names the seed and the command that replays exactly this test. */
export function withSeed<T>(seed: number, body: (seed: number) => T): T {
  if (exploring()) console.log(`explore: ${expect.getState().currentTestName ?? ''} seed ${seed}`);
  try {
    return body(seed);
  } catch (e) {
    if (e instanceof Error) e.message += `\n  seed ${seed}; replay: ${replayCommand(seed)}`;
    throw e;
  }
}

/** Runs `body` once per seed of testSeeds(count), each under withSeed(). */
export function forEachSeed(body: (seed: number) => void, count?: number): void {
  for (const seed of testSeeds(count)) withSeed(seed, body);
}

/**
 * For tests that build one design per case and run it once (cycle simulations of library blocks): the case's
 * seed is the run's seed (testSeeds(1)) mixed with a per-case salt, so cases differ while one VFPGA_SEED replays
 * them all. `replay` goes into assertion messages.
 */
export function caseSeed(salt: number): { seed: number; replay: string } {
  const base = testSeeds(1)[0];
  if (exploring()) console.log(`explore: ${expect.getState().currentTestName ?? ''} seed ${base}`);
  const seed = ((base ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0) % 0x7fff_ffff;
  return { seed, replay: `seed ${base}; replay: ${replayCommand(base)}` };
}

/** A vitest test whose body runs once per seed of testSeeds(count). */
export function seededTest(
  name: string,
  body: (seed: number) => void,
  opts: { seeds?: number; timeout?: number } = {},
) {
  test(name, () => forEachSeed(body, opts.seeds), opts.timeout);
}
