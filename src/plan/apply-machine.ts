/**
 * Applies one machine's steps in a single exec. In order, on the machine:
 *
 * 1. take the machine's lock (one apply at a time; flock, so a dead run's lock dies with it) and
 *    write who holds it into the lock file, so a second apply can say who it waits for;
 * 2. read the machine again, exactly as the plan did, and refuse if anything changed since: a
 *    saved plan gone stale, or another apply that ran while this one waited for the lock;
 *    (apply --yes skips 1 and 2 where its plan took the lock in the shell that read the machine
 *    and that shell, still holding it, runs this script: nothing can have changed; lock.ts)
 * 3. widen the record to cover old and new resources (a failure half-way leaves nothing
 *    unaccounted for), run each step in its own `set -eu` subshell reporting through
 *    nonce-marked lines, stop at the first failure, and write the final record only when every
 *    step succeeded;
 * 4. still under the lock, run the probes of the facts other machines wait for (the tunnel key
 *    it just made), so what they get is what this apply left.
 *
 * When the connection drops, the script stops at its next progress line (it cannot report, so it
 * does not go on blind) and the holder line stays in the lock file: the next plan says the last
 * apply did not finish.
 */
import { randomBytes } from 'node:crypto';
import { RECORD_FILE, STATE_DIR } from '../graph/paths.js';
import { writeFileScript } from '../resources/file-state.js';
import type { Runner } from '../transport/runner.js';
import { sh } from '../transport/shell-quote.js';
import { LOCK_FILE, parseHolder, describeHolder, type LockHolder } from './lock.js';
import type { MachinePlan } from './plan-model.js';
import { wholeScript } from './probe-script.js';
import { recordText } from './record.js';

/** Progress reported while a machine is applied. */
export type ApplyEvent =
  | { type: 'begin'; machine: string; total: number }
  | { type: 'waiting'; machine: string; holder?: LockHolder }
  | { type: 'start'; machine: string; address: string; index: number; total: number }
  | { type: 'done'; machine: string; address: string; index: number; total: number }
  | { type: 'failed'; machine: string; address: string; output: string }
  | { type: 'end'; machine: string; ok: boolean };

/** What happened on one machine. */
export interface MachineApplyResult {
  machine: string;
  ok: boolean;
  /** steps that finished, in order */
  done: string[];
  failed?: { address: string; output: string };
  /** what the `settle` probes printed, by fact key, when the apply completed */
  facts?: Record<string, string>;
  /** the step that was running when the connection was lost: it may or may not have taken effect */
  interrupted?: string;
  /** steps never started because an earlier one failed, or the apply was refused or cut off */
  notStarted: string[];
  /** nothing was changed: the lock was not free in time, or the machine changed since the plan */
  refused?: 'locked' | 'stale';
  error?: string;
}

/** How an apply waits for the lock and names itself in it. */
export interface ApplyOptions {
  /** seconds to wait for another apply to finish; 0 fails at once */
  lockTimeoutSeconds?: number;
  /** who is applying, e.g. "pairctl pid 4242 on laptop as alice" (written into the lock file) */
  holder?: string;
  /** facts other machines wait for, read at the end under the lock (apply-all.ts) */
  settle?: FactRead[];
  /**
   * the runner's held shell took the lock before it read the machine for this plan, and still
   * holds it (lock.ts takeLock): the script goes into that shell and neither waits for the lock
   * nor reads the machine again
   */
  lockHeld?: boolean;
}

/** A fact probe run after the steps: its key, and the snippet that prints it. */
export interface FactRead {
  key: string;
  snippet: string;
}

/** Seconds a second apply waits for the machine's lock before giving up, unless told otherwise. */
export const DEFAULT_LOCK_TIMEOUT_SECONDS = 60;

/** Exit statuses of the apply script that mean "refused before changing anything". */
const EXIT_LOCKED = 75;
const EXIT_STALE = 76;

function recordScript(work: MachinePlan, final: boolean): string {
  return writeFileScript({
    path: RECORD_FILE,
    content: recordText(final ? work.record : work.interimRecord),
    mode: '0600',
    owner: 'root',
    group: 'root',
  });
}

/**
 * Repeats the plan's reads and sets $now to the sha256 of their output, markers stripped, as
 * observe hashed it; exported for tests.
 */
