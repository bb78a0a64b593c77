/**
 * A system group; guests' accounts are members, and sshd's Match and the tmux socket key on it.
 * Membership is access: a member can open the session's socket and gets the guests' sshd
 * settings. So a group of that name that already holds accounts pairctl did not make (explicit
 * members, or accounts whose primary group it is) is a plan error naming them, never adopted.
 */
import { sh } from '../transport/shell-quote.js';
import { defineKind, keyValues, noop } from './kind.js';

export interface GroupSpec {
  name: string;
}

/** An account in the group, with its passwd comment (pairctl's own accounts say so there). */
export interface GroupMember {
  name: string;
  comment: string;
  /** the group is the account's primary group, not a listed member */
  primary: boolean;
}

export interface GroupObserved {
  exists: boolean;
  gid?: string;
  members?: GroupMember[];
}

/**
 * Accounts pairctl makes and puts in its groups: pair-<guest> (hosts and jump relays), each with
 * the comment pairctl gives it (`pairctl guest todd`, `pairctl jump guest todd`), and the session
 * recorder's pairctl-record (`pairctl session recorder`, graph/recording.ts). Only root can make
 * an account, so the comment cannot be forged by a user.
 */
const PAIRCTL_MEMBER = /^(pair-[a-z][a-z0-9-]*|pairctl-record)$/;

/** Whether pairctl made this member (its name and comment are pairctl's). */
export function isPairctlMember(m: GroupMember): boolean {
  return PAIRCTL_MEMBER.test(m.name) && m.comment.startsWith('pairctl ');
}

/**
 * The members listed in the group, then every account whose primary group it is, as tab-separated
 * lines. A fixed number of processes however many members: the members are looked up in one
 * `getent passwd` (by name, as sshd and id look them up; missing ones print nothing), then every
 * entry is listed for the primary groups, and one awk reads both, split by a line no passwd entry
 * can be (it has no colon). Member names reach awk through its environment, which, unlike -v,
 * takes no backslash escapes. Each getent or tr per member forked 11 processes for 5 members here,
 * on every plan and again under apply's lock.
 */
function probeScript(name: string): string {
  return sh`if g=$(getent group ${name}); then
  r=\${g#*:*:}; gid=\${r%%:*}; r=\${r#*:}; r=\${r%%:*}
  echo "gid=$gid"
  set -f; IFS=,; set -- $r; unset IFS; set +f
  {
    if [ "$#" -gt 0 ]; then getent passwd -- "$@"; fi
    echo @@
    getent passwd
  } | pairctl_members=$r awk -F: -v g="$gid" '
    $0 == "@@" { all = 1; next }
    !all { if (!($1 in comment)) { c = $5; gsub(/\\t/, "", c); comment[$1] = c }; next }
    $4 == g { c = $5; gsub(/\\t/, "", c); primary = primary "primary=" $1 "\\t" c "\\n" }
    END {
      n = split(ENVIRON["pairctl_members"], m, ",")
      for (i = 1; i <= n; i++) if (m[i] != "") printf "member=%s\\t%s\\n", m[i], comment[m[i]]
      printf "%s", primary
    }'
fi`;
}

/** Parses the member lines (keyValues keeps one value per key; there are many members). */
export function parseMembers(output: string): GroupMember[] {
  const out: GroupMember[] = [];
  for (const line of output.split('\n')) {
    const m = /^(member|primary)=([^\t]*)\t?(.*)$/.exec(line);
    if (m && m[2]) out.push({ name: m[2], comment: m[3] ?? '', primary: m[1] === 'primary' });
  }
  return out;
}

/** The plan error for members pairctl did not make, naming each and the command that frees the group. */
export function strangerError(group: string, members: readonly GroupMember[], remove: (m: GroupMember) => string): string | undefined {
  const strangers = members.filter((m) => !isPairctlMember(m));
  if (strangers.length === 0) return undefined;
  const names = strangers.map((m) => `${m.name}${m.primary ? ' (its primary group)' : ''}`).join(', ');
  return (
    `group ${group} already exists with ${strangers.length === 1 ? 'a member' : 'members'} pairctl did not make: ${names}. ` +
    `Its members may open the shared session's socket and get the guests' sshd settings, so pairctl will not use it as it is. ` +
    `Take them out (${strangers.map(remove).join('; ')}), or, if the group is another program's, free the name for pairctl, then plan again`
  );
}

export const groupKind = defineKind<GroupSpec, GroupObserved>({
  kind: 'group',
  name: (spec) => spec.name,
  probe: (spec) => probeScript(spec.name),
  parse: (output) => {
    const gid = keyValues(output).get('gid');
    return gid ? { exists: true, gid, members: parseMembers(output) } : { exists: false };
  },
  diff: (spec, observed, ctx) => {
    if (!ctx.wanted) {
      return observed.exists ? { ...noop(), action: 'delete', script: sh`groupdel ${spec.name}` } : noop();
    }
    if (observed.exists) {
      const error = strangerError(spec.name, observed.members ?? [], (m) =>
        m.primary ? sh`usermod -g OTHER_GROUP ${m.name}` : sh`gpasswd -d ${m.name} ${spec.name}`,
      );
      return error ? noop([], [error]) : noop();
    }
    return { ...noop(), action: 'create', attributes: [{ name: 'system', after: 'true' }], script: sh`groupadd --system ${spec.name}` };
  },
});
