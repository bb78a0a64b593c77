import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideHostKey, type HostKeyContext } from '../../../src/transport/host-key-policy.js';
import {
  blobKeyType,
  checkHostKey,
  hashKnownHostsName,
  hostFieldMatches,
  knownHostsName,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
  sshFingerprint,
} from '../../../src/transport/known-hosts.js';

interface Key {
  type: string;
  b64: string;
  blob: Buffer;
  /** the fingerprint as `ssh-keygen -l` prints it */
  keygenFingerprint: string;
}

let dir: string;
const keys: Record<'ed1' | 'ed2' | 'ecdsa' | 'rsa', Key> = {} as Record<'ed1' | 'ed2' | 'ecdsa' | 'rsa', Key>;

function makeKey(name: string, type: string, extra: string[] = []): Key {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...extra, '-N', '', '-C', name, '-f', file]);
  const [keyType, b64] = readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/);
  const printed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' });
  return { type: keyType ?? '', b64: b64 ?? '', blob: Buffer.from(b64 ?? '', 'base64'), keygenFingerprint: printed.split(/\s+/)[1] ?? '' };
}

function line(hosts: string, k: Key, marker = ''): string {
  return `${marker}${marker ? ' ' : ''}${hosts} ${k.type} ${k.b64} comment`;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pairctl-kh-'));
  keys.ed1 = makeKey('ed1', 'ed25519');
  keys.ed2 = makeKey('ed2', 'ed25519');
  keys.ecdsa = makeKey('ecdsa', 'ecdsa');
  keys.rsa = makeKey('rsa', 'rsa', ['-b', '2048']);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fingerprints and key types', () => {
  it.each(['ed1', 'ed2', 'ecdsa', 'rsa'] as const)('%s: SHA256 fingerprint equals ssh-keygen -l', (name) => {
    const k = keys[name];
    expect(sshFingerprint(k.blob)).toBe(k.keygenFingerprint);
    expect(k.keygenFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(blobKeyType(k.blob)).toBe(k.type);
  });

  it('rejects blobs that are not keys', () => {
    expect(blobKeyType(Buffer.from('hello'))).toBeUndefined();
    expect(blobKeyType(Buffer.alloc(2))).toBeUndefined();
  });
});

describe('knownHostsName', () => {
  it.each([
    ['10.0.0.1', 22, '10.0.0.1'],
    ['Relay.Example.COM', 22, 'relay.example.com'],
    ['10.0.0.1', 2222, '[10.0.0.1]:2222'],
    ['::1', 2200, '[::1]:2200'],
  ] as const)('%s port %d -> %s', (host, port, want) => expect(knownHostsName(host, port)).toBe(want));
});

describe('hostFieldMatches (plain patterns)', () => {
  const table: Array<[string, string, boolean]> = [
    ['host1', 'host1', true],
    ['host1', 'HOST1', true],
    ['host1,10.0.0.1', '10.0.0.1', true],
    ['host1,10.0.0.1', '10.0.0.2', false],
    ['host1', '[host1]:2222', false],
    ['[host1]:2222', '[host1]:2222', true],
    ['[host1]:2222', 'host1', false],
    ['[host1]:2222', '[host1]:2223', false],
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com,!bad.example.com', 'bad.example.com', false],
    ['!bad.example.com,*.example.com', 'bad.example.com', false],
    ['*.example.com,!bad.example.com', 'good.example.com', true],
    ['!bad.example.com', 'good.example.com', false],
    ['web?.lan', 'web1.lan', true],
    ['web?.lan', 'web10.lan', false],
    ['10.0.0.*', '10.0.0.77', true],
    ['10.0.0.*', '10.0.1.77', false],
    ['[10.0.0.*]:2222', '[10.0.0.5]:2222', true],
    ['host.1', 'hostx1', false],
    ['*', 'anything', true],
  ];
  it.each(table)('%s covers %s: %s', (field, name, want) => expect(hostFieldMatches(field, name)).toBe(want));
});

