/**
 * The sshd settings of every account pairctl makes (guests on hosts, tunnel and jump accounts on
 * relays), and of the guest-only sshd listener that tunnels lead to. One place, so the drop-ins,
 * the listener's config and the `sshd -T` checks that prove them agree.
 */
import type { FactProbe, Facts } from './facts.js';
import type { RelayTunnel } from './tunnel.js';
import { factValue } from './facts.js';
import { GUEST_GROUP, JOIN_PROGRAM, NO_COMMAND } from './paths.js';
import { compareVersions } from '../resources/version.js';

/** Every account pairctl makes, on a host or a relay, logs in with a listed key and nothing else. */
export const KEY_ONLY_AUTH: ReadonlyArray<[string, string]> = [
  ['AuthenticationMethods', 'publickey'],
  ['PubkeyAuthentication', 'yes'],
  ['PasswordAuthentication', 'no'],
  ['KbdInteractiveAuthentication', 'no'],
  ['HostbasedAuthentication', 'no'],
  ['PermitEmptyPasswords', 'no'],
];

/**
 * The environment variable name pairctl's accounts may pass, which nothing reads. sshd has no
 * `AcceptEnv none` (servconf.c: every AcceptEnv argument is a pattern, appended to a list; in a
 * Match block the list replaces the global one when it is not empty). So a Match block cannot
 * empty Debian's global `AcceptEnv LANG LC_*`; it can only replace it with one name, and this
 * one is no shell identifier (a shell never sees it as a variable) and matches no real variable.
 */
export const NO_ENV_PATTERN = 'pairctl-accepts-no-environment';

/**
 * Where sshd finds keys and certificates for pairctl's accounts: only the root-owned
 * authorized_keys pairctl writes; no command, no principals (these are allowed in Match blocks).
 * sshd clears `none` for these only at the top level (servconf.c CLEAR_ON_NONE); a Match block
 * keeps the word, so sshd treats "none" as a principals file and command it never finds: measured
 * on 9.2, a certificate from a trusted user CA is then refused for these accounts, and an unlisted
 * key logs "No user for AuthorizedKeysCommand specified". Harmless, and a second wall only: a
 * trusted user CA is still a plan error (resources/sshd-effective.ts).
 */
export const ACCOUNT_KEY_SOURCES: ReadonlyArray<[string, string]> = [
  ['AuthorizedKeysFile', '.ssh/authorized_keys'],
  ['AuthorizedKeysCommand', 'none'],
  ['AuthorizedPrincipalsCommand', 'none'],
  ['AuthorizedPrincipalsFile', 'none'],
  ['AcceptEnv', NO_ENV_PATTERN],
];

/** sshd settings every guest connection must get, as written in sshd_config. */
export const GUEST_SSHD_SETTINGS: ReadonlyArray<[string, string]> = [
  ...KEY_ONLY_AUTH,
  ...ACCOUNT_KEY_SOURCES,
  ['DisableForwarding', 'yes'],
  ['AllowTcpForwarding', 'no'],
  ['AllowStreamLocalForwarding', 'no'],
  ['AllowAgentForwarding', 'no'],
  ['X11Forwarding', 'no'],
  ['PermitTunnel', 'no'],
  ['GatewayPorts', 'no'],
  ['PermitListen', 'none'],
  ['PermitOpen', 'none'],
  ['PermitUserRC', 'no'],
  ['PermitTTY', 'yes'],
  ['ForceCommand', JOIN_PROGRAM],
  // The audit log (session/audit-log.ts): the join program reads the key sshd accepted from
  // $SSH_USER_AUTH, and a refused key's fingerprint is logged only at VERBOSE ("Failed publickey
  // for U from A port P ssh2: ED25519 SHA256:..."). In this Match block VERBOSE reaches the
  // pre-authentication lines too (measured on OpenSSH 9.2, 10.0 and 10.6: sshd applies the Match
  // as soon as the user name is known), so the machine's other users keep their log level.
  ['ExposeAuthInfo', 'yes'],
  ['LogLevel', 'VERBOSE'],
];

/** Settings every account pairctl makes on a relay gets: keys only, nothing but what is granted. */
const RELAY_LOCKED: ReadonlyArray<[string, string]> = [
  ...KEY_ONLY_AUTH,
  ...ACCOUNT_KEY_SOURCES,
  ['AllowAgentForwarding', 'no'],
  ['AllowStreamLocalForwarding', 'no'],
  ['X11Forwarding', 'no'],
  ['PermitTunnel', 'no'],
  ['PermitTTY', 'no'],
  ['PermitUserRC', 'no'],
  ['ForceCommand', NO_COMMAND],
];

