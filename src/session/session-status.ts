/**
 * What `pairctl status` reads on a host: the shared session (runs? since when?), every client
 * attached to the dedicated server with the mode the server enforces (`client_readonly`, not
 * pair.yaml), and where each guest's ssh connection comes from (the login record sshd writes for
 * the guest's pty). One script, one exec per host; tmux is run as the owner (owner-shell.ts) and
 * what it prints is kept only when it matches the line shapes below, then parsed here as data.
 */
import type { Guest, Host, PairConfig } from '../config/model.js';
import { guestAccount, sessionSocket } from '../graph/paths.js';
import { RECORD_ACCOUNT } from '../graph/recording.js';
import { sh } from '../transport/shell-quote.js';
import { ownerShell } from './owner-shell.js';
import { kickedDir } from './kick-script.js';
import { timeBoxStatusScript } from './time-box.js';

/** Bumped whenever a field of the JSON document changes meaning or goes away (docs/status-json.md). */
export const STATUS_FORMAT_VERSION = 1;

/** A guest access that ends within this many seconds is reported as expiring soon. */
export const EXPIRES_SOON_SECONDS = 24 * 3600;

/**
 * Field separator of the owner's lines: `|`, which no account, tty, session name or number holds.
 * Not a tab: a tmux client without a UTF-8 locale prints control characters as `_` (utf8_sanitize).
 */
const FIELDS = [
  'client_user',
  'client_readonly',
  'client_created',
  'client_activity',
  'client_width',
  'client_height',
  'client_tty',
  'client_session',
  'client_pid',
] as const;

/**
 * The owner's side: one `s` line for the session, one `c` line per attached client, from one tmux
 * client (two commands in one: a client is a process and a round through the server).
 */
function ownerStatusScript(config: PairConfig, host: Host): string {
  const socket = sessionSocket(config.session.name, host.platform);
  const fmt = 'c|' + FIELDS.map((f) => `#{${f}}`).join('|');
  return sh`s=${socket}
[ -S "$s" ] || exit 0
tmux -S "$s" list-sessions -F ${'s|#{session_name}|#{session_created}'} ';' list-clients -F ${fmt} 2>/dev/null
`;
}

/**
 * The whole status script of one host (run as root, one exec). The owner's lines are read by the
 * shell itself (read and case, no grep or awk: a status of 8 hosts is mostly their CPU): only `s`
 * and `c` lines pass, as ownerOutput would keep them. `who` runs only when a client is attached
 * (its records only name a client's source), and systemctl only when root's time-box timer exists.
 */
export function statusScript(config: PairConfig, host: Host): string {
  const owner = host.owner;
  const accounts = config.guests.map((g) => guestAccount(g.name));
  return (
    sh`date +now=%s
known=${' ' + accounts.join(' ') + ' '}
{ ` +
    ownerShell(host.platform, owner, ownerStatusScript(config, host)) +
    sh` 2>/dev/null || :; } | {
  set -f
  clients=
  while IFS= read -r l; do
    case $l in
      's|'*) printf '%s\\n' "$l" ;;
      'c|'*)
        printf '%s\\n' "$l"
        clients=yes
        # Where a guest's ssh login came from: SSH_CONNECTION, which sshd put in the environment
        # of the join program that became the client. Read only from a process the guest's
        # account runs (the pid must be digits, the account a guest's), one NUL-separated entry
        # (a value holding a newline cannot pass for another), and only its first word, which
        # must look like an address. Fields as awk -F'|' splits them: $2 the user, $10 the pid.
        IFS='|'; set -- $l; unset IFS
        user=$2; pid=\${10-}
        case $pid in ''|*[!0-9]*) continue ;; esac
        case "$known" in *" $user "*) ;; *) continue ;; esac
        [ -r "/proc/$pid/environ" ] && [ "$(stat -c %U "/proc/$pid" 2>/dev/null)" = "$user" ] || continue
        a=$(grep -z -m1 '^SSH_CONNECTION=' "/proc/$pid/environ" 2>/dev/null | tr -d '\\000')
        a=\${a#SSH_CONNECTION=}; a=\${a%% *}
        case "$a" in *[!0-9a-fA-F.:]*|'') ;; *) printf 'e\\t%s\\t%s\\n' "$pid" "$a" ;; esac
        ;;
    esac
  done
  # No /proc (macOS): the login record sshd writes for the guest's pty; the tty links a client to it.
  if [ -n "$clients" ]; then
    who 2>/dev/null | awk '$NF ~ /^[(].*[)]$/ { h = $NF; gsub(/[()]/, "", h); print "w\t" $2 "\t" h }' || :
  fi
}
d=${kickedDir(host.platform)}
for a in ${accounts}; do
  if [ -f "$d/$a" ]; then printf 'k\t%s\t%s\n' "$a" "$(head -c 32 "$d/$a" | tr -cd 0-9)"; fi
done
` +
    // The end of a time box from root's own timer: the owner's @pairctl_ends is the owner's to change.
    timeBoxStatusScript(config, host)
  );
}

