/**
 * The kind registry: names are a type, so a misspelt kind fails `tsc -p tsconfig.test.json` (the
 * `@ts-expect-error` lines below would be unused, an error, if it compiled); names read from disk
 * are checked at run time.
 */
import { describe, expect, it } from 'vitest';
import { resource } from '../../../src/graph/resource.js';
import type { Resource } from '../../../src/resources/kind.js';
import { isKindName, kindOf, KINDS, type KindName } from '../../../src/resources/registry.js';

describe('kind registry', () => {
  it('lists each kind under the name it carries, so a recorded name finds the kind that wrote it', () => {
    const names = Object.keys(KINDS);
    expect(names.length).toBeGreaterThan(15);
    for (const [name, kind] of Object.entries(KINDS)) expect(kind.kind).toBe(name);
    for (const name of names) expect(kindOf(name as KindName)).toBe(KINDS[name as KindName]);
  });

  it('a misspelt kind does not compile (positive control: the right spelling does)', () => {
    const good: Resource = { kind: 'account', address: 'account["a"]', spec: {}, deps: [] };
    // @ts-expect-error 'acount' is not a kind
    const bad: Resource = { kind: 'acount', address: 'acount["a"]', spec: {}, deps: [] };
    expect(kindOf(good.kind).kind).toBe('account');
    expect(resource('secret_file', '/etc/x', {}).kind).toBe('secret_file');
    // @ts-expect-error a graph builder cannot make a resource of a kind that does not exist
    expect(resource('secret-file', '/etc/x', {}).address).toBe('secret-file["/etc/x"]');
    // Names from disk (a record written by a newer pairctl) are only typed by a cast: checked at run time.
    expect(() => kindOf(bad.kind)).toThrow('unknown resource kind "acount" (a record written by a newer pairctl?)');
  });

  it('isKindName tells a known name from anything else a file may hold', () => {
    expect(isKindName('sshd_dropin')).toBe(true);
    for (const name of ['acount', '', 'toString', '__proto__', 'constructor', 'Account']) expect(isKindName(name)).toBe(false);
    expect(() => kindOf('toString' as KindName)).toThrow(/unknown resource kind "toString"/);
  });
});
