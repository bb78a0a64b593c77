/** The guests' group on a Mac, kept in Directory Services (there is no groupadd). */
import { sh } from '../transport/shell-quote.js';
import { DSCL_SECTION, dsclSections, dsclValue, parseDsclRecord } from './dscl-record.js';
import { defineKind, noop } from './kind.js';

export interface MacosGroupSpec {
  name: string;
}

export interface MacosGroupObserved {
  exists: boolean;
  gid?: string;
}

/** Shell that sets $gid to the first free group id from 600 up (ids below are Apple's). */
export const FREE_GID = `gid=$(dscl . -list /Groups PrimaryGroupID | awk 'BEGIN{m=599} $2>m{m=$2} END{print m+1}')`;

export const macosGroupKind = defineKind<MacosGroupSpec, MacosGroupObserved>({
  kind: 'macos_group',
  name: (spec) => spec.name,
  probe: (spec) => `${DSCL_SECTION}\n` + sh`dscl_section group ${'/Groups/' + spec.name} PrimaryGroupID`,
  parse: (output) => {
    const record = parseDsclRecord(dsclSections(output).get('group'));
    return record ? { exists: true, gid: dsclValue(record, 'PrimaryGroupID') } : { exists: false };
  },
  diff: (spec, observed, ctx) => {
    const path = `/Groups/${spec.name}`;
    if (!ctx.wanted) return observed.exists ? { ...noop(), action: 'delete', script: sh`dscl . -delete ${path}` } : noop();
    if (observed.exists) return noop();
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
