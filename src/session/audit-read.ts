/**
 * Reading the audit log back (`pairctl log`): one root script per host that prints the uid of
 * each guest account and then the host's `pairctl` entries as JSON lines (journalctl on Linux,
 * `log show` on macOS: unified-log-read.ts), and the pure functions that turn that output into
 * entries. What comes back is data: every field is checked for being a string, and an entry some
 * other local user wrote under the identifier is dropped and counted. The writer's uid comes from
 * the log itself, never from the entry's text: journald's _UID, the unified log's userID.
 */
import type { Host, PairConfig } from '../config/model.js';
import { guestAccount } from '../graph/paths.js';
import { sh } from '../transport/shell-quote.js';
import { AUDIT_FIELDS, AUDIT_IDENTIFIER } from './audit-log.js';
import { parseUnifiedLogLine, unifiedLogScript } from './unified-log-read.js';

/** Version of `pairctl log --json` (docs/log-json.md). */
export const LOG_FORMAT_VERSION = 1;

/** One entry of the audit log, as `pairctl log --json` prints it. */
export interface AuditLogEntry {
  /** when journald received it, ISO 8601 UTC with microseconds dropped to milliseconds */
  time: string;
  /** microseconds since the epoch: the sort key, exact */
  time_us: number;
  host: string;
  event: string;
  /** the guest's name in pair.yaml (the account without `pair-`), null for up/down */
  guest: string | null;
  account: string | null;
  fingerprint: string | null;
  mode: string | null;
  source: string | null;
  /** the tunnel the guest came through (vps, jump, ngrok) when the source is loopback */
  via: string | null;
  reason: string | null;
  detail: string | null;
  /** who wrote it: "pairctl" (root: up, down, kick, mode, sshd refusals) or "guest" (the join program) */
  writer: 'pairctl' | 'guest';
}

/** What one host gave back. */
export interface HostLog {
  entries: AuditLogEntry[];
  /** entries under the identifier from a uid that is neither root nor the guest named in them */
  ignored: number;
}

/**
 * Root script: guest uids, then the host's entries (journal JSON on Linux, unified log ndjson on
 * macOS) after a marker line, then the reading tool's exit status.
 */
export function logReadScript(config: PairConfig, host: Host, sinceEpoch: number | undefined): string {
  const uids = config.guests.map((g) => sh`u=$(id -u ${guestAccount(g.name)} 2>/dev/null) && printf 'uid %s %s\\n' ${guestAccount(g.name)} "$u"`).join('\n');
  const head = uids ? uids + '\n' : '';
  if (host.platform === 'macos') return head + unifiedLogScript(sinceEpoch);
  const since = sinceEpoch === undefined ? [] : ['--since', `@${sinceEpoch}`];
  return (
    head +
    'echo journal\n' +
    sh`journalctl --no-pager -q -o json ${'SYSLOG_IDENTIFIER=' + AUDIT_IDENTIFIER} ${since}` +
    '\necho "journal-rc=$?"\n'
  );
}

const field = (o: Record<string, unknown>, k: string): string | null => (typeof o[k] === 'string' ? (o[k] as string) : null);

/** One entry before the trust rule: who wrote it (uid as text), when, and its fields by AUDIT_FIELDS name. */
interface RawEntry {
  uid: string | null;
  time_us: number;
  get: (name: (typeof AUDIT_FIELDS)[number]) => string | null;
}

const SOURCES = {
  journal: { end: /^journal-rc=([0-9]+)$/, tool: 'journalctl', ok: ['0', '1'] },
  'unified-log': { end: /^log-rc=([0-9]+)$/, tool: 'log show', ok: ['0'] },
} as const;

function journalEntry(line: string): RawEntry | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const us = field(o, '__REALTIME_TIMESTAMP');
  if (!field(o, 'PAIRCTL_EVENT') || !us || !/^[0-9]+$/.test(us)) return undefined;
  return { uid: field(o, '_UID'), time_us: Number(us), get: (n) => field(o, `PAIRCTL_${n}`) };
}

function unifiedEntry(line: string): RawEntry | undefined {
  const e = parseUnifiedLogLine(line);
  if (!e) return undefined;
  return { uid: String(e.uid), time_us: e.time_us, get: (n) => e.fields[n] || null };
}

/**
 * Parses one host's output; throws when the reading tool itself failed. `sinceEpoch` drops what is
 * older (macOS reads from an hour early, see unified-log-read.ts).
 */
