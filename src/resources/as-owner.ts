/**
 * Running things as the session's owner instead of root. A tmux client does file I/O for the
 * server it talks to (`save-buffer`, `load-buffer`, `source-file`), runs the server's hooks in its
 * own queue and execs whatever `MSG_SHELL` names; and the owner (or a pair guest typing into the
 * owner's shell) controls that server, its socket and the directory the socket lives in. So root
 * never runs a tmux client, nor a file operation on a path inside that directory: it runs them as
 * the owner (session/owner-shell.ts builds every such step on this), and reads what comes back as data.
 */
import type { Platform } from '../config/model.js';
import { sh } from '../transport/shell-quote.js';

/**
 * The words that run a command as `user`, from root: runuser on Linux (no PAM session, no
 * password); macOS has no runuser, and sudo as root never asks. -H so nothing reads root's HOME.
 */
export function asUser(platform: Platform, user: string): string {
  return platform === 'macos' ? sh`sudo -u ${user} -H --` : sh`runuser -u ${user} --`;
}
