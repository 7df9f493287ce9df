// The vitest configuration Stryker uses (npm run mutate): only the tests of the host model (test/tb), and the
// randomized ones on the first fixed seed only (VFPGA_SEED, see test/support/seeds.ts): the survivors of a mutant
// run every test that covers them, and three seeds made the codec's round trips three times the cost.
import { defineConfig, mergeConfig } from 'vitest/config';
import { FIXED_SEEDS } from './test/support/seeds';
import base from './vitest.config';

export default mergeConfig(
  base,
  defineConfig({ test: { include: ['test/tb/**/*.test.ts'], env: { VFPGA_SEED: String(FIXED_SEEDS[0]) } } }),
);
