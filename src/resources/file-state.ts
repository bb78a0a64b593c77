/**
 * Reading and writing a regular file's content, mode and owner: shared by the plain `file` kind
 * and by kinds that are files with extra rules (the sshd drop-in). Writes are atomic
 * (atomic-replace.ts), so a dropped connection never leaves a half-written managed file.
 */
import { sh } from '../transport/shell-quote.js';
import { atomicReplaceScript } from './atomic-replace.js';
import { keyValues, type AttributeChange } from './kind.js';

/** A file pairctl wants on a machine. `mode` is four octal digits, e.g. "0644". */
export interface FileSpec {
  path: string;
  content: string;
  mode: string;
  owner: string;
  group: string;
}

/** What is at the path now. */
export interface FileObserved {
  type: 'absent' | 'file' | 'link' | 'other';
  mode?: string;
  owner?: string;
  group?: string;
  content?: string;
}

/**
 * Shell condition: the machine's stat is GNU's (Linux), not BSD's (macOS), and so is its base64
 * (coreutils both; GNU's takes -w 0 for one line, one tr less). A probe tests it once,
 * into pairctl_stat (probe-script.ts), for all its sections (one stat less in each that reads a
 * mode: 5 processes of a converged host's probe); a snippet run on its own tests it itself.
 */
export const GNU_STAT = '{ [ "${pairctl_stat-}" = gnu ] || { [ -z "${pairctl_stat-}" ] && stat -c %a / >/dev/null 2>&1; }; }';

/** The shell that sets pairctl_stat for GNU_STAT (to gnu or bsd). */
export const STAT_FLAVOR = 'if stat -c %a / >/dev/null 2>&1; then pairctl_stat=gnu; else pairctl_stat=bsd; fi';

/**
 * Prints `mode=`, `owner=` and `group=` lines for the path in $p, with GNU stat (Linux) or BSD
 * stat (macOS), whichever the machine has.
 */
export const STAT_SNIPPET = `if ${GNU_STAT}; then stat -c 'mode=%a
owner=%U
group=%G' "$p"; else stat -f 'mode=%Lp
owner=%Su
group=%Sg' "$p"; fi`;

/** Fields `statLine` can print, with their GNU (Linux) and BSD (macOS) stat format codes. */
const STAT_FIELDS = {
  mode: ['%a', '%Lp'],
  user: ['%U', '%Su'],
  group: ['%G', '%Sg'],
  uid: ['%u', '%u'],
  gid: ['%g', '%g'],
} as const;

/**
 * Shell printing one `key=<f1>:<f2>:…` line about `path` (a trusted shell expression such as
 * "$p") with GNU stat or BSD stat, whichever the machine has: the one place that choice is made
 * for single-line reads.
 */
export function statLine(key: string, path: string, fields: Array<keyof typeof STAT_FIELDS>): string {
  const gnu = fields.map((f) => STAT_FIELDS[f][0]).join(':');
  const bsd = fields.map((f) => STAT_FIELDS[f][1]).join(':');
  return `if ${GNU_STAT}; then echo "${key}=$(stat -c '${gnu}' ${path})"; else echo "${key}=$(stat -f '${bsd}' ${path})"; fi`;
}

/**
 * Shell that sets p to `path` and prints `type=` for it, never following a symlink: `kind` when
 * it is one (and then runs `then`, which reads "$p"), `link` for a symlink (`other` unless told),
 * `other` for anything else there, `absent` when nothing is. The one classification every
 * single-path probe (files, directories, secrets, keys) starts from.
 */
export function probeTyped(path: string, kind: 'file' | 'directory', then: string, link: 'link' | 'other' = 'other'): string {
  const test = kind === 'file' ? '-f' : '-d';
  return (
    sh`p=${path}
if [ -L "$p" ]; then echo type=${link}
elif [ ${test} "$p" ]; then
  echo type=${kind}
` +
    then +
    `
elif [ -e "$p" ]; then echo type=other
else echo type=absent
fi`
  );
}

/** Prints type, mode, owner, group and base64 content of a path (never follows a symlink). */
export function probeFile(path: string): string {
  return probeTyped(path, 'file', `${STAT_SNIPPET}
  printf 'content='; if ${GNU_STAT}; then base64 -w 0 < "$p"; else base64 < "$p" | tr -d '\n'; fi; echo`, 'link');
}

/** Parses the output of `probeFile`. */
export function parseFile(output: string): FileObserved {
  const kv = keyValues(output);
  const type = kv.get('type');
  if (type !== 'file') return { type: type === 'link' || type === 'other' ? type : 'absent' };
  return {
    type: 'file',
    mode: (kv.get('mode') ?? '').padStart(4, '0'),
    owner: kv.get('owner'),
    group: kv.get('group'),
    content: Buffer.from(kv.get('content') ?? '', 'base64').toString('utf8'),
  };
}

/** What a batched probe may be given: an absolute path on one line (it prints one line per path). */
function assertProbePath(path: string): void {
  if (!path.startsWith('/') || path.includes('\n')) {
    throw new Error(`internal error: refusing to probe ${JSON.stringify(path)}: a managed path is absolute and on one line`);
  }
}

/**
 * The batched read of many paths, a fixed number of processes however many there are: a
 * `t<TAB>type` line per path, in order (shell builtins only; a symlink is never followed), then
 * one `s<TAB>mode<TAB>owner<TAB>group<TAB>size<TAB>path` line per path of type `keep`, from one
 * GNU or BSD stat (the path last, so it may hold tabs); with `content`, then one `c<TAB>` line:
 * the base64 of those files' bytes, concatenated in the stat's order and split by its sizes.
 * Nothing printed depends on what is wanted there, so a plan can be compared again against the
 * same read once cross-machine facts change a file's content. The kept paths go to stat and cat
 * through `xargs -0` (GNU and BSD both have it): collecting them with `set -- "$@" "$p"` copies
 * the list each time, and at 1,000 paths that quadratic loop cost more than the processes saved.
 */
