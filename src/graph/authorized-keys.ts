/**
 * A guest's authorized_keys lines. Each key is locked with `restrict,pty,command=…` so the
 * only thing it can do is run the join program in a terminal; `expiry-time` and `from` narrow it
 * further. Values here were validated by config/ (bare keys, CIDRs without quotes or commas).
 */
import type { Guest } from '../config/model.js';
import { JOIN_PROGRAM } from './paths.js';

/** OpenSSH's expiry-time in UTC ("YYYYMMDDHHMMZ"; the Z makes it independent of the host's zone). */
export function expiryTime(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getUTCFullYear()}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}${p(date.getUTCHours())}${p(date.getUTCMinutes())}Z`;
}

/** The option list every key line of this guest carries. */
export function keyOptions(guest: Guest): string {
  const options = ['restrict', 'pty', `command="${JOIN_PROGRAM}"`];
  if (guest.expires) options.push(`expiry-time="${expiryTime(guest.expires)}"`);
  if (guest.from.length > 0) options.push(`from="${guest.from.join(',')}"`);
  return options.join(',');
}

/** One line per key; the comment names the guest, never text copied from the config. */
export function authorizedKeyLines(guest: Guest): string[] {
  const options = keyOptions(guest);
  return guest.keys.map((k, i) => `${options} ${k.type} ${k.base64} pairctl:${guest.name}:${i + 1}`);
}

/** Keeps a comment on one printable line, whatever a URL or environment variable held. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

/**
 * Each key line preceded by a comment with its fingerprint and where it came from (pair.yaml, or
 * the GitHub URL it was fetched from at plan time), so the plan's diff shows every key that will
 * be let in by the fingerprint a person can compare with `ssh-keygen -lf`.
 */
export function authorizedKeyEntries(guest: Guest): string[] {
  const lines = authorizedKeyLines(guest);
  return guest.keys.flatMap((k, i) => [
    `# key ${i + 1}: ${k.type} ${k.fingerprint} from ${printable(k.origin ?? 'pair.yaml')}`,
    lines[i]!,
  ]);
}
