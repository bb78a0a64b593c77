/**
 * `pairctl up --for DURATION`: the session ends by itself. Root ends it, not the owner: the end is
 * an audit entry (`down`, reason `time-box`), and `pairctl log` trusts only root's entries and a
 * guest's own, because a pair guest types as the owner and so could forge the owner's.
 *
 * - Linux: a transient systemd timer, `pairctl-timebox-<session>`, made with `systemd-run` on an
 *   absolute time (`OnCalendar=@EPOCH`, so `status` reads the end from the timer's own
 *   NextElapseUSecRealtime). Its command line is root's, written here: `/bin/sh -c` and the text
 *   of `down` (the owner's step bounded by a short deadline, as the expiry cut-off bounds its
 *   revoke). Transient units live in /run, so a reboot, which ends the session too, clears it.
 * - macOS: no transient timers. A root-owned launchd daemon whose program is inside its plist
 *   (as the expiry job: /usr/local may be the owner's on a Mac), in /Library/LaunchDaemons, run
 *   every TIME_BOX_CHECK_SECONDS; it compares the clock, ends the session, then removes itself.
 *
 * On both, root's script reads the end from the host's own clock (now there plus the seconds
 * asked for), never from the client's: a client whose clock is wrong cannot shorten or stretch
 * the box. The client's end is only the owner's token for its warning job (`@pairctl_ends`).
 *
 * `down` and `up` without `--for` stop that timer; a second `up --for` replaces it.
 *
 * The warning stays in the owner's server: a `run-shell -b` job (as the owner) shows every client
 * (owner and guests) a status-line message five minutes before the end, or halfway through a box
 * shorter than ten minutes. It no longer kills the server: root's timer is the end, and a second
 * kill at the same second would race it, so root's entry would say "not running" for a session
 * its own box ended, or the owner's job, which the owner (and any pair guest) can stop or
 * rewrite, would pass for the mechanism. Each job warns only while the server's user option
 * `@pairctl_ends` still holds its own end time, so a later `up --for` silences an earlier job.
 *
 * run-shell expands tmux formats in its command, so the job holds no `#`.
 */
import type { Host, PairConfig } from '../config/model.js';
import { REVOKE_WAIT_SECONDS } from '../graph/guest-expiry.js';
import { LAUNCHD_DIR, sessionSocket } from '../graph/paths.js';
import { atomicReplaceScript } from '../resources/atomic-replace.js';
import { render } from '../templates/render.js';
import { quote, sh } from '../transport/shell-quote.js';
import { ownerOutput, ownerShell } from './owner-shell.js';
import { downScript } from './session-scripts.js';

/** Where systemd keeps the unit files of transient units (systemd-run) while they are loaded. */
export const TRANSIENT_UNITS_DIR = '/run/systemd/transient';

/** Seconds before the end at which the warning shows (at most). */
export const WARN_BEFORE_SECONDS = 300;

/** How often the macOS job compares the clock: the session ends within this after its time. */
export const TIME_BOX_CHECK_SECONDS = 10;

/** When the warning shows, in seconds after the start of a box of `seconds`. */
export function warnAfter(seconds: number): number {
  return seconds >= 2 * WARN_BEFORE_SECONDS ? seconds - WARN_BEFORE_SECONDS : Math.floor(seconds / 2);
}

/** Names of root's timer of a session: systemd unit (without suffix), launchd label and plist. */
export function timeBoxNames(session: string): { unit: string; label: string; plist: string } {
  const label = `dev.pairctl.timebox-${session}`;
  return { unit: `pairctl-timebox-${session}`, label, plist: `${LAUNCHD_DIR}/${label}.plist` };
}

/** The shell command the server's background job runs (as the owner): the warning only. */
export function timerJob(socket: string, endsAt: number, seconds: number): string {
  const warn = warnAfter(seconds);
  const left = seconds - warn;
  const minutes = Math.max(1, Math.round(left / 60));
  const msg = `pairctl: this session ends in ${left >= 60 ? `${minutes} minute${minutes === 1 ? '' : 's'}` : `${left} seconds`} (pairctl up --for)`;
  return sh`S=${socket}
sleep ${warn}
[ "$(tmux -S "$S" show-options -gv @pairctl_ends 2>/dev/null)" = ${String(endsAt)} ] || exit 0
tmux -S "$S" list-clients 2>/dev/null | cut -d: -f1 | while read -r c; do
  tmux -S "$S" display-message -c "$c" -d ${left * 1000} ${msg} 2>/dev/null || :
done
`;
}

