/**
 * Who may use the running shared session, enforced by tmux's server-side ACL (`server-access`,
 * tmux 3.3+): mirror guests read-only, pair and rogue guests read-write. The ACL lives only as
 * long as the tmux server, so this resource changes nothing while no session runs (`pairctl up`
 * grants everything when it starts one); while one runs, apply brings the ACL and the socket's
 * permissions back to what pair.yaml says (SIGUSR1 to tmux recreates the socket 0600, which
 * silently locks every guest out).
 */
import type { Mode } from '../config/model.js';
import { sh } from '../transport/shell-quote.js';
import { statLine } from './file-state.js';
import { defineKind, keyValues, noop, type AttributeChange } from './kind.js';

const SOCKET_STATE = statLine('socket', '"$s"', ['mode', 'user', 'group']);

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
}

export interface SessionAccessObserved {
  running: boolean;
  /** mode:owner:group of the socket */
  socket?: string;
  /** user → R or W, as `server-access -l` lists them */
  acl: Record<string, 'R' | 'W'>;
}

/** tmux ACL letter for a mode: only mirror is read-only. */
export function aclLetter(mode: Mode): 'R' | 'W' {
  return mode === 'mirror' ? 'R' : 'W';
}

/** Adds (or re-flags) one user in the ACL; `-r` goes before `-a` (the other order fails). */
export function grantScript(socket: string, g: Grant): string {
  return aclLetter(g.mode) === 'R'
    ? sh`tmux -S ${socket} server-access -r -a ${g.account} 2>/dev/null || tmux -S ${socket} server-access -r ${g.account}`
    : sh`tmux -S ${socket} server-access -a ${g.account} 2>/dev/null || tmux -S ${socket} server-access -w ${g.account}`;
}

/** Makes the socket usable by the guests' group and no one else. */
export function socketPermissionScript(spec: SessionAccessSpec): string {
  return sh`chown ${spec.owner + ':' + spec.group} ${spec.socket}
chmod 0660 ${spec.socket}`;
}

export const sessionAccessKind = defineKind<SessionAccessSpec, SessionAccessObserved>({
  kind: 'session_access',
  name: (spec) => spec.socket,
  probe: (spec) => sh`s=${spec.socket}
if [ -S "$s" ] && tmux -S "$s" list-sessions >/dev/null 2>&1; then
  echo running=yes
  ` +
    SOCKET_STATE +
    `
  tmux -S "$s" server-access -l 2>/dev/null | sed -n 's/^\\([^ ]*\\) (\\([RW]\\))$/acl.\\1=\\2/p'
else
  echo running=no
fi`,
  parse: (output) => {
    const kv = keyValues(output);
    const acl: Record<string, 'R' | 'W'> = {};
    for (const [k, v] of kv) if (k.startsWith('acl.') && (v === 'R' || v === 'W')) acl[k.slice(4)] = v;
    return { running: kv.get('running') === 'yes', socket: kv.get('socket'), acl };
  },
  diff: (spec, observed, ctx) => {
    // Revoking removed guests is part of deleting their account (DESIGN.md order).
    if (!ctx.wanted || !observed.running) return noop();
    const attributes: AttributeChange[] = [];
    const scripts: string[] = [];
    const wantSocket = `660:${spec.owner}:${spec.group}`;
    if (observed.socket !== wantSocket) {
      attributes.push({ name: 'socket', before: observed.socket, after: wantSocket });
      scripts.push(socketPermissionScript(spec));
    }
    for (const g of spec.grants) {
      const have = observed.acl[g.account];
      const want = aclLetter(g.mode);
      if (have === want) continue;
      attributes.push({ name: `access ${g.account}`, before: have ? (have === 'R' ? 'read-only' : 'read-write') : undefined, after: want === 'R' ? 'read-only' : 'read-write' });
      scripts.push(grantScript(spec.socket, g));
    }
    if (scripts.length === 0) return noop();
    return { ...noop(), action: 'update', attributes, script: scripts.join('\n') };
  },
});
