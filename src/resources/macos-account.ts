/**
 * A guest's account on a Mac, in Directory Services: the same lockdown as on Linux (shell
 * /bin/sh, password `*`, no admin group, root-owned home), hidden from the login window, and a
 * member of com.apple.access_ssh when Remote Login is limited to some users.
 */
import { sh } from '../transport/shell-quote.js';
import { cutOffGuestScript, takeoverError, type AccountSpec } from './account.js';
import { DSCL_SECTION, dsclSections, dsclValue, parseDsclRecord } from './dscl-record.js';
import { defineKind, keyValues, noop, type AttributeChange } from './kind.js';

/** Groups whose membership would give a guest power over a Mac. */
const ADMIN_GROUPS = ['admin', 'wheel', '_developer', '_lpadmin'];
const ACCESS_SSH = 'com.apple.access_ssh';

export interface MacosAccountObserved {
  exists: boolean;
  uid?: string;
  shell?: string;
  home?: string;
  hidden?: boolean;
  /** `*` exactly, or another value (never printed: it could be a hash) */
  passwordStar?: boolean;
  groups?: string[];
  /** Remote Login is limited, and whether the account is in the access group */
  accessLimited?: boolean;
  inAccessGroup?: boolean;
  /** owner:group:mode of the home directory, or absent */
  homeState?: string;
}

/** Shell that sets $uid to the first free user id from 600 up. */
const FREE_UID = `uid=$(dscl . -list /Users UniqueID | awk 'BEGIN{m=599} $2>m{m=$2} END{print m+1}')`;

function accessGroupScript(name: string): string {
  return sh`if dscl . -read /Groups/com.apple.access_ssh RecordName >/dev/null 2>&1; then dseditgroup -o edit -a ${name} -t user ${ACCESS_SSH}; fi`;
}

