/**
 * The batched reads (`probeMany`/`parseMany`) of the kinds a plan has hundreds of: parsing is a
 * table of recorded outputs, and on this machine each batch must observe exactly what the
 * single probes observe.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { accountKind, parseAccounts, type AccountSpec } from '../../../src/resources/account.js';
import { directoryKind } from '../../../src/resources/directory.js';
import { parseFiles, type FileSpec } from '../../../src/resources/file-state.js';
import { fileKind } from '../../../src/resources/file.js';
import type { AnyKind } from '../../../src/resources/kind.js';

const run = (script: string, env: NodeJS.ProcessEnv = process.env) => execFileSync('sh', ['-c', script], { encoding: 'utf8', env });
const b64 = (s: string) => Buffer.from(s).toString('base64');
const account = (name: string, home = `/home/${name}`): AccountSpec => ({ name, guest: name, home, shell: '/bin/sh', groups: ['pairctl'], comment: '', socket: '/run/x.sock' });
const HOSTILE = "/etc/we ird\t'$(touch /tmp/pwned)`x`;\\";

describe('parseFiles', () => {
  const paths = ['/etc/a', '/etc/missing', HOSTILE, '/etc/link', '/etc/dir', '/etc/empty'];
  const cases: Array<[string, string, ReturnType<typeof parseFiles>]> = [
    ['nothing there', paths.map(() => 't\tabsent').join('\n'), paths.map(() => ({ type: 'absent' }))],
    [
      'files split by size, a hostile name, a symlink and a directory',
      [
        't\tfile', 't\tabsent', 't\tfile', 't\tlink', 't\tother', 't\tfile',
        's\t644\troot\troot\t2\t/etc/a', `s\t600\tpair-x\tpairctl\t3\t${HOSTILE}`, 's\t644\troot\troot\t0\t/etc/empty',
        `c\t${b64('A\nt\tf')}`,
      ].join('\n'),
      [
        { type: 'file', mode: '0644', owner: 'root', group: 'root', content: 'A\n' },
        { type: 'absent' },
        { type: 'file', mode: '0600', owner: 'pair-x', group: 'pairctl', content: 't\tf' },
        { type: 'link' },
        { type: 'other' },
        { type: 'file', mode: '0644', owner: 'root', group: 'root', content: '' },
      ],
    ],
    [
      'a file gone between the test and the stat is absent; stray stderr lines are ignored',
      ['t\tfile', 't\tabsent', 't\tabsent', 't\tabsent', 't\tabsent', 't\tabsent', 'stat: cannot stat', `c\t`].join('\n'),
      paths.map(() => ({ type: 'absent' })),
    ],
  ];
  it.each(cases)('%s', (_name, output, expected) => {
    expect(parseFiles(output, paths)).toEqual(expected);
  });

  it('refuses content that does not add up to the sizes (a file changed while read)', () => {
    expect(() => parseFiles(`t\tfile\ns\t644\troot\troot\t5\t/etc/a\nc\t${b64('AB')}`, ['/etc/a'])).toThrow(/changed while/);
  });

  it('refuses a path it could not print on one line, or a relative one', () => {
    expect(() => fileKind.probeMany!([{ path: '/etc/a\ns\t644' }])).toThrow(/one line/);
    expect(() => directoryKind.probeMany!([{ path: 'etc' }])).toThrow(/absolute/);
  });
});

describe('parseAccounts', () => {
  const names = ['pair-todd', 'pair-gone', 'pair-ann', "pair-o'x"];
  const homes = names.map((n) => `/home/${n}`);
  const output = [
    'passwd:pair-todd:x:1001:1001:pairctl guest todd:/home/pair-todd:/bin/sh',
    'passwd:pair-ann:x:1002:1002::/home/pair-ann:/bin/bash',
    "passwd:pair-o'x:x:1003:4242::/home/pair-o'x:/bin/sh",
    'shadow:pair-todd:star',
    'shadow:pair-ann:set',
    'group:root:x:0:',
    'group:sudo:x:27:pair-ann,bob',
    'group:pair-todd:x:1001:',
    'group:pair-ann:x:1002:pair-ann',
    'group:pairctl:x:999:pair-todd,pair-ann',
    'home:root:root:755:/home/pair-todd',
    'home:pair-ann:pair-ann:700:/home/pair-ann',
  ].join('\n');

  it('reads each account, its groups (primary first) and home; a missing user does not exist', () => {
    expect(parseAccounts(output, names, homes)).toEqual([
      { exists: true, uid: '1001', home: '/home/pair-todd', shell: '/bin/sh', password: 'star', groups: ['pair-todd', 'pairctl'], homeState: 'root:root:755' },
      { exists: false },
      { exists: true, uid: '1002', home: '/home/pair-ann', shell: '/bin/bash', password: 'set', groups: ['pair-ann', 'sudo', 'pairctl'], homeState: 'pair-ann:pair-ann:700' },
      // No group named for the primary gid, no shadow entry, no home: as id -nG and the single probe say.
      { exists: true, uid: '1003', home: "/home/pair-o'x", shell: '/bin/sh', password: 'empty', groups: ['4242'], homeState: 'absent' },
    ]);
  });

  it('decides as the single probe would (admin group and bash are drift)', () => {
    const [, , ann] = parseAccounts(output, names, homes);
    const delta = accountKind.diff(account('pair-ann'), ann, { wanted: true, recorded: true });
    expect(delta.attributes.map((a) => a.name)).toEqual(['shell', 'password', 'groups', 'home owner']);
  });

  it('classifies the password on the machine: the hash never reaches pairctl', () => {
    const bin = mkdtempSync(join(tmpdir(), 'pairctl-getent-'));
    const hash = '$6$salt$SECRETHASHSECRETHASH';
    writeFileSync(
      join(bin, 'getent'),
      `#!/bin/sh
case "$1" in
passwd) echo 'pair-a:x:1:1::/home/pair-a:/bin/sh'; echo 'pair-b:x:2:2::/home/pair-b:/bin/sh'; echo 'pair-c:x:3:3::/home/pair-c:/bin/sh'; echo 'pair-d:x:4:4::/home/pair-d:/bin/sh' ;;
shadow) echo 'pair-a:${hash}:1::::::'; echo 'pair-b:*:1::::::'; echo 'pair-c:!${hash}:1::::::'; echo 'pair-d::1::::::' ;;
group) echo 'pairctl:x:9:pair-a' ;;
esac
exit 2
`,
    );
    chmodSync(join(bin, 'getent'), 0o755);
    const specs = ['pair-a', 'pair-b', 'pair-c', 'pair-d', 'pair-none'].map((n) => account(n));
    const out = run(accountKind.probeMany!(specs), { ...process.env, PATH: `${bin}:${process.env.PATH}` });
    expect(out).not.toContain('SECRET');
    expect((accountKind.parseMany!(out, specs) as Array<{ password?: string; groups?: string[] }>).map((o) => o.password)).toEqual(['set', 'star', 'locked', 'empty', undefined]);
  });
});

describe('a batch reads what the single probes read, on this machine', () => {
  const same = (kind: AnyKind, specs: unknown[]) => {
    const script = kind.probeMany!(specs);
    execFileSync('sh', ['-n'], { input: script });
    expect(kind.parseMany!(run(script), specs)).toEqual(specs.map((s) => kind.parse(run(kind.probe(s)), s)));
  };

  it('file and directory', () => {
    const d = mkdtempSync(join(tmpdir(), 'pairctl-batch-'));
    writeFileSync(join(d, 'a'), 'hello\nworld\n');
    writeFileSync(join(d, 'empty'), '');
    writeFileSync(join(d, "we ird\t'$(x)"), 'ünïcode\n');
    chmodSync(join(d, 'a'), 0o600);
    mkdirSync(join(d, 'sub'));
    symlinkSync(join(d, 'a'), join(d, 'link'));
    symlinkSync(join(d, 'sub'), join(d, 'dirlink'));
    const paths = ['a', 'missing', "we ird\t'$(x)", 'link', 'sub', 'dirlink', 'empty', 'a'].map((p) => join(d, p));
    same(fileKind, paths.map((path): FileSpec => ({ path, content: '', mode: '0644', owner: 'root', group: 'root' })));
    same(directoryKind, paths.map((path) => ({ path, mode: '0755', owner: 'root', group: 'root' })));
  });

  it.skipIf(process.platform !== 'linux')('account', () => {
    same(accountKind, [account('root', '/root'), account('pair-nobody-here'), account('nobody', '/nonexistent'), account('daemon', '/tmp')]);
  });
});
