import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The test files that take longest on a clean clone (CI: their Verilator builds included), longest first, as measured
 * with a JSON reporter (`npx vitest run --reporter=json`). They start first so that the two workers finish together
 * instead of one running a long file alone at the end. Without timings of its own (a clean clone has no vitest cache)
 * vitest would start the largest files first, which is not the same. Files not named here keep vitest's order
 * (its cached durations when it has them); a name that no longer exists is ignored.
 */
const LONG_FIRST = [
  'test/system/faults.test.ts',
  'test/virtq/blk-e2e.test.ts',
  'test/tb/testdev.test.ts',
  'test/blk/device.test.ts',
  'test/virtq/split_ahead.test.ts',
  'test/virtq/fabric.test.ts',
  'test/linux/linux.test.ts',
  'test/dma/errors.test.ts',
  'test/virtq/irq-order.test.ts',
  'test/virtq/packed-malformed.test.ts',
  'test/virtq/split_reset.test.ts',
  'test/virtq/packed-reset.test.ts',
  'test/testdev/pcie_blocks.test.ts',
  'test/virtq/packed-throughput.test.ts',
  'test/virtio/rtl-negative.test.ts',
  'test/dma/transfers.test.ts',
];

class LongFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = LONG_FIRST.findIndex((name) => f.moduleId.endsWith(`/${name}`));
      return i < 0 ? LONG_FIRST.length : i;
    };
    // Array.prototype.sort is stable: files outside the list keep vitest's order behind the listed ones.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: a single worker on the 2-core machines CI runs on, while
    // most of a file's time is one single-threaded simulation (measured: the suite's wall time was the sum of its
    // files' times). At least two.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    sequence: { sequencer: LongFirstSequencer },
  },
});
