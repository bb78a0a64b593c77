/**
 * Where pairctl puts things on a Linux host. One place, so the graph, the session commands and
 * the tests agree, and so every path pairctl writes is derived from a validated name.
 */
import { createHash } from 'node:crypto';
import type { Platform } from '../config/model.js';

/** Group of every guest account: sshd's Match and the tmux socket's group key on it. */
export const GUEST_GROUP = 'pairctl';
export const ETC_DIR = '/etc/pairctl';
export const LIBEXEC_DIR = '/usr/local/libexec/pairctl';
/** The forced command of every guest key. */
export const JOIN_PROGRAM = `${LIBEXEC_DIR}/join`;
export const TMUX_CONF = `${ETC_DIR}/tmux.conf`;
/** Sorts before every other drop-in (the first value of a keyword wins in sshd). */
export const SSHD_DROPIN = '/etc/ssh/sshd_config.d/00-pairctl.conf';
/** Run-time directory (sockets): /run on Linux; a Mac has no /run (read-only system volume). */
export function runDir(platform: Platform = 'linux'): string {
  return platform === 'macos' ? '/var/run/pairctl' : '/run/pairctl';
}
export const STATE_DIR = '/var/lib/pairctl';
/** The machine's record of what pairctl manages there (root-only). */
export const RECORD_FILE = `${STATE_DIR}/state.json`;

/** Login name of a guest's account; guest names are at most 24 characters, so this fits in 32. */
export function guestAccount(guest: string): string {
  return `pair-${guest}`;
}

/** A guest's root-owned home: under /home on Linux, /Users on macOS. */
export function guestHome(guest: string, base = '/home'): string {
  return `${base}/${guestAccount(guest)}`;
}

/** Directory holding the session's socket: owner-owned, searchable by the guests' group. */
export function sessionDir(session: string, platform: Platform = 'linux'): string {
  return `${runDir(platform)}/${session}`;
}

/** The dedicated tmux server's socket: never the owner's default server, which has other sessions. */
export function sessionSocket(session: string, platform: Platform = 'linux'): string {
  return `${sessionDir(session, platform)}/tmux.sock`;
}

/** Root-only home of the host's tunnel key; the private half is made here and never leaves. */
export const TUNNEL_DIR = `${STATE_DIR}/tunnel`;
export const TUNNEL_KEY = `${TUNNEL_DIR}/id_ed25519`;
/** The relay's host keys, pinned: the tunnel never trusts a relay on first use. */
export const TUNNEL_KNOWN_HOSTS = `${TUNNEL_DIR}/known_hosts`;
export const SYSTEMD_DIR = '/etc/systemd/system';
/** One tunnel per host machine, so one fixed unit name. */
export const TUNNEL_SERVICE = 'pairctl-tunnel.service';
export const NGROK_SERVICE = 'pairctl-ngrok.service';
/** macOS: launchd daemons live in /Library/LaunchDaemons, named after their label. */
export const LAUNCHD_DIR = '/Library/LaunchDaemons';
export const TUNNEL_LAUNCHD_LABEL = 'dev.pairctl.tunnel';
export const TUNNEL_LAUNCHD_LOG = '/var/log/pairctl-tunnel.log';
/** ngrok's agent config: holds the authtoken, so root-only (0600). */
export const NGROK_CONFIG = `${ETC_DIR}/ngrok.yml`;
/** Where ngrok's own packages and install instructions put the agent. */
export const NGROK_BINARY = '/usr/local/bin/ngrok';
export const SSH_CLIENT = '/usr/bin/ssh';
/** The relay's sshd drop-in; sorts before other drop-ins, as the host's does. */
export const RELAY_SSHD_DROPIN = '/etc/ssh/sshd_config.d/00-pairctl-relay.conf';
/** Group of the jump guests' relay accounts, which sshd's Match keys on. */
export const JUMP_GROUP = 'pairctl-jump';
/** What a relay account's forced command runs: nothing. */
export const NO_COMMAND = '/bin/false';
export const NOLOGIN_SHELL = '/usr/sbin/nologin';

/**
 * The relay account a host's tunnel logs in as. One per host, so each may listen only on its own
 * ports; user names are at most 32 characters, so long host ids are shortened with a hash.
 */
export function tunnelAccount(host: string): string {
  const name = `tunnel-${host}`;
  return name.length <= 32 ? name : `tunnel-${host.slice(0, 18)}-${createHash('sha256').update(host).digest('hex').slice(0, 6)}`;
}

export function relayHome(account: string): string {
  return `/home/${account}`;
}

/** The name guests' known_hosts use for a host reached through a jump relay (127.0.0.1 is ambiguous). */
export function hostKeyAlias(host: string): string {
  return `pairctl-${host}`;
}
