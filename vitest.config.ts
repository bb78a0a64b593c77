import { defineConfig } from 'vitest/config';

// Two projects: unit tests run fast and in parallel; end-to-end tests boot real machines
// (test/machines/lab.ts), need long timeouts, and run one file at a time (the machine has
// 2 cores, and each file boots its own lab). The e2e project boots $PAIRCTL_TEST_RELEASE
// (default bookworm); `npm test` (scripts/run-tests.mjs) runs it once per release.
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**', '**/node_modules/**'],
          // A hang guard, not a speed limit: on the shared 2-core machine (load average 17
          // measured while labs ran) a CPU-heavy test took over vitest's default 5 s. Speed
          // is asserted where it matters, as CPU time or as bounded work.
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
