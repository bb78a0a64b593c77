/**
 * The transport against a real OpenSSH server in a lab machine: one connection per runner,
 * scripts on stdin, root via sudo, and the refusals (unknown key, changed key, failed login)
 * an operator would see. Prints measured timings with [transport] so they can be reported.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/transport/connect.js';
import { sshFingerprint } from '../../src/transport/known-hosts.js';
import { ConnectError, type Runner } from '../../src/transport/runner.js';
import { labUnavailableReason, startLab, type Lab } from '../machines/lab.js';

const unavailable = labUnavailableReason();

describe.skipIf(unavailable !== undefined)('transport against a real sshd', () => {
  let lab: Lab;
  let dir: string;
  let ip: string;

  /**
   * An ssh config for connecting by address, with the lab's key and known_hosts by default,
   * from the operator's address; one that must be refused comes from an attacker's, so the
   * penalty sshd (OpenSSH >= 9.8) gives a refused source never cuts the operator's next login.
   */
  function ipConfig(name: string, lines: string[] = [], from: 'operator' | 'attacker' = 'operator'): string {
    const file = join(dir, name);
    const has = (k: string): boolean => lines.some((l) => l.trim().toLowerCase().startsWith(k.toLowerCase()));
    writeFileSync(
      file,
      [
        `Host ${ip}`,
        ...lines,
        `  BindAddress ${lab.sourceIp(from)}`,
        ...(has('IdentityFile') ? [] : [`  IdentityFile ${lab.adminKeyFile}`]),
        '  IdentitiesOnly yes',
        ...(has('UserKnownHostsFile') ? [] : [`  UserKnownHostsFile ${lab.knownHostsFile}`]),
        '  GlobalKnownHostsFile /dev/null',
        ...(has('StrictHostKeyChecking') ? [] : ['  StrictHostKeyChecking yes']),
        '',
      ].join('\n'),
    );
    return file;
  }

  async function refused(ssh: string, sshConfigFile: string): Promise<ConnectError> {
    let runner: Runner | undefined;
    try {
      runner = await connect({ id: 'a', ssh, sudo: false }, { sshConfigFile });
    } catch (err) {
      if (err instanceof ConnectError) return err;
      throw err;
    }
    await runner.close();
    throw new Error('connected, but a refusal was expected');
  }

  /** The machine's own fingerprint for a host key type, as sshd's key file says. */
  async function machineFingerprint(type: 'ed25519' | 'ecdsa' | 'rsa'): Promise<string> {
    const r = await lab.machine('a').run(`ssh-keygen -lf /etc/ssh/ssh_host_${type}_key.pub`);
    return r.stdout.split(/\s+/)[1] ?? '';
  }

  beforeAll(async () => {
    lab = await startLab({ machines: ['a'] });
    ip = lab.machine('a').ip;
    dir = mkdtempSync(join(tmpdir(), 'pairctl-e2e-transport-'));
  });

  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await lab?.stop();
  });

  it('connects by alias through the lab ssh config and runs scripts as root on one connection', async () => {
    const t0 = performance.now();
    const runner = await connect({ id: 'a', ssh: 'a', sudo: false }, { sshConfigFile: lab.sshConfigFile });
    const tConnect = performance.now() - t0;
    try {
      const t1 = performance.now();
      const first = await runner.exec('id -u; hostname; echo to-stderr >&2; exit 3');
      const tFirst = performance.now() - t1;
      expect(first).toEqual({ code: 3, stdout: '0\na\n', stderr: 'to-stderr\n' });

      // A 500-guest script (~60 kB) goes on stdin, not argv.
      const guests = Array.from({ length: 500 }, (_, i) => `printf '%s\\n' ${`guest-${i}`} >/dev/null`);
      const big = await runner.exec(`${guests.join('\n')}\necho done-500\n`);
      expect(big).toMatchObject({ code: 0, stdout: 'done-500\n' });

      // While a script runs, sshd holds exactly one connection from us and `ps` never shows the script.
      // It waits for a file, not a guessed time, so it is surely running while we look.
      const go = `/run/pt-transport-go-${process.pid}`;
      const pending = runner.exec(`SECRET_VALUE=hunter2-not-in-argv; while [ ! -e ${go} ]; do sleep 0.05; done; rm -f ${go}; echo "$SECRET_VALUE"`);
      const look = () =>
        lab.machine('a').run("ss -Htn state established '( sport = :22 )' | wc -l; ps -eo args | grep -c '[s]h -s'; ps -eo args | grep -c '[h]unter2' || true");
      let seen = await look();
      for (const deadline = Date.now() + 60_000; Number(seen.stdout.trim().split(/\s+/)[1]) < 1 && Date.now() < deadline; ) seen = await look();
      await lab.machine('a').run(`touch ${go}`);
      const [connections, shells, secretInPs] = seen.stdout.trim().split(/\s+/).map(Number);
      expect(connections).toBe(1);
      expect(shells).toBeGreaterThanOrEqual(1);
      expect(secretInPs).toBe(0);
      expect((await pending).stdout).toBe('hunter2-not-in-argv\n');

      const n = 20;
      const t2 = performance.now();
      for (let i = 0; i < n; i++) await runner.exec('true');
      const tEach = (performance.now() - t2) / n;
      const t3 = performance.now();
      await Promise.all(Array.from({ length: 8 }, () => runner.exec('true')));
      const tParallel8 = performance.now() - t3;

      expect(runner.execCount).toBe(3 + n + 8);
      console.log(
        `[transport] connect ${tConnect.toFixed(0)} ms; first exec ${tFirst.toFixed(1)} ms; ` +
          `sequential exec ${tEach.toFixed(1)} ms each (n=${n}); 8 parallel execs ${tParallel8.toFixed(1)} ms`,
      );
    } finally {
      await runner.close();
    }
    await expect(runner.exec('true')).rejects.toThrow(/closed/);
  });

  it('becomes root with sudo -n as admin@IP when sudo is true', async () => {
    const runner = await connect({ id: 'a', ssh: `admin@${ip}`, sudo: true }, { sshConfigFile: ipConfig('sudo_config') });
    try {
      const r = await runner.exec('id -u; echo "$SUDO_USER"; cat /etc/shadow >/dev/null && echo can-read-shadow');
      expect(r).toEqual({ code: 0, stdout: '0\nadmin\ncan-read-shadow\n', stderr: '' });
    } finally {
      await runner.close();
    }
  });

  it('runs as admin without sudo when sudo is false, and says root is needed when a script fails', async () => {
    const runner = await connect({ id: 'a', ssh: `admin@${ip}:22`, sudo: false }, { sshConfigFile: ipConfig('nosudo_config') });
    try {
      expect((await runner.exec('id -un')).stdout).toBe('admin\n');
      const r = await runner.exec('cat /etc/shadow');
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Permission denied/);
      expect(r.stderr).toMatch(/machine "a": logged in as "admin", not root, and sudo is false/);
    } finally {
      await runner.close();
    }
  });

  it('explains a sudo that wants a password', async () => {
    await lab.machine('a').run("echo 'admin ALL=(ALL:ALL) ALL' > /etc/sudoers.d/admin");
    try {
      const runner = await connect({ id: 'a', ssh: `admin@${ip}`, sudo: true }, { sshConfigFile: ipConfig('pw_sudo_config') });
      try {
        const r = await runner.exec('id -u');
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/needs a password; pairctl never types one/);
      } finally {
        await runner.close();
      }
    } finally {
      await lab.machine('a').run("echo 'admin ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/admin");
    }
  });

  it('verifies the host against a hashed known_hosts file', async () => {
    const hashed = join(dir, 'hashed_known_hosts');
    // only the key types this machine's ssh-keygen knows: it refuses to hash a file holding
    // forky's ssh-mldsa44-ed25519 keys (OpenSSH 10.6) when it is older
    const known = readFileSync(lab.knownHostsFile, 'utf8').split('\n').filter((l) => / (ssh-ed25519|ecdsa-sha2-nistp256|ssh-rsa) /.test(l));
    writeFileSync(hashed, known.join('\n') + '\n');
    execFileSync('ssh-keygen', ['-q', '-H', '-f', hashed], { stdio: 'ignore' });
    expect(readFileSync(hashed, 'utf8')).not.toContain(ip);
    const runner = await connect({ id: 'a', ssh: ip, sudo: false }, { sshConfigFile: ipConfig('hashed_config', [`  User root`, `  UserKnownHostsFile ${hashed}`]) });
    try {
      expect((await runner.exec('echo ok')).stdout).toBe('ok\n');
    } finally {
      await runner.close();
    }
  });

  it('asks for the host key type known_hosts holds (RSA only), like OpenSSH', async () => {
    const rsaOnly = join(dir, 'rsa_known_hosts');
    writeFileSync(rsaOnly, readFileSync(lab.knownHostsFile, 'utf8').split('\n').filter((l) => l.includes(' ssh-rsa ')).join('\n') + '\n');
    const runner = await connect({ id: 'a', ssh: `root@${ip}`, sudo: false }, { sshConfigFile: ipConfig('rsa_config', [`  UserKnownHostsFile ${rsaOnly}`]) });
    await runner.close();
  });

  it('refuses an unknown host key and prints its type and SHA256 fingerprint', async () => {
    const missing = join(dir, 'other_known_hosts');
    writeFileSync(missing, `10.213.5.250 ${readFileSync(`${lab.adminKeyFile}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    const err = await refused(`root@${ip}`, ipConfig('unknown_config', [`  UserKnownHostsFile ${missing}`], 'attacker'));
    const want = await machineFingerprint('ed25519');
    expect(want).toMatch(/^SHA256:/);
    expect(err.machine).toBe('a');
    expect(err.message).toContain(`ssh-ed25519 ${want}`);
    expect(err.message).toContain('not known');
    expect(err.hint).toContain(`ssh-keyscan -p 22 ${ip} >> ${missing}`);
    console.log(`[transport] unknown key: ${err.message}\n[transport]   hint: ${err.hint}`);
  });

  it('refuses a login with a key the machine does not authorize, naming what was tried', async () => {
    const stranger = join(dir, 'stranger_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    const err = await refused(`root@${ip}`, ipConfig('auth_config', [`  IdentityFile ${stranger}`], 'attacker'));
    const strangerPrint = sshFingerprint(Buffer.from(readFileSync(`${stranger}.pub`, 'utf8').split(' ')[1] ?? '', 'base64'));
    expect(err.message).toContain(`could not log in to root@${ip}`);
    expect(err.message).toContain(`key ${stranger} (ssh-ed25519 ${strangerPrint})`);
    expect(err.message).toMatch(/the server accepts: publickey/);
    expect(err.hint).toMatch(/authorized_keys/);
    console.log(`[transport] auth failure: ${err.message}\n[transport]   hint: ${err.hint}`);
  });

  it('works with the real OpenSSH client too (sanity check of the lab config, and a baseline)', () => {
    const ssh = (...args: string[]): string =>
      execFileSync('ssh', ['-F', lab.sshConfigFile, '-o', 'BatchMode=yes', '-o', `ControlPath=${join(dir, 'cm')}`, ...args], { encoding: 'utf8' });
    const t0 = performance.now();
    expect(ssh('a', 'echo', 'openssh-ok')).toBe('openssh-ok\n');
    const tLogin = performance.now() - t0;
    ssh('-o', 'ControlMaster=yes', '-o', 'ControlPersist=60', '-fN', 'a');
    try {
      const n = 10;
      const t1 = performance.now();
      for (let i = 0; i < n; i++) ssh('a', 'true');
      console.log(
        `[transport] OpenSSH baseline: login+command ${tLogin.toFixed(0)} ms; command over a ControlMaster ${((performance.now() - t1) / n).toFixed(1)} ms each`,
      );
    } finally {
      ssh('-O', 'exit', 'a');
    }
  });

  // Last: it gives the machine a new host key.
  it('refuses loudly when the host key changed, with both fingerprints', async () => {
    const before = await machineFingerprint('ed25519');
    const r = await lab.machine('a').run(
      "rm -f /etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key.pub && ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && systemctl restart ssh",
    );
    expect(r.code).toBe(0);
    const after = await machineFingerprint('ed25519');
    expect(after).not.toBe(before);
    const err = await refused('a', lab.sshConfigFile);
    expect(err.message).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');
    expect(err.message).toContain(before);
    expect(err.message).toContain(after);
    expect(err.hint).toContain(`ssh-keygen -R ${ip} -f ${lab.knownHostsFile}`);
    // OpenSSH agrees that this is a changed key.
    let opensshSaid = '';
    try {
      execFileSync('ssh', ['-F', lab.sshConfigFile, '-o', 'BatchMode=yes', 'a', 'true'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      opensshSaid = String((e as { stderr?: unknown }).stderr ?? '');
    }
    expect(opensshSaid).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');
    console.log(`[transport] changed key: ${err.message}`);
  });
});