export function parseHostLog(hostId: string, output: string, sinceEpoch?: number): HostLog {
  const uids = new Map<string, string>();
  const entries: AuditLogEntry[] = [];
  let ignored = 0;
  let source: keyof typeof SOURCES | undefined;
  let rc: string | undefined;
  for (const line of output.split('\n')) {
    if (!source) {
      const m = /^uid (pair-[a-z0-9-]+) ([0-9]+)$/.exec(line);
      if (m) uids.set(m[1]!, m[2]!);
      else if (line === 'journal' || line === 'unified-log') source = line;
      continue;
    }
    const end = SOURCES[source].end.exec(line);
    if (end) {
      rc = end[1];
      continue;
    }
    if (!line.startsWith('{')) continue;
    const raw = source === 'journal' ? journalEntry(line) : unifiedEntry(line);
    if (!raw) continue;
    const account = raw.get('GUEST');
    const writer = raw.uid === '0' ? 'pairctl' : account !== null && raw.uid !== null && uids.get(account) === raw.uid ? 'guest' : undefined;
    if (!writer) {
      ignored++;
      continue;
    }
    if (sinceEpoch !== undefined && raw.time_us < sinceEpoch * 1_000_000) continue;
    entries.push({
      time: new Date(Math.floor(raw.time_us / 1000)).toISOString(),
      time_us: raw.time_us,
      host: hostId,
      event: raw.get('EVENT')!,
      guest: account?.startsWith('pair-') ? account.slice('pair-'.length) : null,
      account,
      fingerprint: raw.get('FINGERPRINT'),
      mode: raw.get('MODE'),
      source: raw.get('SOURCE'),
      via: raw.get('VIA'),
      reason: raw.get('REASON'),
      detail: raw.get('DETAIL'),
      writer,
    });
  }
  const tool = source ? SOURCES[source].tool : 'the log reader';
  if (rc === undefined) throw new Error(`the audit log could not be read (${tool} did not finish)`);
  // journalctl exits 1 when nothing matches on some versions, with nothing on stderr.
  if (!(SOURCES[source!].ok as readonly string[]).includes(rc)) throw new Error(`${tool} failed (exit ${rc})`);
  return { entries, ignored };
}

/** Every host's entries in one list, oldest first (ties: by host, then as each host listed them). */
export function mergeLogs(logs: AuditLogEntry[][]): AuditLogEntry[] {
  return logs
    .flatMap((l, h) => l.map((e, i) => ({ e, h, i })))
    .sort((a, b) => a.e.time_us - b.e.time_us || a.h - b.h || a.i - b.i)
    .map((x) => x.e);
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * `--since`: a relative age (90s, 30m, 2h, 7d) or an ISO date or date-time (UTC unless it says
 * otherwise: 2026-12-02, 2026-12-02T16:00, 2026-12-02 16:00:30+01:00). Returns epoch seconds, or
 * undefined when it is none of these; pairctl hands journalctl only `@SECONDS`, never the text.
 */
export function parseSince(value: string, now: Date = new Date()): number | undefined {
  const rel = /^([0-9]{1,6})([smhd])$/.exec(value);
  if (rel) return Math.floor(now.getTime() / 1000) - Number(rel[1]) * UNIT_SECONDS[rel[2]!]!;
  const iso = /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?(Z|[+-][0-9]{2}:[0-9]{2})?)?$/.exec(value);
  if (!iso) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', zone = 'Z'] = iso;
  const text = `${y}-${mo}-${d}T${h}:${mi}:${s}${zone}`;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2026-02-30 over to March; a date that does not exist is refused.
  const back = new Date(ms + (zone === 'Z' ? 0 : zoneOffsetMs(zone)));
  if (back.getUTCFullYear() !== Number(y) || back.getUTCMonth() + 1 !== Number(mo) || back.getUTCDate() !== Number(d) || back.getUTCHours() !== Number(h) || back.getUTCMinutes() !== Number(mi)) return undefined;
  return Math.floor(ms / 1000);
}

function zoneOffsetMs(zone: string): number {
  const sign = zone.startsWith('-') ? -1 : 1;
  const [hh, mm] = zone.slice(1).split(':').map(Number);
  return sign * (hh! * 60 + mm!) * 60_000;
}

const dash = (v: string | null): string => v ?? '-';

/** The text table: one line per entry, oldest first. */
export function renderLog(entries: AuditLogEntry[]): string {
  if (entries.length === 0) return 'no audit log entries\n';
  const rows = entries.map((e) => [
    e.time.replace(/\.[0-9]+Z$/, 'Z'),
    e.host,
    e.event,
    dash(e.guest),
    dash(e.mode),
    e.via ? `${e.via} relay` : dash(e.source),
    dash(e.fingerprint),
    [e.reason, e.detail].filter(Boolean).join('; ') || '-',
  ]);
  const head = ['TIME', 'HOST', 'EVENT', 'GUEST', 'MODE', 'FROM', 'KEY', 'REASON'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [fmt(head), ...rows.map(fmt)].join('\n') + '\n';
}