export function probePaths(paths: string[], keep: 'file' | 'directory', content: boolean): string {
  paths.forEach(assertProbePath);
  const test = keep === 'file' ? '-f' : '-d';
  // A directory probe reports a symlink as `other`, as the single probe does.
  const link = keep === 'file' ? 'link' : 'other';
  return (
    sh`set -- ${paths}
k=0
for p do
  if [ -L "$p" ]; then t=${link}
  elif [ ${test} "$p" ]; then t=${keep}
  elif [ -e "$p" ]; then t=other
  else t=absent
  fi
  printf 't\\t%s\\n' "$t"
  if [ "$t" = ${keep} ]; then k=$((k + 1)); fi
done
if [ "$k" -gt 0 ]; then
  kept() { for p do if [ ! -L "$p" ] && [ ${test} "$p" ]; then printf '%s\\0' "$p"; fi; done; }
` +
    `  if ${GNU_STAT}; then kept "$@" | xargs -0 stat -c 's\t%a\t%U\t%G\t%s\t%n' -- 2>/dev/null
  else kept "$@" | xargs -0 stat -f 's\t%Lp\t%Su\t%Sg\t%z\t%N' -- 2>/dev/null
  fi
` +
    (content
      ? `  printf 'c\\t'
  if ${GNU_STAT}; then kept "$@" | xargs -0 cat -- 2>/dev/null | base64 -w 0
  else kept "$@" | xargs -0 cat -- 2>/dev/null | base64 | tr -d '\\n'
  fi
  echo
`
      : '') +
    'fi'
  );
}

/** One path's state as `probePaths` printed it. */
export interface PathObserved {
  type: string;
  mode?: string;
  owner?: string;
  group?: string;
  content?: string;
}

/** Parses the output of `probePaths`, one entry per path in order. */
export function parsePaths(output: string, paths: string[]): PathObserved[] {
  const types: string[] = [];
  const stats: Array<{ mode: string; owner: string; group: string; size: number; path: string }> = [];
  let b64 = '';
  for (const line of output.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 't' && f.length === 2) types.push(f[1]!);
    else if (f[0] === 's' && f.length >= 6) stats.push({ mode: f[1]!, owner: f[2]!, group: f[3]!, size: Number(f[4]), path: f.slice(5).join('\t') });
    else if (f[0] === 'c' && f.length === 2) b64 = f[1]!;
  }
  const bytes = Buffer.from(b64, 'base64');
  const byPath = new Map<string, PathObserved>();
  let at = 0;
  for (const s of stats) {
    byPath.set(s.path, { type: 'stat', mode: s.mode.padStart(4, '0'), owner: s.owner, group: s.group, content: bytes.subarray(at, at + s.size).toString('utf8') });
    at += s.size;
  }
  if (b64 && at !== bytes.length) throw new Error(`a file changed while it was being read (${stats.map((s) => s.path).join(', ')}); plan again`);
  return paths.map((path, i) => {
    const type = types[i] ?? 'absent';
    const stat = byPath.get(path);
    // Kept but gone before the stat: it is not there any more.
    if (type === 'file' || type === 'directory') return stat ? { ...stat, type } : { type: 'absent' };
    return { type };
  });
}

/** Reads many files at once (the `file` kind's batch); the same observations as `probeFile`. */
export function probeFiles(paths: string[]): string {
  return probePaths(paths, 'file', true);
}

/** Parses the output of `probeFiles`. */
export function parseFiles(output: string, paths: string[]): FileObserved[] {
  return parsePaths(output, paths).map((o): FileObserved => {
    if (o.type === 'file') return { type: 'file', mode: o.mode, owner: o.owner, group: o.group, content: o.content ?? '' };
    return { type: o.type === 'link' || o.type === 'other' ? o.type : 'absent' };
  });
}

/** The metadata differences between a wanted file and what is there (content is diffed apart). */
export function fileAttributeChanges(spec: FileSpec, observed: FileObserved): AttributeChange[] {
  const changes: AttributeChange[] = [];
  if (observed.type !== 'file') {
    if (observed.type !== 'absent') changes.push({ name: 'type', before: observed.type, after: 'file' });
    changes.push({ name: 'mode', after: spec.mode }, { name: 'owner', after: `${spec.owner}:${spec.group}` });
    return changes;
  }
  if (observed.mode !== spec.mode) changes.push({ name: 'mode', before: observed.mode, after: spec.mode });
  const owner = `${observed.owner}:${observed.group}`;
  if (owner !== `${spec.owner}:${spec.group}`) changes.push({ name: 'owner', before: owner, after: `${spec.owner}:${spec.group}` });
  return changes;
}

/** True when the file is exactly as wanted. */
export function fileInSync(spec: FileSpec, observed: FileObserved): boolean {
  return observed.type === 'file' && observed.content === spec.content && fileAttributeChanges(spec, observed).length === 0;
}

/** Shell that writes the file atomically (atomic-replace.ts: temp file, owner and mode set, then rename). */
export function writeFileScript(spec: FileSpec): string {
  const b64 = Buffer.from(spec.content, 'utf8').toString('base64');
  return atomicReplaceScript({
    path: spec.path,
    fill: sh`printf '%s' ${b64} | base64 --decode > "$t"`,
    owner: { user: spec.owner, group: spec.group },
    mode: spec.mode,
  });
}
