/**
 * Who may use the running shared session, enforced by tmux's server-side ACL (`server-access`,
 * tmux 3.3+): mirror guests read-only, pair and rogue guests read-write. The ACL lives only as
 * long as the tmux server, so this resource changes nothing while no session runs (`pairctl up`
 * grants everything when it starts one); while one runs, apply brings the ACL, the socket's
 * permissions and the mirror lock on pane modes (session/mode-lock.ts) back to what pair.yaml
 * says (SIGUSR1 to tmux recreates the socket 0600, which silently locks every guest out).
 *
 * Root reads and changes only the session directory (in root-owned /run/pairctl, so the owner
 * cannot swap it). Everything inside it, the socket and the server, is read and changed by the
 * owner (session/owner-shell.ts), and what the owner's side prints is kept only where it matches
 * a strict pattern.
 */
import type { Mode, Platform } from '../config/model.js';
import { GUEST_GROUP } from '../graph/paths.js';
import { MODE_LOCK } from '../session/mode-lock.js';
import { ownerOutput, ownerShell } from '../session/owner-shell.js';
import { sh } from '../transport/shell-quote.js';
import { statLine } from './file-state.js';
import { defineKind, keyValues, noop, type AttributeChange } from './kind.js';

export interface Grant {
  account: string;
  mode: Mode;
}

export interface SessionAccessSpec {
  socket: string;
  owner: string;
  /** the group guests share; the socket is group-writable for it */
  group: string;
  grants: Grant[];
  /** the directory holding the socket (made by root in root-owned /run/pairctl); default: the socket's */
  dir?: string;
  /** default linux (records made before macOS hosts had no platform) */
  platform?: Platform;
}

export interface SessionAccessObserved {
  running: boolean;
  /** mode:owner:group of the session directory, as root reads it */
  dir?: string;
  /** mode:owner:group of the socket, as the owner reads it */
  socket?: string;
  /** user → R or W, as `server-access -l` lists them */
  acl: Record<string, 'R' | 'W'>;
  /** key bindings a read-only client could still run (session/mode-lock.ts); undefined = unknown */
  openKeys?: number;
}

/** What the owner-run read may print; anything else (a forged section marker too) is dropped. */
const OWNER_LINES = '^(running=(yes|no)|socket=[0-7]{3,4}:[A-Za-z0-9._-]+:[A-Za-z0-9._-]+|acl\\.[A-Za-z0-9._-]+=[RW]|openkeys=[0-9]+)$';

/** tmux ACL letter for a mode: only mirror is read-only. */
export function aclLetter(mode: Mode): 'R' | 'W' {
  return mode === 'mirror' ? 'R' : 'W';
}

function dirOf(spec: SessionAccessSpec): string {
  return spec.dir ?? spec.socket.slice(0, spec.socket.lastIndexOf('/'));
}

/**
 * The session directory as it must be: the owner's, group `pairctl`, 2710. Setgid so the
 * socket the owner's server creates in it gets the guests' group without root touching the
 * socket (BSD directories give their group to new entries anyway). Only the owner can create
 * entries; guests may only pass through to the socket.
 */
export function dirMode(platform: Platform): string {
  // BSD stat's %Lp has no setgid digit.
  return platform === 'macos' ? '710' : '2710';
}

/** Root's side: make the session directory (never a symlink, never anything in it). */
export function sessionDirScript(dir: string, owner: string, group: string): string {
  return sh`d=${dir}
if [ -L "$d" ] || { [ -e "$d" ] && [ ! -d "$d" ]; }; then rm -f -- "$d"; fi
mkdir -p -- "$d"
chown ${owner + ':' + group} "$d"
chmod 2710 "$d"`;
}

/** Adds (or re-flags) one user in the ACL, as tmux words for an owner-run script; `-r` goes before `-a`. */
export function grantScript(socket: string, g: Grant): string {
  return aclLetter(g.mode) === 'R'
    ? sh`tmux -S ${socket} server-access -r -a ${g.account} 2>/dev/null || tmux -S ${socket} server-access -r ${g.account}`
    : sh`tmux -S ${socket} server-access -a ${g.account} 2>/dev/null || tmux -S ${socket} server-access -w ${g.account}`;
}

/**
 * The owner's side of the socket's permissions: group-writable, nothing for others. When the
 * socket does not have the guests' group (a server started before its directory was setgid),
 * SIGUSR1 makes the server create it again, in the setgid directory; tmux recreates it 0600.
 */
export function socketPermissionScript(socket: string, group: string): string {
  return sh`s=${socket}
if [ -z "$(find "$s" -prune -group ${group} 2>/dev/null)" ]; then
  pid=$(tmux -S "$s" display-message -p '#{pid}')
  kill -USR1 "$pid"
  i=0; while [ -z "$(find "$s" -prune -group ${group} 2>/dev/null)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
fi
chmod u+rw,g+rw,o-rwx "$s"`;
}

