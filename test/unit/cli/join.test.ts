/** What `pairctl join` tells a guest, per tunnel provider (the commands are proven to work end to end). */
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { joinInstructions, mdnsName } from '../../../src/cli/join.js';
import type { Host, PairConfig } from '../../../src/config/model.js';
import { sampleConfig } from '../fixtures.js';

const pos = { file: 'pair.yaml', line: 1, column: 1 };

function config(over: Partial<Host>): PairConfig {
  const c = sampleConfig();
  return { ...c, hosts: [{ ...c.hosts[0]!, ...over }], relays: [{ id: 'elefante', platform: 'linux', ssh: 'root@203.0.113.5', sudo: false, pos }] };
}
const forwards = [{ name: 'rails', local: 3000, remote: 8080 }];

describe('pairctl join', () => {
  it('lan: the address the host is reached at, or its mDNS name when pairctl runs on it', () => {
    const lan = config({});
    expect(joinInstructions(lan, 'todd', lan.hosts[0]!)).toEqual({ command: 'ssh pair-todd@192.0.2.10', more: [] });
    const local = config({ ssh: 'local' });
    expect(joinInstructions(local, 'todd', local.hosts[0]!).command).toBe(`ssh pair-todd@${hostname().split('.')[0]}.local`);
    const loop = config({ ssh: 'root@127.0.0.1:2200' });
    expect(joinInstructions(loop, 'todd', loop.hosts[0]!).command).toBe(`ssh -p 2200 pair-todd@${mdnsName()}`);
    expect(mdnsName('scotch.example.com')).toBe('scotch.local');
  });

  it("vps: the relay's public port, and each forward's URL there", () => {
    const c = config({ tunnel: { provider: 'vps', relay: 'elefante', port: 2222 }, forwards });
    expect(joinInstructions(c, 'todd', c.hosts[0]!, undefined, { host: '203.0.113.5', port: 22 })).toEqual({
      command: 'ssh -p 2222 pair-todd@203.0.113.5',
      more: ['# rails (port 3000 on scotch): http://203.0.113.5:8080/'],
    });
  });

  it('jump: ssh -J with the host key alias, the same as a config block, and -L for forwards', () => {
    const c = config({ tunnel: { provider: 'jump', relay: 'elefante', port: 2222 }, forwards });
    const j = joinInstructions(c, 'todd', c.hosts[0]!, undefined, { host: '203.0.113.5', port: 2200 });
    expect(j.command).toBe('ssh -J pair-todd@203.0.113.5:2200 -p 2222 -o HostKeyAlias=pairctl-scotch pair-todd@127.0.0.1');
    expect(j.more).toEqual([
      '# or put this in ~/.ssh/config and run: ssh pairctl-scotch',
      'Host pairctl-scotch\n    HostName 127.0.0.1\n    Port 2222\n    User pair-todd\n    ProxyJump pair-todd@203.0.113.5:2200\n    HostKeyAlias pairctl-scotch',
      '# rails (port 3000 on scotch): ssh -N -L 3000:127.0.0.1:8080 -p 2200 pair-todd@203.0.113.5, then open http://localhost:3000/',
    ]);
    const v6 = joinInstructions(c, 'todd', c.hosts[0]!, undefined, { host: '2001:db8::5', port: 2200 });
    // Brackets are glob characters to a shell: the argument is quoted.
    expect(v6.command).toContain("-J 'pair-todd@[2001:db8::5]:2200' ");
  });

  it('ngrok: says where the address ngrok picked is read', () => {
    const c = config({ tunnel: { provider: 'ngrok', authtokenEnv: 'NGROK_AUTHTOKEN' } });
    const j = joinInstructions(c, 'todd', c.hosts[0]!);
    expect(j.command).toBe('ssh -p PORT pair-todd@N.tcp.ngrok.io');
    expect(j.more.join('\n')).toContain("journalctl -u pairctl-ngrok.service | grep -o 'url=tcp://[^ ]*'");
    // The agent's local API is off, so nothing may point guests or the owner at it.
    expect(j.more.join('\n')).not.toContain('4040');
  });
});
