/**
 * How a runner's script becomes root: directly when already root, else `sudo -n` (never a
 * password prompt: there is no terminal, and a hung prompt would stall every machine's apply).
 * Also the words that tell the operator what to change when that fails.
 */

/** How a script will be run: as root already, through `sudo -n`, or (misconfigured) as a plain user. */
export type Privilege = 'root' | 'sudo' | 'user';

/** Chooses the privilege from who logs in and the machine's `sudo:` setting. */
export function privilegeFor(isRoot: boolean, sudo: boolean): Privilege {
  if (isRoot) return 'root';
  return sudo ? 'sudo' : 'user';
}

/** The command whose stdin receives the script (argv stays short and secrets stay out of `ps`). */
export function shellCommand(privilege: Privilege): string {
  return privilege === 'sudo' ? 'sudo -n sh -s' : 'sh -s';
}

/** Explains, for stderr of a failed exec, why it probably failed for lack of root, or ''. */
export function privilegeNote(
  privilege: Privilege,
  machine: string,
  user: string,
  result: { code: number; stderr: string },
): string {
  if (result.code === 0) return '';
  if (privilege === 'user') {
    return (
      `pairctl: machine "${machine}": logged in as "${user}", not root, and sudo is false; pairctl needs root there. ` +
      `Set "sudo: true" for this machine (with passwordless sudo for "${user}") or log in as root.\n`
    );
  }
  if (privilege === 'sudo' && /sudo: (a password is required|a terminal is required)/.test(result.stderr)) {
    return (
      `pairctl: machine "${machine}": "sudo -n" as "${user}" needs a password; pairctl never types one. ` +
      `Give "${user}" passwordless sudo (e.g. "${user} ALL=(ALL) NOPASSWD: ALL" in /etc/sudoers.d/) or log in as root.\n`
    );
  }
  if (privilege === 'sudo' && result.code === 127 && /sudo: (command )?not found/.test(result.stderr)) {
    return `pairctl: machine "${machine}": sudo is not installed; install it or log in as root.\n`;
  }
  if (privilege === 'sudo' && /is not in the sudoers file|is not allowed to run sudo/.test(result.stderr)) {
    return `pairctl: machine "${machine}": "${user}" may not use sudo there; allow it in /etc/sudoers.d/ or log in as root.\n`;
  }
  return '';
}