/**
 * The owner's read of the running server: running, socket state, ACL, open mode keys. The server
 * runs when `server-access -l` answers (tmux >= 3.3, which the package requires): one tmux client
 * both says so and lists the ACL (has-session first was one more), and the shell reads the list
 * itself (`name (R)` or `name (W)`, a name without spaces; sed was two more). server-access runs no
 * after-hooks (no CMD_AFTERHOOK), so a hook planted from a pair guest's prompt cannot make the
 * read fail; list-keys (mode-lock count) does run them.
 */
function ownerProbe(socket: string): string {
  return (
    sh`s=${socket}
if [ -S "$s" ] && acl=$(tmux -S "$s" server-access -l 2>/dev/null); then
  echo running=yes
  ` +
    statLine('socket', '"$s"', ['mode', 'user', 'group']) +
    `
  while IFS= read -r l; do
    n=\${l%" ("?")"}
    case $n in ""|*" "*) continue ;; esac
    case $l in "$n (R)") echo "acl.$n=R" ;; "$n (W)") echo "acl.$n=W" ;; esac
  done <<pairctl_EOF
$acl
pairctl_EOF
  ` +
    sh`echo "openkeys=$(${MODE_LOCK} "$s" count 2>/dev/null)"` +
    `
else
  echo running=no
fi`
  );
}

/** A socket's mode without its x bits: tmux turns them on while a client is attached (0660 <-> 0770). */
export function socketState(observed: string | undefined): string | undefined {
  if (!observed) return observed;
  const [mode, ...rest] = observed.split(':');
  const bits = parseInt(mode ?? '', 8);
  if (Number.isNaN(bits)) return observed;
  return [(bits & 0o7666).toString(8), ...rest].join(':');
}

export const sessionAccessKind = defineKind<SessionAccessSpec, SessionAccessObserved>({
  kind: 'session_access',
  name: (spec) => spec.socket,
  probe: (spec) =>
    sh`d=${dirOf(spec)}
if [ -d "$d" ] && [ ! -L "$d" ]; then ` +
    statLine('dir', '"$d"', ['mode', 'user', 'group']) +
    `; fi
` +
    ownerOutput(ownerShell(spec.platform ?? 'linux', spec.owner, ownerProbe(spec.socket)), OWNER_LINES),
  parse: (output) => {
    const kv = keyValues(output);
    const acl: Record<string, 'R' | 'W'> = {};
    for (const [k, v] of kv) if (k.startsWith('acl.') && (v === 'R' || v === 'W')) acl[k.slice(4)] = v;
    const open = kv.get('openkeys');
    return {
      running: kv.get('running') === 'yes',
      dir: kv.get('dir'),
      socket: kv.get('socket'),
      acl,
      openKeys: open && /^[0-9]+$/.test(open) ? Number(open) : undefined,
    };
  },
  diff: (spec, observed, ctx) => {
    // Revoking removed guests is part of deleting their account (DESIGN.md order).
    if (!ctx.wanted || !observed.running) return noop();
    const platform = spec.platform ?? 'linux';
    const attributes: AttributeChange[] = [];
    const root: string[] = [];
    const owner: string[] = [];
    const wantDir = `${dirMode(platform)}:${spec.owner}:${spec.group}`;
    if (observed.dir !== wantDir) {
      attributes.push({ name: 'directory', before: observed.dir, after: wantDir });
      root.push(sessionDirScript(dirOf(spec), spec.owner, spec.group));
    }
    const wantSocket = `660:${spec.owner}:${spec.group}`;
    const haveSocket = socketState(observed.socket);
    if (haveSocket !== wantSocket || observed.dir !== wantDir) {
      if (haveSocket !== wantSocket) attributes.push({ name: 'socket', before: haveSocket, after: wantSocket });
      owner.push(socketPermissionScript(spec.socket, spec.group));
    }
    if (observed.openKeys !== 0 && spec.grants.some((g) => g.mode === 'mirror')) {
      attributes.push({
        name: 'mode keys',
        before: observed.openKeys === undefined ? '(unknown)' : `${observed.openKeys} open to read-only clients`,
        after: 'locked for read-only clients',
      });
      owner.push(sh`${MODE_LOCK} ${spec.socket} lock`);
    }
    for (const g of spec.grants) {
      const have = observed.acl[g.account];
      const want = aclLetter(g.mode);
      if (have === want) continue;
      attributes.push({ name: `access ${g.account}`, before: have ? (have === 'R' ? 'read-only' : 'read-write') : undefined, after: want === 'R' ? 'read-only' : 'read-write' });
      owner.push(grantScript(spec.socket, g));
    }
    if (attributes.length === 0) return noop();
    const script = [...root, ...(owner.length > 0 ? [ownerShell(platform, spec.owner, `set -eu\n${owner.join('\n')}`)] : [])].join('\n');
    return { ...noop(), action: 'update', attributes, script };
  },
});
