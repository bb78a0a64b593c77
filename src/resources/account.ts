/**
 * A guest's login account on the host. Never the owner's own account: a dedicated user with
 * shell /bin/sh (sshd runs the forced command via `$SHELL -c`, and bash would source ~/.bashrc
 * first), password field `*` (key logins work; `!` with `UsePAM no` would refuse them too), no
 * admin groups, and a root-owned home so the guest cannot plant rc files.
 */
import type { Platform } from '../config/model.js';
import { ownerShell } from '../session/owner-shell.js';
import { sh } from '../transport/shell-quote.js';
import { defineKind, keyValues, noop, type AttributeChange, type Delta } from './kind.js';

export interface AccountSpec {
  name: string;
  guest: string;
  home: string;
  shell: string;
  /** supplementary groups, exactly (any other, e.g. sudo, is removed) */
  groups: string[];
  comment: string;
  /** the session's tmux socket: removing a connected guest revokes them there first */
  socket: string;
  /** the session's owner, who revokes (root never runs tmux); absent in records made before */
  owner?: string;
  /** default linux */
  platform?: Platform;
}

/** Where a guest is revoked from the running session, and by whom. */
export interface SessionRef {
  socket: string;
  owner?: string;
  platform?: Platform;
}

export interface AccountObserved {
  exists: boolean;
  uid?: string;
  home?: string;
  shell?: string;
  /** classified, never the hash itself: star | locked | empty | set */
  password?: string;
  /** all group names, primary first */
  groups?: string[];
  /** owner:group:mode of the home directory, or absent */
  homeState?: string;
}

/**
 * The first half of removing a guest, the same on every platform (DESIGN.md order): take the
 * key away, revoke in tmux (which detaches them), end their processes. Deleting the account
 * comes after, with the platform's own tool (userdel fails while they run).
 */
export function cutOffGuestScript(spec: AccountRef & SessionRef): string {
  return sh`rm -f ${spec.home + '/.ssh/authorized_keys'}
` + revokeScript(spec) + endProcessesScript(spec.name);
}

/**
 * Revokes the guest in the running session, as its owner: the socket and its directory are the
 * owner's, so root neither tests that path nor runs tmux there. A record without the owner
 * (made before pairctl recorded it) skips this: ending the guest's processes detaches them, and
 * the ACL entry names a uid that the deleted account no longer has.
 */
function revokeScript(spec: AccountRef & SessionRef): string {
  if (!spec.owner) return '';
  const revoke = sh`s=${spec.socket}
if [ -S "$s" ]; then tmux -S "$s" server-access -d ${spec.name} >/dev/null 2>&1 || :; fi`;
  return `${ownerShell(spec.platform ?? 'linux', spec.owner, revoke)} >/dev/null 2>&1 || :
`;
}

/**
 * Removes a Linux account pairctl made: its key first (no new logins), then its processes
 * (revoked from the session too, for a guest), then the account and its root-owned home.
 */
export function removeLinuxAccountScript(spec: AccountRef & Partial<SessionRef>): string {
  const cutOff = spec.socket
    ? cutOffGuestScript({ ...spec, socket: spec.socket })
    : sh`rm -f ${spec.home + '/.ssh/authorized_keys'}
` + endProcessesScript(spec.name);
  return (
    cutOff +
    sh`
userdel ${spec.name}
rm -rf -- ${spec.home}`
  );
}

/** Groups that would give a guest account power over the machine. */
const ADMIN_GROUPS = ['sudo', 'wheel', 'admin', 'adm', 'root', 'docker', 'lxd', 'disk', 'shadow'];

/** What pairctl decides of a Linux account it makes: a guest on a host, a tunnel or jump account on a relay. */
export interface LinuxAccountFields extends AccountRef {
  shell: string;
  comment: string;
  /** supplementary groups, exactly */
  groups: string[];
}

