/**
 * What `pairctl recordings` reads on a host: every recording in the root-only recordings
 * directory (graph/recording.ts), with its size, its header (start time, screen size) and its
 * last event (duration). One script, one exec per host, run as root; the recordings are root's
 * own files, but what they hold was shown by the owner's session, so it is parsed as data and
 * only names of the recorder's own shape are kept.
 */
import { RECORDINGS_DIR } from '../graph/recording.js';
import { sh } from '../transport/shell-quote.js';

/** Bumped whenever a field of the JSON document changes meaning or goes away (docs/recordings-json.md). */
export const RECORDINGS_FORMAT_VERSION = 1;

/** The recorder's file names: SESSION-YYYYmmddTHHMMSSZ.cast, with -N when two start in one second. */
const CAST_NAME = /^([a-z][a-z0-9-]*)-(\d{8}T\d{6}Z)(?:-\d+)?\.cast$/;

/** One recording in the document. */
export interface RecordingInfo {
  file: string;
  path: string;
  session: string;
  /** when recording started (the header's timestamp), ISO 8601 UTC */
  started: string;
  /** the last event's time, in seconds; null when the file holds no event yet */
  duration_seconds: number | null;
  bytes: number;
  /** the screen size the recording starts at */
  size: { cols: number; rows: number } | null;
}

/** The host's side: `r` NAME SIZE per file, then its header line `h` and last line `l`. */
export function recordingsScript(): string {
  return sh`d=${RECORDINGS_DIR}
[ -d "$d" ] && [ ! -L "$d" ] || exit 0
for f in "$d"/*.cast; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  printf 'r\\t%s\\t%s\\n' "\${f##*/}" "$(stat -c %s -- "$f")"
  printf 'h\\t%s\\n' "$(head -n 1 -- "$f" | head -c 4096)"
  printf 'l\\t%s\\n' "$(tail -n 1 -- "$f" | head -c 4096)"
done
`;
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Parses one host's listing; lines of any other shape, and names the recorder does not make, are ignored. */
export function parseRecordings(stdout: string): RecordingInfo[] {
  const out: RecordingInfo[] = [];
  let current: RecordingInfo | undefined;
  for (const line of stdout.split('\n')) {
    const tab = line.indexOf('\t');
    const tag = line.slice(0, tab);
    const rest = line.slice(tab + 1);
    if (tag === 'r') {
      const [file = '', bytes = ''] = rest.split('\t');
      const m = CAST_NAME.exec(file);
      current = undefined;
      if (!m || !/^\d+$/.test(bytes)) continue;
      const stamp = m[2]!;
      const started = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}.000Z`;
      current = { file, path: `${RECORDINGS_DIR}/${file}`, session: m[1]!, started, duration_seconds: null, bytes: Number(bytes), size: null };
      out.push(current);
    } else if (tag === 'h' && current) {
      const h = parseJson(rest) as { version?: unknown; width?: unknown; height?: unknown; timestamp?: unknown } | undefined;
      if (h && h.version === 2 && Number.isInteger(h.width) && Number.isInteger(h.height)) current.size = { cols: h.width as number, rows: h.height as number };
      if (h && typeof h.timestamp === 'number' && Number.isFinite(h.timestamp)) current.started = new Date(h.timestamp * 1000).toISOString();
    } else if (tag === 'l' && current) {
      const e = parseJson(rest);
      if (Array.isArray(e) && typeof e[0] === 'number' && Number.isFinite(e[0])) current.duration_seconds = Math.round(e[0] * 10) / 10;
    }
  }
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

/** Bytes as "812 B", "3.4 KiB", "12.0 MiB". */
export function shortSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
