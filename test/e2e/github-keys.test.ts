/**
 * Keys from GitHub on a real host: `github: USER` keys are fetched at plan time (from a local
 * HTTP server standing in for github.com), shown in the plan by fingerprint, pinned by a saved
 * plan — a key that changes between plan and apply makes it stale — and installed by apply.
 * A GitHub Enterprise URL with credentials ($PAIRCTL_GITHUB_URL) is used as basic auth and leaks
 * nowhere: not in output, JSON or saved plans, nor in any file on the machine. A saved plan whose
 * script was edited is refused; the untouched file applies.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labUnavailableReason, startLab, type Lab, type LabMachine } from '../machines/lab.js';
import { pairctl } from '../machines/pairctl-cli.js';

const unavailable = labUnavailableReason();

describe.skipIf(unavailable)('guest keys from GitHub on a real host', () => {
  let lab: Lab;
  let host: LabMachine;
  let dir: string;
  let server: Server;
  let baseUrl: string;
  let served = '';
  /** A token as GitHub Enterprise hands them out, with characters a URL must percent-encode. */
  const TOKEN = 'ghp_Pq7/Zx+3Wv@Lk9Mn2Bc5Df8Gh1Jk4Ls6Qr0';
  const basic = `Basic ${Buffer.from(`ci-bot:${TOKEN}`).toString('base64')}`;
  /** every form the token could leak in: raw, percent-encoded, inside the basic-auth header */
  const leaks = [TOKEN, encodeURIComponent(TOKEN), Buffer.from(`ci-bot:${TOKEN}`).toString('base64')];
  let authorized = 0;
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
      if (req.url === '/ghe/todd.keys') {
        // GitHub Enterprise behind basic auth: only these credentials get the keys.
        if (req.headers.authorization !== basic) {
          res.writeHead(401);
          res.end('Unauthorized');
          return;
        }
        authorized++;
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(served);
      } else if (req.url === '/todd.keys') {
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

  it('a saved plan with one script edited is refused, naming the step; the untouched file applies', async () => {
    served = `${keys.first!.pub}\n`;
    const planFile = join(dir, 'tampered.plan');
    expect((await cli('plan', '-f', join(dir, 'pair.yaml'), '-o', planFile)).code).toBe(0);
    const untouched = readFileSync(planFile, 'utf8');
    const doc = JSON.parse(untouched) as { plan: { machines: Array<{ steps: Array<{ address: string; script: string }> }> } };
    const step = doc.plan.machines[0]!.steps.findIndex((x) => x.address.startsWith('file['));
    expect(step).toBeGreaterThanOrEqual(0);
    doc.plan.machines[0]!.steps[step]!.script += '\ntouch /root/TAMPERED';
    writeFileSync(planFile, JSON.stringify(doc));
    const refused = await cli('apply', planFile);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`does not match what planning now would run`);
    expect(refused.stderr).toContain(`machine box: step ${step + 1} (`);
    expect(refused.stderr).not.toContain('TAMPERED');
    expect((await host.run('ls /root/TAMPERED')).code).not.toBe(0);
    // positive control: the same plan, untouched, applies
    writeFileSync(planFile, untouched);
    const a = await cli('apply', planFile);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    expect((await host.run('ssh-keygen -l -f /home/pair-todd/.ssh/authorized_keys')).stdout).toContain(keys.first!.fingerprint);
  });

  it('a GitHub URL with credentials is used, and leaks nowhere: output, JSON and saved plans, files on the machine', async () => {
    served = `${keys.second!.pub}\n`;
    const ghe = `${baseUrl.replace('http://', `http://ci-bot:${encodeURIComponent(TOKEN)}@`)}/ghe`;
    const run = (...args: string[]) => pairctl([...args, '-F', lab.sshConfigFile], { PAIRCTL_GITHUB_URL: ghe });
    const planFile = join(dir, 'ghe.plan');
    const outputs = [
      await run('plan', '-f', join(dir, 'pair.yaml'), '--json'),
      await run('plan', '-f', join(dir, 'pair.yaml'), '-o', planFile),
      await run('apply', planFile),
      await run('plan', '-f', join(dir, 'pair.yaml')),
      await run('lint', join(dir, 'pair.yaml'), '--online', '--format', 'json'),
    ];
    // positive control: the credentials were what let the fetch in, and the keys they fetched are installed
    expect(outputs.map((o) => o.code)).toEqual([0, 0, 0, 0, 0]);
    expect(authorized).toBeGreaterThanOrEqual(4);
    expect(outputs[0]!.stdout).toContain(`${baseUrl}/ghe/todd.keys`);
    expect(outputs[3]!.stdout).toContain('No changes.');
    const onHost = await host.run('ssh-keygen -l -f /home/pair-todd/.ssh/authorized_keys; cat /home/pair-todd/.ssh/authorized_keys');
    expect(onHost.stdout).toContain(keys.second!.fingerprint);
    expect(onHost.stdout).toContain(`from ${baseUrl}/ghe/todd.keys`);
    // and without them the server refuses: a plan then fails
    const denied = await pairctl(['plan', '-f', join(dir, 'pair.yaml'), '-F', lab.sshConfigFile], { PAIRCTL_GITHUB_URL: `${baseUrl}/ghe` });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('answered HTTP 401');

    const texts = [...outputs.flatMap((o) => [o.stdout, o.stderr]), readFileSync(planFile, 'utf8')];
    // every file pairctl wrote on the machine, and every other file there, logs included
    const grep = await host.run(
      `grep -rlsaF ${leaks.map((l) => `-e '${l}'`).join(' ')} / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev; journalctl --no-pager -o cat`,
    );
    texts.push(grep.stdout);
    for (const t of texts) for (const l of leaks) expect(t).not.toContain(l);
    // the machine's record (the resources pairctl manages) was searched too
    expect((await host.run('cat /var/lib/pairctl/state.json')).stdout).toContain('pair-todd');
    expect(readdirSync(dir)).toContain('ghe.plan');
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
