/**
 * Secrets pair.yaml points at (never holds): the values of the environment variables it names,
 * e.g. an ngrok authtoken, and the credentials of a GitHub Enterprise URL in $PAIRCTL_GITHUB_URL. A step may need one on the machine, so it can show up in a file's
 * diff or in a failing command's output; every line pairctl prints about a plan or an apply
 * passes through here first, so the value itself is never printed.
 */
import { urlCredentials } from '../config/key-source-url.js';
import type { PairConfig } from '../config/model.js';

/** Shorter values are not treated as secrets: replacing them would garble ordinary text. */
const MIN_SECRET_LENGTH = 8;

export const REDACTED = '(sensitive value)';

/** The secret values the config refers to, read from the environment pairctl runs in. */
export function secretValues(config: PairConfig, env: NodeJS.ProcessEnv): string[] {
  const names = new Set<string>();
  for (const h of config.hosts) if (h.tunnel?.authtokenEnv) names.add(h.tunnel.authtokenEnv);
  const github = [env.PAIRCTL_GITHUB_URL, config.githubUrl].flatMap((u) => (u ? urlCredentials(u) : []));
  const values = [...[...names].map((n) => env[n]), ...github].filter((v): v is string => typeof v === 'string' && v.length >= MIN_SECRET_LENGTH);
  // Longest first, so a secret containing another is replaced whole.
  return [...new Set(values)].sort((a, b) => b.length - a.length);
}

/** Replaces every occurrence of a secret value. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/** Wraps a writer so nothing it writes can carry a secret. */
export function redacting(write: (text: string) => void, secrets: readonly string[]): (text: string) => void {
  return secrets.length === 0 ? write : (text) => write(redact(text, secrets));
}
