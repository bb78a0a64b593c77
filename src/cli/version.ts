/** `pairctl version` / `--version`: which pairctl this is, from the package.json it ships in. */
import { readFileSync } from 'node:fs';
import type { Command } from './io.js';

/** The package's version; src/cli and dist/cli are both two levels below package.json. */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const version: Command = async (_args, io) => {
  io.stdout(`pairctl ${packageVersion()} (node ${process.versions.node})\n`);
  return 0;
};
