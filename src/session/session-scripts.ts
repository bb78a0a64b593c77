/**
 * Starting and ending the shared session on a host (`pairctl up` / `down`). This is run-time
 * control, not desired state, so it lives beside the graph rather than in plan/apply: the tmux
 * server is dedicated (own socket, own config), started as the owner, and each guest granted its
 * mode in tmux's ACL.
 *
 * Root makes only the session directory, in root-owned /run/pairctl: the owner's, group pairctl,
 * setgid, 2710, before the server starts, so the socket the server makes there gets the guests'
 * group without root ever touching it. Every tmux command and every file operation inside that
 * directory runs as the owner (owner-shell.ts); root removes the directory itself only when the
 * owner's side left it empty.
 */
import type { Host, PairConfig } from '../config/model.js';
import { GUEST_GROUP, JOIN_PROGRAM, TMUX_CONF, guestAccount, runDir, sessionDir, sessionSocket } from '../graph/paths.js';
import { activeGuests } from '../graph/guest-expiry.js';
import { recorderGrant } from '../graph/recording.js';
import { grantScript, sessionDirScript, socketPermissionScript } from '../resources/session-access.js';
import { sh } from '../transport/shell-quote.js';
import { auditScript } from './audit-log.js';
import { clearKicksScript } from './kick-script.js';
import { ownerOutput, ownerShell } from './owner-shell.js';

/** Shell that sets $home to the owner's home directory (no getent on macOS). */
function ownerHome(host: Host): string {
  return host.platform === 'macos'
    ? sh`home=$(dscl . -read ${'/Users/' + host.owner} NFSHomeDirectory | awk '{print $2}')`
    : sh`home=$(getent passwd ${host.owner} | cut -d: -f6)`;
}

/** The owner's side of `up`: start the server if none answers, open the socket to the group, grant. */
export function upOwnerScript(config: PairConfig, host: Host): string {
  const { name } = config.session;
  const socket = sessionSocket(name, host.platform);
  // A guest whose time has passed is not let in again (graph/guest-expiry.ts).
  // The recorder (graph/recording.ts) is let in read-only, as a mirror guest is.
  const grants = [...activeGuests(config.guests).map((g) => ({ account: guestAccount(g.name), mode: g.mode })), ...recorderGrant(config, host)].map((g) => grantScript(socket, g));
  return (
    sh`set -eu
s=${socket}
# Whatever is at the socket's path and is not a socket (a symlink too) is the owner's: gone.
if [ -L "$s" ] || { [ -e "$s" ] && [ ! -S "$s" ]; }; then rm -f -- "$s"; fi
if tmux -S "$s" has-session -t ${'=' + name} 2>/dev/null; then
  echo state=running
else
  tmux -S ${socket} -f ${TMUX_CONF} new-session -d -s ${name} -c "$HOME" -x 200 -y 50 </dev/null >/dev/null 2>&1
  echo state=started
fi
` +
    socketPermissionScript(socket, GUEST_GROUP) +
    '\n' +
    grants.join('\n') +
    '\n'
  );
}

/** Starts the session if needed, fixes the socket's permissions and grants every guest. */
export function upScript(config: PairConfig, host: Host): string {
  const { name } = config.session;
  const owner = host.owner;
  return (
    sh`set -eu
id ${owner} >/dev/null 2>&1 || { echo "pairctl: the owner account ${owner} does not exist on this host" >&2; exit 1; }
if [ ! -x ${JOIN_PROGRAM} ] || [ ! -f ${TMUX_CONF} ]; then
  echo "pairctl: this host is not set up for pairing yet; run 'pairctl apply' first" >&2; exit 1
fi
install -d -m 0755 -o 0 -g 0 ${runDir(host.platform)}
` +
    clearKicksScript(host.platform) +
    sessionDirScript(sessionDir(name, host.platform), owner, GUEST_GROUP) +
    '\n' +
    ownerHome(host) +
    '\n' +
    sh`out=$(` +
    ownerShell(host.platform, owner, upOwnerScript(config, host), { home: '"$home"' }) +
    sh`) || { echo "pairctl: starting the session as ${owner} failed" >&2; exit 1; }
printf '%s\n' "$out" | grep -E '^state=(running|started)$' || :
` +
    auditScript(host.platform, { event: 'up', detail: `session ${name}` })
  );
}

/** How a `down` ends the session: by `pairctl down`, or by root's time-box timer (time-box.ts). */
export interface DownOptions {
  /** the audit entry's reason (AUDIT_REASONS); none for `pairctl down` */
  reason?: 'time-box';
  /** seconds the owner's step may take (owner-shell.ts; Linux only) */
  deadlineSeconds?: number;
}

/** The owner's side of `down`: end the server (which detaches every guest), empty the directory. */
function downOwnerScript(config: PairConfig, host: Host): string {
  return sh`s=${sessionSocket(config.session.name, host.platform)}
if [ -S "$s" ] && tmux -S "$s" kill-server 2>/dev/null; then echo state=stopped; else echo state=not-running; fi
find ${sessionDir(config.session.name, host.platform)} -mindepth 1 -maxdepth 1 -exec rm -rf -- {} + 2>/dev/null || :`;
}

/** Ends the dedicated server as the owner, then removes the session directory if it is empty. */
export function downScript(config: PairConfig, host: Host, opts: DownOptions = {}): string {
  const dir = sessionDir(config.session.name, host.platform);
  return (
    sh`set -eu
d=${dir}
if [ -d "$d" ] && [ ! -L "$d" ] && id ${host.owner} >/dev/null 2>&1; then
  ` +
    ownerOutput(ownerShell(host.platform, host.owner, downOwnerScript(config, host), { deadlineSeconds: opts.deadlineSeconds }), '^state=(stopped|not-running)$') +
    `
  rmdir -- "$d" 2>/dev/null || echo "pairctl: left $d in place: something the owner made is still in it" >&2
else
  echo state=not-running
fi
` +
    auditScript(host.platform, { event: 'down', reason: opts.reason, detail: `session ${config.session.name}` })
  );
}
