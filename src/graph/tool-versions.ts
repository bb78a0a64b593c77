/**
 * The tmux and OpenSSH versions a machine runs, read as facts (graph/facts.ts) in the machine's
 * one probe exec: what differs by version (tmux 3.7's read-only attach, OpenSSH 9.8's
 * PerSourcePenalties, 10.0's DSA removal) is decided from them, and the plan shows them.
 */
import type { Platform } from '../config/model.js';
import { ownerOutput, ownerShell } from '../session/owner-shell.js';
import { factValue, type FactProbe, type Facts } from './facts.js';

/** `tmux -V` of the tmux the host's session runs, as its first line ("tmux 3.3a"). */
export const TMUX_VERSION_FACT = 'tmux-version';
/** The release line of the machine's sshd ("OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024"). */
export const OPENSSH_VERSION_FACT = 'openssh-version';

/**
 * tmux's version, read as the session's owner with the session's PATH, so it is the tmux the
 * session runs: Homebrew's tmux is the owner's to rewrite, so root neither runs it nor tests its
 * path. `tmux -V` talks to no server; the clean environment is for symmetry with the session's.
 */
export function tmuxVersionProbe(platform: Platform, owner: string): FactProbe {
  return {
    key: TMUX_VERSION_FACT,
    snippet: ownerOutput(ownerShell(platform, owner, 'if command -v tmux >/dev/null 2>&1; then tmux -V; fi'), '^tmux [^[:space:]]+$', true),
  };
}

/**
 * sshd's release, from the root-owned binary. `sshd -V` exists from OpenSSH 9.2 (sshd.c); older
 * sshd rejects -V and prints the same release line first in its usage text, both on stderr. 9.2
 * to 9.4 print SSH_VERSION there, without the portable suffix (Debian 12: "OpenSSH_9.2, OpenSSL …"),
 * so the client's line, from the same release, is read too (prefixed "client ") to refine it.
 */
export const OPENSSH_VERSION_PROBE: FactProbe = {
  key: OPENSSH_VERSION_FACT,
  // sshd's whole answer (parseOpensshVersion takes the first release line, after an older sshd's
  // "illegal option" line) and the client's first line: no grep, head or sed, which were 5 of
  // this fact's 9 processes on every plan. Without sshd (a fresh host) apt's candidate is what
  // apply installs, and what the guest listener's config must suit (tunnel-host.ts), so a first
  // apply converges in one go.
  snippet: `sshd=; for s in /usr/sbin/sshd /usr/bin/sshd; do if [ -x "$s" ]; then sshd=$s; "$s" -V 2>&1 </dev/null; break; fi; done
if [ -x /usr/bin/ssh ]; then v=$(/usr/bin/ssh -V 2>&1 </dev/null); printf 'client %s\\n' "\${v%%[![:print:]]*}"; fi
if [ -z "$sshd" ] && command -v apt-cache >/dev/null 2>&1; then apt-cache policy openssh-server 2>/dev/null | sed -n 's/^ *Candidate: *\\([0-9]\\)/candidate \\1/p' | head -n 1; fi`,
};

/**
 * "3.3a" from `tmux -V` output ("tmux 3.3a", "tmux 3.7c", a build from git: "tmux next-3.8", which
 * compareVersions reads as 3.8); undefined when it is not a tmux version line.
 */
export function parseTmuxVersion(output: string | undefined): string | undefined {
  const m = /^tmux ((?:next-)?\d+\.\d+[a-z]?)\s*$/m.exec(output ?? '');
  return m?.[1];
}

const RELEASE = /^OpenSSH_(\d+\.\d+(?:\.\d+)?(?:p\d+)?)[\s,]/;

/**
 * "9.2p1" from what OPENSSH_VERSION_PROBE printed: sshd's release line ("OpenSSH_10.0p2
 * Debian-7+deb13u4, OpenSSL …", macOS "OpenSSH_9.8p1, LibreSSL 3.3.6"), refined by the client's
 * when that names the same release more precisely ("9.2" → "9.2p1"); undefined without sshd.
 */
export function parseOpensshVersion(output: string | undefined): string | undefined {
  const lines = (output ?? '').split('\n');
  const server = lines.map((l) => RELEASE.exec(`${l}\n`)?.[1]).find(Boolean);
  if (!server) return undefined;
  const client = lines.map((l) => (l.startsWith('client ') ? RELEASE.exec(`${l.slice('client '.length)}\n`)?.[1] : undefined)).find(Boolean);
  return client && client.startsWith(`${server}p`) ? client : server;
}

/** The machine's tmux version as read in its probe, when known. */
export function tmuxVersionOf(facts: Facts | undefined, machine: string): string | undefined {
  return parseTmuxVersion(factValue(facts, { machine, key: TMUX_VERSION_FACT }));
}

/**
 * The OpenSSH version sshd's configuration must suit: the installed sshd's, else the one apt
 * would install ("candidate 1:10.0p1-7" → "10.0p1"); undefined when neither is known.
 */
export function opensshTargetVersionOf(facts: Facts | undefined, machine: string): string | undefined {
  const printed = factValue(facts, { machine, key: OPENSSH_VERSION_FACT });
  return parseOpensshVersion(printed) ?? /^candidate (?:\d+:)?(\d+\.\d+(?:p\d+)?)/m.exec(printed ?? '')?.[1];
}

/** The machine's OpenSSH (sshd) version as read in its probe, when known. */
export function opensshVersionOf(facts: Facts | undefined, machine: string): string | undefined {
  return parseOpensshVersion(factValue(facts, { machine, key: OPENSSH_VERSION_FACT }));
}

/**
 * The tmux and OpenSSH (sshd) versions read from a machine, as "3.3a" and "9.2p1": a string when
 * found, null when read but not found (tmux not installed yet), absent when not read (a relay's
 * tmux, a machine pairctl only tears down).
 */
export interface ToolVersions {
  tmux?: string | null;
  openssh?: string | null;
}

/** The versions in what a machine's fact probes printed (by fact key): only those that were probed. */
export function toolVersions(printed: Record<string, string>): ToolVersions {
  return {
    ...(TMUX_VERSION_FACT in printed ? { tmux: parseTmuxVersion(printed[TMUX_VERSION_FACT]) ?? null } : {}),
    ...(OPENSSH_VERSION_FACT in printed ? { openssh: parseOpensshVersion(printed[OPENSSH_VERSION_FACT]) ?? null } : {}),
  };
}
