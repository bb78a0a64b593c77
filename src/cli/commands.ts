/**
 * The one table of pairctl's commands and their flags. The parser (args.ts), the help text
 * (help.ts), "did you mean" and the shell completions (completion.ts) are all read from it, so a
 * flag added here is parsed, documented and completed at once. Kept free of imports that cost
 * anything: `pairctl --version` loads only this file and main.ts.
 */
import type { Command } from './io.js';

/** What the shells should offer for a value (completion.ts). */
export type Completes = 'file' | 'guest' | 'host' | 'command' | 'shell' | 'none';

/** One flag of a command. */
export interface FlagSpec {
  name: string;
  short?: string;
  /** the value's placeholder in help (FILE, ID); absent for a boolean flag */
  value?: string;
  multiple?: boolean;
  /** the only values it takes, offered by completion */
  choices?: readonly string[];
  completes?: Completes;
  help: string;
}

/** One positional argument, as help shows it. */
export interface ArgSpec {
  name: string;
  optional?: boolean;
  repeats?: boolean;
  completes?: Completes;
  choices?: readonly string[];
}

/** One command: what it does, what it takes, how it is used, and where its code is. */
export interface CommandSpec {
  name: string;
  summary: string;
  args: ArgSpec[];
  flags: FlagSpec[];
  /** one or two command lines a new user would type, each with what it does */
  examples: Array<[string, string]>;
  load: () => Promise<Command>;
}

/** -f and -F, which every command that reads pair.yaml takes. */
export const FILE_FLAG: FlagSpec = { name: 'file', short: 'f', value: 'FILE', completes: 'file', help: 'pair.yaml to read (default: ./pair.yaml)' };
export const SSH_CONFIG_FLAG: FlagSpec = {
  name: 'ssh-config',
  short: 'F',
  value: 'FILE',
  completes: 'file',
  help: 'ssh client config to use instead of ~/.ssh/config (or $PAIRCTL_SSH_CONFIG)',
};
const COMMON = [FILE_FLAG, SSH_CONFIG_FLAG];
const NO_COLOR: FlagSpec = { name: 'no-color', help: 'no colours (also when NO_COLOR is set or output is not a terminal)' };
const JSON_FLAG: FlagSpec = { name: 'json', help: 'print the plan (and outcome) as one JSON document (docs/plan-json.md)' };
const YES: FlagSpec = { name: 'yes', short: 'y', help: 'do not ask for confirmation' };
const LOCK_TIMEOUT: FlagSpec = { name: 'lock-timeout', value: 'DURATION', help: 'wait this long for another apply to finish (90, 90s, 2m; default 60s)' };
export const PROVIDERS = ['lan', 'vps', 'jump', 'ngrok'] as const;
export const SHELLS = ['bash', 'zsh', 'fish'] as const;

