/**
 * `pairctl mode GUEST mirror|pair`: change the mode tmux enforces for a guest, live. The owner's
 * `server-access -r|-w USER` sets or clears the read-only flag of every client of that uid at
 * once (server-acl.c, server_acl_user_deny_write/allow_write, tmux 3.3+), so the guest's next
 * keystroke is judged by the new mode; nothing restarts or rejoins. It changes the ACL only, so
 * `plan` shows it as a difference from pair.yaml (session_access) and `up`/`apply` put it back.
 */
import type { Guest, Host, PairConfig } from '../config/model.js';
import { guestAccount, sessionSocket } from '../graph/paths.js';
import { sh } from '../transport/shell-quote.js';
import { auditFunction, auditCall } from './audit-log.js';
import { ownerOutput, ownerShell } from './owner-shell.js';
import { PRESENCE } from './presence.js';

/** The modes `pairctl mode` can switch a guest to: what tmux's ACL can enforce on a client. */
export const LIVE_MODES = ['mirror', 'pair'] as const;
export type LiveMode = (typeof LIVE_MODES)[number];

function ownerModeScript(config: PairConfig, host: Host, guest: Guest, mode: LiveMode): string {
  const account = guestAccount(guest.name);
  const flag = mode === 'mirror' ? '-r' : '-w';
  return sh`s=${sessionSocket(config.session.name, host.platform)}
[ -S "$s" ] && tmux -S "$s" list-sessions >/dev/null 2>&1 || { echo mode=no-session; exit 0; }
if tmux -S "$s" server-access -l 2>/dev/null | grep -q ${'^' + account + ' '}; then
  tmux -S "$s" server-access ${flag} ${account} 2>/dev/null && echo mode=set || echo mode=failed
  # the owner's status line shows the change (presence.ts)
  if [ -x ${PRESENCE} ]; then ${PRESENCE} "$s" >/dev/null 2>&1 || :; fi
else
  echo mode=not-granted
fi
`;
}

/** Root script: the owner switches the guest's ACL entry; prints mode=set|no-session|not-granted|failed. */
export function modeScript(config: PairConfig, host: Host, guest: Guest, mode: LiveMode): string {
  return (
    sh`id ${host.owner} >/dev/null 2>&1 || { echo "pairctl: the owner account ${host.owner} does not exist on this host" >&2; exit 1; }
` +
    'out=$(' +
    ownerOutput(ownerShell(host.platform, host.owner, ownerModeScript(config, host, guest, mode)), '^mode=(set|no-session|not-granted|failed)$') +
    `)
printf '%s\n' "$out"
` +
    auditFunction(host.platform) +
    // Only a change the server made is a mode change worth a log entry.
    `if [ "$out" = mode=set ]; then ${auditCall({ event: 'mode', guest: guestAccount(guest.name), mode })}fi
`
  );
}