describe('hashed entries', () => {
  it('matches entries hashed by ssh-keygen -H, for plain and [host]:port names', () => {
    const file = join(dir, 'hashed_known_hosts');
    writeFileSync(file, [line('host1,10.0.0.1', keys.ed1), line('[host1]:2222', keys.ecdsa)].join('\n') + '\n');
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('host1');
    const lines = parseKnownHosts(text, file);
    expect(lines).toHaveLength(3); // -H splits the comma list into one hashed line per name
    expect(lines.every((l) => l.hosts.startsWith('|1|'))).toBe(true);
    expect(checkHostKey(lines, [knownHostsName('host1', 22)], keys.ed1.blob).status).toBe('known');
    expect(checkHostKey(lines, [knownHostsName('10.0.0.1', 22)], keys.ed1.blob).status).toBe('known');
    expect(checkHostKey(lines, [knownHostsName('HOST1', 22)], keys.ed1.blob).status).toBe('known');
    expect(checkHostKey(lines, [knownHostsName('host1', 2222)], keys.ecdsa.blob).status).toBe('known');
    expect(checkHostKey(lines, [knownHostsName('host1', 2222)], keys.ed1.blob).status).toBe('unknown');
    expect(checkHostKey(lines, [knownHostsName('host2', 22)], keys.ed1.blob).status).toBe('unknown');
  });

  it('writes hashes that ssh-keygen -F finds', () => {
    const file = join(dir, 'our_hashes');
    const salt = Buffer.alloc(20, 7);
    writeFileSync(file, line(hashKnownHostsName('[relay.lan]:2222', salt), keys.ed2) + '\n');
    const found = execFileSync('ssh-keygen', ['-F', '[relay.lan]:2222', '-f', file], { encoding: 'utf8' });
    expect(found).toContain(keys.ed2.b64);
  });

  it('ignores malformed hashes', () => {
    expect(hostFieldMatches('|1|short|short', 'host1')).toBe(false);
    expect(hostFieldMatches('|2|x|y', 'host1')).toBe(false);
  });
});

describe('parseKnownHosts', () => {
  it('skips comments, blank, malformed, mislabelled and @cert-authority lines', () => {
    const text = [
      '# a comment',
      '',
      '   ',
      line('good', keys.ed1),
      'onlyhost',
      'host ssh-ed25519',
      `mislabelled ssh-rsa ${keys.ed1.b64}`,
      'badb64 ssh-ed25519 !!!notbase64!!!',
      line('*', keys.ecdsa, '@cert-authority'),
      line('revokedhost', keys.ed2, '@revoked'),
      line('odd', keys.ed2, '@unknown-marker'),
      `  indented ${keys.rsa.type} ${keys.rsa.b64}`,
    ].join('\r\n');
    const lines = parseKnownHosts(text, 'kh');
    expect(lines.map((l) => [l.hosts, l.keyType, l.revoked, l.line])).toEqual([
      ['good', 'ssh-ed25519', false, 4],
      ['revokedhost', 'ssh-ed25519', true, 10],
      ['indented', 'ssh-rsa', false, 12],
    ]);
    expect(lines[0]?.key.equals(keys.ed1.blob)).toBe(true);
    expect(lines[0]?.file).toBe('kh');
  });
});

describe('checkHostKey', () => {
  const file = 'known_hosts';
  const text = () =>
    [
      line('host1,10.0.0.1', keys.ed1),
      line('[host1]:2222', keys.ecdsa),
      line('rsaonly', keys.rsa),
      line('*.example.com,!bad.example.com', keys.ed1),
      line('revoked.lan', keys.ed2, '@revoked'),
      line('revoked.lan', keys.ed1),
      line('*', keys.ed2, '@cert-authority'),
    ].join('\n');

  it.each([
    ['known by name', 'host1', 22, 'ed1', 'known'],
    ['known by address', '10.0.0.1', 22, 'ed1', 'known'],
    ['known on port 2222', 'host1', 2222, 'ecdsa', 'known'],
    ['plain entry does not cover port 2222', '10.0.0.1', 2222, 'ed1', 'unknown'],
    ['different key of the same type', 'host1', 22, 'ed2', 'changed'],
    ['different key of the same type, port form', 'host1', 2222, 'ecdsa', 'known'],
    ['a type the host is not known with', 'rsaonly', 22, 'ed1', 'unknown'],
    ['wildcard', 'www.example.com', 22, 'ed1', 'known'],
    ['negated', 'bad.example.com', 22, 'ed1', 'unknown'],
    ['revoked', 'revoked.lan', 22, 'ed2', 'revoked'],
    ['valid key beside a revoked one', 'revoked.lan', 22, 'ed1', 'known'],
    ['cert-authority lines are not host keys', 'nowhere.lan', 22, 'ed2', 'unknown'],
  ] as const)('%s', (_what, host, port, key, status) => {
    const lines = parseKnownHosts(text(), file);
    expect(checkHostKey(lines, [knownHostsName(host, port)], keys[key].blob).status).toBe(status);
  });

  it('reports the fingerprints a changed key replaced', () => {
    const r = checkHostKey(parseKnownHosts(text(), file), ['host1'], keys.ed2.blob);
    expect(r.status).toBe('changed');
    if (r.status !== 'changed') return;
    expect(r.fingerprint).toBe(keys.ed2.keygenFingerprint);
    expect(r.known.map((l) => sshFingerprint(l.key))).toEqual([keys.ed1.keygenFingerprint]);
  });

  it('lists the other key types of a host known under another type', () => {
    const r = checkHostKey(parseKnownHosts(text(), file), ['rsaonly'], keys.ed1.blob);
    expect(r.status === 'unknown' && r.otherTypes.map((l) => l.keyType)).toEqual(['ssh-rsa']);
  });
});

