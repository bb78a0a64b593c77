/**
 * The group's probe, run by sh against a stand-in getent that answers from a passwd and a group
 * table (as glibc's getent does: `getent group NAME`, `getent passwd -- NAME…` in the order asked,
 * missing names skipped, and `getent passwd` listing every entry). It must print what the
 * member-by-member probe printed: members in the group's order with their passwd comments (none
 * for a member with no entry), then the accounts whose primary group it is.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { groupKind, parseMembers } from '../../../src/resources/group.js';

function standIn(passwd: string[], group: string[]): string {
  const bin = mkdtempSync(join(tmpdir(), 'pairctl-group-'));
  writeFileSync(join(bin, 'passwd'), passwd.map((l) => `${l}\n`).join(''));
  writeFileSync(join(bin, 'group'), group.map((l) => `${l}\n`).join(''));
  writeFileSync(
    join(bin, 'getent'),
    `#!/bin/sh
db=$1; shift; [ "\${1-}" = -- ] && shift
f=${JSON.stringify(bin)}/$db
[ $# -eq 0 ] && exec cat "$f"
rc=0
for k do
  l=$(awk -F: -v k="$k" '$1 == k { print; exit }' "$f")
  if [ -n "$l" ]; then printf '%s\\n' "$l"; else rc=2; fi
done
exit $rc
`,
  );
  chmodSync(join(bin, 'getent'), 0o755);
  return bin;
}

const probe = (bin: string) =>
  execFileSync('sh', ['-c', groupKind.probe({ name: 'pairctl' })], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });

describe('the group probe', () => {
  it('lists members in the group order with their comments, tabs taken out, then the primary accounts', () => {
    const bin = standIn(
      [
        'root:x:0:0:root:/root:/bin/bash',
        'pair-todd:x:1001:1001:pairctl guest todd:/home/pair-todd:/bin/sh',
        'bob:x:1002:990:Bob\tB:/home/bob:/bin/sh',
        'pair-ann:x:1003:1003:pairctl guest ann:/home/pair-ann:/bin/sh',
        'pair-ann:x:1004:1004:a second entry of the same name:/:/bin/sh',
        'eve:x:1005:990:Eve:/home/eve:/bin/sh',
      ],
      ['root:x:0:', 'pairctl:x:990:pair-ann,ghost,pair-todd,bob'],
    );
    const out = probe(bin);
    expect(out.split('\n')[0]).toBe('gid=990');
    expect(parseMembers(out)).toEqual([
      { name: 'pair-ann', comment: 'pairctl guest ann', primary: false },
      { name: 'ghost', comment: '', primary: false },
      { name: 'pair-todd', comment: 'pairctl guest todd', primary: false },
      { name: 'bob', comment: 'BobB', primary: false },
      { name: 'bob', comment: 'BobB', primary: true },
      { name: 'eve', comment: 'Eve', primary: true },
    ]);
    expect(groupKind.parse(out, { name: 'pairctl' })).toMatchObject({ exists: true, gid: '990' });
  });

  it('reads a group with no listed members without listing every account as one', () => {
    const bin = standIn(['root:x:0:0:root:/root:/bin/bash', 'pair-jo:x:1001:990:pairctl guest jo:/:/bin/sh'], ['pairctl:x:990:']);
    expect(parseMembers(probe(bin))).toEqual([{ name: 'pair-jo', comment: 'pairctl guest jo', primary: true }]);
  });

  it('keeps a member name with a backslash as it is (awk -v would read it as an escape)', () => {
    const bin = standIn(['root:x:0:0:root:/root:/bin/bash'], ['pairctl:x:990:a\\tb']);
    expect(parseMembers(probe(bin))).toEqual([{ name: 'a\\tb', comment: '', primary: false }]);
  });

  it('prints nothing without the group', () => {
    const bin = standIn(['root:x:0:0:root:/root:/bin/bash'], ['root:x:0:']);
    expect(probe(bin)).toBe('');
    expect(groupKind.parse('', { name: 'pairctl' })).toMatchObject({ exists: false });
  });
});
