// The vitest configuration Stryker uses (npm run mutate): only the tests of the host model (test/tb), the randomized
// ones on the first fixed seed only (VFPGA_SEED, see test/support/seeds.ts), and the quickest test files first.
// A surviving mutant runs every test that covers it; a killed one stops at its first failing test (Stryker bails),
// so quick unit tests first spare most mutants the simulator-backed files, and one seed instead of three makes the
// codec's round trips a third of the cost.
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig, mergeConfig } from 'vitest/config';
import { FIXED_SEEDS } from './test/support/seeds';
import base from './vitest.config';

/** Test files by their last duration (the dry run measures them all), quickest first; unmeasured ones by size. */
class QuickestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const key = (f: TestSpecification) => `${f.project.name}:${relative(this.ctx.config.root, f.moduleId)}`;
    const cost = (f: TestSpecification): [number, number] => {
      const ran = this.ctx.cache.getFileTestResults(key(f));
      return ran ? [0, ran.duration] : [1, this.ctx.cache.getFileStats(key(f))?.size ?? 0];
    };
    return [...files]
      .map((f) => ({ f, c: cost(f) }))
      .sort((a, b) => a.c[0] - b.c[0] || a.c[1] - b.c[1])
      .map(({ f }) => f);
  }
}

const config = mergeConfig(
  base,
  defineConfig({
    test: {
      env: { VFPGA_SEED: String(FIXED_SEEDS[0]) },
      sequence: { sequencer: QuickestFirst },
    },
  }),
);
// Set after the merge: mergeConfig concatenates arrays, and the base config's include is every test file.
// The test files of the file being mutated (scripts/mutate.ts). Not Stryker's --testFiles: with it, Stryker 9.6.1
// activates a static mutant (module-level code) only after the module loaded, so every one survives (stryker-js
// issue 6144).
config.test!.include = process.env.VFPGA_MUTATE_TESTS?.split(',') ?? ['test/tb/**/*.test.ts'];
export default config;
