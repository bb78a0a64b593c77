// Runs every test: the unit project once, then every end-to-end suite (test/e2e/*) on each
// Debian release the lab boots (bookworm, trixie, forky; PAIRCTL_TEST_RELEASES="a b" picks
// some), one release after another so the three never load the shared machine at once. Prints
// one line per run and ends with one plain summary line ("Tests: N passed, N failed, N
// skipped"); exits non-zero if any run failed. Extra arguments go to every vitest run.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';

const RELEASES = ['bookworm', 'trixie', 'forky'];
const wanted = (process.env.PAIRCTL_TEST_RELEASES ?? RELEASES.join(' ')).split(/[\s,]+/).filter(Boolean);
const unknown = wanted.filter((r) => !RELEASES.includes(r));
if (unknown.length > 0) {
  console.error(`PAIRCTL_TEST_RELEASES: unknown release ${unknown.join(', ')} (want ${RELEASES.join(', ')})`);
  process.exit(2);
}
if (process.env.CI === 'true' && wanted.length !== RELEASES.length) {
  console.error('CI=true: every release must run (PAIRCTL_TEST_RELEASES may not leave one out).');
  process.exit(2);
}

const runs = [
  { label: 'unit', project: 'unit', env: {} },
  ...wanted.map((release) => ({ label: `e2e ${release}`, project: 'e2e', env: { PAIRCTL_TEST_RELEASE: release } })),
];

const total = { passed: 0, failed: 0, skipped: 0, tests: 0 };
const lines = [];
let code = 0;
for (const run of runs) {
  const results = `.test-results-${run.label.replace(/\s+/g, '-')}.json`;
  rmSync(results, { force: true });
  const t0 = Date.now();
  const r = spawnSync(
    'npx',
    ['vitest', 'run', '--project', run.project, '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, ...run.env } },
  );
  const minutes = ((Date.now() - t0) / 60_000).toFixed(1);
  let runCode = r.status ?? 1;
  if (existsSync(results)) {
    const j = JSON.parse(readFileSync(results, 'utf8'));
    const skipped = (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
    total.passed += j.numPassedTests;
    total.failed += j.numFailedTests;
    total.skipped += skipped;
    total.tests += j.numTotalTests;
    if (j.numTotalTests === 0) runCode = runCode || 1;
    const failed = (j.testResults ?? []).flatMap((f) =>
      (f.assertionResults ?? []).filter((a) => a.status === 'failed').map((a) => `    ✗ ${f.name.replace(`${process.cwd()}/`, '')} > ${a.fullName}`),
    );
    lines.push(`${run.label}: ${j.numPassedTests} passed, ${j.numFailedTests} failed, ${skipped} skipped (${minutes} min)`, ...failed);
    rmSync(results, { force: true });
  } else {
    total.failed += 1;
    runCode = runCode || 1;
    lines.push(`${run.label}: vitest wrote no results (exit ${r.status ?? r.signal}) (${minutes} min)`);
  }
  code = code || runCode;
}

console.log(`\n${lines.join('\n')}`);
console.log(`\nTests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
if (process.env.CI === 'true' && total.skipped > 0) {
  console.error('CI=true: no test may be skipped here (a skipped end-to-end test proves nothing).');
  code = code || 1;
}
if (total.tests === 0) code = code || 1;
process.exit(code);
