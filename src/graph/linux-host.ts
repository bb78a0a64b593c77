/** The desired resources of one Linux host: the whole locked-down pairing setup of DESIGN.md. */
import type { Guest, Host, PairConfig } from '../config/model.js';
import type { AccountSpec } from '../resources/account.js';
import type { DirectorySpec } from '../resources/directory.js';
import type { FileSpec } from '../resources/file-state.js';
import type { Resource } from '../resources/kind.js';
import type { PackageSpec } from '../resources/package.js';
import type { SessionAccessSpec } from '../resources/session-access.js';
import type { SshdDropinSpec } from '../resources/sshd-dropin.js';
import { render } from '../templates/render.js';
import { authorizedKeyLines } from './authorized-keys.js';
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

/** sshd settings every guest connection must get, as `sshd -T` prints them (lower case). */
export const GUEST_SSHD_SETTINGS: ReadonlyArray<[string, string]> = [
  ['AuthenticationMethods', 'publickey'],
  ['PubkeyAuthentication', 'yes'],
  ['PasswordAuthentication', 'no'],
  ['KbdInteractiveAuthentication', 'no'],
  ['HostbasedAuthentication', 'no'],
  ['PermitEmptyPasswords', 'no'],
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

const rootFile = (path: string, content: string, mode = '0644'): FileSpec => ({ path, content, mode, owner: 'root', group: 'root' });
const rootDir = (path: string, mode = '0755'): DirectorySpec => ({ path, mode, owner: 'root', group: 'root' });

/** Every resource pairctl wants on a Linux host, in dependency order. */
export function linuxHostResources(config: PairConfig, host: Host): Resource[] {
  const { session, guests } = config;
  const socket = sessionSocket(session.name);
  const hasReadOnly = guests.some((g) => g.mode === 'mirror');
  const out: Resource[] = [];

  const tmux = resource<PackageSpec>('package', 'tmux', {
    name: 'tmux',
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
  const sshd = resource<PackageSpec>('package', 'openssh-server', { name: 'openssh-server' });
  const group = resource('group', GUEST_GROUP, { name: GUEST_GROUP });
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
  out.push(owner, tmux, sshd, group, etc, libexec, join, tmuxConf);

  const accounts: string[] = [];
  for (const g of guests) {
    const res = guestResources(g, socket, [group.address, join.address]);
    accounts.push(res[0]!.address);
    out.push(...res);
  }

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
      },
      [sshd.address, group.address, join.address, ...accounts],
    ),
    resource<SessionAccessSpec>(
      'session_access',
      socket,
      {
        socket,
        owner: host.owner,
        group: GUEST_GROUP,
        grants: guests.map((g) => ({ account: guestAccount(g.name), mode: g.mode })),
      },
      accounts,
    ),
  );
  return out;
}

/** A guest's account, its root-owned ~/.ssh, and its locked key lines. */
function guestResources(g: Guest, socket: string, deps: string[]): Resource[] {
  const account = guestAccount(g.name);
  const home = guestHome(g.name);
  const acc = resource<AccountSpec>(
    'account',
    account,
    { name: account, guest: g.name, home, shell: '/bin/sh', groups: [GUEST_GROUP], comment: `pairctl guest ${g.name}`, socket },
    deps,
  );
  const sshDir = resource('directory', `${home}/.ssh`, rootDir(`${home}/.ssh`), [acc.address]);
  const keysPath = `${home}/.ssh/authorized_keys`;
  const keys = resource(
    'file',
    keysPath,
    rootFile(keysPath, render('authorized-keys', { guest: g.name, mode: g.mode, lines: authorizedKeyLines(g) })),
    [sshDir.address],
  );
  return [acc, sshDir, keys];
}
