/**
 * Issue 11 part 4 on real machines with Debian testing's OpenSSH 10.6: a relay whose sshd has a
 * post-quantum host key (ssh-keygen -A makes ssh_host_mldsa44_ed25519_key from 10.4) and offers
 * no post-quantum key exchange (an older relay, made here with KexAlgorithms), so the tunnel's
 * ssh client (10.1+) prints its "not using a post-quantum key exchange" warning on stderr. The
 * warning must not be an error: the tunnel comes up, stays up, and the next plan has no changes.
 * Control in the same run: the warning really was printed (the journal of the tunnel service).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labUnavailableReason, startLab, type Lab, type LabMachine } from '../machines/lab.js';
import { pairctl } from '../machines/pairctl-cli.js';

const unavailable = labUnavailableReason();
const OWNER = 'bhorseman';
const PORT = 2222;

async function must(m: LabMachine, cmd: string): Promise<string> {
  const r = await m.run(cmd);
  if (r.code !== 0) throw new Error(`${m.name}: ${cmd}\nexit ${r.code}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(unavailable)('a tunnel from OpenSSH 10.6 to a relay without post-quantum key exchange, with an ML-DSA host key', () => {
  let lab: Lab;
  let host: LabMachine;
  let relay: LabMachine;
  let file: string;

  beforeAll(async () => {
    lab = await startLab({ machines: ['host', 'relay'], release: 'forky' });
    host = lab.machine('host');
    relay = lab.machine('relay');
    await must(host, `useradd -m -s /bin/bash ${OWNER}`);
    // An older relay's key exchange: no sntrup761 or mlkem768, so a 10.1+ client warns.
    await must(relay, "printf 'KexAlgorithms curve25519-sha256\\n' > /etc/ssh/sshd_config.d/50-no-pq-kex.conf && sshd -t && systemctl reload ssh");
    const key = join(lab.dir, 'todd');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'todd', '-f', key]);
    file = join(lab.dir, 'pair.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'relays:',
        '  relay: { platform: linux, ssh: relay }',
        'hosts:',
        '  box:',
        '    platform: linux',
        '    ssh: host',
        `    owner: ${OWNER}`,
        `    tunnel: { provider: vps, relay: relay, port: ${PORT} }`,
        'guests:',
        `  todd: { keys: [${JSON.stringify(readFileSync(`${key}.pub`, 'utf8').trim())}], mode: pair }`,
        '',
      ].join('\n'),
    );
  }, 300_000);

  afterAll(async () => {
    await lab?.stop();
  });

  it('pins the ML-DSA host key, brings the tunnel up despite the warning, and converges', async () => {
    const cli = (...args: string[]) => pairctl([...args, '-F', lab.sshConfigFile]);
    expect(await must(relay, 'ls /etc/ssh/ssh_host_mldsa44_ed25519_key.pub')).toContain('mldsa44');
    const p = await cli('plan', '-f', file);
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/^relay relay \(relay\):\n {2}found: OpenSSH 10\.\d+p\d+$/m);
    expect(p.stdout).not.toContain('is not an OpenSSH public key');

    const a = await cli('apply', '-f', file, '--yes');
    expect(a.stderr).not.toMatch(/error/i);
    expect(a.code).toBe(0);
    const pinned = await must(host, 'cat /var/lib/pairctl/tunnel/known_hosts');
    const mldsa = (await must(relay, "cut -d' ' -f1,2 /etc/ssh/ssh_host_mldsa44_ed25519_key.pub")).trim();
    expect(pinned).toContain(mldsa);

    await until('the tunnel listens on the relay', async () => (await relay.run(`ss -Hltn 'sport = :${PORT}'`)).stdout.includes(`:${PORT}`));
    // The client did print the 10.1+ warning (else this proves nothing), and the service took it as no failure.
    await until('the tunnel client logged its key exchange warning', async () =>
      (await host.run('journalctl -u pairctl-tunnel.service --no-pager -o cat')).stdout.includes('connection is not using a post-quantum key exchange algorithm'),
    );
    const state = () => must(host, 'systemctl is-active pairctl-tunnel.service; systemctl show -p NRestarts --value pairctl-tunnel.service');
    const up = await state();
    console.log(`[openssh-10] tunnel ${up.replace('\n', ', restarts ')}journal:\n${await must(host, 'journalctl -u pairctl-tunnel.service --no-pager -o cat')}`);
    const again = await cli('plan', '-f', file);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('No changes.');
    expect(again.stdout).toMatch(/^box: no changes \(tmux 3\.\d+[a-z]?, OpenSSH 10\.\d+p\d+\)$/m);
    // Still the same connection: the warning ended nothing.
    expect(up.startsWith('active\n')).toBe(true);
    expect(await state()).toBe(up);
  }, 300_000);
});
