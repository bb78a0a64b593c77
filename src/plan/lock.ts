/**
 * The per-machine apply lock's holder line. The lock itself is flock(1) on the file, so it dies
 * with the process that took it; the file's text says who that was (the shell's pid there, the
 * pairctl that started it, when), is emptied when an apply ends normally, and is left behind
 * when one is cut off. So a waiting apply can name who it waits for, and a plan can say that the
 * last apply did not finish.
 */
import { STATE_DIR } from '../graph/paths.js';
import { sh } from '../transport/shell-quote.js';

export const LOCK_FILE = `${STATE_DIR}/lock`;

/** Who holds (or last held) a machine's lock. */
export interface LockHolder {
  /** pid of the apply's shell on the machine */
  pid?: string;
  /** the pairctl run that started it, e.g. "pairctl pid 4242 on laptop as alice" */
  client?: string;
  /** UTC time the lock was taken, ISO 8601 */
  started?: string;
  /** that shell is still running */
  alive: boolean;
}

/** Prints the holder lines and `alive=yes` when that process still runs; nothing when the lock is free. */
export const HOLDER_PROBE = sh`l=${LOCK_FILE}
if [ -s "$l" ]; then
  grep -E '^(pid|client|started)=' "$l"
  p=$(sed -n 's/^pid=//p' "$l")
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then echo alive=yes; fi
fi`;

/** Parses the holder lines (from the lock file or HOLDER_PROBE); undefined when there are none. */
export function parseHolder(text: string): LockHolder | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) fields.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  if (!fields.has('pid') && !fields.has('client')) return undefined;
  return { pid: fields.get('pid'), client: fields.get('client'), started: fields.get('started'), alive: fields.get('alive') === 'yes' };
}

/** One phrase naming the holder, for messages. */
export function describeHolder(h: LockHolder): string {
  const who = h.client ?? 'an unknown pairctl';
  const since = h.started ? `, since ${h.started}` : '';
  const pid = h.pid ? `; its shell there is pid ${h.pid}` : '';
  const state = h.alive ? ', still running' : ', no longer running';
  return `${who}${since}${pid}${state}`;
}

/** The plan's warning about a holder line found on the machine, or undefined. */
export function holderWarning(machine: string, h: LockHolder | undefined): string | undefined {
  if (!h) return undefined;
  if (h.alive) {
    return `an apply is running on ${machine} right now (${describeHolder(h)}); this plan may be out of date when it finishes, and an apply waits for it`;
  }
  return `the last apply on ${machine} did not finish (${describeHolder(h)}): its connection was lost or it was killed. This plan includes whatever it left undone`;
}

/** "pairctl pid N on HOST as USER": what this process writes into a lock it takes. */
export function holderName(pid: number, host: string, user: string): string {
  // One line in the lock file: no control characters from odd host or user names.
  const clean = (s: string): string => s.replace(/[\x00-\x1f\x7f]/g, '?');
  return `pairctl pid ${pid} on ${clean(host)} as ${clean(user)}`;
}
