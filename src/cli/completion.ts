/**
 * `pairctl completion bash|zsh|fish`: completion scripts generated from the command table
 * (commands.ts), the one the parser reads, so the shells offer exactly the flags pairctl accepts.
 */
import { COMMANDS, nearest, SHELLS, type ArgSpec, type FlagSpec } from './commands.js';
import { parseCommand } from './args.js';
import { UsageError, type Command } from './io.js';

const HEADER = '# pairctl shell completion, generated from pairctl\'s command table by `pairctl completion`';

/** What a value (a flag's or a positional's) completes to, as a word list, "files" or nothing. */
function valueKind(v: { completes?: string; choices?: readonly string[] }): { words?: string[]; files?: boolean } {
  if (v.choices) return { words: [...v.choices] };
  if (v.completes === 'file') return { files: true };
  if (v.completes === 'command') return { words: COMMANDS.map((c) => c.name) };
  return {};
}

function flagWords(f: FlagSpec): string[] {
  return [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])];
}

/** bash: one function; the command is the first word, as main.ts reads it. */
export function bashCompletion(): string {
  const out = [HEADER, '_pairctl() {', '  local cur prev cmd', '  cur="${COMP_WORDS[COMP_CWORD]}"', '  prev="${COMP_WORDS[COMP_CWORD-1]}"', '  COMPREPLY=()'];
  out.push('  if [[ $COMP_CWORD -eq 1 ]]; then');
  out.push(`    COMPREPLY=( $(compgen -W "${COMMANDS.map((c) => c.name).join(' ')} --help --version" -- "$cur") )`);
  out.push('    return', '  fi', '  cmd="${COMP_WORDS[1]}"', '  case "$cmd" in');
  for (const c of COMMANDS) {
    out.push(`    ${c.name})`);
    const valued = c.flags.filter((f) => f.value);
    if (valued.length > 0) {
      out.push('      case "$prev" in');
      for (const f of valued) {
        const k = valueKind(f);
        const action = k.words ? `COMPREPLY=( $(compgen -W "${k.words.join(' ')}" -- "$cur") )` : k.files ? 'COMPREPLY=( $(compgen -f -- "$cur") )' : ':';
        out.push(`        ${flagWords(f).join('|')}) ${action}; return ;;`);
      }
      out.push('      esac');
    }
    const words = [...c.flags.flatMap(flagWords), '--help'];
    out.push(`      if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "${words.join(' ')}" -- "$cur") ); return; fi`);
    const arg = c.args[0];
    if (arg) {
      const k = valueKind(arg);
      if (k.words) out.push(`      COMPREPLY=( $(compgen -W "${k.words.join(' ')}" -- "$cur") )`);
      else if (k.files) out.push('      COMPREPLY=( $(compgen -f -- "$cur") )');
    }
    out.push('      ;;');
  }
  out.push('  esac', '}', 'complete -o filenames -F _pairctl pairctl', '');
  return out.join('\n');
}

/** Text safe inside a zsh _arguments spec in single quotes. */
function zq(text: string): string {
  return text.replace(/([[\]:\\])/g, '\\$1').replace(/'/g, "'\\''");
}

function zshAction(v: { completes?: string; choices?: readonly string[] }): string {
  const k = valueKind(v);
  if (k.words) return `(${k.words.join(' ')})`;
  if (k.files) return '_files';
  return ' ';
}

function zshArg(a: ArgSpec, i: number): string {
  return `'${a.repeats ? '*' : String(i + 1)}:${zq(a.name)}:${zshAction(a)}'`;
}

function zshFlag(f: FlagSpec): string {
  const names = flagWords(f);
  const value = f.value ? `:${zq(f.value)}:${zshAction(f)}` : '';
  const text = `[${zq(f.help)}]${value}`;
  if (f.multiple) return names.map((n) => `'*${n}${text}'`).join(' ');
  if (names.length === 1) return `'${names[0]}${text}'`;
  return `'(${names.join(' ')})'{${names.join(',')}}'${text}'`;
}

/** zsh: works from fpath (as _pairctl) and when sourced. */
export function zshCompletion(): string {
  const out = ['#compdef pairctl', HEADER, '_pairctl() {', '  local -a commands', '  commands=('];
  for (const c of COMMANDS) out.push(`    '${c.name}:${c.summary.replace(/'/g, "'\\''").replace(/:/g, '\\:')}'`);
  out.push('  )', '  if (( CURRENT == 2 )); then', "    _describe 'command' commands", '    return', '  fi');
  out.push('  local cmd=${words[2]}', '  shift words', '  (( CURRENT-- ))', '  case $cmd in');
  for (const c of COMMANDS) {
    const specs = [...c.flags.map(zshFlag), "'(- *)--help[help for this command]'", ...c.args.map(zshArg)];
    out.push(`    ${c.name}) _arguments -s ${specs.join(' ')} ;;`);
  }
  out.push('  esac', '}', 'if [[ "${funcstack[1]}" == _pairctl ]]; then _pairctl "$@"; else compdef _pairctl pairctl; fi', '');
  return out.join('\n');
}

function fq(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** fish: one `complete` line per command and flag, conditioned on the command word. */
export function fishCompletion(): string {
  const out = [
    HEADER,
    'function __pairctl_no_command; test (count (commandline -opc)) -eq 1; end',
    'function __pairctl_command; set -l t (commandline -opc); test (count $t) -ge 2; and test "$t[2]" = "$argv[1]"; end',
    'complete -c pairctl -f',
    "complete -c pairctl -n __pairctl_no_command -l help -d 'help for pairctl'",
    "complete -c pairctl -n __pairctl_no_command -l version -d 'print the version'",
  ];
  for (const c of COMMANDS) out.push(`complete -c pairctl -n __pairctl_no_command -a ${c.name} -d ${fq(c.summary)}`);
  for (const c of COMMANDS) {
    const when = `-n '__pairctl_command ${c.name}'`;
    for (const f of c.flags) {
      const k = valueKind(f);
      const value = f.value ? (k.words ? ` -x -a ${fq(k.words.join(' '))}` : k.files ? ' -r -F' : ' -x') : '';
      out.push(`complete -c pairctl ${when}${f.short ? ` -s ${f.short}` : ''} -l ${f.name}${value} -d ${fq(f.help)}`);
    }
    out.push(`complete -c pairctl ${when} -l help -d 'help for this command'`);
    const arg = c.args[0];
    if (arg) {
      const k = valueKind(arg);
      if (k.words) out.push(`complete -c pairctl ${when} -a ${fq(k.words.join(' '))}`);
      else if (k.files) out.push(`complete -c pairctl ${when} -F`);
    }
  }
  return `${out.join('\n')}\n`;
}

const SCRIPTS: Record<(typeof SHELLS)[number], () => string> = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion };

/** Prints the script for the shell named; the shells' own docs say where to put it. */
export const completion: Command = async (args, io) => {
  const { positionals } = parseCommand('completion', args);
  const shell = positionals[0];
  if (!shell || positionals.length > 1) throw new UsageError(`usage: pairctl completion ${SHELLS.join('|')}`);
  const make = SCRIPTS[shell as keyof typeof SCRIPTS];
  if (!make) {
    const near = nearest(shell, SHELLS);
    throw new UsageError(`no completion for "${shell}"${near ? ` (did you mean ${near}?)` : ''}; shells: ${SHELLS.join(', ')}`);
  }
  io.stdout(make());
  return 0;
};

