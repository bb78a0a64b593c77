/**
 * Cross-machine facts: what one machine's resources need to know about another machine, read
 * from that machine. The relay's authorized_keys needs the host's tunnel public key (which only
 * exists once the host made it) and the host's pinned known_hosts needs the relay's host keys.
 *
 * A machine declares the facts it answers as small snippets; they ride in that machine's one
 * probe exec. The graph is built once without facts (to know what to read) and again with what
 * was read; a resource whose content needs a fact still unknown is deferred: the plan shows it
 * as "(known after apply)", and apply changes its machine after the machine that makes the
 * fact, re-reading the fact in between.
 */
import { sh } from '../transport/shell-quote.js';
import { TUNNEL_KEY } from './paths.js';

/** A small read a machine answers in its probe exec, for other machines' resources. */
export interface FactProbe {
  key: string;
  /** POSIX shell; prints the fact (nothing when it does not exist yet) */
  snippet: string;
  /**
   * The address of the resource whose apply makes the fact on this machine, when pairctl makes
   * it (the tunnel key). A fact no apply makes (a relay's host keys) cannot be waited for.
   */
  madeBy?: string;
}

/** Which machine's fact. */
export interface FactRef {
  machine: string;
  key: string;
}

/** Facts read so far: machine id → fact key → what its snippet printed. */
export type Facts = Record<string, Record<string, string>>;

/** A resource whose content waits for a fact; its machine is applied after `waitsFor.machine`. */
export interface Deferred {
  address: string;
  waitsFor: FactRef;
  /** what is not known yet, said in the plan, e.g. "the tunnel public key of host scotch" */
  what: string;
}

/** The public half of the host's tunnel key, as OpenSSH derives it from the private key. */
export const TUNNEL_PUBLIC_KEY_FACT = 'tunnel-public-key';
/** Every sshd host key of the machine, one "<type> <base64>" per line. */
export const SSH_HOST_KEYS_FACT = 'ssh-host-keys';

/** The host's tunnel public key (derived from the private key, so a stale .pub file cannot lie). */
export function tunnelPublicKeyProbe(madeBy: string): FactProbe {
  return {
    key: TUNNEL_PUBLIC_KEY_FACT,
    snippet: sh`if [ -f ${TUNNEL_KEY} ]; then ssh-keygen -y -f ${TUNNEL_KEY} </dev/null 2>/dev/null | cut -d' ' -f1,2; fi`,
    madeBy,
  };
}

/** The machine's sshd host keys, read over pairctl's own host-key-checked connection. */
export const SSH_HOST_KEYS_PROBE: FactProbe = {
  key: SSH_HOST_KEYS_FACT,
  snippet: `for f in /etc/ssh/ssh_host_*_key.pub; do if [ -f "$f" ]; then cut -d' ' -f1,2 "$f"; fi; done`,
};

// ssh-mldsa44-ed25519: the post-quantum host key OpenSSH 10.4+ makes with ssh-keygen -A (Debian
// testing's 10.6 has one). Older clients skip known_hosts lines of a type they do not know.
const KEY_LINE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|ssh-mldsa44-ed25519) [A-Za-z0-9+/]+={0,3}$/;

/** The fact's value, or undefined while it is not known (not read yet, or empty). */
export function factValue(facts: Facts | undefined, ref: FactRef): string | undefined {
  const v = facts?.[ref.machine]?.[ref.key]?.trim();
  return v ? v : undefined;
}

/** Public key lines ("<type> <base64>") in a fact; throws on anything else (never used unchecked). */
export function publicKeyLines(value: string, what: string): string[] {
  const lines = value
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  for (const l of lines) if (!KEY_LINE.test(l)) throw new Error(`${what} is not an OpenSSH public key: ${JSON.stringify(l.slice(0, 80))}`);
  return lines;
}
