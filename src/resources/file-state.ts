/**
 * Reading and writing a regular file's content, mode and owner: shared by the plain `file` kind
 * and by kinds that are files with extra rules (the sshd drop-in). Writes are atomic: a temp file
 * in the same directory gets content, owner and mode, then is renamed over the target, so a
 * dropped connection never leaves a half-written managed file.
 */
import { dirname } from 'node:path';
import { sh } from '../transport/shell-quote.js';
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
 * Prints `mode=`, `owner=` and `group=` lines for the path in $p, with GNU stat (Linux) or BSD
 * stat (macOS), whichever the machine has.
 */
export const STAT_SNIPPET = `if stat -c %a / >/dev/null 2>&1; then stat -c 'mode=%a
owner=%U
group=%G' "$p"; else stat -f 'mode=%Lp
owner=%Su
group=%Sg' "$p"; fi`;

/** Prints type, mode, owner, group and base64 content of a path (never follows a symlink). */
export function probeFile(path: string): string {
  return (
    sh`p=${path}
if [ -L "$p" ]; then echo type=link
elif [ -f "$p" ]; then
  echo type=file
` +
    STAT_SNIPPET +
    `
  printf 'content='; base64 < "$p" | tr -d '\n'; echo
elif [ -e "$p" ]; then echo type=other
else echo type=absent
fi`
  );
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

/** Shell that writes the file atomically (temp file, owner and mode set, then rename). */
export function writeFileScript(spec: FileSpec): string {
  const dir = dirname(spec.path);
  const b64 = Buffer.from(spec.content, 'utf8').toString('base64');
  return sh`[ -d ${dir} ] || install -d -m 0755 -o root -g root ${dir}
t=$(mktemp ${dir + '/.pairctl.XXXXXX'})
trap 'rm -f "$t"' EXIT
printf '%s' ${b64} | base64 --decode > "$t"
chown ${spec.owner + ':' + spec.group} "$t"
chmod ${spec.mode} "$t"
mv -f "$t" ${spec.path}
trap - EXIT`;
}
