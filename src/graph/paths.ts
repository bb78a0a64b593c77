/**
 * Where pairctl puts things on a Linux host. One place, so the graph, the session commands and
 * the tests agree, and so every path pairctl writes is derived from a validated name.
 */

/** Group of every guest account: sshd's Match and the tmux socket's group key on it. */
export const GUEST_GROUP = 'pairctl';
export const ETC_DIR = '/etc/pairctl';
export const LIBEXEC_DIR = '/usr/local/libexec/pairctl';
/** The forced command of every guest key. */
export const JOIN_PROGRAM = `${LIBEXEC_DIR}/join`;
export const TMUX_CONF = `${ETC_DIR}/tmux.conf`;
/** Sorts before every other drop-in (the first value of a keyword wins in sshd). */
export const SSHD_DROPIN = '/etc/ssh/sshd_config.d/00-pairctl.conf';
export const RUN_DIR = '/run/pairctl';
export const STATE_DIR = '/var/lib/pairctl';
/** The machine's record of what pairctl manages there (root-only). */
export const RECORD_FILE = `${STATE_DIR}/state.json`;

/** Login name of a guest's account; guest names are at most 24 characters, so this fits in 32. */
export function guestAccount(guest: string): string {
  return `pair-${guest}`;
}

export function guestHome(guest: string): string {
  return `/home/${guestAccount(guest)}`;
}

/** Directory holding the session's socket: owner-owned, searchable by the guests' group. */
export function sessionDir(session: string): string {
  return `${RUN_DIR}/${session}`;
}

/** The dedicated tmux server's socket: never the owner's default server, which has other sessions. */
export function sessionSocket(session: string): string {
  return `${sessionDir(session)}/tmux.sock`;
}