/** Creates the account (password `*`: key login only, yet not "locked") and its root-owned home. */
export function createLinuxAccountScript(spec: LinuxAccountFields): string {
  const groups = spec.groups.length > 0 ? sh` --groups ${spec.groups.join(',')}` : '';
  return (
    sh`useradd --no-create-home --home-dir ${spec.home} --shell ${spec.shell} --comment ${spec.comment}` +
    groups +
    sh` --password '*' ${spec.name}
install -d -m 0755 -o root -g root ${spec.home}`
  );
}

/**
 * Puts an existing account back to what pairctl wants: shell, home, password `*`, exactly the
 * wanted groups, a root-owned home. With `noAdminGroups`, an admin group is drift even as the
 * primary group (guests: it would give them power over the machine).
 */
export function updateLinuxAccount(spec: LinuxAccountFields, observed: AccountObserved, opts: { noAdminGroups?: boolean } = {}): Delta {
  const attributes: AttributeChange[] = [];
  if (observed.shell !== spec.shell) attributes.push({ name: 'shell', before: observed.shell, after: spec.shell });
  if (observed.home !== spec.home) attributes.push({ name: 'home', before: observed.home, after: spec.home });
  if (observed.password !== 'star') attributes.push({ name: 'password', before: observed.password, after: 'star' });
  const have = (observed.groups ?? []).slice(1).sort().join(',');
  const want = [...spec.groups].sort().join(',');
  const admin = opts.noAdminGroups ? (observed.groups ?? []).filter((g) => ADMIN_GROUPS.includes(g)) : [];
  if (have !== want || admin.length > 0) attributes.push({ name: 'groups', before: have, after: want });
  if (observed.homeState !== 'root:root:755') attributes.push({ name: 'home owner', before: observed.homeState, after: 'root:root:755' });
  if (attributes.length === 0) return noop();
  return {
    ...noop(),
    action: 'update',
    attributes,
    script: sh`usermod --shell ${spec.shell} --home ${spec.home} --groups ${spec.groups.join(',')} --password '*' ${spec.name}
install -d -m 0755 -o root -g root ${spec.home}
chown root:root ${spec.home}
chmod 0755 ${spec.home}`,
  };
}

/** Ends every process of a user and waits (up to 5 s) until none is left: userdel refuses before. */
export function endProcessesScript(name: string): string {
  return sh`pkill -KILL -u ${name} 2>/dev/null || :
i=0; while pgrep -u ${name} >/dev/null 2>&1 && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done`;
}

/** The refusal to adopt an account someone else made under a guest's name. */
export function takeoverError(spec: AccountSpec): string {
  return `account ${spec.name} already exists and was not made by pairctl; pairctl will not take over an existing account (remove it, or rename guest ${spec.guest})`;
}

/**
 * Parses the batched account read: passwd lines, shadow lines already classified on the machine
 * (the hash never leaves it), every group (memberships are worked out here, as `id -nG` would),
 * and the homes' owner:group:mode.
 */
export function parseAccounts(output: string, names: string[], homes: string[]): AccountObserved[] {
  const passwd = new Map<string, string[]>();
  const shadow = new Map<string, string>();
  const homeState = new Map<string, string>();
  const groupOfGid = new Map<string, string>();
  const memberOf = new Map<string, string[]>();
  for (const line of output.split('\n')) {
    const i = line.indexOf(':');
    const tag = line.slice(0, i);
    const f = line.slice(i + 1).split(':');
    if (tag === 'passwd' && f.length >= 7 && !passwd.has(f[0]!)) passwd.set(f[0]!, f);
    else if (tag === 'shadow' && f.length === 2 && !shadow.has(f[0]!)) shadow.set(f[0]!, f[1]!);
    else if (tag === 'home' && f.length >= 4) homeState.set(f.slice(3).join(':'), f.slice(0, 3).join(':'));
    else if (tag === 'group' && f.length >= 3) {
      const [name, , gid, members = ''] = f as [string, string, string, string?];
      if (!groupOfGid.has(gid)) groupOfGid.set(gid, name);
      for (const m of members.split(',')) {
        if (!m) continue;
        const list = memberOf.get(m) ?? [];
        list.push(name);
        memberOf.set(m, list);
      }
    }
  }
  return names.map((name, i): AccountObserved => {
    const pw = passwd.get(name);
    if (!pw) return { exists: false };
    // Primary group first, by name (its number when it has none), as `id -nG` prints it.
    const primary = groupOfGid.get(pw[3]!) ?? pw[3]!;
    const groups = [...new Set([primary, ...(memberOf.get(name) ?? [])])];
    return {
      exists: true,
      uid: pw[2],
      home: pw[5],
      shell: pw[6],
      // No shadow entry reads as an empty field, as `getent shadow | cut` did.
      password: shadow.get(name) ?? 'empty',
      groups,
      homeState: homeState.get(homes[i]!) ?? 'absent',
    };
  });
}