/** Every command, in the order help lists them. */
export const COMMANDS: CommandSpec[] = [
  {
    name: 'init',
    summary: 'write a commented pair.yaml for this machine, ready to plan',
    args: [],
    flags: [
      { name: 'file', short: 'f', value: 'FILE', completes: 'file', help: 'where to write it (default: ./pair.yaml); never overwritten' },
      { name: 'guest', value: 'NAME', help: 'the first guest (default: the --github user)' },
      { name: 'github', value: 'USER', help: "the guest's keys are those published at github.com/USER.keys" },
      { name: 'key', value: 'PUBKEY', multiple: true, help: "a public key line of the guest's, as in their ~/.ssh/id_ed25519.pub" },
      { name: 'mode', value: 'MODE', choices: ['mirror', 'pair', 'rogue'], help: 'what the guest may do: mirror (watch, default), pair or rogue' },
      { name: 'provider', value: 'NAME', choices: PROVIDERS, help: 'how guests reach this machine: lan (default), vps, jump or ngrok' },
      { name: 'relay', value: '[USER@]HOST', help: 'vps and jump: the relay machine with a public address' },
      { name: 'owner', value: 'USER', help: 'the account whose session guests join (default: you, or $SUDO_USER under sudo)' },
    ],
    examples: [
      ['pairctl init --guest todd --github toddtrees', 'pair.yaml for this machine, with the guest todd (keys from GitHub)'],
      ['pairctl init --github toddtrees --provider vps --relay me@vps.example.com', 'guests come in through a relay'],
    ],
    load: async () => (await import('./init.js')).init,
  },
  {
    name: 'validate',
    summary: 'check pair.yaml; nothing is contacted',
    args: [],
    flags: [...COMMON],
    examples: [['pairctl validate -f pair.yaml', 'exit 0 when the file is valid']],
    load: async () => (await import('./validate.js')).validate,
  },
  {
    name: 'lint',
    summary: 'every problem of each file, with its rule',
    args: [{ name: 'FILE', optional: true, repeats: true, completes: 'file' }],
    flags: [
      ...COMMON,
      { name: 'format', value: 'FORMAT', choices: ['text', 'json', 'github', 'sarif'], help: 'text (default), json, github (annotations) or sarif' },
      { name: 'strict', help: 'warnings fail too' },
      { name: 'online', help: "also fetch guests' GitHub keys and check them" },
    ],
    examples: [
      ['pairctl lint', 'check ./pair.yaml'],
      ['pairctl lint --format github pair.yaml', 'annotations for a GitHub Actions log'],
    ],
    load: async () => (await import('./lint.js')).lint,
  },
  {
    name: 'schema',
    summary: 'print the JSON schema of pair.yaml, or write it beside the file',
    args: [],
    flags: [{ name: 'write', value: 'PATH', completes: 'file', help: 'write it to PATH (e.g. pair.schema.json) instead of printing it' }],
    examples: [
      ['pairctl schema --write pair.schema.json', "what pair.yaml's $schema line points at"],
    ],
    load: async () => (await import('./schema.js')).schema,
  },
  {
    name: 'plan',
    summary: 'read every machine and show what apply would change; changes nothing',
    args: [],
    flags: [
      ...COMMON,
      { name: 'out', short: 'o', value: 'PLANFILE', completes: 'file', help: 'save the plan; pairctl apply PLANFILE applies exactly it' },
      JSON_FLAG,
      { name: 'limit', value: 'ID', multiple: true, completes: 'host', help: 'only these machines (repeat, or a,b)' },
      { name: 'destroy', help: 'plan the removal of everything pairctl made' },
      { name: 'detailed-exitcode', help: 'exit 2 when there are changes, 0 when none, 1 on error' },
      NO_COLOR,
    ],
    examples: [
      ['pairctl plan', 'what apply would change on every machine'],
      ['pairctl plan -o tonight.plan', 'save it, then: pairctl apply tonight.plan'],
    ],
    load: async () => (await import('./plan.js')).plan,
  },
  {
    name: 'apply',
    summary: 'show the plan, then make it so (or apply exactly a saved plan)',
    args: [{ name: 'PLANFILE', optional: true, completes: 'file' }],
    flags: [
      ...COMMON,
      YES,
      JSON_FLAG,
      { name: 'limit', value: 'ID', multiple: true, completes: 'host', help: 'only these machines (repeat, or a,b)' },
      LOCK_TIMEOUT,
      NO_COLOR,
    ],
    examples: [
      ['pairctl apply', 'show the plan, ask, then change every machine'],
      ['pairctl apply tonight.plan', 'apply a saved plan, or refuse it if anything changed since'],
    ],
    load: async () => (await import('./apply.js')).apply,
  },
  {
    name: 'show',
    summary: 'print a saved plan file',
    args: [{ name: 'PLANFILE', completes: 'file' }],
    flags: [{ ...JSON_FLAG, help: 'as the JSON document plan --json prints' }, NO_COLOR],
    examples: [['pairctl show tonight.plan', 'what pairctl apply tonight.plan would do']],
    load: async () => (await import('./show.js')).show,
  },
  {
    name: 'destroy',
    summary: 'remove everything pairctl made, putting back files it replaced',
    args: [],
    flags: [
      ...COMMON,
      { name: 'host', value: 'ID', multiple: true, completes: 'host', help: 'only these machines (repeat, or a,b)' },
      YES,
      JSON_FLAG,
      LOCK_TIMEOUT,
      NO_COLOR,
    ],
    examples: [['pairctl destroy', 'show what goes, ask, remove it; packages stay installed']],
    load: async () => (await import('./destroy.js')).destroy,
  },
  {
    name: 'up',
    summary: 'start the shared tmux session and let each guest in with its mode',
    args: [],
    flags: [...COMMON, { name: 'for', value: 'DURATION', help: 'end the session by itself after this long (90m, 2h); warns 5 minutes before' }],
    examples: [
      ['pairctl up', 'guests can join once it says so'],
      ['pairctl up --for 90m', 'and it ends by itself in 90 minutes'],
    ],
    load: async () => (await import('./up.js')).up,
  },
  {
    name: 'down',
    summary: 'end the shared session (disconnects every guest)',
    args: [],
    flags: [...COMMON],
    examples: [['pairctl down', '']],
    load: async () => (await import('./down.js')).down,
  },
  {
    name: 'status',
    summary: 'who is in the shared session on each host: mode as enforced, since when, idle, size, from where',
    args: [],
    flags: [
      ...COMMON,
      { name: 'host', value: 'ID', multiple: true, completes: 'host', help: 'only these hosts (repeat, or a,b)' },
      { name: 'json', help: 'one JSON document (docs/status-json.md)' },
    ],
    examples: [
      ['pairctl status', 'each host: session running?, each guest connected or not'],
      ['pairctl status --json', 'the same as data, with format_version'],
    ],
    load: async () => (await import('./status.js')).status,
  },
  {
    name: 'log',
    summary: 'the audit log of every host: joins, leaves, refusals (with key fingerprints), kicks, mode changes, up, down',
    args: [],
    flags: [
      ...COMMON,
      { name: 'host', value: 'ID', multiple: true, completes: 'host', help: 'only these hosts (repeat, or a,b)' },
      { name: 'since', value: 'TIME', help: 'only entries since then: an age (30m, 2h, 7d) or an ISO date/time (UTC unless it gives a zone)' },
      { name: 'json', help: 'one JSON document (docs/log-json.md)' },
    ],
    examples: [
      ['pairctl log --since 1h', 'what happened on every host in the last hour, oldest first'],
      ['pairctl log --json', 'the same as data, with format_version'],
    ],
    load: async () => (await import('./log.js')).log,
  },
  {
    name: 'recordings',
    summary: 'list the session recordings on each host (session.record): file, start, duration, size',
    args: [],
    flags: [
      ...COMMON,
      { name: 'host', value: 'ID', multiple: true, completes: 'host', help: 'only these hosts (repeat, or a,b)' },
      { name: 'json', help: 'one JSON document (docs/recordings-json.md)' },
    ],
    examples: [
      ['pairctl recordings', 'each host: its recordings, oldest first'],
      ['sudo asciinema play /var/lib/pairctl/recordings/FILE', 'on the host: replay one'],
    ],
    load: async () => (await import('./recordings.js')).recordings,
  },
  {
    name: 'kick',
    summary: "end a guest's connection now; with --for, keep them out until then (or the next up)",
    args: [{ name: 'GUEST', completes: 'guest' }],
    flags: [...COMMON, { name: 'for', value: 'DURATION', help: 'may not rejoin for this long (90s, 30m, 2h, 1d)' }],
    examples: [
      ['pairctl kick todd', 'todd is detached and disconnected; may join again'],
      ['pairctl kick todd --for 30m', 'and may not join again for 30 minutes'],
    ],
    load: async () => (await import('./kick.js')).kick,
  },
  {
    name: 'mode',
    summary: "change a guest's enforced mode live (until the next up or apply)",
    args: [{ name: 'GUEST', completes: 'guest' }, { name: 'MODE', choices: ['mirror', 'pair'] }],
    flags: [...COMMON],
    examples: [['pairctl mode ann mirror', "ann's keystrokes stop reaching the session at once"]],
    load: async () => (await import('./mode.js')).mode,
  },
  {
    name: 'join',
    summary: 'print the ssh command a guest runs to join',
    args: [{ name: 'GUEST', completes: 'guest' }],
    flags: [...COMMON, { name: 'host', value: 'ID', completes: 'host', help: 'for this host only' }],
    examples: [['pairctl join todd', 'send todd what it prints']],
    load: async () => (await import('./join.js')).join,
  },
  {
    name: 'completion',
    summary: 'print the shell completion script for bash, zsh or fish',
    args: [{ name: 'SHELL', choices: SHELLS, completes: 'shell' }],
    flags: [],
    examples: [
      ['source <(pairctl completion bash)', 'in ~/.bashrc'],
      ['pairctl completion fish > ~/.config/fish/completions/pairctl.fish', ''],
    ],
    load: async () => (await import('./completion.js')).completion,
  },
  {
    name: 'version',
    summary: "print pairctl's version",
    args: [],
    flags: [],
    examples: [['pairctl --version', 'the same']],
    load: async () => (await import('./version.js')).version,
  },
  {
    name: 'help',
    summary: 'help for pairctl or for one command',
    args: [{ name: 'COMMAND', optional: true, completes: 'command' }],
    flags: [],
    examples: [['pairctl help plan', 'the same as pairctl plan --help']],
    load: async () => (await import('./help.js')).help,
  },
];

/** The command of this name, if there is one. */
export function commandSpec(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Edit distance with transpositions (optimal string alignment): "pln" → "plan" is 1, "paln" → "plan" 1. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

/** The closest of `names` to `word`, when it is close enough to be what was meant (a prefix counts). */
export function nearest(word: string, names: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  const prefixed = names.filter((n) => w.length >= 2 && n.startsWith(w));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const d = distance(w, n);
    if (d < bestD) [best, bestD] = [n, d];
  }
  return best !== undefined && bestD <= Math.max(1, Math.min(2, Math.floor(best.length / 3))) ? best : undefined;
}
