#!/usr/bin/env node
/** Entry point: maps the first argument to one file per command (commands.ts) and turns errors into exit codes. */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CliIO } from './io.js';
import { UsageError } from './io.js';
import { COMMANDS, commandSpec, nearest } from './commands.js';
import { restoreExtraCaVariable } from '../transport/extra-ca-env.js';

/** argv holds a request for help before any `--`. */
function asksHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '-h' || a === '--help');
}

/** Runs one pairctl invocation; exported so tests can drive the CLI in-process. */
export async function main(argv: string[], io: CliIO): Promise<number> {
  const [first, ...rest] = argv;
  let name = first;
  let args = rest;
  if (name === '--version' || name === '-V') name = 'version';
  if (!name || name === '-h' || name === '--help') {
    const { globalHelp } = await import('./help.js');
    (name ? io.stdout : io.stderr)(globalHelp());
    return name ? 0 : 2;
  }
  const spec = commandSpec(name);
  if (!spec) {
    const near = nearest(name, COMMANDS.map((c) => c.name));
    io.stderr(`pairctl: unknown command "${name}"${near ? ` (did you mean "${near}"?)` : ''}; pairctl --help lists the commands\n`);
    return 2;
  }
  if (name !== 'help' && asksHelp(args)) {
    name = 'help';
    args = [spec.name];
  }
  try {
    return await (await (commandSpec(name) ?? spec).load())(args, io);
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
    // A getter: touching process.stdin sets up its stream (~10 ms), which most commands never read.
    get interactive() {
      return Boolean(process.stdin.isTTY && process.stdout.isTTY);
    },
    prompt: async (q) => {
      // Loaded only when asked: --version and --help should not pay for readline.
      const { createInterface } = await import('node:readline/promises');
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      try {
        return await rl.question(q);
      } finally {
        rl.close();
      }
    },
    env: process.env,
    columns: () => (process.stdout.isTTY ? process.stdout.columns : undefined),
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

/**
 * Runs the process's command line and exits with its code. The installed bin (the build's
 * dist/cli/main.js, scripts/bundle.mjs) loads the bundle and calls this.
 */
export function start(): void {
  // Before anything could start a child process: the bin moved the variable for node's start only.
  restoreExtraCaVariable();
  main(process.argv.slice(2), processIO()).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`pairctl: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}

if (isEntry()) start();
