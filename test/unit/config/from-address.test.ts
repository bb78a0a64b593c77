import { describe, expect, it } from 'vitest';
import { checkFromEntry } from '../../../src/config/from-address.js';

describe('checkFromEntry', () => {
  it.each([
    '203.0.113.7',
    '198.51.100.0/24',
    '10.0.0.0/8',
    '0.0.0.0/0',
    '203.0.113.7/32',
    '::1',
    '2001:db8::/32',
    '2001:db8:0:0:0:0:0:1/128',
    '::ffff:192.0.2.0/120',
    'fe80::/10',
    '::/0',
  ])('accepts %s', (entry) => {
    expect(checkFromEntry(entry)).toEqual({ ok: true });
  });

  it.each([
    ['10.0.0.1/8', 'host bits', '10.0.0.0/8'],
    ['198.51.100.7/24', 'host bits', '198.51.100.0/24'],
    ['2001:db8::1/32', 'host bits', '2001:db8::/32'],
    ['::ffff:192.0.2.1/120', 'host bits', '::ffff:c000:200/120'],
    ['10.0.0.0/33', 'prefix length', undefined],
    ['2001:db8::/129', 'prefix length', undefined],
    ['10.0.0.0/08', 'prefix length', undefined],
    ['10.0.0.0/', 'prefix length', undefined],
    ['10.0.0.0/-1', 'prefix length', undefined],
    ['10.0.0.0/8/8', 'prefix length', undefined],
    ['10.0.0.0/8,10.1.0.0/16', 'more than one', undefined],
    ['10.0.0.1 10.0.0.2', 'more than one', undefined],
    ['!10.0.0.1', 'negated', undefined],
    ['10.0.*.*', 'wildcard', undefined],
    ['10.0.0.?', 'wildcard', undefined],
    ['fe80::1%eth0', 'zone', undefined],
    ['example.com', 'not an IP', undefined],
    ['256.0.0.1', 'not an IP', undefined],
    ['010.0.0.1', 'not an IP', undefined],
    ['"10.0.0.1"', 'not an IP', undefined],
    ['', 'not an IP', undefined],
  ] as const)('refuses %s (%s)', (entry, why, fixed) => {
    const result = checkFromEntry(entry);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toContain(why);
      if (fixed) expect(result.hint).toContain(fixed);
    }
  });
});