export function digestScript(work: MachinePlan): string {
  const runs = work.reads.scripts.map((s) => sh`printf '%s' ${Buffer.from(s, 'utf8').toString('base64')} | base64 -d | sh`);
  // Same lines out as digestInput (observe.ts): unhashed sections deleted, markers stripped.
  const skip = work.reads.nonces.flatMap((n, i) => (work.reads.unhashed[i] ?? []).map((k) => `/^@@pairctl-${n}-begin-${k}$/,/^@@pairctl-${n}-end-${k}-/d`));
  const strip = [...skip, ...work.reads.nonces.map((n) => `s/${n}//g`)].join('; ');
  return `pairctl_reads() {
${runs.join('\n')}
}
if command -v sha256sum >/dev/null 2>&1; then pairctl_sum() { sha256sum; }; else pairctl_sum() { shasum -a 256; }; fi
now=$(pairctl_reads | sed '${strip}' | pairctl_sum | cut -c1-64)`;
}

/** The lock: flock where there is one (Linux), else a directory whose holder's pid is checked. */
function lockScript(timeout: number): string {
  const wait = timeout > 0 ? `-w ${timeout}` : '-n';
  return `if command -v flock >/dev/null 2>&1; then
  exec 9>>"$lock"
  if ! flock -n 9; then
    mark "waiting-$(pairctl_holder)"
    if ! flock ${wait} 9; then mark "locked-$(pairctl_holder)"; exit ${EXIT_LOCKED}; fi
  fi
else
  # No flock (macOS): a lock directory; a holder whose process is gone has died, so its lock is taken over.
  i=0
  while ! mkdir "$lock.d" 2>/dev/null; do
    p=$(sed -n 's/^pid=//p' "$lock" 2>/dev/null)
    if [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; then rm -rf "$lock.d"; continue; fi
    [ $i -eq 0 ] && mark "waiting-$(pairctl_holder)"
    if [ $i -ge ${timeout} ]; then mark "locked-$(pairctl_holder)"; exit ${EXIT_LOCKED}; fi
    sleep 1; i=$((i+1))
  done
  trap 'rmdir "$lock.d" 2>/dev/null' EXIT
fi`;
}

/** Builds the one script that applies a machine's steps; exported for tests. */
export function applyScript(work: MachinePlan, nonce: string, opts: ApplyOptions = {}): string {
  const timeout = Math.max(0, Math.ceil(opts.lockTimeoutSeconds ?? DEFAULT_LOCK_TIMEOUT_SECONDS));
  const holder = opts.holder ?? 'pairctl';
  const teardown = work.record.length === 0;
  const parts = [
    sh`umask 022
lock=${LOCK_FILE}
mkdir -p ${STATE_DIR} && chmod 0700 ${STATE_DIR}
# A progress line that cannot be written means nobody hears the outcome: stop rather than go on blind.
mark() { printf '@@pairctl-${nonce}-%s\\n' "$1" || exit 74; }
pairctl_holder() { if [ -s "$lock" ]; then { cat "$lock"; p=$(sed -n 's/^pid=//p' "$lock"); if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then echo alive=yes; fi; } | base64 | tr -d '\\n'; fi; }
pairctl_release() { if [ -e "$lock" ]; then : > "$lock"; fi; }`,
    ...(opts.lockHeld ? [] : [lockScript(timeout)]),
    // Who holds the lock, at once: another apply may be waiting to say so.
    sh`printf 'pid=%s\\nclient=%s\\nstarted=%s\\n' "$$" ${holder} "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" > "$lock"`,
    ...(opts.lockHeld
      ? []
      : [digestScript(work), sh`if [ "$now" != ${work.stateDigest} ]; then mark stale; pairctl_release; exit ${EXIT_STALE}; fi`]),
    `( set -eu`,
    recordScript(work, false),
    `) 9>&- || { pairctl_release; exit 1; }`,
  ];
  work.steps.forEach((step, i) => {
    parts.push(
      `mark start-${i}`,
      `( set -eu\n${step.script}\n) 9>&- 2>&1`,
      `rc=$?; if [ $rc -ne 0 ]; then printf '\\n'; mark "fail-${i}-$rc"; pairctl_release; exit 1; fi`,
      `mark done-${i}`,
    );
  });
  // After a teardown nothing stays managed: its last step removed the record, so none is written.
  if (!teardown) parts.push(`( set -eu`, recordScript(work, true), `) 9>&- || { pairctl_release; exit 1; }`);
  (opts.settle ?? []).forEach((f, i) => parts.push(`mark fact-begin-${i}`, `( ${f.snippet}\n) 9>&- 2>&1`, `printf '\\n'; mark fact-end-${i}`));
  parts.push('pairctl_release');
  parts.push('mark complete');
  return wholeScript(parts.join('\n'));
}

