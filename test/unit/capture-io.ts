/** A CliIO for unit tests of CLI commands: never interactive, and keeps what was printed. */
import type { CliIO } from '../../src/cli/io.js';

export function captureIo(env: NodeJS.ProcessEnv = {}): CliIO & { out: string; err: string } {
  const o = { out: '', err: '' };
  return Object.assign(o, {
    stdout: (t: string) => void (o.out += t),
    stderr: (t: string) => void (o.err += t),
    interactive: false,
    prompt: async () => '',
    env,
  });
}
