/**
 * The argv parser every command uses, driven by the command table (commands.ts), so a flag means
 * the same thing everywhere and help, completion and "did you mean" cannot drift from it.
 */
import { parseArgs } from 'node:util';
import { commandSpec, nearest, type FlagSpec } from './commands.js';
import { UsageError } from './io.js';

export interface CommonFlags {
  file: string;
  sshConfig?: string;
  positionals: string[];
  flags: Record<string, string | boolean | string[] | undefined>;
}

function optionName(f: FlagSpec): string {
  return `--${f.name}${f.short ? ` (-${f.short})` : ''}`;
}

/**
 * Checks every option before parseArgs sees it, so a mistake is one line that names the nearest
 * flag rather than Node's text about positionals.
 */
function checkOptions(command: string, args: string[], flags: FlagSpec[]): void {
  const long = new Map(flags.map((f) => [f.name, f]));
  const short = new Map(flags.filter((f) => f.short).map((f) => [f.short!, f]));
  const seeHelp = `see pairctl ${command} --help`;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (!a.startsWith('-') || a === '-') continue;
    let spec: FlagSpec | undefined;
    let inline = false;
    if (a.startsWith('--')) {
      const name = a.slice(2).split('=')[0]!;
      inline = a.includes('=');
      spec = long.get(name);
      if (!spec) {
        const near = nearest(name, [...long.keys()]);
        throw new UsageError(`unknown option --${name}${near ? ` (did you mean --${near}?)` : ''}; ${seeHelp}`);
      }
      if (inline && !spec.value) throw new UsageError(`${optionName(spec)} takes no value; ${seeHelp}`);
    } else {
      // -yf FILE: every letter but the last is a boolean; the last may take the next word.
      const letters = a.slice(1);
      for (let k = 0; k < letters.length; k++) {
        spec = short.get(letters[k]!);
        if (!spec) throw new UsageError(`unknown option -${letters[k]}; ${seeHelp}`);
        if (spec.value) {
          inline = k < letters.length - 1;
          break;
        }
      }
    }
    if (spec?.value && !inline) {
      const next = args[i + 1];
      if (next === undefined || (next.startsWith('-') && next !== '-')) throw new UsageError(`${optionName(spec)} needs a value (${spec.value}); ${seeHelp}`);
      i++;
    }
  }
}

/** Parses a command's argv with the flags the table gives it; mistakes are usage errors. */
export function parseCommand(command: string, args: string[]): CommonFlags {
  const spec = commandSpec(command);
  if (!spec) throw new Error(`internal error: no command "${command}" in the command table`);
  checkOptions(command, args, spec.flags);
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const f of spec.flags) options[f.name] = { type: f.value ? 'string' : 'boolean', ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) };
  try {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options });
    const v = values as Record<string, string | boolean | string[] | undefined>;
    for (const f of spec.flags) {
      const value = v[f.name];
      if (f.choices && typeof value === 'string' && !f.choices.includes(value)) {
        const near = nearest(value, f.choices);
        throw new UsageError(`--${f.name} takes ${f.choices.join(', ')}, not "${value}"${near ? ` (did you mean ${near}?)` : ''}`);
      }
    }
    return {
      file: (v.file as string | undefined) ?? 'pair.yaml',
      sshConfig: v['ssh-config'] as string | undefined,
      positionals,
      flags: v,
    };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}