/** One client attached to the shared server, as the server sees it. */
export interface ClientObserved {
  account: string;
  readonly: boolean;
  created: number;
  activity: number;
  width: number;
  height: number;
  tty: string;
  session: string;
  pid: string;
}

/** A host's raw status, parsed from the script's output. */
export interface HostObserved {
  now: number;
  sessions: Array<{ name: string; created: number }>;
  /** when root's time-box timer ends the session (epoch seconds), 0 when none is pending */
  ends: number;
  clients: ClientObserved[];
  /** tty (without /dev/) → login source (utmp) */
  logins: Map<string, string>;
  /** client pid → ssh source address (SSH_CONNECTION) */
  sources: Map<string, string>;
  /** account → kicked-until epoch seconds */
  kicked: Map<string, number>;
}

const int = (s: string | undefined): number => (s !== undefined && /^\d+$/.test(s) ? Number(s) : 0);

/** Parses the status script's output; lines of any other shape are ignored. */
export function parseStatus(stdout: string): HostObserved {
  const o: HostObserved = { now: 0, sessions: [], ends: 0, clients: [], logins: new Map(), sources: new Map(), kicked: new Map() };
  for (const line of stdout.split('\n')) {
    const f = line.split(/^[sct][|]/.test(line) ? '|' : '\t');
    if (line.startsWith('now=')) o.now = int(line.slice(4));
    else if (f[0] === 's' && f.length === 3) o.sessions.push({ name: f[1]!, created: int(f[2]) });
    else if (f[0] === 't' && f.length === 2) o.ends = int(f[1]);
    else if (f[0] === 'c' && f.length === FIELDS.length + 1)
      o.clients.push({
        account: f[1]!,
        readonly: f[2] === '1',
        created: int(f[3]),
        activity: int(f[4]),
        width: int(f[5]),
        height: int(f[6]),
        tty: f[7]!,
        session: f[8]!,
        pid: f[9]!,
      });
    else if (f[0] === 'w' && f.length === 3) o.logins.set(f[1]!, f[2]!);
    else if (f[0] === 'e' && f.length === 3) o.sources.set(f[1]!, f[2]!);
    else if (f[0] === 'k' && f.length === 3) o.kicked.set(f[1]!, int(f[2]));
  }
  return o;
}

/** One guest in the status document (docs/status-json.md). */
export interface GuestStatus {
  name: string;
  account: string;
  configured_mode: string;
  connected: boolean;
  /** each attached client of this guest (a guest may join from two terminals) */
  clients: Array<{
    mode: 'mirror' | 'pair' | 'rogue';
    since: string;
    idle_seconds: number;
    size: { cols: number; rows: number };
    from: string | null;
    via: string | null;
  }>;
  expires: string | null;
  expires_soon: boolean;
  kicked_until: string | null;
}