export const macosAccountKind = defineKind<AccountSpec, MacosAccountObserved>({
  kind: 'macos_account',
  name: (spec) => spec.name,
  probe: (spec) =>
    `${DSCL_SECTION}\n` +
    sh`u=${spec.name}
if dscl . -read ${'/Users/' + spec.name} RecordName >/dev/null 2>&1; then
  dscl_section user ${'/Users/' + spec.name} UniqueID UserShell NFSHomeDirectory IsHidden
  case "$(dscl . -read ${'/Users/' + spec.name} Password 2>/dev/null)" in 'Password: *') echo password=star ;; *) echo password=other ;; esac
  echo "groups=$(id -Gn "$u")"
  if dscl . -read /Groups/com.apple.access_ssh RecordName >/dev/null 2>&1; then
    echo access=limited
    dsmemberutil checkmembership -U "$u" -G com.apple.access_ssh | sed 's/^/accessmember=/'
  fi
  echo "homestate=$(stat -f '%Su:%Sg:%Lp' ${spec.home} 2>/dev/null || echo absent)"
fi`,
  parse: (output) => {
    const record = parseDsclRecord(dsclSections(output).get('user'));
    if (!record) return { exists: false };
    const kv = keyValues(output);
    return {
      exists: true,
      uid: dsclValue(record, 'UniqueID'),
      shell: dsclValue(record, 'UserShell'),
      home: dsclValue(record, 'NFSHomeDirectory'),
      hidden: dsclValue(record, 'IsHidden') === '1',
      passwordStar: kv.get('password') === 'star',
      groups: (kv.get('groups') ?? '').split(/\s+/).filter(Boolean),
      accessLimited: kv.get('access') === 'limited',
      inAccessGroup: /is a member/.test(kv.get('accessmember') ?? '') && !/not a member/.test(kv.get('accessmember') ?? ''),
      homeState: kv.get('homestate'),
    };
  },
  diff: (spec, observed, ctx) => {
    const path = `/Users/${spec.name}`;
    if (!ctx.wanted) {
      if (!observed.exists) return noop();
      return {
        ...noop(),
        action: 'delete',
        script:
          cutOffGuestScript(spec) +
          sh`
if dscl . -read /Groups/com.apple.access_ssh RecordName >/dev/null 2>&1; then dseditgroup -o edit -d ${spec.name} -t user ${ACCESS_SSH} 2>/dev/null || :; fi
dseditgroup -o edit -d ${spec.name} -t user ${spec.groups[0] ?? 'pairctl'} 2>/dev/null || :
dscl . -delete ${path}
rm -rf -- ${spec.home}`,
      };
    }
    if (observed.exists && !ctx.recorded) return noop([], [takeoverError(spec)]);
    const group = spec.groups[0] ?? 'pairctl';
    if (!observed.exists) {
      return {
        ...noop(),
        action: 'create',
        attributes: [
          { name: 'shell', after: spec.shell },
          { name: 'home', after: `${spec.home} (root-owned)` },
          { name: 'groups', after: spec.groups.join(',') },
          { name: 'hidden', after: 'yes (not on the login window)' },
          { name: 'password', after: '* (key login only)' },
        ],
        script:
          FREE_UID +
          sh`
gid=$(dscl . -read ${'/Groups/' + group} PrimaryGroupID | awk '{print $2}')
dscl . -create ${path}
dscl . -create ${path} UniqueID "$uid"
dscl . -create ${path} PrimaryGroupID "$gid"
dscl . -create ${path} UserShell ${spec.shell}
dscl . -create ${path} NFSHomeDirectory ${spec.home}
dscl . -create ${path} RealName ${spec.comment}
dscl . -create ${path} IsHidden 1
dscl . -create ${path} Password '*'
dseditgroup -o edit -a ${spec.name} -t user ${group}
` +
          accessGroupScript(spec.name) +
          sh`
install -d -m 0755 -o root -g wheel ${spec.home}`,
      };
    }
    const attributes: AttributeChange[] = [];
    const scripts: string[] = [];
    if (observed.shell !== spec.shell) {
      attributes.push({ name: 'shell', before: observed.shell, after: spec.shell });
      scripts.push(sh`dscl . -create ${path} UserShell ${spec.shell}`);
    }
    if (observed.home !== spec.home) {
      attributes.push({ name: 'home', before: observed.home, after: spec.home });
      scripts.push(sh`dscl . -create ${path} NFSHomeDirectory ${spec.home}`);
    }
    if (!observed.passwordStar) {
      attributes.push({ name: 'password', before: '(set)', after: '*' });
      scripts.push(sh`dscl . -create ${path} Password '*'`);
    }
    if (!observed.hidden) {
      attributes.push({ name: 'hidden', before: 'no', after: 'yes' });
      scripts.push(sh`dscl . -create ${path} IsHidden 1`);
    }
    const admin = (observed.groups ?? []).filter((g) => ADMIN_GROUPS.includes(g));
    if (admin.length > 0 || !(observed.groups ?? []).includes(group)) {
      attributes.push({ name: 'groups', before: (observed.groups ?? []).join(','), after: spec.groups.join(',') });
      scripts.push(sh`dseditgroup -o edit -a ${spec.name} -t user ${group}`);
      for (const g of admin) scripts.push(sh`dseditgroup -o edit -d ${spec.name} -t user ${g}`);
    }
    if (observed.accessLimited && !observed.inAccessGroup) {
      attributes.push({ name: ACCESS_SSH, before: 'not a member', after: 'member' });
      scripts.push(accessGroupScript(spec.name));
    }
    if (observed.homeState !== 'root:wheel:755') {
      attributes.push({ name: 'home owner', before: observed.homeState, after: 'root:wheel:755' });
      scripts.push(sh`install -d -m 0755 -o root -g wheel ${spec.home}
chown root:wheel ${spec.home}
chmod 0755 ${spec.home}`);
    }
    if (attributes.length === 0) return noop();
    return { ...noop(), action: 'update', attributes, script: scripts.join('\n') };
  },
});
