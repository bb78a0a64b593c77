/**
 * Keys from GitHub on a real host: `github: USER` keys are fetched at plan time (from a local
 * HTTP server standing in for github.com), shown in the plan by fingerprint, pinned by a saved
 * plan — a key that changes between plan and apply makes it stale — and installed by apply.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labUnavailableReason, startLab, type Lab, type LabMachine } from '../machines/lab.js';
import { pairctl } from './pairctl-cli.js';

const unavailable = labUnavailableReason();

describe.skipIf(unavailable)('guest keys from GitHub on a real host', () => {
  let lab: Lab;
  let host: LabMachine;
  let dir: string;
  let server: Server;
  let baseUrl: string;
  let served = '';
  const keys: Record<string, { pub: string; fingerprint: string }> = {};

  const cli = (...args: string[]) => pairctl([...args, '-F', lab.sshConfigFile], { PAIRCTL_GITHUB_URL: baseUrl });

  beforeAll(async () => {
    lab = await startLab({ machines: ['host'] });
    host = lab.machine('host');
    dir = join(lab.dir, 'github');
    mkdirSync(dir, { recursive: true });
    for (const n of ['first', 'second']) {
      const file = join(dir, n);
      spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', n, '-f', file]);
      const fp = spawnSync('ssh-keygen', ['-l', '-f', `${file}.pub`], { encoding: 'utf8' }).stdout.split(' ')[1]!;
      keys[n] = { pub: readFileSync(`${file}.pub`, 'utf8').trim(), fingerprint: fp };
    }
    server = createServer((req, res) => {
      if (req.url === '/todd.keys') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(served);
      } else {
        res.writeHead(404);
        res.end('Not Found');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await host.run('useradd -m -s /bin/bash bhorseman');
    writeFileSync(
      join(dir, 'pair.yaml'),
      'version: 1\nhosts:\n  box: { platform: linux, ssh: host, owner: bhorseman }\nguests:\n  todd: { github: todd, mode: pair }\n',
    );
  }, 180_000);

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await lab?.stop();
  });

  it('fetches the keys at plan time and shows each by fingerprint and origin', async () => {
    served = `${keys.first!.pub}\n`;
    const p = await cli('plan', '-f', join(dir, 'pair.yaml'));
    expect(p.code).toBe(0);
    expect(p.stdout).toContain(`+# key 1: ssh-ed25519 ${keys.first!.fingerprint} from ${baseUrl}/todd.keys`);
  });

  it('refuses a saved plan once the published key changed, and changes nothing', async () => {
    served = `${keys.first!.pub}\n`;
    const planFile = join(dir, 'keys.plan');
    const p = await cli('plan', '-f', join(dir, 'pair.yaml'), '-o', planFile);
    expect(p.code).toBe(0);
    served = `${keys.second!.pub}\n`;
    const a = await cli('apply', planFile);
    expect(a.code).toBe(1);
    expect(a.stderr).toContain('stale plan: the keys of guest todd changed');
    expect((await host.run('getent passwd pair-todd')).code).not.toBe(0);
  });

  it('applies the keys published now, which OpenSSH reads with the fingerprint the plan showed', async () => {
    served = `${keys.second!.pub}\n`;
    const a = await cli('apply', '-f', join(dir, 'pair.yaml'), '--yes');
    expect(a.code).toBe(0);
    const onHost = await host.run('ssh-keygen -l -f /home/pair-todd/.ssh/authorized_keys');
    expect(onHost.stdout).toContain(keys.second!.fingerprint);
    expect(onHost.stdout).not.toContain(keys.first!.fingerprint);
    expect((await cli('plan', '-f', join(dir, 'pair.yaml'))).stdout).toContain('No changes.');
  });

  it('fails the plan clearly when the keys cannot be fetched, before contacting any machine', async () => {
    const saved = baseUrl;
    baseUrl = 'http://127.0.0.1:9';
    try {
      const p = await cli('plan', '-f', join(dir, 'pair.yaml'));
      expect(p.code).toBe(1);
      expect(p.stderr).toMatch(/github-keys-unavailable/);
      expect(p.stdout).not.toContain('Plan:');
    } finally {
      baseUrl = saved;
    }
  });
});