/** Runs the steps on the machine, reporting progress as markers stream in. */
export async function applyMachine(
  work: MachinePlan,
  runner: Runner,
  onEvent: (e: ApplyEvent) => void,
  opts: ApplyOptions = {},
): Promise<MachineApplyResult> {
  const machine = work.machine;
  const total = work.steps.length;
  const nonce = randomBytes(8).toString('hex');
  const done: string[] = [];
  let failed: MachineApplyResult['failed'];
  let refused: MachineApplyResult['refused'];
  let lockHolder: LockHolder | undefined;
  let started = -1;
  let output: string[] = [];
  let buffer = '';
  let complete = false;
  const settle = opts.settle ?? [];
  const factsOut: Record<string, string> = {};
  let fact: string[] | undefined;
  const marker = `@@pairctl-${nonce}-`;
  const onMarker = (body: string): void => {
    const [what, index, ...rest] = body.split('-');
    if (what === 'fact') {
      const f = settle[Number(rest[0])];
      if (index === 'begin') fact = [];
      else if (f && fact) {
        if (fact.at(-1) === '') fact.pop(); // the newline printed before the end marker
        factsOut[f.key] = fact.join('\n');
        fact = undefined;
      }
      return;
    }
    if (what === 'complete') complete = true;
    else if (what === 'stale') refused = 'stale';
    else if (what === 'waiting' || what === 'locked') {
      lockHolder = parseHolder(Buffer.from([index, ...rest].join('-'), 'base64').toString('utf8'));
      if (what === 'locked') refused = 'locked';
      else onEvent({ type: 'waiting', machine, holder: lockHolder });
    }
    const step = work.steps[Number(index)];
    if (!step) return;
    if (what === 'start') {
      started = Number(index);
      output = [];
      onEvent({ type: 'start', machine, address: step.address, index: Number(index), total });
    } else if (what === 'done') {
      done.push(step.address);
      onEvent({ type: 'done', machine, address: step.address, index: Number(index), total });
    } else if (what === 'fail') {
      failed = { address: step.address, output: output.join('\n').trim() };
      onEvent({ type: 'failed', machine, address: step.address, output: failed.output });
    }
  };
  // A step's output may lack a final newline, so a marker can follow other text on its line.
  const onLine = (line: string): void => {
    const at = line.indexOf(marker);
    if (at < 0) {
      (fact ?? output).push(line);
      return;
    }
    if (at > 0) (fact ?? output).push(line.slice(0, at));
    onMarker(line.slice(at + marker.length));
  };
  onEvent({ type: 'begin', machine, total });
  let error: string | undefined;
  try {
    const res = await runner.exec(applyScript(work, nonce, opts), {
      onStdout: (chunk) => {
        buffer += chunk;
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        lines.forEach(onLine);
      },
    });
    if (buffer) onLine(buffer);
    if (refused === 'locked') {
      error = `another pairctl apply holds the lock on ${machine}${lockHolder ? ` (${describeHolder(lockHolder)})` : ''}; gave up after ${opts.lockTimeoutSeconds ?? DEFAULT_LOCK_TIMEOUT_SECONDS} s. Nothing was changed. Wait for it to finish, or pass --lock-timeout with a longer wait`;
    } else if (refused === 'stale') {
      error = `${machine} changed since this plan read it (another apply, or a change by hand); nothing was changed. Run pairctl plan again`;
    } else if (!complete && !failed) {
      error = res.stderr.trim() || `apply script ended with exit ${res.code} before finishing`;
    }
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  let interrupted: string | undefined;
  const inFlight = started >= 0 ? work.steps[started] : undefined;
  if (!complete && !failed && inFlight && !done.includes(inFlight.address)) interrupted = inFlight.address;
  const notStarted = work.steps.slice(started + 1).map((s) => s.address);
  const ok = complete && !failed;
  onEvent({ type: 'end', machine, ok });
  const facts = ok && settle.length > 0 && settle.every((f) => f.key in factsOut) ? factsOut : undefined;
  return { machine, ok, done, failed, interrupted, notStarted, refused, error, ...(facts ? { facts } : {}) };
}
