/**
 * The desired resources of one host: the whole locked-down pairing setup of DESIGN.md. The
 * setup is the same on every platform; a PlatformProfile (linux-host.ts, macos-host.ts) says
 * which resource kinds and names carry it out (apt and useradd on Linux, Homebrew and Directory
 * Services on macOS).
 */
import type { Guest, Host, PairConfig } from '../config/model.js';
import type { AccountSpec, SessionRef } from '../resources/account.js';
import type { DirectorySpec } from '../resources/directory.js';
import type { FileSpec } from '../resources/file-state.js';
import type { Resource } from '../resources/kind.js';
import type { PackageSpec } from '../resources/package.js';
import type { SessionAccessSpec } from '../resources/session-access.js';
import type { SshdDropinSpec } from '../resources/sshd-dropin.js';
import { render } from '../templates/render.js';
import { authorizedKeyEntries } from './authorized-keys.js';
import { GLOBAL_ONLY_SETTINGS, GUEST_SSHD_SETTINGS, expectations } from './sshd-settings.js';
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
  sessionDir,
  sessionSocket,
} from './paths.js';
import { address, resource } from './resource.js';
import { MODE_LOCK, modeLockProgram } from '../session/mode-lock.js';
import { kickedDir } from '../session/kick-script.js';
import { PRESENCE, presenceProgram } from '../session/presence.js';
import { auditFunction } from '../session/audit-log.js';
import { RECORD_ACCOUNT_ADDRESS, recorderGrant } from './recording.js';
import { PAIRCTL_HOOK_INDEX, systemTmuxConfigs } from '../session/owner-tmux-config.js';

/** The newest tmux pairctl's mirror guarantees were checked against (end to end on 3.7c, from the sources for 3.8). */
export const TMUX_PROVEN_UP_TO = '3.8';

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
    warnAbove: hasReadOnly
      ? {
          version: TMUX_PROVEN_UP_TO,
          message: `pairctl's mirror lockdown (read-only attach, no copy mode for read-only clients) was proven end to end on tmux 3.3a, 3.5a and 3.7c and checked against the sources up to ${TMUX_PROVEN_UP_TO}; before trusting mirror guests with this one, check that one cannot enter copy mode (prefix [): the pane must stay out of it`,
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
      render('join.sh', {
        socket,
        session: session.name,
        kicked: kickedDir(host.platform),
        recorded: recorderGrant(config, host).length > 0,
        guests: guests.map((g) => ({ account: guestAccount(g.name), mode: g.mode })),
        auditFunction: auditFunction(host.platform),
        via: host.tunnel.provider === 'lan' ? '' : host.tunnel.provider,
      }),
      '0755',
    ),
    [libexec.address, tmux.address],
  );
  const modeLock = resource('file', MODE_LOCK, rootFile(MODE_LOCK, modeLockProgram(), '0755'), [libexec.address]);
  const presence = resource('file', PRESENCE, rootFile(PRESENCE, presenceProgram(), '0755'), [libexec.address]);
  const tmuxConf = resource(
    'file',
    TMUX_CONF,
    rootFile(
      TMUX_CONF,
      render('tmux.conf', {
        session: session.name,
        modeLock: MODE_LOCK,
        presence: PRESENCE,
        hookIndex: PAIRCTL_HOOK_INDEX,
        lockHookIndex: PAIRCTL_HOOK_INDEX + 1,
        ownerConfig: session.ownerTmuxConfig,
        systemConfigs: systemTmuxConfigs(host.platform),
        recorded: recorderGrant(config, host).length > 0,
      }),
    ),
    [etc.address, modeLock.address, presence.address],
  );
  const owner = resource('owner', host.owner, { name: host.owner, host: host.id });
  out.push(owner, tmux, ...packages, group, etc, libexec, join, modeLock, presence, tmuxConf);

  const accounts: string[] = [];
  for (const g of guests) {
    const res = guestResources(g, { socket, owner: host.owner, platform: host.platform }, [group.address, join.address], platform, rootFile, rootDir);
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
        checks: guests[0] ? [{ user: guestAccount(guests[0].name), expect: expectations(GUEST_SSHD_SETTINGS) }] : [],
        globalExpect: expectations(GLOBAL_ONLY_SETTINGS),
        reload: platform.sshdReload,
      },
      [...packages.map((p) => p.address), group.address, join.address, ...accounts],
    ),
    resource<SessionAccessSpec>(
      'session_access',
      socket,
      {
        socket,
        dir: sessionDir(session.name, host.platform),
        platform: host.platform,
        owner: host.owner,
        group: GUEST_GROUP,
        grants: [...activeGuests(guests).map((g) => ({ account: guestAccount(g.name), mode: g.mode })), ...recorderGrant(config, host)],
      },
      [...accounts, tmuxConf.address, ...(recorderGrant(config, host).length > 0 ? [RECORD_ACCOUNT_ADDRESS] : [])],
    ),
  );
  return out;
}

/** A guest's account, its root-owned ~/.ssh, and its locked key lines. */
function guestResources(
  g: Guest,
  session: SessionRef,
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
    { name: account, guest: g.name, home, shell: '/bin/sh', groups: [GUEST_GROUP], comment: `pairctl guest ${g.name}`, ...session },
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
