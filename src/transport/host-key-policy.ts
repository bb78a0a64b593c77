/**
 * What pairctl does with a host key verdict. It follows the operator's StrictHostKeyChecking with
 * one deliberate difference: pairctl never records keys, so only `no` (or `off`) lets an unknown
 * key through, and a changed or revoked key is refused even then (OpenSSH would go on with a
 * warning that nobody reads in the middle of a provisioning run).
 */
import { quote } from './shell-quote.js';
import { sshFingerprint, type HostKeyCheck, type KnownHostLine } from './known-hosts.js';
import type { StrictHostKeyChecking } from './ssh-config.js';

/** Accept, or refuse with the words for a ConnectError. */
export type HostKeyDecision = { accept: true } | { accept: false; message: string; hint: string };

/** Everything a host key message needs to say where the operator should look and what to run. */
export interface HostKeyContext {
  machine: string;
  /** `user@host:port` as pairctl dialled it */
  endpoint: string;
  hostName: string;
  port: number;
  /** the login user, for the `ssh` command in hints */
  user: string;
  /** the known_hosts name the key was looked up under (`host` or `[host]:port`) */
  lookupName: string;
  /** where a new key should go: the first UserKnownHostsFile */
  knownHostsFile: string;
  /** the files that were actually read */
  filesRead: string[];
  strict: StrictHostKeyChecking;
}

/** Turns a verdict into accept/refuse under the operator's StrictHostKeyChecking. */
export function decideHostKey(check: HostKeyCheck, ctx: HostKeyContext): HostKeyDecision {
  const presented = `${check.keyType} ${check.fingerprint}`;
  const files = ctx.filesRead.length > 0 ? ctx.filesRead.join(', ') : 'no known_hosts file exists';
  const keyscan = `ssh-keyscan -p ${ctx.port} ${quote(ctx.hostName)} >> ${quote(ctx.knownHostsFile)}`;
  switch (check.status) {
    case 'known':
      return { accept: true };
    case 'revoked':
      return {
        accept: false,
        message:
          `machine "${ctx.machine}": the host key of ${ctx.endpoint} (${presented}) is marked @revoked in ` +
          `${where(check.match)}; pairctl will not connect`,
        hint: 'a revoked key must never be trusted again: find out why it was revoked and give the machine a new host key',
      };
    case 'changed': {
      const old = check.known.map((l) => `${l.keyType} ${sshFingerprint(l.key)} (${where(l)})`).join('; ');
      return {
        accept: false,
        message:
          `machine "${ctx.machine}": WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED for ${ctx.lookupName}! ` +
          `${ctx.endpoint} now presents ${presented}, but known_hosts holds ${old}. ` +
          'Someone could be intercepting the connection (man-in-the-middle), or the machine was reinstalled; ' +
          'pairctl will not connect',
        hint:
          'if the change is expected, check the new fingerprint on the machine itself (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), ' +
          `then remove the old entry with: ssh-keygen -R ${quote(ctx.lookupName)} -f ${quote(ctx.knownHostsFile)} ` +
          `and add the new one with: ${keyscan}`,
      };
    }
    case 'unknown': {
      if (ctx.strict === 'no') return { accept: true };
      const others =
        check.otherTypes.length > 0
          ? ` (known_hosts has only other key types for it: ${[...new Set(check.otherTypes.map((l) => l.keyType))].join(', ')})`
          : '';
      const acceptNew =
        ctx.strict === 'accept-new' ? ' Your ssh config says accept-new, but pairctl never writes known_hosts itself.' : '';
      return {
        accept: false,
        message:
          `machine "${ctx.machine}": the host key of ${ctx.endpoint} is not known: ${presented}${others}. ` +
          `Looked for ${ctx.lookupName} in ${files}.${acceptNew}`,
        hint:
          `verify ${check.fingerprint} out of band (on the machine: ssh-keygen -lf /etc/ssh/ssh_host_${shortType(check.keyType)}_key.pub), ` +
          `then run: ${keyscan}  (or connect once with: ssh ${ctx.port === 22 ? '' : `-p ${ctx.port} `}${quote(`${ctx.user}@${ctx.hostName}`)})`,
      };
    }
  }
}

function where(l: KnownHostLine): string {
  return `${l.file}:${l.line}`;
}

function shortType(keyType: string): string {
  if (keyType === 'ssh-ed25519') return 'ed25519';
  if (keyType.startsWith('ecdsa-')) return 'ecdsa';
  if (keyType === 'ssh-rsa') return 'rsa';
  return '*';
}
