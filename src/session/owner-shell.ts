/**
 * The one way root runs something against the shared tmux server: as the session's owner, in a
 * clean environment, under a deadline, with what it prints treated as data.
 *
 * - As the owner (as-owner.ts): a tmux client does file I/O and runs hooks for the server it
 *   talks to, and the owner (or a pair guest typing into the owner's prompt) controls that server.
 * - Clean environment (`env -i`): a tmux client hands its whole environment to the server
 *   (MSG_IDENTIFY_ENVIRON), so root's variables would end up in a server the owner controls.
 * - From `/`, not root's working directory.
 * - Deadline (Linux, GNU timeout, which signals its whole process group): whatever listens at
 *   the socket's path may never answer, and one machine must not stall the plan of all.
 *   macOS has no timeout(1); there the owner's client runs without one.
 */
import type { Platform } from '../config/model.js';
import { asUser } from '../resources/as-owner.js';
import { sh } from '../transport/shell-quote.js';

/** PATH of every tmux run for the session: the owner's server, its hooks and the guests' join program. */
export const SESSION_PATH = '/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin';

/** Seconds an owner-run step may take before it is ended (a listener that never answers). */
export const OWNER_DEADLINE_SECONDS = 60;

export interface OwnerShellOptions {
  /** shell expression for $HOME, e.g. "$home" (already a shell word); default / */
  home?: string;
  /** seconds before the step is ended (default OWNER_DEADLINE_SECONDS); Linux only */
  deadlineSeconds?: number;
}

/**
 * The command that runs `script` (POSIX sh) as `owner`. `home` is inserted as a shell word, so it
 * may be a variable the surrounding root script set; everything else is quoted here.
 */
export function ownerShell(platform: Platform, owner: string, script: string, opts: OwnerShellOptions = {}): string {
  const deadline = platform === 'macos' ? '' : sh`timeout -k 5 ${opts.deadlineSeconds ?? OWNER_DEADLINE_SECONDS} `;
  return (
    `${asUser(platform, owner)} ` +
    deadline +
    sh`env -i PATH=${SESSION_PATH} ` +
    `HOME=${opts.home ?? '/'} ` +
    // From /: root's working directory (/root) is not the owner's to read, and find(1) refuses
    // to start where it cannot come back to.
    sh`/bin/sh -c ${`cd / || exit 1\n${script}`}`
  );
}

/**
 * Keeps only the lines of an owner-run step's output that match `pattern` (an ERE anchored by
 * the caller), so nothing it prints can pass for another resource's output or a section marker;
 * with `first`, only the first such line (grep -m 1, GNU's and BSD's). `command` is the shell
 * command whose stdout is filtered; its exit status is not kept.
 */
export function ownerOutput(command: string, pattern: string, first = false): string {
  return `{ ${command} 2>/dev/null || :; } | grep ${first ? '-m 1 ' : ''}-E ` + sh`${pattern}` + ` || :`;
}
