/**
 * The audit log's sshd half (issue 13 part 5). Refusals of an unknown key, an expired key or a
 * key used outside its `from=` happen inside sshd before any pairctl program runs, and sshd logs
 * them in its own words: the guests' Match block sets LogLevel VERBOSE (sshd-settings.ts) so the
 * refused key's fingerprint is there. A root service follows sshd's journal and logs each refusal
 * of a guest account again under `pairctl` (session/audit-log.ts), with the guest, fingerprint,
 * source and a reason, so `pairctl log` has one place to read.
 *
 * Root only reads journal text here, as data: it matches it against fixed patterns whose
 * character classes cannot hold a shell metacharacter, compares it with the guests' fingerprints
 * written into the program at apply time, and hands the values to the logging function as
 * arguments. It runs no program from a path anyone but root can write. Only entries journald
 * stamped _UID=0 are read (sshd's privileged half logs for its unprivileged one), so no local
 * user can feed it lines.
 *
 * Measured on OpenSSH 9.2 (bookworm, identifier sshd), 10.0 and 10.6 (trixie and forky,
 * sshd-session), with VERBOSE only in the Match block:
 *   unknown key:  Failed publickey for pair-x from A port P ssh2: ED25519 SHA256:...
 *   expired key:  error: Refused by key options[ at FILE:LINE]  + the same Failed line
 *   outside from: FILE:LINE: Authentication tried for pair-x with correct key but not from a
 *                 permitted host (host=A, ip=A, required=...).  + the same Failed line
 * sshd says nothing that tells an expired key from another key-option refusal, so the reason
 * comes from pair.yaml: the guest's own key, past its `expires`, is "expired".
 */
import { createHash } from 'node:crypto';
import type { Host, PairConfig } from '../config/model.js';
import type { Resource } from '../resources/kind.js';
import type { FileSpec } from '../resources/file-state.js';
import type { SystemdServiceSpec } from '../resources/systemd-service.js';
import { auditFunction } from '../session/audit-log.js';
import { render } from '../templates/render.js';
import { quote, sh } from '../transport/shell-quote.js';
import { LIBEXEC_DIR, SYSTEMD_DIR, guestAccount } from './paths.js';
import { address, resource } from './resource.js';
import { execStart } from './systemd-unit.js';

export const AUDIT_SERVICE = 'pairctl-audit.service';
export const AUDIT_PROGRAM = `${LIBEXEC_DIR}/audit-follow`;
/** The service's RuntimeDirectory (root's; systemd removes it when the service stops). */
export const AUDIT_RUN_DIR = '/run/pairctl-audit';
/** The copy of AUDIT_PROGRAM the running service started from (systemd-service.ts, runsCopy). */
export const AUDIT_COPY = `${AUDIT_RUN_DIR}/audit-follow`;

/** sshd's syslog identifiers: sshd up to 9.7, sshd-session from 9.8, sshd-auth from 10.0. */
export const SSHD_IDENTIFIERS = ['sshd', 'sshd-session', 'sshd-auth'] as const;

