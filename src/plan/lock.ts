/**
 * The per-machine apply lock's holder line. The lock itself is flock(1) on the file, so it dies
 * with the process that took it; the file's text says who that was (the shell's pid there, the
 * pairctl that started it, when), is emptied when an apply ends normally, and is left behind
 * when one is cut off. So a waiting apply can name who it waits for, and a plan can say that the
 * last apply did not finish.
 */
import { STATE_DIR } from '../graph/paths.js';
import type { Runner } from '../transport/runner.js';
import { sh } from '../transport/shell-quote.js';
import { wholeScript } from './probe-script.js';

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

/**
 * Takes the lock in the shell that then reads the machine, only where it is free at once (flock
 * -n; macOS has no flock), and prints `held` when it did: fd 9 stays open in that shell, which
 * the runner keeps for the apply (ExecOptions.hold), so the lock covers the read and the apply and
 * the apply need not read again. A busy lock is left to the apply script, which waits for it and
 * reads again (apply-machine.ts). Nothing is created: no state directory means no lock to take.
 */
export const TAKE_LOCK_SCRIPT = wholeScript(sh`pairctl_lock=free
if [ -d ${STATE_DIR} ] && command -v flock >/dev/null 2>&1 && (: >>${LOCK_FILE}) 2>/dev/null; then
  exec 9>>${LOCK_FILE}
  if flock -n 9; then pairctl_lock=held; else exec 9>&-; pairctl_lock=busy; fi
fi
printf '%s\n' "$pairctl_lock"`);

/**
 * Takes the lock in a held shell (TAKE_LOCK_SCRIPT); true when it is held. Its exec is written
 * at once, and the probe right after it into the same shell: both go out in one flight.
 */
export function takeLock(runner: Runner): Promise<boolean> {
  return runner.exec(TAKE_LOCK_SCRIPT, { hold: true }).then((r) => r.code === 0 && r.stdout === 'held\n');
}

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
