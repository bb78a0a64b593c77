/** `pairctl validate -f FILE`: checks pair.yaml offline and reports every problem with its position. */
import { formatDiagnostic } from '../config/diagnostic.js';
import { loadConfig } from '../config/load-config.js';
import { parseCommand } from './args.js';
import type { Command } from './io.js';
import { UsageError } from './io.js';

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Lets a user (or CI) check the file before anything is contacted; exit 0 only when it is valid. */
export const validate: Command = async (args, io) => {
  const { file, positionals } = parseCommand('validate', args);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (use -f FILE)`);
  const { config, diagnostics } = await loadConfig(file);
  for (const d of diagnostics) io.stderr(`${formatDiagnostic(d)}\n`);
  const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
  if (config) {
    const summary = [count(config.hosts.length, 'host'), count(config.guests.length, 'guest')];
    if (warnings > 0) summary.push(count(warnings, 'warning'));
    io.stdout(`${file}: ok (${summary.join(', ')})\n`);
    return 0;
  }
  const errors = diagnostics.length - warnings;
  io.stderr(`${file}: ${count(errors, 'error')}${warnings > 0 ? `, ${count(warnings, 'warning')}` : ''}\n`);
  return 1;
};
