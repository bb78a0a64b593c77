/**
 * Applies one machine's steps in a single exec. The record is first widened to cover both old
 * and new resources (so a failure half-way leaves nothing unaccounted for), each step runs in
 * its own `set -eu` subshell and reports through nonce-marked lines, the first failure stops
 * the rest, and the final record is written only when every step succeeded.
 */
import { randomBytes } from 'node:crypto';
import { RECORD_FILE, STATE_DIR } from '../graph/paths.js';
import { writeFileScript } from '../resources/file-state.js';
import type { Runner } from '../transport/runner.js';
import { sh } from '../transport/shell-quote.js';
import type { MachineWork } from './plan-machine.js';
import { wholeScript } from './probe-script.js';
import { recordText } from './record.js';

/** Progress reported while a machine is applied. */
export type ApplyEvent =
  | { type: 'start'; machine: string; address: string }
  | { type: 'done'; machine: string; address: string }
  | { type: 'failed'; machine: string; address: string; output: string };

/** What happened on one machine. */
export interface MachineApplyResult {
  machine: string;
  ok: boolean;
  done: string[];
  failed?: { address: string; output: string };
  /** steps never started because an earlier one failed or the connection dropped */
  notStarted: string[];
  error?: string;
}

/** Seconds a second apply waits for the machine's lock before giving up. */
const LOCK_WAIT_SECONDS = 60;

function recordScript(work: MachineWork, final: boolean): string {
  return writeFileScript({
    path: RECORD_FILE,
    content: recordText(final ? work.record : work.interimRecord),
    mode: '0600',
    owner: 'root',
    group: 'root',
  });
}

/** Builds the one script that applies a machine's steps; exported for tests. */
export function applyScript(work: MachineWork, nonce: string): string {
  const parts = [
    sh`umask 022
install -d -m 0700 -o root -g root ${STATE_DIR}
exec 9>${STATE_DIR + '/lock'}
if command -v flock >/dev/null 2>&1 && ! flock -w ${LOCK_WAIT_SECONDS} 9; then echo "pairctl: another apply holds the lock on this machine" >&2; exit 75; fi
( set -eu`,
    recordScript(work, false),
    `)  || exit 1`,
  ];
  work.steps.forEach((step, i) => {
    parts.push(
      `printf '@@pairctl-${nonce}-start-${i}\\n'`,
      `( set -eu\n${step.script}\n) 2>&1`,
      `rc=$?; if [ $rc -ne 0 ]; then printf '\\n@@pairctl-${nonce}-fail-${i}-%s\\n' "$rc"; exit 1; fi`,
      `printf '@@pairctl-${nonce}-done-${i}\\n'`,
    );
  });
  parts.push(`( set -eu`, recordScript(work, true), `) || exit 1`, `printf '@@pairctl-${nonce}-complete\\n'`);
  return wholeScript(parts.join('\n'));
}

/** Runs the steps on the machine, reporting progress as markers stream in. */
export async function applyMachine(work: MachineWork, runner: Runner, onEvent: (e: ApplyEvent) => void): Promise<MachineApplyResult> {
  const machine = work.plan.machine;
  const nonce = randomBytes(8).toString('hex');
  const done: string[] = [];
  let failed: MachineApplyResult['failed'];
  let started = -1;
  let output: string[] = [];
  let buffer = '';
  let complete = false;
  const marker = `@@pairctl-${nonce}-`;
  const onLine = (line: string): void => {
    if (!line.startsWith(marker)) {
      output.push(line);
      return;
    }
    const [what, index] = line.slice(marker.length).split('-');
    const step = work.steps[Number(index)];
    if (what === 'complete') complete = true;
    if (!step) return;
    if (what === 'start') {
      started = Number(index);
      output = [];
      onEvent({ type: 'start', machine, address: step.address });
    } else if (what === 'done') {
      done.push(step.address);
      onEvent({ type: 'done', machine, address: step.address });
    } else if (what === 'fail') {
      failed = { address: step.address, output: output.join('\n').trim() };
      onEvent({ type: 'failed', machine, address: step.address, output: failed.output });
    }
  };
  let error: string | undefined;
  try {
    const res = await runner.exec(applyScript(work, nonce), {
      onStdout: (chunk) => {
        buffer += chunk;
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        lines.forEach(onLine);
      },
    });
    if (buffer) onLine(buffer);
    if (!complete && !failed) error = res.stderr.trim() || `apply script ended with exit ${res.code} before finishing`;
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  const notStarted = work.steps.slice(started + 1).map((s) => s.address);
  if (!complete && !failed && started >= 0 && !done.includes(work.steps[started]!.address)) {
    // The connection went away inside a step: it may or may not have taken effect.
    notStarted.unshift(`${work.steps[started]!.address} (interrupted; state unknown until the next plan)`);
  }
  return { machine, ok: complete && !failed, done, failed, notStarted, error };
}
