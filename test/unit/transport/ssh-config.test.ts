import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSshConfig, resolveSshConfig, type LocalEnv, type SshConfigSource } from '../../../src/transport/ssh-config.js';
import { parseSshTarget, type SshTarget } from '../../../src/transport/ssh-target.js';

let home: string;
let local: LocalEnv;
let source: SshConfigSource;

const CONFIG = `
# top-level defaults come after Host blocks in real configs; first value wins
# (an Include further down would sit inside the Host block above it, as in OpenSSH)
Include conf.d/*.conf

Host relay
  HostName 203.0.113.7
  User deploy
  Port 2200
  IdentityFile ~/.ssh/relay_ed25519
  IdentityFile "%d/keys/%r@%h:%p"
  IdentitiesOnly yes
  UserKnownHostsFile ~/.ssh/kh_relay "/with space/kh"
  StrictHostKeyChecking accept-new
  ConnectTimeout 7

Host lab-*
  HostName %h.lab.example
  User labber

Host jumpy
  ProxyJump bastion

Host broken
  Port twenty
  IdentitiesOnly maybe
  ConnectTimeout soon

Host aliased
  HostKeyAlias shared-name
  IdentityAgent none
  BindAddress 10.213.5.254

Host agentpath
  IdentityAgent ~/agent.sock

Host *
  User fallback
  StrictHostKeyChecking no
`;

function resolve(text: string): ReturnType<typeof resolveSshConfig> {
  const parsed = parseSshTarget(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return resolveSshConfig(source, parsed.target, local);
}

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'pairctl-sshcfg-'));
  mkdirSync(join(home, '.ssh', 'conf.d'), { recursive: true });
  writeFileSync(join(home, '.ssh', 'config'), CONFIG);
  writeFileSync(join(home, '.ssh', 'conf.d', '10-included.conf'), 'Host included\n  HostName 198.51.100.1\n  Port 2022\n');
  writeFileSync(join(home, '.ssh', 'conf.d', 'ignored.txt'), 'Host included\n  Port 9\n');
  local = {
    homeDir: home,
    localUser: 'operator',
    localHostName: 'laptop.local',
    uid: 1000,
    env: { SSH_AUTH_SOCK: '/tmp/agent.123' },
  };
  source = readSshConfig(undefined, local);
});

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('resolveSshConfig', () => {
  it('applies a Host block with tokens, quoting and the first-value-wins rule', () => {
    const c = resolve('relay');
    expect(c).toMatchObject({
      alias: 'relay',
      hostName: '203.0.113.7',
      user: 'deploy',
      port: 2200,
      identityFiles: [join(home, '.ssh/relay_ed25519'), `${home}/keys/deploy@203.0.113.7:2200`],
      identitiesOnly: true,
      userKnownHostsFiles: [join(home, '.ssh/kh_relay'), '/with space/kh'],
      strictHostKeyChecking: 'accept-new',
      connectTimeoutMs: 7000,
      agentSocket: '/tmp/agent.123',
      unsupported: [],
      problems: [],
    });
  });

  it('lets an explicit user and port in the target win, like ssh user@host -p', () => {
    const c = resolve('root@relay:22');
    expect([c.user, c.port, c.hostName]).toEqual(['root', 22, '203.0.113.7']);
    expect(c.identityFiles[1]).toBe(`${home}/keys/root@203.0.113.7:22`);
  });

  it('expands %h in HostName from wildcard blocks', () => {
    const c = resolve('lab-3');
    expect([c.hostName, c.user, c.port]).toEqual(['lab-3.lab.example', 'labber', 22]);
  });

  it('falls back to Host * and OpenSSH defaults', () => {
    const c = resolve('10.1.2.3');
    expect(c).toMatchObject({
      hostName: '10.1.2.3',
      user: 'fallback',
      port: 22,
      identityFiles: ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'].map((n) => join(home, '.ssh', n)),
      defaultIdentities: true,
      identitiesOnly: false,
      userKnownHostsFiles: [join(home, '.ssh/known_hosts'), join(home, '.ssh/known_hosts2')],
      globalKnownHostsFiles: ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'],
      strictHostKeyChecking: 'no',
    });
    expect(c.connectTimeoutMs).toBeUndefined();
  });

  it('follows Include with wildcards relative to ~/.ssh', () => {
    const c = resolve('included');
    expect([c.hostName, c.port]).toEqual(['198.51.100.1', 2022]);
  });

  it('reports ProxyJump as unsupported instead of silently connecting directly', () => {
    expect(resolve('jumpy').unsupported).toEqual(['ProxyJump bastion']);
  });

  it('reports values it cannot understand', () => {
    expect(resolve('broken').problems).toEqual([
      'Port: "twenty" is not a port number',
      'IdentitiesOnly: "maybe" is not yes or no',
      'ConnectTimeout: "soon" is not a number of seconds',
    ]);
  });

  it('honours HostKeyAlias and IdentityAgent', () => {
    const a = resolve('aliased');
    expect(a.hostKeyAlias).toBe('shared-name');
    expect(a.agentSocket).toBeUndefined();
    expect(resolve('agentpath').agentSocket).toBe(join(home, 'agent.sock'));
  });

  it('takes BindAddress, and leaves it unset when the config has none', () => {
    expect(resolve('aliased').bindAddress).toBe('10.213.5.254');
    expect(resolve('relay').bindAddress).toBeUndefined();
  });

  it('uses the local user when nothing names one', () => {
    const t: SshTarget = { host: 'x' };
    expect(resolveSshConfig({ text: '' }, t, local).user).toBe('operator');
  });
});

describe('readSshConfig', () => {
  it('is empty when ~/.ssh/config does not exist', () => {
    expect(readSshConfig(undefined, { ...local, homeDir: join(home, 'nobody') })).toEqual({ text: '', lines: [] });
  });

  it('fails for a -F file that does not exist, like ssh -F', () => {
    expect(() => readSshConfig(join(home, 'missing'), local)).toThrow(/cannot read ssh config/);
  });

  it('reads an explicit file', () => {
    const f = join(home, 'explicit_config');
    writeFileSync(f, 'Host e\n  HostName 192.0.2.1\n');
    const s = readSshConfig(f, local);
    expect(s.file).toBe(f);
    expect(resolveSshConfig(s, { host: 'e' }, local).hostName).toBe('192.0.2.1');
  });

  it('stops an Include loop', () => {
    const f = join(home, 'loop_config');
    writeFileSync(f, `Include ${f}\n`);
    expect(() => readSshConfig(f, local)).toThrow(/nested too deeply/);
  });
});
