/**
 * The guests' group on a Mac, kept in Directory Services (there is no groupadd). As on Linux
 * (group.ts), a group of that name whose GroupMembership lists accounts other than pairctl's
 * guest accounts is a plan error naming them.
 */
import { sh } from '../transport/shell-quote.js';
import { DSCL_SECTION, dsclSections, dsclValue, parseDsclRecord } from './dscl-record.js';
import { strangerError } from './group.js';
import { defineKind, noop } from './kind.js';

export interface MacosGroupSpec {
  name: string;
}

export interface MacosGroupObserved {
  exists: boolean;
  gid?: string;
  /** GroupMembership: the short names of its listed members */
  members?: string[];
}

/** pairctl's guest accounts on a Mac; their RealName is not read, so the name alone decides. */
const PAIRCTL_MEMBER = /^pair-[a-z][a-z0-9-]*$/;

/** Shell that sets $gid to the first free group id from 600 up (ids below are Apple's). */
export const FREE_GID = `gid=$(dscl . -list /Groups PrimaryGroupID | awk 'BEGIN{m=599} $2>m{m=$2} END{print m+1}')`;

export const macosGroupKind = defineKind<MacosGroupSpec, MacosGroupObserved>({
  kind: 'macos_group',
  name: (spec) => spec.name,
  probe: (spec) => `${DSCL_SECTION}\n` + sh`dscl_section group ${'/Groups/' + spec.name} PrimaryGroupID GroupMembership`,
  parse: (output) => {
    const record = parseDsclRecord(dsclSections(output).get('group'));
    return record ? { exists: true, gid: dsclValue(record, 'PrimaryGroupID'), members: record.get('GroupMembership') ?? [] } : { exists: false };
  },
  diff: (spec, observed, ctx) => {
    const path = `/Groups/${spec.name}`;
    if (!ctx.wanted) return observed.exists ? { ...noop(), action: 'delete', script: sh`dscl . -delete ${path}` } : noop();
    if (observed.exists) {
      // Only the name is known here: a member named like a guest account counts as pairctl's.
      const members = (observed.members ?? []).map((name) => ({ name, comment: PAIRCTL_MEMBER.test(name) ? 'pairctl guest' : '', primary: false }));
      const error = strangerError(spec.name, members, (m) => sh`dseditgroup -o edit -d ${m.name} -t user ${spec.name}`);
      return error ? noop([], [error]) : noop();
    }
    return {
      ...noop(),
      action: 'create',
      attributes: [{ name: 'gid', after: 'first free from 600' }],
      script:
        FREE_GID +
        sh`
dscl . -create ${path}
dscl . -create ${path} PrimaryGroupID "$gid"
dscl . -create ${path} RealName ${'pairctl guests'}
dscl . -create ${path} Password '*'`,
    };
  },
});
