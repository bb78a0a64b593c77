/**
 * The macOS half of `pairctl log`: the audit entries are in the unified log, written there by
 * Apple's /usr/bin/logger (session/audit-log.ts). Read back with `log show --style ndjson`, one
 * JSON object per line. Every field relied on here is in recorded `log stream`/`log show` output of
 * logger entries (test/fixtures/macos/README.md names the sources):
 *
 *   {"messageType":"Default","eventType":"logEvent","formatString":"%s","userID":501,
 *    "processImagePath":"\/usr\/bin\/logger","senderImagePath":"\/usr\/bin\/logger",
 *    "timestamp":"2026-10-04 17:50:33.803491+0200","eventMessage":"...","processID":21314,...}
 *
 * Who wrote an entry is `userID`: the effective uid logd stores per process in the log's catalog
 * (the tracev3 format's process-info entry), not anything the writer puts in its message. So the
 * trust rule is Linux's _UID rule: root (0), or the uid of the guest account the entry names.
 */
import { sh } from '../transport/shell-quote.js';
import { AUDIT_FIELDS, AUDIT_IDENTIFIER, MACOS_LOGGER } from './audit-log.js';

/** Only logger's own entries whose message starts with the identifier (the writer puts it there). */
export const UNIFIED_LOG_PREDICATE = `processImagePath == "${MACOS_LOGGER}" AND eventMessage BEGINSWITH "${AUDIT_IDENTIFIER} "`;

/**
 * `--start` takes local wall-clock time ("YYYY-MM-DD HH:MM:SS", log(1)); the host's own `date -r`
 * turns the epoch second into it, an hour early so a clock that went back (DST) loses nothing, and
 * the parser then keeps exactly what is at or after the instant asked for.
 */
export const START_SLACK_SECONDS = 3600;

/** Shell text printing the entries (ndjson) after a marker line, then log's exit status. */
export function unifiedLogScript(sinceEpoch: number | undefined): string {
  const start =
    sinceEpoch === undefined
      ? ''
      : sh`start=$(date -r ${String(Math.max(0, sinceEpoch - START_SLACK_SECONDS))} '+%Y-%m-%d %H:%M:%S') || { echo 'pairctl: date -r failed' >&2; exit 1; }` + '\n';
  return (
    start +
    'echo unified-log\n' +
    sh`/usr/bin/log show --style ndjson --info --predicate ${UNIFIED_LOG_PREDICATE}` +
    (sinceEpoch === undefined ? '' : ' --start "$start"') +
    '\necho "log-rc=$?"\n'
  );
}

/** One pairctl entry as the unified log gave it back: the writer's uid, the time and the words. */
export interface UnifiedLogEntry {
  uid: number;
  time_us: number;
  fields: Partial<Record<(typeof AUDIT_FIELDS)[number], string>>;
}

/**
 * Parses one ndjson line; undefined for anything that is not a logger entry of pairctl's (the
 * banner, a summary object, a malformed line, another program's entry).
 */
export function parseUnifiedLogLine(line: string): UnifiedLogEntry | undefined {
  if (!line.startsWith('{')) return undefined;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (o === null || typeof o !== 'object') return undefined;
  if (o.eventType !== 'logEvent' || o.processImagePath !== MACOS_LOGGER) return undefined;
  const uid = o.userID;
  const message = o.eventMessage;
  if (typeof uid !== 'number' || !Number.isSafeInteger(uid) || uid < 0 || typeof message !== 'string') return undefined;
  const time_us = typeof o.timestamp === 'string' ? timestampMicros(o.timestamp) : undefined;
  if (time_us === undefined) return undefined;
  const fields = parseWords(message);
  if (!fields?.EVENT) return undefined;
  return { uid, time_us, fields };
}

/** `2026-10-04 17:50:33.803491+0200` (log's timestamp: local time and its offset) in microseconds. */
export function timestampMicros(text: string): number | undefined {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?([+-])([0-9]{2})([0-9]{2})$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', sign, oh, om] = m;
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const back = new Date(local);
  if (back.getUTCMonth() + 1 !== Number(mo) || back.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return undefined;
  const offsetMs = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
  return (local - offsetMs) * 1000 + Number(frac.padEnd(6, '0').slice(0, 6));
}

const KEYS = AUDIT_FIELDS.map((k) => k.toLowerCase());

/**
 * `pairctl event=up detail=session pair` → fields. The writer emits the keys in AUDIT_FIELDS order,
 * each once, values without control characters; only `detail` (the last) holds spaces. So a word
 * starts a field only when it names a key later than the current one: a detail that reads
 * "x mode=pair" stays detail.
 */
export function parseWords(message: string): UnifiedLogEntry['fields'] | undefined {
  const prefix = `${AUDIT_IDENTIFIER} `;
  if (!message.startsWith(prefix)) return undefined;
  const fields: UnifiedLogEntry['fields'] = {};
  let current = -1;
  for (const word of message.slice(prefix.length).split(' ')) {
    const eq = word.indexOf('=');
    const k = eq > 0 ? KEYS.indexOf(word.slice(0, eq)) : -1;
    if (k > current) {
      current = k;
      fields[AUDIT_FIELDS[k]!] = word.slice(eq + 1);
    } else if (current >= 0) {
      fields[AUDIT_FIELDS[current]!] += ' ' + word;
    } else {
      return undefined;
    }
  }
  return fields;
}
