/**
 * What `pairctl join` pins: the host keys read from the machine, shown as `ssh-keygen -l` shows
 * them, under the exact known_hosts name the guest's ssh looks up for each tunnel provider.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HOST_SSHD_CONFIG, TUNNEL_SSHD_CONFIGS, hostKeysScript, hostKeyPins, keyTypeLabel, knownHostsName, parseHostKeys, renderPin } from '../../../src/cli/host-key-pins.js';
import type { Host, PairConfig } from '../../../src/config/model.js';
import { sampleConfig } from '../fixtures.js';

const pos = { file: 'pair.yaml', line: 1, column: 1 };
function config(over: Partial<Host>): PairConfig {
  const c = sampleConfig();
  return { ...c, hosts: [{ ...c.hosts[0]!, ...over }], relays: [{ id: 'elefante', platform: 'linux', ssh: 'root@203.0.113.5', sudo: false, pos }] };
}
const relayAt = () => ({ host: '203.0.113.5', port: 2200 });

/** Host keys made by ssh-keygen, as a machine's sshd would offer them. */
function realHostKeys(): { pubs: string; keygen: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'pairctl-hostkeys-'));
  const pubs: string[] = [];
  const keygen: string[] = [];
  for (const [t, bits] of [['ed25519', ''], ['ecdsa', '256'], ['rsa', '3072']] as const) {
    const f = join(dir, `ssh_host_${t}_key`);
    execFileSync('ssh-keygen', ['-q', '-t', t, ...(bits ? ['-b', bits] : []), '-N', '', '-C', 'root@box', '-f', f]);
    pubs.push(readFileSync(`${f}.pub`, 'utf8').trim());
    keygen.push(execFileSync('ssh-keygen', ['-l', '-f', `${f}.pub`], { encoding: 'utf8' }).trim());
  }
  return { pubs: `${pubs.join('\n')}\n${pubs[0]}\n`, keygen };
}

