import { describe, expect, it } from 'vitest';
import { loadYaml, pathToString, pointerToPath } from '../../../src/config/load-yaml.js';

const text = [
  'base: &base', //            1
  '  platform: linux', //      2
  '  owner: bhorseman', //     3
  'hosts:', //                 4
  '  scotch:', //              5
  '    <<: *base', //          6
  '    ssh: local', //         7
  '  rye: {<<: [*base], ssh: rye}', // 8
  'list:', //                  9
  '  - a', //                  10
  '  - {b: 1}', //             11
  'empty:', //                 12
  "'a/b~c': 1", //             13
].join('\n');

describe('loadYaml positions', () => {
  const { data, diagnostics, locate } = loadYaml(text, 'f.yaml');
  const at = (path: (string | number)[], target?: 'key' | 'value'): string => {
    const p = locate(path, target);
    return `${p.line}:${p.column}`;
  };

  it('parses with merges applied', () => {
    expect(diagnostics).toEqual([]);
    expect(data).toMatchObject({
      hosts: { scotch: { platform: 'linux', owner: 'bhorseman', ssh: 'local' }, rye: { platform: 'linux', ssh: 'rye' } },
    });
  });

  it.each([
    [['hosts', 'scotch'], 'key', '5:3'],
    [['hosts', 'scotch'], 'value', '6:5'],
    [['hosts', 'scotch', 'ssh'], 'value', '7:10'],
    [['hosts', 'scotch', 'ssh'], 'key', '7:5'],
    // through a << merge: the key where it is written, in the anchored map
    [['hosts', 'scotch', 'owner'], 'value', '3:10'],
    [['hosts', 'rye', 'platform'], 'key', '2:3'],
    [['hosts', 'rye', 'ssh'], 'value', '8:27'],
    [['list', 0], 'value', '10:5'],
    [['list', '1', 'b'], 'value', '11:9'],
    // an empty value points at its key
    [['empty'], 'value', '12:1'],
    // unknown paths fall back to the deepest known ancestor
    [['hosts', 'scotch', 'nope'], 'value', '6:5'],
    [['hosts', 'nope', 'deeper'], 'key', '5:3'],
    [['list', 7], 'value', '10:3'],
    [['a/b~c'], 'key', '13:1'],
    [[], 'value', '1:1'],
  ] as const)('%j (%s) → %s', (path, target, pos) => {
    expect(at([...path], target)).toBe(pos);
  });

  it('decodes JSON pointers from ajv', () => {
    expect(pointerToPath('')).toEqual([]);
    expect(pointerToPath('/guests/todd/keys/0')).toEqual(['guests', 'todd', 'keys', '0']);
    expect(pointerToPath('/a~1b~0c')).toEqual(['a/b~c']);
    expect(pathToString(['guests', 'todd', 'keys', '0'])).toBe('guests.todd.keys[0]');
    expect(pathToString([])).toBe('the top level');
  });
});

describe('loadYaml problems', () => {
  it('reports duplicate keys with the position of the second', () => {
    const r = loadYaml('a: 1\nb:\n  c: 1\n  c: 2\n', 'f');
    expect(r.data).toBeUndefined();
    expect(r.diagnostics).toMatchObject([{ rule: 'duplicate-key', line: 4, column: 3, message: 'duplicate key "c"' }]);
  });

  it('turns an alias bomb into a diagnostic, quickly', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      lines.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    // CPU time is the parser's own work; wall time also counts whatever else shares the cores.
    const cpu = process.cpuUsage();
    const r = loadYaml(lines.join('\n'), 'f');
    const used = process.cpuUsage(cpu);
    expect((used.user + used.system) / 1000, 'CPU time (ms)').toBeLessThan(1000);
    expect(r.data).toBeUndefined();
    expect(r.diagnostics).toMatchObject([{ rule: 'alias-limit', severity: 'error', line: 2, column: 8 }]);
  });

  it('allows a realistic number of aliases', () => {
    const guests = Array.from({ length: 20 }, (_, i) => `  g${i}: {keys: *k, from: *f}`);
    const r = loadYaml(['k: &k [a, b, c]', 'f: &f [10.0.0.0/8]', 'guests:', ...guests].join('\n'), 'f');
    expect(r.diagnostics).toEqual([]);
  });

  it('reports an alias without anchor at the alias', () => {
    const r = loadYaml('a: 1\nb: *nope\n', 'f');
    expect(r.diagnostics).toMatchObject([{ rule: 'yaml-syntax', line: 2, column: 4 }]);
  });

  it('reports syntax errors with their position', () => {
    const r = loadYaml('a: [1, 2\nb: "x\n', 'f');
    expect(r.diagnostics.length).toBeGreaterThan(0);
    expect(r.diagnostics[0]).toMatchObject({ rule: 'yaml-syntax', severity: 'error' });
    expect(r.diagnostics[0]?.line).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ['a: !!binary aGVsbG8=\n', 1, 4],
    ['a:\n  b: !!set {x, y}\n', 2, 6],
    ['a: !custom x\n', 1, 4],
    ['a: !!timestamp 2001-12-14\n', 1, 4],
  ])('refuses the non-JSON tag in %j', (text, line, column) => {
    const r = loadYaml(text, 'f');
    expect(r.data).toBeUndefined();
    expect(r.diagnostics).toMatchObject([{ rule: 'yaml-syntax', severity: 'error', line, column }]);
  });

  it('accepts plain core tags', () => {
    expect(loadYaml('a: !!str 010\nb: !!int 7\n', 'f').data).toEqual({ a: '010', b: 7 });
  });

  it('reports a merge of something that is not a map at the << key', () => {
    const r = loadYaml('a: 1\nb:\n  <<: 5\n', 'f');
    expect(r.diagnostics).toMatchObject([{ rule: 'yaml-syntax', line: 3, column: 3 }]);
  });

  it('does not count a byte-order mark as a column', () => {
    const r = loadYaml('\ufeffa: 1\nb: 2\n', 'f');
    expect(r.locate(['a'], 'key')).toMatchObject({ line: 1, column: 1 });
    expect(r.locate(['b'])).toMatchObject({ line: 2, column: 4 });
  });

  it('keeps YAML 1.1 spellings as strings even under a %YAML 1.1 directive', () => {
    const r = loadYaml('%YAML 1.1\n---\na: yes\nb: 2026-12-31T18:00:00Z\nc: 010\n', 'f');
    expect(r.data).toEqual({ a: 'yes', b: '2026-12-31T18:00:00Z', c: 10 });
  });
});
