/**
 * `pairctl up --for DURATION`: the session ends by itself. The timer lives in the dedicated tmux
 * server, run as the owner (`run-shell -b`, a background job of the server): no root process waits,
 * nothing outlives the session, and when the server goes first the timer goes with it. The end
 * time is kept in the server's user option `@pairctl_ends` (epoch seconds), which `status` reads;
 * each timer ends the server only if that option still holds its own end time, so a later
 * `up --for` replaces the time box instead of adding a second one.
 *
 * Before the end every client (owner and guests) sees a status-line warning: five minutes before,
 * or halfway through a box shorter than ten minutes, shown until the end.
 *
 * run-shell expands tmux formats in its command, so the command holds no `#`.
 */
import type { Host, PairConfig } from '../config/model.js';
import { sessionSocket } from '../graph/paths.js';
import { sh } from '../transport/shell-quote.js';
import { ownerOutput, ownerShell } from './owner-shell.js';

/** Seconds before the end at which the warning shows (at most). */
export const WARN_BEFORE_SECONDS = 300;

/** When the warning shows, in seconds after the start of a box of `seconds`. */
export function warnAfter(seconds: number): number {
  return seconds >= 2 * WARN_BEFORE_SECONDS ? seconds - WARN_BEFORE_SECONDS : Math.floor(seconds / 2);
}

/** The shell command the server's background job runs (as the owner). */
export function timerJob(socket: string, endsAt: number, seconds: number): string {
  const warn = warnAfter(seconds);
  const left = seconds - warn;
  const minutes = Math.max(1, Math.round(left / 60));
  const msg = `pairctl: this session ends in ${left >= 60 ? `${minutes} minute${minutes === 1 ? '' : 's'}` : `${left} seconds`} (pairctl up --for)`;
  return sh`S=${socket}
mine() { [ "$(tmux -S "$S" show-options -gv @pairctl_ends 2>/dev/null)" = ${String(endsAt)} ]; }
sleep ${warn}
mine || exit 0
tmux -S "$S" list-clients 2>/dev/null | cut -d: -f1 | while read -r c; do
  tmux -S "$S" display-message -c "$c" -d ${left * 1000} ${msg} 2>/dev/null || :
done
sleep ${left}
mine && tmux -S "$S" kill-server
`;
}

/** The owner's side: record the end and start the timer job in the server. */
function ownerTimeBoxScript(config: PairConfig, host: Host, endsAt: number, seconds: number): string {
  const socket = sessionSocket(config.session.name, host.platform);
  return sh`s=${socket}
tmux -S "$s" set-option -g @pairctl_ends ${String(endsAt)} &&
tmux -S "$s" run-shell -b ${timerJob(socket, endsAt, seconds)} && echo timebox=set || echo timebox=failed
`;
}

/** Root script run after `up`'s: starts the time box as the owner; prints timebox=set|failed. */
export function timeBoxScript(config: PairConfig, host: Host, endsAt: number, seconds: number): string {
  return ownerOutput(ownerShell(host.platform, host.owner, ownerTimeBoxScript(config, host, endsAt, seconds)), '^timebox=(set|failed)$') + '\n';
}
