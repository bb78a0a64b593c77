/** Loads pair.yaml for a command, printing every diagnostic; nothing is contacted before it passes. */
import { formatDiagnostic } from '../config/diagnostic.js';
import { loadConfig } from '../config/load-config.js';
import type { PairConfig } from '../config/model.js';
import { UsageError, type CliIO } from './io.js';

/** The config when it is valid (warnings printed), else undefined after printing the errors. */
export async function loadOrReport(file: string, io: CliIO): Promise<PairConfig | undefined> {
  const { config, diagnostics } = await loadConfig(file);
  for (const d of diagnostics) io.stderr(`${formatDiagnostic(d)}\n`);
  return config;
}

/**
 * loadOrReport, then each guest's `github:` keys fetched and checked (config/github-keys.ts), for
 * plan and apply: the keys a plan shows are the keys it applies. Commands that stay offline
 * (join, up, down) keep loadOrReport. Nothing is fetched when no guest names a GitHub account.
 */
export async function loadResolvedOrReport(file: string, io: CliIO): Promise<PairConfig | undefined> {
  const config = await loadOrReport(file, io);
  if (!config || !config.guests.some((g) => g.github !== undefined)) return config;
  const { githubBaseUrl, resolveGithubKeys } = await import('../config/github-keys.js');
  const resolved = await resolveGithubKeys(config, { baseUrl: githubBaseUrl(config, io.env) });
  for (const d of resolved.diagnostics) io.stderr(`${formatDiagnostic(d)}\n`);
  return resolved.config;
}

/** The ssh config to use: -F, else $PAIRCTL_SSH_CONFIG, else OpenSSH's default. */
export function sshConfigFrom(flag: string | undefined, io: CliIO): string | undefined {
  return flag ?? (io.env.PAIRCTL_SSH_CONFIG || undefined);
}

/** Colour only on a terminal, and never with NO_COLOR or --no-color. */
export function useColor(io: CliIO, noColorFlag: unknown): boolean {
  return io.interactive && !noColorFlag && !io.env.NO_COLOR;
}

/** A flag that may be repeated and may hold a comma-separated list (--limit a,b --limit c). */
export function listFlag(value: unknown): string[] | undefined {
  const items = (Array.isArray(value) ? value : typeof value === 'string' ? [value] : [])
    .flatMap((v: unknown) => String(v).split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  return items.length > 0 ? [...new Set(items)] : undefined;
}

/** Seconds from --lock-timeout: "90", "90s", "2m" or "0" (fail at once when the lock is taken). */
export function parseDuration(flag: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const m = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(String(value).trim());
  if (!m) throw new UsageError(`${flag} takes a duration such as 90, 90s or 2m, not "${String(value)}"`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}
