/** A system group; guests' accounts are members, and sshd's Match and the tmux socket key on it. */
import { sh } from '../transport/shell-quote.js';
import { defineKind, keyValues, noop } from './kind.js';

export interface GroupSpec {
  name: string;
}

export interface GroupObserved {
  exists: boolean;
  gid?: string;
}

export const groupKind = defineKind<GroupSpec, GroupObserved>({
  kind: 'group',
  name: (spec) => spec.name,
  probe: (spec) => sh`if g=$(getent group ${spec.name}); then echo "gid=$(printf '%s' "$g" | cut -d: -f3)"; fi`,
  parse: (output) => {
    const gid = keyValues(output).get('gid');
    return gid ? { exists: true, gid } : { exists: false };
  },
  diff: (spec, observed, ctx) => {
    if (!ctx.wanted) {
      return observed.exists ? { ...noop(), action: 'delete', script: sh`groupdel ${spec.name}` } : noop();
    }
    if (observed.exists) return noop();
    return { ...noop(), action: 'create', attributes: [{ name: 'system', after: 'true' }], script: sh`groupadd --system ${spec.name}` };
  },
});
