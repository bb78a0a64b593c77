/**
 * Starting and ending the shared session on a host (`pairctl up` / `down`). This is run-time
 * control, not desired state, so it lives beside the graph rather than in plan/apply: the tmux
 * server is dedicated (own socket, own config), started as the owner, its socket handed to the
 * guests' group, and each guest granted its mode in tmux's ACL.
 */
import type { Host, PairConfig } from '../config/model.js';
import { GUEST_GROUP, JOIN_PROGRAM, TMUX_CONF, guestAccount, runDir, sessionDir, sessionSocket } from '../graph/paths.js';
import { activeGuests } from '../graph/guest-expiry.js';
import { grantScript, socketPermissionScript } from '../resources/session-access.js';
import { sh } from '../transport/shell-quote.js';

/** The words that run a command as the owner: runuser on Linux; macOS has only sudo. */
function asOwner(host: Host): string {
  return host.platform === 'macos' ? sh`sudo -u ${host.owner} -H` : sh`runuser -u ${host.owner} --`;
}

/** Shell that sets $home to the owner's home directory (no getent on macOS). */
function ownerHome(host: Host): string {
  return host.platform === 'macos'
    ? sh`home=$(dscl . -read ${'/Users/' + host.owner} NFSHomeDirectory | awk '{print $2}')`
    : sh`home=$(getent passwd ${host.owner} | cut -d: -f6)`;
}

/** Starts the session if needed, fixes the socket's permissions and grants every guest. */
export function upScript(config: PairConfig, host: Host): string {
  const { name } = config.session;
  const socket = sessionSocket(name, host.platform);
  const owner = host.owner;
  const run = asOwner(host);
  const grants = activeGuests(config.guests).map((g) => grantScript(socket, { account: guestAccount(g.name), mode: g.mode }));
  return (
    sh`set -eu
id ${owner} >/dev/null 2>&1 || { echo "pairctl: the owner account ${owner} does not exist on this host" >&2; exit 1; }
if [ ! -x ${JOIN_PROGRAM} ] || [ ! -f ${TMUX_CONF} ]; then
  echo "pairctl: this host is not set up for pairing yet; run 'pairctl apply' first" >&2; exit 1
fi
install -d -m 0755 -o 0 -g 0 ${runDir(host.platform)}
install -d -m 0710 -o ${owner} -g ${GUEST_GROUP} ${sessionDir(name, host.platform)}
if ` +
    run +
    sh` tmux -S ${socket} has-session -t ${'=' + name} 2>/dev/null; then
  echo state=running
else
  ` +
    ownerHome(host) +
    '\n  ' +
    run +
    sh` tmux -S ${socket} -f ${TMUX_CONF} new-session -d -s ${name} -c "$home" -x 200 -y 50 </dev/null >/dev/null 2>&1
  echo state=started
fi
` +
    socketPermissionScript({ socket, owner, group: GUEST_GROUP, grants: [] }) +
    '\n' +
    grants.join('\n') +
    '\n'
  );
}

/** Ends the dedicated server (which detaches every guest) and removes its socket directory. */
export function downScript(config: PairConfig, host: Host): string {
  const socket = sessionSocket(config.session.name, host.platform);
  return (
    sh`set -eu
if [ -S ${socket} ] && ` +
    asOwner(host) +
    sh` tmux -S ${socket} kill-server 2>/dev/null; then echo state=stopped; else echo state=not-running; fi
rm -rf -- ${sessionDir(config.session.name, host.platform)}
`
  );
}