describe('preferredHostKeyAlgorithms', () => {
  it('offers the types known for the host first, in strength order', () => {
    const lines = parseKnownHosts([line('rsaonly', keys.rsa), line('both', keys.ecdsa), line('both', keys.ed1)].join('\n'), 'kh');
    expect(preferredHostKeyAlgorithms(lines, ['rsaonly']).slice(0, 4)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519']);
    expect(preferredHostKeyAlgorithms(lines, ['both']).slice(0, 3)).toEqual(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384']);
    expect(preferredHostKeyAlgorithms(lines, ['nobody'])[0]).toBe('ssh-ed25519');
    expect(new Set(preferredHostKeyAlgorithms(lines, ['rsaonly'])).size).toBe(7);
  });
});

describe('decideHostKey', () => {
  const ctx = (over: Partial<HostKeyContext> = {}): HostKeyContext => ({
    machine: 'relay',
    endpoint: 'root@[10.0.0.9]:2222',
    hostName: '10.0.0.9',
    port: 2222,
    user: 'root',
    lookupName: '[10.0.0.9]:2222',
    knownHostsFile: '/home/op/.ssh/known_hosts',
    filesRead: ['/home/op/.ssh/known_hosts'],
    strict: 'ask',
    ...over,
  });
  const lines = () => parseKnownHosts([line('[10.0.0.9]:2222', keys.ed1), line('[10.0.0.10]:2222', keys.ed2, '@revoked')].join('\n'), 'kh');

  it('refuses an unknown key with its type, fingerprint and the keyscan hint', () => {
    const d = decideHostKey(checkHostKey(lines(), ['[10.0.0.11]:2222'], keys.ecdsa.blob), ctx({ lookupName: '[10.0.0.11]:2222', hostName: '10.0.0.11' }));
    expect(d.accept).toBe(false);
    if (d.accept) return;
    expect(d.message).toContain('relay');
    expect(d.message).toContain(`ecdsa-sha2-nistp256 ${keys.ecdsa.keygenFingerprint}`);
    expect(d.hint).toContain('ssh-keyscan -p 2222 10.0.0.11 >> /home/op/.ssh/known_hosts');
    expect(d.hint).toContain('out of band');
    expect(d.hint).toContain('ssh -p 2222 root@10.0.0.11');
  });

  it('says accept-new is not honoured by writing, and still refuses', () => {
    const d = decideHostKey(checkHostKey(lines(), ['x'], keys.ecdsa.blob), ctx({ strict: 'accept-new' }));
    expect(d.accept === false && d.message).toMatch(/never writes known_hosts/);
  });

  it('accepts an unknown key when StrictHostKeyChecking is no', () => {
    expect(decideHostKey(checkHostKey(lines(), ['x'], keys.ecdsa.blob), ctx({ strict: 'no' })).accept).toBe(true);
  });

  it('refuses a changed key loudly with both fingerprints, even with StrictHostKeyChecking no', () => {
    const d = decideHostKey(checkHostKey(lines(), ['[10.0.0.9]:2222'], keys.ed2.blob), ctx({ strict: 'no' }));
    expect(d.accept).toBe(false);
    if (d.accept) return;
    expect(d.message).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');
    expect(d.message).toContain(keys.ed1.keygenFingerprint);
    expect(d.message).toContain(keys.ed2.keygenFingerprint);
    expect(d.hint).toContain("ssh-keygen -R '[10.0.0.9]:2222' -f /home/op/.ssh/known_hosts");
  });

  it('refuses a revoked key even with StrictHostKeyChecking no', () => {
    const d = decideHostKey(checkHostKey(lines(), ['[10.0.0.10]:2222'], keys.ed2.blob), ctx({ strict: 'no' }));
    expect(d.accept === false && d.message).toMatch(/@revoked in kh:2/);
  });

  it('accepts a known key', () => {
    expect(decideHostKey(checkHostKey(lines(), ['[10.0.0.9]:2222'], keys.ed1.blob), ctx()).accept).toBe(true);
  });
});
