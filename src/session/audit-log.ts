/**
 * The audit log's one writer (issue 13 part 5). Every program that records an event (the join
 * program as the guest, `up`/`down`/`kick`/`mode` as root, the audit follower as root) defines the
 * same shell function, `pairctl_audit`, and calls it. On Linux it hands journald a structured
 * entry (util-linux `logger --journald`, which every Debian has: bsdutils is essential) under
 * SYSLOG_IDENTIFIER=pairctl with PAIRCTL_* fields, so `pairctl log` reads fields, not prose. macOS
 * has no journal: Apple's /usr/bin/logger puts one line of key=value words in the unified log
 * (session/audit-read.ts reads it back). Recorded `log stream --style ndjson` lines of logger
 * entries carry the message as it was given (formatString "%s", the tag nowhere), so the line
 * itself starts with the identifier, `pairctl event=...`, for the reader's predicate to find.
 * At notice (auth.notice) an entry is of type Default, which the unified log keeps on disk; Info
 * entries are only kept in memory (Apple, "Logging": log levels).
 *
 * Values are passed to the function as arguments (never spliced into the script): the caller's
 * literal values go through `sh`, run-time values are shell variables, and the function drops
 * control characters so no value can start a second field or a second entry.
 */
import type { Platform } from '../config/model.js';
import { sh } from '../transport/shell-quote.js';

/** SYSLOG_IDENTIFIER of every entry (journalctl -t pairctl). */
export const AUDIT_IDENTIFIER = 'pairctl';

/** Apple's logger: absolute, because the join program puts Homebrew's bin first on PATH. */
export const MACOS_LOGGER = '/usr/bin/logger';

/** What an entry records. `refused` carries a reason (AUDIT_REASONS). */
export const AUDIT_EVENTS = ['join', 'leave', 'refused', 'kick', 'mode', 'up', 'down'] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

/**
 * Why a guest was refused (the first five by sshd through the audit follower, the rest by the join
 * program), why root's cut-off ended a guest's access (`kick`, `expired`), and why root's timer
 * ended a session (`down`, `time-box`).
 */
export const AUDIT_REASONS = ['unknown-key', 'expired', 'outside-from', 'key-refused', 'not-a-guest', 'kicked', 'no-terminal', 'no-session', 'not-let-in', 'time-box'] as const;

/** The fields of one entry, in the order the function takes them. */
export const AUDIT_FIELDS = ['EVENT', 'GUEST', 'FINGERPRINT', 'MODE', 'SOURCE', 'VIA', 'REASON', 'DETAIL'] as const;

/**
 * Shell text defining `pairctl_audit EVENT GUEST FINGERPRINT MODE SOURCE VIA REASON DETAIL`
 * (empty arguments are left out of the entry). Logging never fails its caller: a journal that is
 * down must not keep a guest out or an `up` from finishing.
 */
export function auditFunction(platform: Platform): string {
  const clean = `v=$(printf '%s' "$1" | tr -d '\\000-\\037\\177' | head -c 512)`;
  if (platform === 'macos') {
    return `pairctl_audit() {
  _m=''
  for _k in ${AUDIT_FIELDS.join(' ')}; do
    ${clean}; shift
    if [ -n "$v" ]; then _m="$_m $(printf '%s' "$_k" | tr '[:upper:]' '[:lower:]')=$v"; fi
  done
  ${MACOS_LOGGER} -t ${AUDIT_IDENTIFIER} -p auth.notice -- "${AUDIT_IDENTIFIER}$_m" 2>/dev/null || :
}
`;
  }
  return `pairctl_audit() {
  _e=$(
    printf 'SYSLOG_IDENTIFIER=${AUDIT_IDENTIFIER}\\nPRIORITY=5\\nSYSLOG_FACILITY=10\\n'
    _m=''
    for _k in ${AUDIT_FIELDS.join(' ')}; do
      ${clean}; shift
      if [ -n "$v" ]; then printf 'PAIRCTL_%s=%s\\n' "$_k" "$v"; _m="$_m $(printf '%s' "$_k" | tr '[:upper:]' '[:lower:]')=$v"; fi
    done
    printf 'MESSAGE=%s\\n' "\${_m# }"
  )
  printf '%s\\n' "$_e" | logger --journald 2>/dev/null || :
}
`;
}

/** The values of one entry. Each is a literal here; run-time values use `auditCall`'s raw form. */
export interface AuditEntry {
  event: AuditEvent;
  guest?: string;
  fingerprint?: string;
  mode?: string;
  source?: string;
  via?: string;
  reason?: string;
  detail?: string;
}

/** One call of the function with literal values, every one quoted by `sh`. */
export function auditCall(e: AuditEntry): string {
  const args = [e.event, e.guest, e.fingerprint, e.mode, e.source, e.via, e.reason, e.detail].map((v) => v ?? '');
  return sh`pairctl_audit ${args}` + ' || :\n';
}

/** The function and one call: what a root script of `up`, `down`, `kick` or `mode` appends. */
export function auditScript(platform: Platform, e: AuditEntry): string {
  return auditFunction(platform) + auditCall(e);
}
