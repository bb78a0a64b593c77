/**
 * Issue 3, ngrok, on a real host — with a stand-in for the agent: the ngrok binary cannot be
 * downloaded here, so /usr/local/bin/ngrok is a script that notes how it was started and waits.
 * What is proven is pairctl's side: the config file (0600 root, the authtoken read from the
 * operator's environment at apply time), the service that runs the agent, restarts when the
 * token changes, and that the token is never printed, recorded or logged. The file's exact YAML
 * is checked in test/unit/graph/tunnel.test.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { labUnavailableReason, startLab, type Lab, type LabMachine } from '../machines/lab.js';
import { pairctl } from '../machines/pairctl-cli.js';
import { must, waitUntil } from './tunnel-lab.js';

const unavailable = labUnavailableReason();
const TOKEN = '2xYzAbCdEfGhIjKlMnOpQrStUvW_3aBcDeFgHiJkLmNoPqRsT';
const NEW_TOKEN = '2qQqQqQqQqQqQqQqQqQqQqQqQqQ_9zZzZzZzZzZzZzZzZzZzZ';

describe.skipIf(unavailable)('ngrok tunnel (stand-in agent)', () => {
  let lab: Lab;
  let host: LabMachine;
  let file: string;
  const outputs: string[] = [];

  const cli = async (env: Record<string, string>, ...args: string[]) => {
    const r = await pairctl([...args, '-F', lab.sshConfigFile], env);
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const write = (tunnel: string) => {
    writeFileSync(
      file,
      [
        'version: 1',
        'hosts:',
        '  box:',
        '    platform: linux',
        '    ssh: host',
        '    owner: bhorseman',
        `    tunnel: ${tunnel}`,
        ...(tunnel.includes('ngrok') ? ['    forwards: [{ name: web, local: 3000 }]'] : []),
        'guests:',
        '  todd: { keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPbwwnfwmk4uym6EJukQ77kp5B+B0f4tQmfIt14oCnwF todd"], mode: mirror }',
        '',
      ].join('\n'),
    );
  };
  const starts = async () => (await host.run('cat /run/ngrok-stub.log 2>/dev/null')).stdout.trim().split('\n').filter(Boolean);

  beforeAll(async () => {
    lab = await startLab({ machines: ['host'] });
    host = lab.machine('host');
    const dir = join(lab.dir, 'ngrok');
    mkdirSync(dir, { recursive: true });
    file = join(dir, 'pair.yaml');
    write('{ provider: ngrok, authtoken_env: NGROK_AUTHTOKEN }');
    await must(host, 'useradd -m -s /bin/bash bhorseman');
    await must(host, `printf '%s\\n' '#!/bin/sh' 'echo "$$ $*" >> /run/ngrok-stub.log' 'exec sleep 2147483647' > /usr/local/bin/ngrok && chmod 0755 /usr/local/bin/ngrok`);
  }, 180_000);

  afterAll(async () => {
    await lab?.stop();
  });

  it('plans the config with the token masked, and refuses to apply anything without it', async () => {
    const p = await cli({}, 'plan', '-f', file);
    expect(p.code).toBe(0);
    expect(p.stdout).toContain('+ secret_file "/etc/pairctl/ngrok.yml"');
    expect(p.stdout).toContain('+authtoken: (sensitive value from $NGROK_AUTHTOKEN)');
    expect(p.stdout).toContain('+ systemd_service "pairctl-ngrok.service"');
    const a = await cli({}, 'apply', '-f', file, '--yes');
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/\$NGROK_AUTHTOKEN is not set .*nothing was applied on any machine/);
    expect((await host.run('ls /etc/pairctl/ngrok.yml; getent passwd pair-todd')).stdout).toBe('');
  });

  it('applies with the token from the environment: the file is root-only, the agent runs on it', async () => {
    const a = await cli({ NGROK_AUTHTOKEN: TOKEN }, 'apply', '-f', file, '--yes');
    expect(a.stderr).not.toMatch(/error/i);
    expect(a.code).toBe(0);
    expect(await must(host, "stat -c '%U:%G %a' /etc/pairctl/ngrok.yml")).toBe('root:root 600\n');
    const parsed = parseYaml(await must(host, 'cat /etc/pairctl/ngrok.yml')) as Record<string, unknown>;
    expect(parsed).toEqual({ version: '2', authtoken: TOKEN, web_addr: false, tunnels: { ssh: { proto: 'tcp', addr: '127.0.0.1:822' }, web: { proto: 'http', addr: 3000 } } });
    await waitUntil('the agent started', async () => (await starts()).length === 1, 10_000);
    expect((await starts())[0]).toMatch(/^\d+ start --all --config \/etc\/pairctl\/ngrok\.yml --log stdout$/);
    expect(await must(host, 'systemctl is-active pairctl-ngrok.service; systemctl is-enabled pairctl-ngrok.service')).toBe('active\nenabled\n');
  });

  it("the agent's tcp target is the guest-only sshd: the host's keys, and root refused there while port 22 admits it", async () => {
    expect(await must(host, 'systemctl is-active pairctl-sshd.service')).toBe('active\n');
    const hostKey = (await must(host, "cut -d' ' -f2 /etc/ssh/ssh_host_ed25519_key.pub")).trim();
    expect(await must(host, 'ssh-keyscan -T 5 -t ed25519 -p 822 127.0.0.1 2>/dev/null')).toContain(hostKey);
    await must(host, "rm -f /root/k /root/k.pub && ssh-keygen -q -t ed25519 -N '' -f /root/k && mkdir -p /root/.ssh && cat /root/k.pub >> /root/.ssh/authorized_keys");
    const as = '-F /dev/null -i /root/k -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null';
    expect(await must(host, `ssh ${as} -p 22 root@127.0.0.1 id -un`)).toBe('root\n');
    const r = await host.run(`ssh ${as} -p 822 root@127.0.0.1 id -un`);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/Permission denied \(publickey\)/);
  });

  it('plans no changes with the token, and says it cannot check without it', async () => {
    const withToken = await cli({ NGROK_AUTHTOKEN: TOKEN }, 'plan', '-f', file);
    expect(withToken.stdout).toContain('No changes.');
    const without = await cli({}, 'plan', '-f', file);
    expect(without.stdout).toContain('No changes.');
    expect(without.stdout).toMatch(/\$NGROK_AUTHTOKEN is not set, so pairctl cannot tell whether \/etc\/pairctl\/ngrok\.yml holds the current secret/);
  });

  it('a new token is a change (compared by sha256, never shown) and restarts the agent', async () => {
    const p = await cli({ NGROK_AUTHTOKEN: NEW_TOKEN }, 'plan', '-f', file);
    expect(p.stdout).toContain('~ secret_file "/etc/pairctl/ngrok.yml"');
    expect(p.stdout).toContain('content = "(sensitive, differs)" -> "(sensitive value from $NGROK_AUTHTOKEN)"');
    const a = await cli({ NGROK_AUTHTOKEN: NEW_TOKEN }, 'apply', '-f', file, '--yes');
    expect(a.code).toBe(0);
    expect((parseYaml(await must(host, 'cat /etc/pairctl/ngrok.yml')) as { authtoken: string }).authtoken).toBe(NEW_TOKEN);
    await waitUntil('the agent restarted', async () => (await starts()).length === 2, 10_000);
  });

  it('never printed, recorded or logged either token', async () => {
    const places = await must(host, 'cat /var/lib/pairctl/state.json; journalctl --no-pager -o cat; ls -la /var/lib/pairctl /etc/pairctl');
    for (const text of [...outputs, places]) {
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(NEW_TOKEN);
    }
  });

  it('removing ngrok from pair.yaml removes the config and the service', async () => {
    write('{ provider: lan }');
    const a = await cli({}, 'apply', '-f', file, '--yes');
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('pairctl-ngrok.service');
    expect((await host.run('ls /etc/pairctl/ngrok.yml /etc/systemd/system/pairctl-ngrok.service 2>/dev/null; systemctl is-active pairctl-ngrok.service')).stdout).toBe('inactive\n');
    expect((await host.run('ls /etc/pairctl/sshd_config /etc/systemd/system/pairctl-sshd.service 2>/dev/null; systemctl is-active pairctl-sshd.service')).stdout).toBe('inactive\n');
    expect((await cli({}, 'plan', '-f', file)).stdout).toContain('No changes.');
  });
});
