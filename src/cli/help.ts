/** Help text, all of it generated from the command table (commands.ts). */
import { COMMANDS, commandSpec, FILE_FLAG, nearest, SSH_CONFIG_FLAG, type CommandSpec, type FlagSpec } from './commands.js';
import { UsageError, type Command } from './io.js';

function flagColumn(f: FlagSpec): string {
  const long = `--${f.name}${f.value ? ` ${f.value}` : ''}`;
  return f.short ? `-${f.short}, ${long}` : `    ${long}`;
}

/** "pairctl plan [-f FILE] [--json] ..." */
export function usageLine(c: CommandSpec): string {
  const parts = [`pairctl ${c.name}`];
  for (const a of c.args) parts.push(a.optional ? `[${a.name}${a.repeats ? '...' : ''}]` : `${a.name}${a.repeats ? '...' : ''}`);
  if (c.flags.length > 0) parts.push('[options]');
  return parts.join(' ');
}

/** The whole help of one command: what it does, usage, every flag, examples. */
export function commandHelp(c: CommandSpec): string {
  const out = [`pairctl ${c.name}: ${c.summary}`, '', `usage: ${usageLine(c)}`];
  if (c.args.some((a) => a.choices)) for (const a of c.args.filter((x) => x.choices)) out.push(`  ${a.name} is one of: ${a.choices!.join(', ')}`);
  if (c.flags.length > 0) {
    out.push('', 'options:');
    const width = Math.max(...c.flags.map((f) => flagColumn(f).length));
    for (const f of c.flags) out.push(`  ${flagColumn(f).padEnd(width)}  ${f.help}${f.choices ? ` [${f.choices.join('|')}]` : ''}`);
  }
  out.push('', 'examples:');
  for (const [cmd, what] of c.examples) out.push(`  ${cmd}${what ? `\n      ${what}` : ''}`);
  return `${out.join('\n')}\n`;
}

/** pairctl's own help: how to start, then one line per command. */
export function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: pairctl <command> [options]',
    '',
    'Share a locked-down tmux session over ssh, from one committed pair.yaml.',
    'Start with:  pairctl init   then   pairctl plan   pairctl apply   pairctl up   pairctl join GUEST',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'common options:',
    `  ${flagColumn(FILE_FLAG)}         ${FILE_FLAG.help}`,
    `  ${flagColumn(SSH_CONFIG_FLAG)}   ${SSH_CONFIG_FLAG.help}`,
    '  -h, --help                help for pairctl, or for the command it follows',
    '      --version             print the version',
    '',
    'pairctl help COMMAND (or pairctl COMMAND --help) shows its options and examples.',
    '',
  ].join('\n');
}

/** `pairctl help [COMMAND]`. */
export const help: Command = async (args, io) => {
  const [asked, ...extra] = args;
  const name = asked === '-h' || asked === '--help' ? 'help' : asked;
  if (extra.length > 0) throw new UsageError('usage: pairctl help [COMMAND]');
  if (!name) {
    io.stdout(globalHelp());
    return 0;
  }
  const c = commandSpec(name);
  if (!c) {
    const near = nearest(name, COMMANDS.map((x) => x.name));
    throw new UsageError(`no command "${name}"${near ? ` (did you mean "${near}"?)` : ''}; pairctl help lists them`);
  }
  io.stdout(commandHelp(c));
  return 0;
};