/** The owner's side: record the end and start the warning job in the server. */
function ownerWarningScript(config: PairConfig, host: Host, endsAt: number, seconds: number): string {
  const socket = sessionSocket(config.session.name, host.platform);
  return sh`s=${socket}
tmux -S "$s" set-option -g @pairctl_ends ${String(endsAt)} &&
tmux -S "$s" run-shell -b ${timerJob(socket, endsAt, seconds)} && echo timewarn=set || echo timewarn=failed
`;
}

/**
 * What root's timer runs at the end: `down`, logged with the reason `time-box`. The owner's step
 * gets the expiry cut-off's short deadline: a server the owner made hang must not hold back the
 * entry (nor keep the unit running, which would block the next `up --for`).
 */
export function timeBoxEndScript(config: PairConfig, host: Host): string {
  return downScript(config, host, { reason: 'time-box', deadlineSeconds: REVOKE_WAIT_SECONDS });
}

/**
 * systemd expands `$NAME` and `${NAME}` in a command line when it starts the command (all
 * versions; systemd-run's --expand-environment=no exists only from 254), and turns `$$` into `$`.
 * Transient units' command lines get no specifier (`%`) expansion.
 */
export function systemdLiteral(arg: string): string {
  return arg.replace(/\$/g, '$$$$');
}

/**
 * The macOS daemon's plist: the program inside it compares the clock, ends the session, removes
 * itself. `ends` is the end in epoch seconds and `endsIso` the same instant for the reader, both
 * as text: root's script passes the marks below and fills in what the host's clock says.
 */
export function timeBoxPlist(config: PairConfig, host: Host, ends: string, endsIso: string): string {
  const { label, plist } = timeBoxNames(config.session.name);
  const program =
    sh`ends=${ends}
[ "$(date -u +%s)" -ge "$ends" ] || exit 0
rm -f ${plist}
` +
    `( ${timeBoxEndScript(config, host)} ) || :\n` +
    // bootout ends this very job: it comes last.
    sh`launchctl bootout ${'system/' + label} 2>/dev/null || :
`;
  return render('timebox-launchd.plist', { label, program, interval: TIME_BOX_CHECK_SECONDS, ends, endsIso });
}

/** Where the end goes in the plist root writes: "$ends" and "$iso" of its script replace them. */
const ENDS_MARK = '@@pairctl-ends@@';
const ISO_MARK = '@@pairctl-ends-iso@@';

/** Shell that writes the plist to "$t" with the end root's script read from the host's clock. */
function timeBoxPlistFill(config: PairConfig, host: Host): string {
  const words = timeBoxPlist(config, host, ENDS_MARK, ISO_MARK)
    .split(/(@@pairctl-ends(?:-iso)?@@)/)
    .map((part) => (part === ENDS_MARK ? '"$ends"' : part === ISO_MARK ? '"$iso"' : quote(part)));
  return `printf '%s' ${words.join(' ')} > "$t"`;
}

/** Root script: stops root's timer of the session, if any (`down`, and `up` without `--for`). */
export function stopTimeBoxScript(config: PairConfig, host: Host): string {
  const n = timeBoxNames(config.session.name);
  if (host.platform === 'macos') {
    return sh`launchctl bootout ${'system/' + n.label} 2>/dev/null || :
rm -f ${n.plist}
`;
  }
  return sh`systemctl stop ${n.unit + '.timer'} 2>/dev/null || :
systemctl reset-failed ${n.unit + '.timer'} ${n.unit + '.service'} 2>/dev/null || :
`;
}

/**
 * Root script: (re)starts root's timer that ends the session; prints timebox=set and
 * timebox-ends=EPOCH (the end on the host's clock), or timebox=failed. (Exported for its test,
 * which runs the macOS one under sh with BSD date's syntax.)
 */
