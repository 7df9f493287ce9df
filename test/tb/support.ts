// Shared helpers for the test-bench tests: seeded bodies that print the replay command.
import { envSeed } from '../../tb/pcie/random';

/**
 * Runs a randomized test body with a seed (VFPGA_SEED if set, else random). On failure the
 * error says the seed and how to replay the test.
 */
export function seeded<T>(file: string, name: string, body: (seed: number) => T, seed = envSeed()): T {
  try {
    return body(seed);
  } catch (e) {
    const err = e as Error;
    err.message += `\n  seed ${seed}; replay: VFPGA_SEED=${seed} npx vitest run ${file} -t ${JSON.stringify(name)}`;
    throw err;
  }
}
