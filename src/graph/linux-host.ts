/**
 * The desired resources of one host: the whole locked-down pairing setup of DESIGN.md. The
 * setup is the same on every platform; a PlatformProfile says which resource kinds and names
 * carry it out (apt and useradd on Linux, Homebrew and Directory Services on macOS).
 */
import type { Guest, Host, PairConfig } from '../config/model.js';
import type { AccountSpec } from '../resources/account.js';
import type { DirectorySpec } from '../resources/directory.js';
import type { FileSpec } from '../resources/file-state.js';
import type { Resource } from '../resources/kind.js';
import type { PackageSpec } from '../resources/package.js';
import type { SessionAccessSpec } from '../resources/session-access.js';
import type { SshdDropinSpec } from '../resources/sshd-dropin.js';
import { render } from '../templates/render.js';
import { authorizedKeyEntries } from './authorized-keys.js';
import { activeGuests, guestExpiryResources } from './guest-expiry.js';
import {
  ETC_DIR,
  GUEST_GROUP,
  JOIN_PROGRAM,
  LIBEXEC_DIR,
  SSHD_DROPIN,
  TMUX_CONF,
  guestAccount,
  guestHome,
  sessionSocket,
} from './paths.js';

/** Builds addresses the way the plan shows them: kind["name"]. */
export function address(kind: string, name: string): string {
  return `${kind}[${JSON.stringify(name)}]`;
}

function resource<S>(kind: string, name: string, spec: S, deps: string[] = []): Resource<S> {
  return { kind, address: address(kind, name), spec, deps };
}

/** Every account pairctl makes, on a host or a relay, logs in with a listed key and nothing else. */
export const KEY_ONLY_AUTH: ReadonlyArray<[string, string]> = [
  ['AuthenticationMethods', 'publickey'],
  ['PubkeyAuthentication', 'yes'],
  ['PasswordAuthentication', 'no'],
  ['KbdInteractiveAuthentication', 'no'],
  ['HostbasedAuthentication', 'no'],
  ['PermitEmptyPasswords', 'no'],
];

/** sshd settings every guest connection must get, as `sshd -T` prints them (lower case). */
export const GUEST_SSHD_SETTINGS: ReadonlyArray<[string, string]> = [
  ...KEY_ONLY_AUTH,
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
];

/** How one platform carries out the same setup. */
export interface PlatformProfile {
  /** the group that owns root's files: root on Linux, wheel on macOS */
  rootGroup: string;
  /** kind that installs tmux (version-gated) */
  packageKind: 'package' | 'brew_package';
  /** packages besides tmux that must be installed (sshd itself on Linux; macOS ships it) */
  extraPackages: string[];
  groupKind: 'group' | 'macos_group';
  accountKind: 'account' | 'macos_account';
  /** where guests' homes live */
  homeBase: string;
  sshdReload: 'systemd' | 'launchd';
}

export const LINUX: PlatformProfile = {
  rootGroup: 'root',
  packageKind: 'package',
  extraPackages: ['openssh-server'],
  groupKind: 'group',
  accountKind: 'account',
  homeBase: '/home',
  sshdReload: 'systemd',
};

/** Every resource pairctl wants on a Linux host, in dependency order. */
export function linuxHostResources(config: PairConfig, host: Host): Resource[] {
  return hostResources(config, host, LINUX);
}

