/**
 * `expires` ends a guest's access at that time, live too. The key lines' `expiry-time=` only
 * refuses new logins: a connected guest would stay connected, and a guest holding an `ssh -M`
 * master would keep opening sessions over it. So pairctl also schedules a cut-off on the machine
 * where the guest's account lives (the host; for jump tunnels the relay too): a root-owned
 * program that revokes the guest from the shared session as the owner (`server-access -d`, which
 * detaches its tmux client) and ends every process of the account, which ends its sshd sessions
 * and any master connection. A systemd timer runs it on Linux; on macOS a launchd job checks
 * the date every 30 s (launchd's calendar intervals have no year). The program itself compares
 * the clock, so running it early (at install, at boot) does nothing, and late does it all.
 * When a run ends something (an ACL entry, a process), it logs `kick` with reason `expired` as
 * root (session/audit-log.ts), so `pairctl log` says when and how the guest's access ended.
 */
import type { Guest, Platform } from '../config/model.js';
import type { DirectorySpec } from '../resources/directory.js';
import type { FileSpec } from '../resources/file-state.js';
import type { Resource } from '../resources/kind.js';
import type { LaunchdServiceSpec } from '../resources/launchd-service.js';
import type { SystemdTimerSpec } from '../resources/systemd-timer.js';
import { auditFunction } from '../session/audit-log.js';
import { ownerShell } from '../session/owner-shell.js';
import { quote, sh } from '../transport/shell-quote.js';
import { render } from '../templates/render.js';
import { LAUNCHD_DIR, LIBEXEC_DIR, SYSTEMD_DIR, guestAccount } from './paths.js';
import { execStart } from './systemd-unit.js';
import { resource } from './resource.js';

/** How long the cut-off waits for the owner's tmux server to revoke the guest before ending its processes anyway. */
export const REVOKE_WAIT_SECONDS = 5;

/** How often the macOS job compares the clock: the cut-off lands within this after `expires`. */
export const LAUNCHD_CHECK_SECONDS = 30;

/**
 * When the cut-off runs. OpenSSH's `expiry-time` has minute resolution and refuses a key only
 * once `now > valid_before` (auth2-pubkeyfile.c), so a key for 18:00 still logs in during
 * 18:00:00; `expires` itself is never earlier than that minute. Cutting off at the later of
 * `expires` and one second past the key's minute means no login can start after the cut-off.
 */
export function cutOffAt(expires: Date): Date {
  const keyMinute = Math.floor(expires.getTime() / 60_000) * 60_000;
  return new Date(Math.max(Math.ceil(expires.getTime() / 1000) * 1000, keyMinute + 1000));
}

/** Guests whose access has not ended at `now`: `up` and the session's ACL let only these in. */
export function activeGuests(guests: Guest[], now: Date = new Date()): Guest[] {
  return guests.filter((g) => !g.expires || cutOffAt(g.expires).getTime() > now.getTime());
}

/** ISO 8601 in UTC to the second, as the plan shows it. */
function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** systemd's calendar form of an instant, in UTC ("2026-12-31 18:00:01 UTC"). */
export function onCalendar(d: Date): string {
  return `${iso(d).replace('T', ' ').replace('Z', '')} UTC`;
}

/** Names of a guest's cut-off program and units, on any machine. */
export function expiryNames(guest: string): { program: string; unit: string; label: string } {
  return {
    program: `${LIBEXEC_DIR}/expire-${guest}`,
    unit: `pairctl-expire-${guest}`,
    label: `dev.pairctl.expire-${guest}`,
  };
}

/** Where the account to cut off lives and what it may be holding. */
export interface CutOffTarget {
  platform: Platform;
  guest: string;
  /** the login account to end: pair-<guest> on a host or on a jump relay */
  account: string;
  cutOff: Date;
  /** on a host: the session's owner and socket, to revoke the guest there as the owner */
  session?: { owner: string; socket: string };
}