/** The follower: reads sshd's journal from now on, logs each refusal of a guest account. */
export function auditFollowProgram(config: PairConfig, host: Host): string {
  const known = config.guests.flatMap((g) => g.keys.map((k) => `${guestAccount(g.name)} ${k.fingerprint}`));
  const accounts = config.guests.map((g) => guestAccount(g.name));
  const expiries = config.guests.filter((g) => g.expires).map((g) => `    ${quote(guestAccount(g.name))}) ends=${Math.floor(g.expires!.getTime() / 1000)} ;;`);
  const via = host.tunnel.provider === 'lan' ? '' : host.tunnel.provider;
  const ids = SSHD_IDENTIFIERS.flatMap((t) => ['-t', t]);
  return (
    sh`#!/bin/sh
# Managed by pairctl. Do not edit; \`pairctl apply\` rewrites it (the guests' keys are in it).
# Logs sshd's refusals of pairctl's guest accounts again under "pairctl" (graph/audit.ts).
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
` +
    auditFunction('linux') +
    `
is_guest() {
  case "$1" in
${accounts.map((a) => `    ${quote(a)}) return 0 ;;`).join('\n') || '    -) ;;'}
  esac
  return 1
}

# Why sshd refused account $1 the key $2 from $3 ($4 = yes when sshd said "not from a permitted host").
reason() {
  if [ "$4" = yes ]; then echo outside-from; return; fi
  case "$1 $2" in
${known.map((k) => `    ${quote(k)}) ;;`).join('\n') || '    -) ;;'}
    *) echo unknown-key; return ;;
  esac
  ends=''
  case "$1" in
${expiries.join('\n') || '    -) ;;'}
    *) ;;
  esac
  if [ -n "$ends" ] && [ "$(date -u +%s)" -ge "$ends" ]; then echo expired; else echo key-refused; fi
}

tried=''
` +
    sh`journalctl -f -n 0 -q -o cat _UID=0 ${ids} | while IFS= read -r line; do
  case "$line" in
    *": Authentication tried for pair-"*" with correct key but not from a permitted host "*)
      tried=$(printf '%s\\n' "$line" | sed -n 's/.*: Authentication tried for \\(pair-[a-z0-9-]*\\) with correct key but not from a permitted host (host=[^,]*, ip=\\([0-9A-Fa-f.:]*\\), .*/\\1 \\2/p')
      ;;
    "Failed publickey for pair-"*)
      parsed=$(printf '%s\\n' "$line" | sed -n 's/^Failed publickey for \\(pair-[a-z0-9-]*\\) from \\([0-9A-Fa-f.:]*\\) port [0-9]* ssh2: [A-Z0-9-]* \\(SHA256:[A-Za-z0-9+/]*\\)$/\\1 \\2 \\3/p')
      [ -n "$parsed" ] || continue
      account=\${parsed%% *}; rest=\${parsed#* }; addr=\${rest%% *}; fp=\${rest#* }
      is_guest "$account" || continue
      if [ "$tried" = "$account $addr" ]; then off=yes; else off=no; fi
      tried=''
      v=''
      case "$addr" in 127.*|::1) v=${via} ;; esac
      pairctl_audit refused "$account" "$fp" '' "$addr" "$v" "$(reason "$account" "$fp" "$addr" "$off")" ''
      ;;
  esac
done
`
  );
}

/** The follower's program and service (Linux hosts: the journal is systemd's). */
export function auditResources(config: PairConfig, host: Host): Resource[] {
  const program = auditFollowProgram(config, host);
  const file = resource<FileSpec>('file', AUDIT_PROGRAM, { path: AUDIT_PROGRAM, content: program, mode: '0755', owner: 'root', group: 'root' }, [
    address('directory', LIBEXEC_DIR),
  ]);
  const service = resource<SystemdServiceSpec>(
    'systemd_service',
    AUDIT_SERVICE,
    {
      unit: AUDIT_SERVICE,
      path: `${SYSTEMD_DIR}/${AUDIT_SERVICE}`,
      // The unit file does not change with the program (no daemon-reload when a guest is added):
      // it runs a copy, and a copy of another program than this one restarts the service.
      content: render('audit.service', {
        runtimeDirectory: AUDIT_RUN_DIR.slice('/run/'.length),
        copy: execStart(['/bin/cp', AUDIT_PROGRAM, AUDIT_COPY]),
        execStart: execStart(['/bin/sh', AUDIT_COPY]),
      }),
      runsCopy: { path: AUDIT_COPY, sha256: createHash('sha256').update(program).digest('hex') },
      // What it needs that pairctl does not install (its program comes first, in the same apply).
      executable: '/usr/bin/journalctl',
      missingHint: 'the audit follower reads the systemd journal with journalctl; install systemd',
      mode: '0644',
      owner: 'root',
      group: 'root',
    },
    [file.address],
  );
  return [file, service];
}
