/**
 * The host's tunnel key: an ed25519 key pair made ON the host (`ssh-keygen`), root-only, whose
 * private half never leaves it and is never read by pairctl — the probe prints only the public
 * key OpenSSH derives from it (`ssh-keygen -y`), which is what the relay's authorized_keys needs.
 */
import { dirname } from 'node:path';
import { sh } from '../transport/shell-quote.js';
import { probeTyped, statLine } from './file-state.js';
import { defineKind, keyValues, noop, type AttributeChange } from './kind.js';

const STATE = statLine('state', '"$p"', ['uid', 'gid', 'mode']);

export interface TunnelKeySpec {
  /** the private key's path; the public key is `<path>.pub` */
  path: string;
  /** comment of the public key, e.g. pairctl-tunnel@scotch */
  comment: string;
}

export interface TunnelKeyObserved {
  type: 'absent' | 'file' | 'other';
  /** uid:gid:mode of the private key (numeric: gid 0 is root on Linux, wheel on macOS) */
  state?: string;
  /** "<type> <base64>" derived from the private key; absent when OpenSSH cannot read it */
  derived?: string;
  /** "<type> <base64>" of the .pub file, when there is one */
  pubFile?: string;
}

export const tunnelKeyKind = defineKind<TunnelKeySpec, TunnelKeyObserved>({
  kind: 'tunnel_key',
  name: (spec) => spec.path,
  // `ssh-keygen -y` prints only the public key; the private key's bytes are never printed.
  probe: (spec) =>
    probeTyped(
      spec.path,
      'file',
      `${STATE}
  echo "derived=$(ssh-keygen -y -f "$p" </dev/null 2>/dev/null | cut -d' ' -f1,2)"
  if [ -f "$p.pub" ]; then echo "pubfile=$(cut -d' ' -f1,2 "$p.pub")"; fi`,
    ),
  parse: (output) => {
    const kv = keyValues(output);
    const type = kv.get('type');
    if (type !== 'file') return { type: type === 'other' ? 'other' : 'absent' };
    return { type, state: kv.get('state'), derived: kv.get('derived') || undefined, pubFile: kv.get('pubfile') || undefined };
  },
  diff: (spec, observed, ctx) => {
    const dir = dirname(spec.path);
    const pub = `${spec.path}.pub`;
    if (!ctx.wanted) {
      if (observed.type === 'absent') return noop();
      return { ...noop(), action: 'delete', attributes: [{ name: 'key', before: observed.derived ?? '(unreadable)' }], script: sh`rm -f ${spec.path} ${pub}` };
    }
    if (observed.type === 'other') return noop([], [`${spec.path} exists but is not a regular file; move it away, then apply again`]);
    if (observed.type === 'absent') {
      return {
        ...noop(),
        action: 'create',
        attributes: [
          { name: 'type', after: 'ed25519' },
          { name: 'private key', after: 'made on this machine, root-only (0600); never leaves it' },
        ],
        script: sh`install -d -m 0700 -o 0 -g 0 ${dir}
umask 077
rm -f ${pub}
ssh-keygen -q -t ed25519 -N '' -C ${spec.comment} -f ${spec.path} </dev/null >/dev/null
chown 0:0 ${spec.path} ${pub}
chmod 0600 ${spec.path}
chmod 0644 ${pub}`,
      };
    }
    if (!observed.derived) {
      return noop([], [`${spec.path} is not a private key OpenSSH can read (or is not 0600); move it away and apply again to make a new one`]);
    }
    const attributes: AttributeChange[] = [];
    const scripts: string[] = [];
    if (observed.state !== '0:0:600') {
      attributes.push({ name: 'owner and mode', before: observed.state, after: '0:0:600' });
      scripts.push(sh`chown 0:0 ${spec.path}
chmod 0600 ${spec.path}`);
    }
    if (observed.pubFile !== observed.derived) {
      attributes.push({ name: 'public key file', before: observed.pubFile, after: observed.derived });
      scripts.push(sh`pk=$(ssh-keygen -y -f ${spec.path} </dev/null | cut -d' ' -f1,2)
printf '%s %s\\n' "$pk" ${spec.comment} > ${pub}
chmod 0644 ${pub}`);
    }
    if (scripts.length === 0) return noop();
    return { ...noop(), action: 'update', attributes, script: scripts.join('\n') };
  },
});
