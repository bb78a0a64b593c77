/** Which sections read a machine's resources, and whose observation is whose. */
import { describe, expect, it } from 'vitest';
import { resourceProbes } from '../../../src/plan/resource-probes.js';
import { fileKind } from '../../../src/resources/file.js';
import type { Resource } from '../../../src/resources/kind.js';
import type { KindName } from '../../../src/resources/registry.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('resourceProbes', () => {
  const r = (kind: KindName, address: string, spec: unknown): Resource => ({ kind, address, spec, deps: [] });
  const resources = [
    r('file', 'f1', { path: '/etc/a' }),
    r('group', 'g', { name: 'pairctl' }),
    r('directory', 'd1', { path: '/etc/d' }),
    r('file', 'f2', { path: '/etc/b' }),
    r('group', 'g2', { name: 'other' }),
  ];

  it('gives a batched kind one section where its first resource was, and others one each', () => {
    const reads = resourceProbes(resources);
    expect(reads.snippets).toHaveLength(4);
    expect(reads.snippets[0]).toBe(fileKind.probeMany!([{ path: '/etc/a' }, { path: '/etc/b' }]));
    expect(reads.snippets[1]).toContain('getent group pairctl');
    expect(reads.snippets[3]).toContain('getent group other');
  });

  it('hands each resource its own observation, in the order given', () => {
    const observed = resourceProbes(resources).observe([
      `t\tabsent\nt\tfile\ns\t644\troot\troot\t1\t/etc/b\nc\t${b64('B')}`,
      'gid=999',
      't\tdirectory\ns\t755\troot\troot\t4096\t/etc/d',
      '',
    ]);
    expect(observed).toEqual([
      { type: 'absent' },
      { exists: true, gid: '999', members: [] },
      { type: 'directory', mode: '0755', owner: 'root', group: 'root' },
      { type: 'file', mode: '0644', owner: 'root', group: 'root', content: 'B' },
      { exists: false },
    ]);
  });
});
