import { defineConfig } from 'vitest/config';

// Two projects: unit tests run fast and in parallel; end-to-end tests boot real machines
// (test/machines/lab.ts), need long timeouts, and run one file at a time (the machine has
// 2 cores, and each file boots its own lab). Vitest runs the sequential e2e group after the
// parallel unit group.
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**', '**/node_modules/**'],
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
