/**
 * The `ssh:` field of a machine, split into the parts OpenSSH would see on its command line.
 * Parsing is pure so config rules can report a bad target with its file position before any
 * connection is tried.
 */

/** A parsed `[user@]address[:port]`, `[v6]:port` or Host alias; the host may still be an alias. */
export interface SshTarget {
  /** login user given explicitly (wins over the ssh config's User, like `ssh user@host`) */
  user?: string;
  /** address, DNS name or Host alias, without brackets */
  host: string;
  /** port given explicitly (wins over the ssh config's Port) */
  port?: number;
}

/** Either a target or the reason the text is not one. */
export type SshTargetParse = { ok: true; target: SshTarget } | { ok: false; error: string };

// Letters, digits and the punctuation of DNS names, IPv4/IPv6 literals (with %zone) and aliases;
// nothing that could be read as an ssh option or split by a shell.
const HOST_RE = /^[A-Za-z0-9_.:%-]+$/;
const USER_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/;

/** Splits a target like OpenSSH does (the user ends at the last `@`), validating each part. */
export function parseSshTarget(text: string): SshTargetParse {
  const input = text.trim();
  if (input === '') return { ok: false, error: 'the ssh target is empty' };
  if (/\s/.test(input)) return { ok: false, error: `the ssh target "${text}" contains whitespace` };

  let rest = input;
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at !== -1) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!USER_RE.test(user)) {
      return { ok: false, error: `"${user}" in the ssh target "${text}" is not a valid user name` };
    }
  }

  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) return { ok: false, error: `the ssh target "${text}" has "[" without "]"` };
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) {
        return { ok: false, error: `unexpected "${after}" after "]" in the ssh target "${text}"` };
      }
      portText = after.slice(1);
    }
  } else {
    const colons = rest.split(':').length - 1;
    if (colons === 1) {
      const i = rest.indexOf(':');
      host = rest.slice(0, i);
      portText = rest.slice(i + 1);
    } else {
      // Several colons without brackets can only be a bare IPv6 address (no port possible).
      host = rest;
    }
  }

  if (host === '') return { ok: false, error: `the ssh target "${text}" has no host` };
  if (host.startsWith('-')) return { ok: false, error: `the host in the ssh target "${text}" may not start with "-"` };
  if (!HOST_RE.test(host)) return { ok: false, error: `"${host}" in the ssh target "${text}" is not a valid host name or address` };

  const target: SshTarget = { host };
  if (user !== undefined) target.user = user;
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      return { ok: false, error: `"${portText}" in the ssh target "${text}" is not a port (1-65535)` };
    }
    target.port = Number(portText);
  }
  return { ok: true, target };
}

/** Formats host and port the way OpenSSH names them in known_hosts and messages. */
export function formatHostPort(host: string, port: number): string {
  if (port === 22) return host;
  return `[${host}]:${port}`;
}
