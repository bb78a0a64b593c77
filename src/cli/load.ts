/** Loads pair.yaml for a command, printing every diagnostic; nothing is contacted before it passes. */
import { formatDiagnostic } from '../config/diagnostic.js';
import { loadConfig } from '../config/load-config.js';
import type { PairConfig } from '../config/model.js';
import type { CliIO } from './io.js';

/** The config when it is valid (warnings printed), else undefined after printing the errors. */
export async function loadOrReport(file: string, io: CliIO): Promise<PairConfig | undefined> {
  const { config, diagnostics } = await loadConfig(file);
  for (const d of diagnostics) io.stderr(`${formatDiagnostic(d)}\n`);
  return config;
}

/** The ssh config to use: -F, else $PAIRCTL_SSH_CONFIG, else OpenSSH's default. */
export function sshConfigFrom(flag: string | undefined, io: CliIO): string | undefined {
  return flag ?? (io.env.PAIRCTL_SSH_CONFIG || undefined);
}

/** Colour only on a terminal, and never with NO_COLOR or --no-color. */
export function useColor(io: CliIO, noColorFlag: unknown): boolean {
  return io.interactive && !noColorFlag && !io.env.NO_COLOR;
}