describe('host key pins', () => {
  it('reads each key once, with the fingerprint and size ssh-keygen -l prints', () => {
    const { pubs, keygen } = realHostKeys();
    const keys = parseHostKeys(`${pubs}not a key\n`);
    expect(keys).toHaveLength(3);
    // ssh-keygen -l: "BITS FINGERPRINT COMMENT (TYPE)"; the comment is the machine's, not shown
    expect(keys.map((k) => `${k.bits} ${k.fingerprint} root@box (${keyTypeLabel(k.type)})`)).toEqual(keygen);
  });

  it('keeps an OpenSSH 10.4+ ML-DSA host key (no guest may use one) only when its blob names its type', () => {
    const blob = (type: string) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(type.length);
      return Buffer.concat([len, Buffer.from(type), Buffer.alloc(64, 7)]);
    };
    const good = blob('ssh-mldsa44-ed25519');
    const keys = parseHostKeys(`ssh-mldsa44-ed25519 ${good.toString('base64')}\nssh-mldsa44-ed25519 ${blob('ssh-ed25519').toString('base64')}\n`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ type: 'ssh-mldsa44-ed25519', bits: 256 });
    expect(keys[0]!.fingerprint).toBe(`SHA256:${createHash('sha256').update(good).digest('base64').replace(/=+$/, '')}`);
    expect(keyTypeLabel('ssh-mldsa44-ed25519')).toBe('MLDSA44-ED25519');
  });

  it('reads the HostKey files of the first sshd config that exists (a guest-only sshd before the host\'s own)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-hostkeys-cfg-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'guest-sshd', '-f', join(dir, 'key')]);
    writeFileSync(join(dir, 'sshd_config'), `HostKey ${join(dir, 'key')}\n`);
    const out = execFileSync('sh', ['-c', hostKeysScript([join(dir, 'absent_config'), join(dir, 'sshd_config')])], { encoding: 'utf8' });
    expect(parseHostKeys(out).map((k) => k.base64)).toEqual([readFileSync(join(dir, 'key.pub'), 'utf8').split(' ')[1]]);
  });

  it('names the host the way ssh looks it up: [host]:port unless port 22', () => {
    expect(knownHostsName('192.0.2.10', 22)).toBe('192.0.2.10');
    expect(knownHostsName('203.0.113.5', 2222)).toBe('[203.0.113.5]:2222');
    expect(knownHostsName('2001:db8::5', 2222)).toBe('[2001:db8::5]:2222');
  });

  it('lan: the host at its address; vps: the host\'s keys at [relay]:port; jump: the relay, then the alias', () => {
    const lan = config({});
    expect(hostKeyPins(lan, lan.hosts[0]!, undefined, relayAt)).toEqual([{ machine: 'scotch', what: 'host scotch', name: '192.0.2.10', sshdConfigs: [HOST_SSHD_CONFIG] }]);
    const lanPort = config({ ssh: 'root@192.0.2.10:2022' });
    expect(hostKeyPins(lanPort, lanPort.hosts[0]!, undefined, relayAt)[0]!.name).toBe('[192.0.2.10]:2022');
    const vps = config({ tunnel: { provider: 'vps', relay: 'elefante', port: 2222 } });
    expect(hostKeyPins(vps, vps.hosts[0]!, undefined, relayAt)).toEqual([
      { machine: 'scotch', what: 'host scotch (through relay elefante port 2222)', name: '[203.0.113.5]:2222', sshdConfigs: TUNNEL_SSHD_CONFIGS },
    ]);
    const jump = config({ tunnel: { provider: 'jump', relay: 'elefante', port: 2222 } });
    expect(hostKeyPins(jump, jump.hosts[0]!, undefined, relayAt)).toEqual([
      { machine: 'elefante', what: 'relay elefante (the -J hop)', name: '[203.0.113.5]:2200', sshdConfigs: [HOST_SSHD_CONFIG] },
      // HostKeyAlias is looked up bare, without the port (sshconnect.c)
      { machine: 'scotch', what: 'host scotch (HostKeyAlias pairctl-scotch)', name: 'pairctl-scotch', sshdConfigs: TUNNEL_SSHD_CONFIGS },
    ]);
    const ngrok = config({ tunnel: { provider: 'ngrok', authtokenEnv: 'NGROK_AUTHTOKEN' } });
    expect(hostKeyPins(ngrok, ngrok.hosts[0]!, undefined, relayAt)[0]).toMatchObject({ machine: 'scotch', placeholder: true });
  });

  it('prints fingerprints as comments, then one known_hosts line per key', () => {
    const { pubs } = realHostKeys();
    const keys = parseHostKeys(pubs);
    const lines = renderPin({ machine: 'scotch', what: 'host scotch', name: '[203.0.113.5]:2222', sshdConfigs: [HOST_SSHD_CONFIG] }, keys);
    expect(lines.filter((l) => !l.startsWith('#'))).toEqual(keys.map((k) => `[203.0.113.5]:2222 ${k.type} ${k.base64}`));
    expect(lines.filter((l) => l.startsWith('#   '))).toHaveLength(3);
  });
});

describe('pairctl join without the host keys', () => {
  it('still prints the command, but says the keys could not be read and exits 1: no silent trust on first use', async () => {
    const { createServer } = await import('node:net');
    const { writeFileSync } = await import('node:fs');
    const { main } = await import('../../../src/cli/main.js');
    const { captureIo } = await import('../capture-io.js');
    // a port that was just free: nothing answers there
    const free = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-join-'));
    const file = join(dir, 'pair.yaml');
    const { pubs } = realHostKeys();
    writeFileSync(file, `version: 1\nhosts:\n  box: { platform: linux, ssh: "root@192.0.2.10:${free}", owner: bhorseman }\nguests:\n  todd:\n    keys: ["${pubs.split('\n')[0]}"]\n`);
    writeFileSync(join(dir, 'ssh_config'), `Host 192.0.2.10\n  HostName 127.0.0.1\n`);
    const io = captureIo();
    const code = await main(['join', 'todd', '-f', file, '-F', join(dir, 'ssh_config')], io);
    expect(code).toBe(1);
    // (a loopback address is shown as this machine's mDNS name: see join.test.ts)
    expect(io.out.split('\n')[0]).toMatch(new RegExp(`^ssh -p ${free} pair-todd@\\S+$`));
    expect(io.out).not.toMatch(/ssh-ed25519 AAAA/);
    expect(io.err).toContain('Error: could not read the host keys of host box');
  }, 60_000);
});