export function rootTimerScript(config: PairConfig, host: Host, seconds: number): string {
  const n = timeBoxNames(config.session.name);
  // The end on the host's clock, from now there: the box is as long as asked, whatever the
  // difference between the clocks.
  const ends = sh`ends=$(( $(date -u +%s) + ${String(seconds)} ))
`;
  if (host.platform === 'macos') {
    // BSD date: -r SECONDS prints that instant (GNU's -d @SECONDS does not exist there). A clock
    // read that printed nothing leaves ends at the bare seconds, in 1970: no box then.
    return (
      stopTimeBoxScript(config, host) +
      ends +
      sh`if [ "$ends" -gt ${String(seconds)} ] && iso=$(date -u -r "$ends" '+%Y-%m-%dT%H:%M:%SZ'); then
` +
      atomicReplaceScript({ path: n.plist, fill: timeBoxPlistFill(config, host), owner: { user: 'root', group: 'wheel' }, mode: '0644', dir: 'given' }) +
      '\n' +
      sh`if launchctl bootstrap system ${n.plist}; then echo timebox=set; echo "timebox-ends=$ends"; else rm -f ${n.plist}; echo timebox=failed; fi
else
  echo timebox=failed
fi
`
    );
  }
  // A calendar time already past would never elapse: then no next elapse shows, and up says the
  // box could not be set.
  return (
    stopTimeBoxScript(config, host) +
    ends +
    sh`if systemd-run --quiet --unit=${n.unit} --description=${`pairctl: end session ${config.session.name} (pairctl up --for)`} --on-calendar="@$ends" --timer-property=AccuracySec=1s --timer-property=RemainAfterElapse=no -- /bin/sh -c ${systemdLiteral(timeBoxEndScript(config, host))} >/dev/null &&
  [ -n "$(systemctl show -p NextElapseUSecRealtime --value ${n.unit + '.timer'} 2>/dev/null)" ]; then
  echo timebox=set
  echo "timebox-ends=$ends"
else
  systemctl stop ${n.unit + '.timer'} 2>/dev/null || :
  echo timebox=failed
fi
`
  );
}

/**
 * Root script run after `up`'s: root's timer that ends the session, then the owner's warning job;
 * prints timebox=set (with timebox-ends=EPOCH) or timebox=failed, and timewarn=set|failed.
 * `endsAt` (the client's) is only the warning job's token; the end is the host's.
 */
export function timeBoxScript(config: PairConfig, host: Host, endsAt: number, seconds: number): string {
  return rootTimerScript(config, host, seconds) + ownerOutput(ownerShell(host.platform, host.owner, ownerWarningScript(config, host, endsAt, seconds)), '^timewarn=(set|failed)$') + '\n';
}

/** Root's read of the end time for `status`: a line `t|EPOCH` when root's timer is pending. */
export function timeBoxStatusScript(config: PairConfig, host: Host): string {
  const n = timeBoxNames(config.session.name);
  if (host.platform === 'macos') {
    // The plist is root's (written by up); the line is the one the template writes.
    return sh`[ -f ${n.plist} ] && sed -n 's/^<!-- pairctl-timebox-ends=\\([0-9]*\\) -->$/t|\\1/p' ${n.plist} 2>/dev/null || :
`;
  }
  // `show` ignores --timestamp=unix before systemd 255 (measured on 252): the text form, in UTC,
  // which GNU date reads back; root's own systemd printed it, and it goes to date as one word.
  // systemd writes a transient unit's file under /run/systemd/transient while the unit is loaded;
  // without it there is no timer to ask (systemctl and systemd's answer are most of the cost).
  return sh`if [ -e ${TRANSIENT_UNITS_DIR + '/' + n.unit + '.timer'} ]; then
  e=$(TZ=UTC0 systemctl show -p NextElapseUSecRealtime --value ${n.unit + '.timer'} 2>/dev/null) || e=''
  if [ -n "$e" ] && e=$(date -u -d "$e" +%s 2>/dev/null); then echo "t|$e"; fi
fi
`;
}
