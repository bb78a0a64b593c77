/**
 * The one way a root script on a machine replaces a file: a temp file in the same directory
 * (mktemp: a name nobody can guess, created 0600 and root's, so nobody can plant a file or
 * symlink there first), filled, given its owner and mode, then renamed over the path. Readers
 * see the old file or the new one, never half of one; a symlink at the path is replaced, not
 * followed (rename(2) acts on the link); and when anything fails the trap removes the temp file
 * and the old file stays as it was.
 */
import { dirname } from 'node:path';
import { sh } from '../transport/shell-quote.js';

/** What to put where. */
export interface AtomicReplace {
  /** absolute path of the file to replace */
  path: string;
  /**
   * Trusted shell that writes the new content into "$t": a printf of base64 content, a `cp -p`
   * of a backup, a template with a secret slot (the temp file is 0600 before the secret goes in).
   */
  fill: string;
  /** owner and group given to the temp file before the rename; left out, it keeps what `fill` left */
  owner?: { user: string; group: string };
  /** octal mode given to the temp file before the rename; left out, it keeps what `fill` left */
  mode?: string;
  /**
   * How a missing directory is made: root's and 0755 (`install`, the default), `mkdir -p`, or
   * not at all (`given`: the caller's script made it, e.g. with `install -d` that also fixes an
   * existing one's owner and mode).
   */
  dir?: 'install' | 'mkdir' | 'given';
}

/** Shell (POSIX sh, run as root under `set -eu`) that replaces `path` atomically; it uses $t. */
export function atomicReplaceScript(r: AtomicReplace): string {
  if (!r.path.startsWith('/') || r.path.includes('\n')) {
    throw new Error(`internal error: refusing to replace ${JSON.stringify(r.path)}: a managed path is absolute and on one line`);
  }
  const dir = dirname(r.path);
  const lines: string[] = [];
  if (r.dir === undefined || r.dir === 'install') lines.push(sh`[ -d ${dir} ] || install -d -m 0755 -o root -g root ${dir}`);
  else if (r.dir === 'mkdir') lines.push(sh`[ -d ${dir} ] || mkdir -p ${dir}`);
  lines.push(sh`t=$(mktemp ${dir + '/.pairctl.XXXXXX'})`, `trap 'rm -f "$t"' EXIT`, r.fill);
  if (r.owner) lines.push(sh`chown ${r.owner.user + ':' + r.owner.group} "$t"`);
  if (r.mode !== undefined) lines.push(sh`chmod ${r.mode} "$t"`);
  lines.push(sh`mv -f "$t" ${r.path}`, 'trap - EXIT');
  return lines.join('\n');
}
