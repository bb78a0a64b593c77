/** Runs the built pairctl binary the way a user does, for end-to-end tests. */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `pairctl ARGS` with no terminal; never throws on a non-zero exit. */
export async function pairctl(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const r = await execa('node', [BIN, ...args], { reject: false, env: { ...env, NO_COLOR: '1' }, stdin: 'ignore', timeout: 120_000 });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
