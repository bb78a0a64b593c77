/**
 * The host's own account whose session is shared. pairctl never changes it (it is the person's
 * own login); it only checks it exists. A missing owner is a plan error, not a warning: the
 * setup apply would make could never be started by `pairctl up` (the session runs as the owner).
 */
import { sh } from '../transport/shell-quote.js';
import { defineKind, keyValues, noop } from './kind.js';

export interface OwnerSpec {
  name: string;
  host: string;
}

export interface OwnerObserved {
  exists: boolean;
  uid?: string;
}

export const ownerKind = defineKind<OwnerSpec, OwnerObserved>({
  kind: 'owner',
  name: (spec) => spec.name,
  // id(1) answers from the passwd database on Linux and from Directory Services on macOS.
  probe: (spec) => sh`if uid=$(id -u ${spec.name} 2>/dev/null); then echo "uid=$uid"; fi`,
  parse: (output) => {
    const uid = keyValues(output).get('uid');
    return uid ? { exists: true, uid } : { exists: false };
  },
  diff: (spec, observed, ctx) => {
    if (!ctx.wanted || observed.exists) return noop();
    return noop(
      [],
      [`the owner account ${spec.name} does not exist on ${spec.host}: "owner" names the existing account whose tmux session guests join; fix it in pair.yaml (or create the account), then plan again`],
    );
  },
});