/** The account fields a read needs; relay accounts are read the same way. */
export interface AccountRef {
  name: string;
  home: string;
}

/**
 * How a Linux account is read, alone or many at once: shared by guest accounts on a host and
 * the tunnel and jump accounts on a relay.
 */
export const accountReads = {
  probe: (spec: AccountRef) => sh`u=${spec.name}
if pw=$(getent passwd "$u"); then
  printf '%s\\n' "$pw" | awk -F: '{print "uid=" $3; print "home=" $6; print "shell=" $7}'
  case "$(getent shadow "$u" | cut -d: -f2)" in
    '*') echo password=star ;;
    '!'*) echo password=locked ;;
    '') echo password=empty ;;
    *) echo password=set ;;
  esac
  echo "groups=$(id -nG "$u")"
  echo "homestate=$(stat -c '%U:%G:%a' ${spec.home} 2>/dev/null || echo absent)"
fi`,
  // Per account, the probe above forks five processes; this reads every account with four.
  probeMany: (specs: AccountRef[]) => {
    for (const s of specs) if (/[:\n]/.test(s.name) || s.home.includes('\n')) throw new Error(`internal error: refusing to probe account ${JSON.stringify(s.name)}`);
    return sh`set -- ${specs.map((s) => s.name)}
getent passwd "$@" | awk '{ print "passwd:" $0 }'
getent shadow "$@" | awk -F: '{ c = "set"; if ($2 == "*") c = "star"; else if (substr($2, 1, 1) == "!") c = "locked"; else if ($2 == "") c = "empty"; print "shadow:" $1 ":" c }'
getent group | awk '{ print "group:" $0 }'
stat -c 'home:%U:%G:%a:%n' -- ${specs.map((s) => s.home)} 2>/dev/null
:`;
  },
  parseMany: (output: string, specs: AccountRef[]): AccountObserved[] => parseAccounts(output, specs.map((s) => s.name), specs.map((s) => s.home)),
  parse: (output: string): AccountObserved => {
    const kv = keyValues(output);
    if (!kv.has('uid')) return { exists: false };
    return {
      exists: true,
      uid: kv.get('uid'),
      home: kv.get('home'),
      shell: kv.get('shell'),
      password: kv.get('password'),
      groups: (kv.get('groups') ?? '').split(/\s+/).filter(Boolean),
      homeState: kv.get('homestate'),
    };
  },
};

export const accountKind = defineKind<AccountSpec, AccountObserved>({
  kind: 'account',
  name: (spec) => spec.name,
  ...accountReads,
  diff: (spec, observed, ctx) => {
    if (!ctx.wanted) {
      if (!observed.exists) return noop();
      return { ...noop(), action: 'delete', script: removeLinuxAccountScript(spec) };
    }
    if (observed.exists && !ctx.recorded) return noop([], [takeoverError(spec)]);
    if (!observed.exists) {
      return {
        ...noop(),
        action: 'create',
        attributes: [
          { name: 'shell', after: spec.shell },
          { name: 'home', after: `${spec.home} (root-owned)` },
          { name: 'groups', after: spec.groups.join(',') },
          { name: 'password', after: '* (key login only)' },
        ],
        script: createLinuxAccountScript(spec),
      };
    }
    return updateLinuxAccount(spec, observed, { noAdminGroups: true });
  },
});
