import { describe, expect, it } from 'vitest';
import { formatHostPort, parseSshTarget, type SshTarget } from '../../../src/transport/ssh-target.js';

const good: Array<[string, SshTarget]> = [
  ['host', { host: 'host' }],
  ['relay.example.com', { host: 'relay.example.com' }],
  ['alice@relay.example.com', { user: 'alice', host: 'relay.example.com' }],
  ['10.0.0.5', { host: '10.0.0.5' }],
  ['10.0.0.5:2222', { host: '10.0.0.5', port: 2222 }],
  ['root@10.0.0.5:22', { user: 'root', host: '10.0.0.5', port: 22 }],
  ['[::1]:2222', { host: '::1', port: 2222 }],
  ['[::1]', { host: '::1' }],
  ['admin@[fd00::5]:2200', { user: 'admin', host: 'fd00::5', port: 2200 }],
  ['fe80::1', { host: 'fe80::1' }],
  ['[fe80::1%eth0]:22', { host: 'fe80::1%eth0', port: 22 }],
  ['my_alias', { host: 'my_alias' }],
  ['a', { host: 'a' }],
  ['svc-user@h:65535', { user: 'svc-user', host: 'h', port: 65535 }],
  ['  spaced-ends  ', { host: 'spaced-ends' }],
];

const bad: Array<[string, RegExp]> = [
  ['', /empty/],
  ['   ', /empty/],
  ['user@', /no host/],
  ['@host', /not a valid user/],
  ['host:', /not a port/],
  ['host:0', /not a port/],
  ['host:65536', /not a port/],
  ['host:22x', /not a port/],
  ['[::1', /without "\]"/],
  ['[::1]2222', /unexpected/],
  ['-oProxyCommand=x', /may not start with "-"/],
  ['host name', /whitespace/],
  ['ho$t', /not a valid host/],
  ['bad user@host', /whitespace/],
  ['us;er@host', /not a valid user/],
];

describe('parseSshTarget', () => {
  it.each(good)('parses %j', (text, want) => {
    expect(parseSshTarget(text)).toEqual({ ok: true, target: want });
  });

  it.each(bad)('rejects %j', (text, why) => {
    const r = parseSshTarget(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(why);
  });
});

describe('formatHostPort', () => {
  it.each([
    ['h', 22, 'h'],
    ['h', 2222, '[h]:2222'],
    ['::1', 2222, '[::1]:2222'],
  ] as const)('%s %d -> %s', (host, port, want) => {
    expect(formatHostPort(host, port)).toBe(want);
  });
});