/** Every resource of the pairing setup on a host of the given platform, in dependency order. */
export function hostResources(config: PairConfig, host: Host, platform: PlatformProfile): Resource[] {
  const rootFile = (path: string, content: string, mode = '0644'): FileSpec => ({ path, content, mode, owner: 'root', group: platform.rootGroup });
  const rootDir = (path: string, mode = '0755'): DirectorySpec => ({ path, mode, owner: 'root', group: platform.rootGroup });
  const { session, guests } = config;
  const socket = sessionSocket(session.name, host.platform);
  const hasReadOnly = guests.some((g) => g.mode === 'mirror');
  const out: Resource[] = [];

  const tmux = resource<PackageSpec & { owner: string }>(platform.packageKind, 'tmux', {
    name: 'tmux',
    owner: host.owner,
    versionCommand: ['tmux', '-V'],
    minVersion: '3.3',
    minReason: 'guests are admitted by tmux\'s server-side ACL (server-access), added in 3.3',
    warnBelow: hasReadOnly
      ? {
          version: '3.7',
          message:
            'a read-only (mirror) client that can run tmux commands can make itself writable; pairctl keeps guests from any shell (forced command + restrict), which is the boundary, and the ACL is the second wall',
        }
      : undefined,
  });
  const packages = platform.extraPackages.map((name) => resource<PackageSpec>('package', name, { name }));
  const group = resource(platform.groupKind, GUEST_GROUP, { name: GUEST_GROUP });
  const etc = resource('directory', ETC_DIR, rootDir(ETC_DIR));
  const libexec = resource('directory', LIBEXEC_DIR, rootDir(LIBEXEC_DIR));
  const join = resource(
    'file',
    JOIN_PROGRAM,
    rootFile(
      JOIN_PROGRAM,
      render('join.sh', { socket, session: session.name, guests: guests.map((g) => ({ account: guestAccount(g.name), mode: g.mode })) }),
      '0755',
    ),
    [libexec.address, tmux.address],
  );
  const tmuxConf = resource('file', TMUX_CONF, rootFile(TMUX_CONF, render('tmux.conf', { session: session.name })), [etc.address]);
  const owner = resource('owner', host.owner, { name: host.owner, host: host.id });
  out.push(owner, tmux, ...packages, group, etc, libexec, join, tmuxConf);

  const accounts: string[] = [];
  for (const g of guests) {
    const res = guestResources(g, socket, [group.address, join.address], platform, rootFile, rootDir);
    accounts.push(res[0]!.address);
    out.push(...res);
  }
  out.push(...guestExpiryResources(guests, { platform: host.platform, rootGroup: platform.rootGroup, session: { owner: host.owner, socket }, accountAddress: (g) => address(platform.accountKind, guestAccount(g.name)), deps: [libexec.address] }));

  out.push(
    resource<SshdDropinSpec>(
      'sshd_dropin',
      SSHD_DROPIN,
      {
        ...rootFile(
          SSHD_DROPIN,
          render('sshd-dropin.conf', { group: GUEST_GROUP, settings: GUEST_SSHD_SETTINGS.map(([key, value]) => ({ key, value })) }),
        ),
        verifyUser: guests[0] ? guestAccount(guests[0].name) : undefined,
        expect: Object.fromEntries(GUEST_SSHD_SETTINGS.map(([k, v]) => [k.toLowerCase(), v])),
        reload: platform.sshdReload,
      },
      [...packages.map((p) => p.address), group.address, join.address, ...accounts],
    ),
    resource<SessionAccessSpec>(
      'session_access',
      socket,
      {
        socket,
        owner: host.owner,
        group: GUEST_GROUP,
        grants: activeGuests(guests).map((g) => ({ account: guestAccount(g.name), mode: g.mode })),
      },
      accounts,
    ),
  );
  return out;
}

/** A guest's account, its root-owned ~/.ssh, and its locked key lines. */
function guestResources(
  g: Guest,
  socket: string,
  deps: string[],
  platform: PlatformProfile,
  rootFile: (path: string, content: string) => FileSpec,
  rootDir: (path: string) => DirectorySpec,
): Resource[] {
  const account = guestAccount(g.name);
  const home = guestHome(g.name, platform.homeBase);
  const acc = resource<AccountSpec>(
    platform.accountKind,
    account,
    { name: account, guest: g.name, home, shell: '/bin/sh', groups: [GUEST_GROUP], comment: `pairctl guest ${g.name}`, socket },
    deps,
  );
  const sshDir = resource('directory', `${home}/.ssh`, rootDir(`${home}/.ssh`), [acc.address]);
  const keysPath = `${home}/.ssh/authorized_keys`;
  const keys = resource(
    'file',
    keysPath,
    rootFile(keysPath, render('authorized-keys', { guest: g.name, mode: g.mode, lines: authorizedKeyEntries(g) })),
    [sshDir.address],
  );
  return [acc, sshDir, keys];
}