/** A whole POSIX sh program: compares the clock, revokes as the owner, ends the account's processes. */
export function cutOffProgram(t: CutOffTarget): string {
  const epoch = Math.floor(t.cutOff.getTime() / 1000);
  const path = t.platform === 'macos' ? '/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' : '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  // The owner (or a pair guest typing as the owner) controls that tmux server and could make it
  // hang; a watchdog bounds the wait, so nothing there can hold back the kill below.
  const revoke = t.session
    ? `# As the owner: root never runs a tmux client against a server the owner controls. -d takes
# the guest out of the ACL and detaches its client ("access not allowed").
${ownerShell(t.platform, t.session.owner, sh`tmux -S ${t.session.socket} server-access -d ${t.account}`, { deadlineSeconds: REVOKE_WAIT_SECONDS })} >/dev/null 2>&1 &
revoke=$!
# KILL, and its child too: on SIGTERM a tmux client asks its server before it exits (client.c).
( sleep ${REVOKE_WAIT_SECONDS}; pkill -KILL -P "$revoke" 2>/dev/null; kill -KILL "$revoke" 2>/dev/null ) &
watchdog=$!
if wait "$revoke"; then echo ${quote(`pairctl: ${t.account} revoked from the shared session`)}; ended='revoked from the shared session'
else echo ${quote(`pairctl: ${t.account} was not revoked in tmux (no session running, or it did not answer within ${REVOKE_WAIT_SECONDS} s)`)}
fi
kill "$watchdog" 2>/dev/null || :
`
    : '';
  return (
    sh`#!/bin/sh
# Managed by pairctl. Do not edit; \`pairctl apply\` rewrites it and removes it with the guest.
# Ends guest ${t.guest}'s access at ${iso(t.cutOff)} (its expires in pair.yaml): its keys'
# expiry-time refuses new logins from then, and this ends what is still connected.
set -u
PATH=${path}
export PATH
` +
    auditFunction(t.platform) +
    sh`ended=''
cut=${epoch}
if [ "$(date -u +%s)" -lt "$cut" ]; then
  echo ${`pairctl: guest ${t.guest}'s access ends at ${iso(t.cutOff)}; nothing to do yet`}
  exit 0
fi
` +
    revoke +
    sh`# Every process of the account: its sshd sessions, the join program, its tmux client, and any
# ssh master it holds. Killed again until none is left: a login that was authenticated just
# before the cut-off may still be starting its session.
# Root's audit entry (the join program dies by SIGKILL and logs no leave), only when this run
# ended something: a rerun (at boot, at apply, after the cut-off) finds nothing and logs nothing.
logged() {
  if [ -n "$ended" ]; then pairctl_audit kick ${t.account} '' '' '' '' expired ${`cut-off ${iso(t.cutOff)}: `}"$ended$1" || :; fi
}
i=0
if pgrep -u ${t.account} >/dev/null 2>&1; then ended="\${ended:+$ended, }processes ended"; fi
while pgrep -u ${t.account} >/dev/null 2>&1; do
  pkill -KILL -u ${t.account} 2>/dev/null || :
  i=$((i + 1))
  if [ "$i" -gt 100 ]; then echo ${`pairctl: processes of ${t.account} are still running`} >&2; logged ' (some still running)'; exit 1; fi
  sleep 0.1
done
echo ${`pairctl: guest ${t.guest}'s access has ended (${t.account})`}
logged ''
`
  );
}

/** What each platform's resources need besides the guests. */
export interface ExpiryContext {
  platform: Platform;
  rootGroup: string;
  /** the host's session, when the accounts are the host's guest accounts */
  session?: { owner: string; socket: string };
  /** the address each guest's cut-off comes after (its account) */
  accountAddress: (guest: Guest) => string;
  /** addresses every cut-off comes after (the directory its program lives in) */
  deps: string[];
}

/** The cut-off of every guest with `expires`: its program and the timer (or launchd job) that runs it. */
export function guestExpiryResources(guests: Guest[], ctx: ExpiryContext): Resource[] {
  const out: Resource[] = [];
  for (const g of guests) {
    if (!g.expires) continue;
    const names = expiryNames(g.name);
    const target: CutOffTarget = { platform: ctx.platform, guest: g.name, account: guestAccount(g.name), cutOff: cutOffAt(g.expires), session: ctx.session };
    const program = cutOffProgram(target);
    const root = { owner: 'root', group: ctx.rootGroup };
    const summary = `Ends guest ${g.name}'s access (${target.account}) at ${iso(target.cutOff)}`;
    if (ctx.platform === 'macos') {
      // The program goes inside the plist: /usr/local may belong to the owner on a Mac (Homebrew),
      // and root must not run a file from a directory someone else can rename.
      out.push(
        resource<LaunchdServiceSpec>(
          'launchd_service',
          names.label,
          {
            label: names.label,
            path: `${LAUNCHD_DIR}/${names.label}.plist`,
            content: render('expire-launchd.plist', { label: names.label, program, interval: LAUNCHD_CHECK_SECONDS }),
            mode: '0644',
            ...root,
          },
          [ctx.accountAddress(g)],
        ),
      );
      continue;
    }
    const file = resource<FileSpec>('file', names.program, { path: names.program, content: program, mode: '0755', ...root }, [...ctx.deps, ctx.accountAddress(g)]);
    const service = `${names.unit}.service`;
    const timer = `${names.unit}.timer`;
    out.push(
      file,
      resource<SystemdTimerSpec>(
        'systemd_timer',
        timer,
        {
          unit: timer,
          path: `${SYSTEMD_DIR}/${timer}`,
          content: render('expire.timer', { summary, description: `pairctl: end guest ${g.name}'s access at its expiry`, onCalendar: onCalendar(target.cutOff), service }),
          service: {
            unit: service,
            path: `${SYSTEMD_DIR}/${service}`,
            content: render('expire.service', { summary, description: `pairctl: end guest ${g.name}'s access`, execStart: execStart([names.program]) }),
          },
          shows: [{ name: 'cut-off', value: `${iso(target.cutOff)} (${target.account}: detached, processes ended${ctx.session ? ', ACL entry removed' : ''})` }],
          runAfterInstall: true,
          mode: '0644',
          ...root,
        },
        [file.address],
      ),
    );
  }
  return out;
}

/** On a jump relay: the relay accounts of guests with `expires`, cut off the same way (no session there). */
export function relayExpiryResources(guests: Guest[], accountAddress: (guest: Guest) => string): Resource[] {
  if (!guests.some((g) => g.expires)) return [];
  const dir = resource<DirectorySpec>('directory', LIBEXEC_DIR, { path: LIBEXEC_DIR, mode: '0755', owner: 'root', group: 'root' });
  return [dir, ...guestExpiryResources(guests, { platform: 'linux', rootGroup: 'root', accountAddress, deps: [dir.address] })];
}

