/**
 * A guest's login account on the host. Never the owner's own account: a dedicated user with
 * shell /bin/sh (sshd runs the forced command via `$SHELL -c`, and bash would source ~/.bashrc
 * first), password field `*` (key logins work; `!` with `UsePAM no` would refuse them too), no
 * admin groups, and a root-owned home so the guest cannot plant rc files.
 */
import { sh } from '../transport/shell-quote.js';
import { defineKind, keyValues, noop, type AttributeChange } from './kind.js';

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
export function cutOffGuestScript(spec: AccountSpec): string {
  return sh`rm -f ${spec.home + '/.ssh/authorized_keys'}
if [ -S ${spec.socket} ]; then tmux -S ${spec.socket} server-access -d ${spec.name} >/dev/null 2>&1 || :; fi
pkill -KILL -u ${spec.name} 2>/dev/null || :
i=0; while pgrep -u ${spec.name} >/dev/null 2>&1 && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done`;
}

/** The refusal to adopt an account someone else made under a guest's name. */
export function takeoverError(spec: AccountSpec): string {
  return `account ${spec.name} already exists and was not made by pairctl; pairctl will not take over an existing account (remove it, or rename guest ${spec.guest})`;
}

/** Groups that would give a guest account power over the machine. */
const ADMIN_GROUPS = ['sudo', 'wheel', 'admin', 'adm', 'root', 'docker', 'lxd', 'disk', 'shadow'];

export const accountKind = defineKind<AccountSpec, AccountObserved>({
  kind: 'account',
  name: (spec) => spec.name,
  probe: (spec) => sh`u=${spec.name}
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
  parse: (output) => {
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
  diff: (spec, observed, ctx) => {
    if (!ctx.wanted) {
      if (!observed.exists) return noop();
      return {
        ...noop(),
        action: 'delete',
        script:
          cutOffGuestScript(spec) +
          sh`
userdel ${spec.name}
rm -rf -- ${spec.home}`,
      };
    }
    if (observed.exists && !ctx.recorded) return noop([], [takeoverError(spec)]);
    const supplementary = spec.groups.join(',');
    if (!observed.exists) {
      return {
        ...noop(),
        action: 'create',
        attributes: [
          { name: 'shell', after: spec.shell },
          { name: 'home', after: `${spec.home} (root-owned)` },
          { name: 'groups', after: supplementary },
          { name: 'password', after: '* (key login only)' },
        ],
        script: sh`useradd --no-create-home --home-dir ${spec.home} --shell ${spec.shell} --comment ${spec.comment} --groups ${supplementary} --password '*' ${spec.name}
install -d -m 0755 -o root -g root ${spec.home}`,
      };
    }
    const attributes: AttributeChange[] = [];
    if (observed.shell !== spec.shell) attributes.push({ name: 'shell', before: observed.shell, after: spec.shell });
    if (observed.home !== spec.home) attributes.push({ name: 'home', before: observed.home, after: spec.home });
    if (observed.password !== 'star') attributes.push({ name: 'password', before: observed.password, after: 'star' });
    const have = (observed.groups ?? []).slice(1).sort();
    const want = [...spec.groups].sort();
    const admin = (observed.groups ?? []).filter((g) => ADMIN_GROUPS.includes(g));
    if (have.join(',') !== want.join(',') || admin.length > 0) {
      attributes.push({ name: 'groups', before: have.join(','), after: want.join(',') });
    }
    if (observed.homeState !== 'root:root:755') attributes.push({ name: 'home owner', before: observed.homeState, after: 'root:root:755' });
    if (attributes.length === 0) return noop();
    return {
      ...noop(),
      action: 'update',
      attributes,
      script: sh`usermod --shell ${spec.shell} --home ${spec.home} --groups ${supplementary} --password '*' ${spec.name}
install -d -m 0755 -o root -g root ${spec.home}
chown root:root ${spec.home}
chmod 0755 ${spec.home}`,
    };
  },
});
