/**
 * `pairctl kick GUEST [--for DURATION]`: end a guest's tmux client and ssh connection now, and
 * with `--for` keep them out until then.
 *
 * The "keep out" mechanism is a root-owned file per guest account in a root-owned directory under
 * the run-time directory, holding the epoch second until which the join program (the guest's forced
 * command) refuses that account. Why this and not the ACL: removing the guest from tmux's ACL
 * would keep them out only until the next grant, could not end by itself at the deadline, and is
 * gone whenever the server restarts; the file survives reconnects and server restarts, ends on its
 * own (the join program compares it with the clock), and `up` removes the directory's files, so
 * the next `up` lets everyone in again. It is in /run, so a reboot (which also ends the session)
 * clears it. The guest can read it but never write it, and the ssh boundary (forced command +
 * restrict) means the guest cannot run anything but the join program, which reads it first.
 *
 * Order: the deny file first (so a reconnect racing the kick is refused), then, as the owner,
 * `server-access -d` (detaches every client of that uid) and the grant again with the configured
 * mode (so the guest may rejoin when the kick ends, without an `up`), then root ends the account's
 * remaining processes (its sshd session), which closes the connection.
 */
import type { Guest, Host, PairConfig, Platform } from '../config/model.js';
import { guestAccount, runDir, sessionSocket } from '../graph/paths.js';
import { atomicReplaceScript } from '../resources/atomic-replace.js';
import { grantScript } from '../resources/session-access.js';
import { sh } from '../transport/shell-quote.js';
import { auditScript } from './audit-log.js';
import { ownerOutput, ownerShell } from './owner-shell.js';

/** Root-owned directory of the kicked-until files. A leading dot: no session name can take it. */
export function kickedDir(platform: Platform): string {
  return `${runDir(platform)}/.kicked`;
}

/** The owner's side: detach the guest's clients by revoking, then grant again. */
function ownerKickScript(config: PairConfig, host: Host, guest: Guest): string {
  const socket = sessionSocket(config.session.name, host.platform);
  const account = guestAccount(guest.name);
  return (
    sh`s=${socket}
[ -S "$s" ] || { echo kick=no-session; exit 0; }
n=$(tmux -S "$s" list-clients -F '#{client_user}' 2>/dev/null | grep -cx ${account} || :)
tmux -S "$s" server-access -d ${account} 2>/dev/null || :
echo "kick=detached:\${n:-0}"
{ ` + grantScript(socket, { account, mode: guest.mode }) + '; } 2>/dev/null || :\n'
  );
}

/** Root script: deny file (when `untilEpoch`), revoke + grant as the owner, end the account's processes. */
export function kickScript(config: PairConfig, host: Host, guest: Guest, untilEpoch: number | undefined): string {
  const account = guestAccount(guest.name);
  const dir = kickedDir(host.platform);
  // install -d also makes an existing directory root's and 0755 again, so the write makes none.
  const deny =
    untilEpoch === undefined
      ? ''
      : sh`install -d -m 0755 -o 0 -g 0 ${runDir(host.platform)} ${dir}\n` +
        atomicReplaceScript({ path: `${dir}/${account}`, fill: sh`printf '%s\n' ${untilEpoch} > "$t"`, mode: '0644', dir: 'given' }) +
        '\necho kick=denied\n';
  return (
    sh`set -eu
id ${account} >/dev/null 2>&1 || { echo "pairctl: guest account ${account} does not exist on this host; run 'pairctl apply' first" >&2; exit 1; }
` +
    deny +
    sh`id ${host.owner} >/dev/null 2>&1 && ` +
    ownerOutput(ownerShell(host.platform, host.owner, ownerKickScript(config, host, guest)), '^kick=(no-session|detached:[0-9]+)$') +
    sh`
# The account's sshd session and anything left of its join program: their connection ends.
if pkill -KILL -u ${account} 2>/dev/null; then echo kick=disconnected; fi
` +
    auditScript(host.platform, {
      event: 'kick',
      guest: account,
      mode: guest.mode,
      detail: untilEpoch === undefined ? undefined : `until ${new Date(untilEpoch * 1000).toISOString()}`,
    })
  );
}

/** Root's lines for `up`: nobody stays kicked past the next `up`. */
export function clearKicksScript(platform: Platform): string {
  return sh`if [ -d ${kickedDir(platform)} ]; then find ${kickedDir(platform)} -mindepth 1 -maxdepth 1 -type f -delete; fi\n`;
}
