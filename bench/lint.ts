/**
 * Benchmark (not a test): wall time of a cold `pairctl lint`, as CI and pre-commit hooks run it
 * (a fresh node process each time), and of one call over 100 files. Build first.
 *
 *   npm run build && npx tsx bench/lint.ts [runs]
 *
 * Targets: cold lint of pair.yaml.example <= 150 ms, 100 files in one call <= 1 s. Node's own
 * start (`node -e 0`) and pairctl's start without config work (`--help`) are measured too, so
 * a figure can be read against what this machine costs before any pairctl code runs.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/cli/main.js');
const runs = Number(process.argv[2] ?? 21);

if (!existsSync(cli)) {
  process.stderr.write('dist/cli/main.js is missing: run npm run build first\n');
  process.exit(2);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Median wall time of `node ARGS` over `runs` fresh processes; fails loudly on a wrong exit code. */
function time(args: string[], expect: number): { median: number; min: number } {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (r.status !== expect) throw new Error(`node ${args.join(' ')} exited ${r.status}, wanted ${expect}:\n${r.stdout}${r.stderr}`);
  }
  return { median: median(times), min: Math.min(...times) };
}

const sources = [join(root, 'pair.yaml.example'), ...readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml')).map((f) => join(root, 'examples', f))];
const dir = mkdtempSync(join(tmpdir(), 'pairctl-bench-'));
const hundred = Array.from({ length: 100 }, (_, i) => {
  const file = join(dir, `pair-${i}.yaml`);
  copyFileSync(sources[i % sources.length] as string, file);
  return file;
});

const rows: [string, { median: number; min: number }, number | undefined][] = [
  ['node -e 0 (node start, for reference)', time(['-e', '0'], 0), undefined],
  ['pairctl --help (start, no config work)', time([cli, '--help'], 0), undefined],
  ['pairctl lint pair.yaml.example (cold)', time([cli, 'lint', 'pair.yaml.example'], 0), 150],
  ['pairctl lint --format sarif pair.yaml.example', time([cli, 'lint', '--format', 'sarif', 'pair.yaml.example'], 0), undefined],
  ['pairctl lint <100 files> (one call)', time([cli, 'lint', ...hundred], 0), 1000],
];

process.stdout.write(`pairctl lint benchmark: ${runs} runs each, node ${process.version}\n\n`);
for (const [name, t, target] of rows) {
  const verdict = target === undefined ? '' : t.median <= target ? `  (target <= ${target} ms: met)` : `  (target <= ${target} ms: NOT met)`;
  process.stdout.write(`${name.padEnd(48)} median ${t.median.toFixed(0).padStart(5)} ms   min ${t.min.toFixed(0).padStart(5)} ms${verdict}\n`);
}
