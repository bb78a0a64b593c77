import { defineConfig } from 'vitest/config';

// Two projects: unit tests run fast and in parallel; end-to-end tests boot real machines
// (test/machines/lab.ts), need long timeouts, and run one file at a time (the machine has
// 2 cores, and each file boots its own lab). The e2e project boots $PAIRCTL_TEST_RELEASE
// (default bookworm); `npm test` (scripts/run-tests.mjs) runs it once per release.
/** The release the e2e project boots (scripts/run-tests.mjs runs it once per release). */
const release = process.env.PAIRCTL_TEST_RELEASE ?? 'bookworm';

/**
 * Files whose machines do not follow the pass's release: they boot one fixed release (a feature
 * only that OpenSSH has), or none. Each runs in the passes listed, so `npm test` runs it once per
 * release it proves something on, not three times the same.
 */
const RUNS_IN: Record<string, string[]> = {
  'test/e2e/cli-entry.test.ts': ['bookworm'], // no machine
  'test/e2e/package-install.test.ts': ['bookworm'], // no machine
  'test/e2e/tunnel-penalties.test.ts': ['trixie'], // boots trixie (OpenSSH 10.0)
  'test/e2e/openssh-10-tunnel.test.ts': ['forky'], // boots forky (OpenSSH 10.6)
  'test/e2e/ssh-penalties.test.ts': ['trixie', 'forky'], // bookworm's 9.2 has no penalties: it boots trixie there
};
const notThisPass = Object.entries(RUNS_IN)
  .filter(([, releases]) => !releases.includes(release))
  .map(([file]) => file);

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
          exclude: ['**/node_modules/**', ...notThisPass],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