/** One host in the status document. */
export interface HostStatus {
  id: string;
  reachable: boolean;
  error?: string;
  /** `ends`: when `pairctl up --for` ends the session by itself, else null */
  session: { name: string; running: boolean; since: string | null; ends: string | null };
  guests: GuestStatus[];
  /** clients of the server that are no configured guest (the owner's own, for one); the recorder is not counted */
  other_clients: number;
  /** the recorder (session.record) is attached to the session */
  recording: boolean;
}

const iso = (epoch: number): string => new Date(epoch * 1000).toISOString();

function isLoopback(addr: string): boolean {
  return addr === '::1' || addr.startsWith('127.') || addr === 'localhost';
}

/** Builds one host's status from the config and what was observed. */
export function hostStatus(config: PairConfig, host: Host, o: HostObserved): HostStatus {
  const name = config.session.name;
  const session = o.sessions.find((s) => s.name === name);
  const byAccount = new Map<string, Guest>(config.guests.map((g) => [guestAccount(g.name), g]));
  const guests: GuestStatus[] = config.guests.map((g) => {
    const account = guestAccount(g.name);
    const clients = o.clients
      .filter((c) => c.account === account)
      .map((c) => {
        const mode: 'mirror' | 'pair' | 'rogue' = c.readonly ? 'mirror' : c.session !== name ? 'rogue' : 'pair';
        const from = o.sources.get(c.pid) ?? o.logins.get(c.tty.replace(/^\/dev\//, '')) ?? null;
        const via = from !== null && isLoopback(from) && host.tunnel.provider !== 'lan' ? host.tunnel.provider : null;
        return {
          mode,
          since: iso(c.created),
          idle_seconds: Math.max(0, o.now - c.activity),
          size: { cols: c.width, rows: c.height },
          from,
          via,
        };
      });
    const exp = g.expires ? Math.floor(g.expires.getTime() / 1000) : undefined;
    const kicked = o.kicked.get(account);
    return {
      name: g.name,
      account,
      configured_mode: g.mode,
      connected: clients.length > 0,
      clients,
      expires: exp !== undefined ? iso(exp) : null,
      expires_soon: exp !== undefined && exp > o.now && exp - o.now <= EXPIRES_SOON_SECONDS,
      kicked_until: kicked !== undefined && kicked > o.now ? iso(kicked) : null,
    };
  });
  return {
    id: host.id,
    reachable: true,
    session: { name, running: session !== undefined, since: session ? iso(session.created) : null, ends: session && o.ends > 0 ? iso(o.ends) : null },
    guests,
    other_clients: o.clients.filter((c) => !byAccount.has(c.account) && c.account !== RECORD_ACCOUNT).length,
    recording: o.clients.some((c) => c.account === RECORD_ACCOUNT),
  };
}

/** Seconds as "45s", "12m", "3h05m". */
export function shortDuration(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The text form of one host's status. */
export function renderHostStatus(h: HostStatus): string {
  if (!h.reachable) return `${h.id}: unreachable: ${h.error ?? 'unknown error'}\n`;
  const lines = [
    `${h.id}: session ${h.session.name} ${h.session.running ? `running since ${h.session.since}${h.session.ends ? `, ends ${h.session.ends}` : ''}` : 'not running'}${h.recording ? ', recording' : ''}`,
  ];
  for (const g of h.guests) {
    const notes = [
      g.expires_soon ? `access expires ${g.expires}` : '',
      g.kicked_until ? `kicked until ${g.kicked_until}` : '',
      g.clients.some((c) => c.mode !== g.configured_mode) ? `pair.yaml says ${g.configured_mode}` : '',
    ].filter(Boolean);
    if (g.clients.length === 0) lines.push(`  ${g.name}: not connected${notes.length ? ` (${notes.join('; ')})` : ''}`);
    for (const c of g.clients)
      lines.push(
        `  ${g.name}: ${c.mode}, since ${c.since}, idle ${shortDuration(c.idle_seconds)}, ${c.size.cols}x${c.size.rows}` +
          `, from ${c.via ? `${c.via} relay` : (c.from ?? 'unknown')}${notes.length ? ` (${notes.join('; ')})` : ''}`,
      );
  }
  return lines.join('\n') + '\n';
}
