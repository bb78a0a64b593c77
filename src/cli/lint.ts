/**
 * `pairctl lint [FILE...]`: every problem of every file at once, for people, scripts, GitHub
 * annotations and code scanning. Offline unless --online, which also fetches guests' GitHub keys.
 * Report renderers are imported only for the format asked, to keep a cold run short.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/load-config.js';
import type { FileReport, LintReport } from '../config/lint-report.js';
import { passed } from '../config/lint-report.js';
import { parseCommand } from './args.js';
import type { CliIO, Command } from './io.js';
import { UsageError } from './io.js';

const FORMATS = ['text', 'json', 'github', 'sarif'] as const;
type Format = (typeof FORMATS)[number];

function isFormat(value: string): value is Format {
  return (FORMATS as readonly string[]).includes(value);
}

/** pairctl's own version, for SARIF's tool record; src/cli and dist/cli are both two levels deep. */
function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

async function lintFile(file: string, online: boolean, io: CliIO): Promise<FileReport> {
  const { config, diagnostics } = await loadConfig(file);
  if (!config) return { file, diagnostics };
  const counts = { hosts: config.hosts.length, guests: config.guests.length };
  if (!online || !config.guests.some((g) => g.github !== undefined)) return { file, counts, diagnostics };
  const { githubBaseUrl, resolveGithubKeys } = await import('../config/github-keys.js');
  const resolved = await resolveGithubKeys(config, { baseUrl: githubBaseUrl(config, io.env) });
  const all = [...diagnostics, ...resolved.diagnostics].sort((a, b) => a.line - b.line || a.column - b.column);
  return { file, counts, diagnostics: all };
}

async function render(report: LintReport, format: Format): Promise<string> {
  switch (format) {
    case 'json':
      return (await import('../config/report-json.js')).renderJson(report);
    case 'github':
      return (await import('../config/report-github.js')).renderGithub(report);
    case 'sarif':
      return (await import('../config/report-sarif.js')).renderSarif(report, { version: version() });
    default:
      return (await import('../config/report-text.js')).renderText(report);
  }
}

/** Checks pair.yaml files for CI and editors; exit 0 clean, 1 on errors (or warnings with --strict). */
export const lint: Command = async (args, io) => {
  const { flags, positionals } = parseCommand('lint', args);
  const format = (flags.format as string | undefined) ?? 'text';
  if (!isFormat(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, not "${format}"`);
  // -f FILE works as in every other command; positional files may be given as well.
  const named = typeof flags.file === 'string' ? [flags.file] : [];
  const files = [...named, ...positionals];
  if (files.length === 0) files.push('pair.yaml');
  const online = flags.online === true;
  const reports: FileReport[] = [];
  for (const file of files) reports.push(await lintFile(file, online, io));
  const report: LintReport = { files: reports, strict: flags.strict === true };
  io.stdout(await render(report, format));
  return passed(report) ? 0 : 1;
};