/** sshd settings of a host's tunnel account on its relay: remote forwarding on exactly its ports. */
export function tunnelSettings(t: RelayTunnel): Array<[string, string]> {
  return [
    ...RELAY_LOCKED,
    ['AllowTcpForwarding', 'remote'],
    // clientspecified lets the vps tunnel bind 0.0.0.0; jump binds 127.0.0.1, which `no` allows.
    ['GatewayPorts', t.provider === 'vps' ? 'clientspecified' : 'no'],
    ['PermitListen', t.ports.map((p) => `${t.listen}:${p.port}`).join(' ')],
    ['PermitOpen', 'none'],
    // A dead tunnel's session would keep holding the port; the relay drops it within 45 s.
    ['ClientAliveInterval', '15'],
    ['ClientAliveCountMax', '3'],
  ];
}

/** sshd settings of jump guests on a relay: local forwarding to exactly these loopback host:ports. */
export function jumpGuestSettings(targets: string[]): Array<[string, string]> {
  return [
    ...RELAY_LOCKED,
    ['AllowTcpForwarding', 'local'],
    ['GatewayPorts', 'no'],
    ['PermitListen', 'none'],
    ['PermitOpen', targets.join(' ')],
  ];
}

/**
 * Settings sshd allows only at the top of its config, never in a Match block (servconf.c:
 * SSHCFG_GLOBAL). pairctl does not change them for the machine's other users: it checks what
 * sshd gives its accounts, and a wrong value is a plan error with the fix.
 */
export const GLOBAL_ONLY_SETTINGS: ReadonlyArray<[string, string]> = [['PermitUserEnvironment', 'no']];

/** `sshd -T` keywords and values as lower-case expectations (mixed case since OpenSSH 10.4). */
export function expectations(settings: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  return Object.fromEntries(settings.map(([k, v]) => [k.toLowerCase(), v]));
}

/**
 * The guest-only sshd that tunnels lead to: its own config and unit, listening on the host's
 * loopback only, on a privileged port (below 1024) so that no other local user can bind it first.
 */
export const GUEST_SSHD_CONFIG = '/etc/pairctl/sshd_config';
export const GUEST_SSHD_SERVICE = 'pairctl-sshd.service';
export const GUEST_SSHD_ADDRESS = '127.0.0.1';
export const GUEST_SSHD_PORT = 822;
export const SSHD_BINARY = '/usr/sbin/sshd';
/** macOS: the same listener as a launchd daemon (the Mac's own sshd is com.openssh.sshd). */
export const GUEST_SSHD_LAUNCHD_LABEL = 'dev.pairctl.sshd';
export const GUEST_SSHD_LAUNCHD_LOG = '/var/log/pairctl-sshd.log';

/** The listener's command line under launchd: in the foreground, so launchd keeps it up. */
export function guestSshdArgv(): string[] {
  return [SSHD_BINARY, '-D', '-f', GUEST_SSHD_CONFIG];
}

/**
 * Through a tunnel every guest arrives from loopback, so OpenSSH >= 9.8's PerSourcePenalties
 * would let a stranger's failed logins on the relay's public port lock every guest out.
 */
export const PENALTY_EXEMPTION: [string, string] = ['PerSourcePenaltyExemptList', '127.0.0.1,::1'];

/** PerSourcePenalties and its exempt list came in OpenSSH 9.8; older sshd refuses the keywords. */
export function knowsPerSourcePenalties(version: string | undefined): boolean {
  return version !== undefined && compareVersions(version, '9.8') >= 0;
}

/** The whole config of the guest-only listener, as keyword/value lines. */
export function guestListenerSettings(version: string | undefined): Array<[string, string]> {
  return [
    ['ListenAddress', `${GUEST_SSHD_ADDRESS}:${GUEST_SSHD_PORT}`],
    // The host's own sshd owns /run/sshd.pid.
    ['PidFile', 'none'],
    ['AllowGroups', GUEST_GROUP],
    ['PermitRootLogin', 'no'],
    ['UsePAM', 'yes'],
    ['PermitUserEnvironment', 'no'],
    ['StrictModes', 'yes'],
    ['LoginGraceTime', '30'],
    ['PrintMotd', 'no'],
    ['Banner', 'none'],
    ['TrustedUserCAKeys', 'none'],
    ...GUEST_SSHD_SETTINGS,
    ...(knowsPerSourcePenalties(version) ? [PENALTY_EXEMPTION] : []),
  ];
}
