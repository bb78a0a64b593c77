#!/usr/bin/env node
/** Entry point: maps the first argument to one file per command and turns errors into exit codes. */
import { realpathSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { fileURLToPath } from 'node:url';
import type { CliIO, Command } from './io.js';
import { UsageError } from './io.js';

const commands: Record<string, () => Promise<Command>> = {
  validate: async () => (await import('./validate.js')).validate,
  lint: async () => (await import('./lint.js')).lint,
  schema: async () => (await import('./schema.js')).schema,
  plan: async () => (await import('./plan.js')).plan,
  apply: async () => (await import('./apply.js')).apply,
  destroy: async () => (await import('./destroy.js')).destroy,
  up: async () => (await import('./up.js')).up,
  down: async () => (await import('./down.js')).down,
  join: async () => (await import('./join.js')).join,
};

const usage = `usage: pairctl <command> [options]

commands:
  validate -f FILE      check pair.yaml; nothing is contacted
  lint [FILE...]        every problem of each file (--format text|json|github|sarif, --strict, --online)
  schema                print the JSON schema of pair.yaml
  plan -f FILE          read every machine and show what apply would change
                        (-o PLANFILE saves it; --json; --limit ID; --destroy; --detailed-exitcode)
  apply -f FILE [--yes] show the plan, then make it so (--limit ID, --lock-timeout 60s, --json)
  apply PLANFILE        apply exactly a saved plan, or refuse it if anything changed since
  destroy -f FILE       remove everything pairctl made on the machines, putting back files it
                        replaced (--host ID, --yes, --json); packages stay installed
  up -f FILE            start the shared tmux session and grant each guest its mode
  down -f FILE          end the shared session
  join GUEST -f FILE    print the ssh command a guest runs

common options:
  -f, --file FILE       pair.yaml to read (default: ./pair.yaml)
  -F, --ssh-config FILE ssh client config to use instead of ~/.ssh/config
`;

/** Runs one pairctl invocation; exported so tests can drive the CLI in-process. */
export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    io.stdout(usage);
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    io.stderr(`pairctl: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  try {
    return await (await load())(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`pairctl ${name}: ${err.message}\n`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.stderr(`pairctl ${name}: ${message}\n`);
    if (io.env.PAIRCTL_DEBUG && err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
    return 1;
  }
}

function processIO(): CliIO {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
    prompt: async (q) => {
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      try {
        return await rl.question(q);
      } finally {
        rl.close();
      }
    },
    env: process.env,
  };
}

/** True when node was started on this file, directly or through npm's bin symlink. */
function isEntry(): boolean {
  try {
    return Boolean(process.argv[1]) && realpathSync(process.argv[1]!) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntry()) {
  main(process.argv.slice(2), processIO()).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`pairctl: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
