import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quote } from '../../src/transport/shell-quote.js';
import { openGuestTerminal, type GuestTerminal } from '../machines/guest-terminal.js';
import { defaultRelease, labUnavailableReason, SOURCE_ADDRESSES, SOURCE_ROLES, startLab, type Lab } from '../machines/lab.js';

const execFileP = promisify(execFile);
const reason = labUnavailableReason();

/** The real ssh client, non-interactive (BatchMode: fail instead of prompting). */
async function ssh(lab: Lab, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileP('ssh', ['-F', lab.sshConfigFile, '-o', 'BatchMode=yes', ...args], { timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

function cgroupDirsOf(rootDir: string): string[] {
  const name = path.basename(rootDir);
  return ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified', '/sys/fs/cgroup'].map((r) => path.join(r, name));
}

describe.skipIf(reason !== undefined)(`test lab: real machines${reason ? ` (skipped: ${reason})` : ''}`, () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await startLab({ machines: ['alpha', 'beta'] });
  });

  afterAll(async () => {
    await lab?.stop();
  });

  it('boots systemd as PID 1 in both, running', async () => {
    for (const name of ['alpha', 'beta']) {
      const m = lab.machine(name);
      const r = await m.run('systemctl is-system-running; hostname; ps -o comm= -p 1; systemctl is-active ssh');
      expect(r.stderr).toBe('');
      expect(r.stdout.split('\n')).toEqual(['running', name, 'systemd', 'active', '']);
      expect(fs.readFileSync(`/proc/${m.leaderPid}/comm`, 'utf8').trim()).toBe('systemd');
    }
  });

  it('runs the Debian release it was asked for', async () => {
    expect(lab.release).toBe(defaultRelease());
    const r = await lab.machine('alpha').run('. /etc/os-release; echo "$VERSION_CODENAME"');
    expect(r).toMatchObject({ code: 0, stdout: `${lab.release}\n` });
  });

  it('run() passes stdin and reports the exit code', async () => {
    const r = await lab.machine('alpha').run('cat; echo oops >&2; exit 3', { input: 'hello\n' });
    expect(r).toEqual({ code: 3, stdout: 'hello\n', stderr: 'oops\n' });
  });

  it('lets the real ssh client in as root and as admin, with sudo for admin', async () => {
    for (const name of ['alpha', 'beta']) {
      const root = await ssh(lab, [name, 'id -un; hostname']);
      expect(root, root.stderr).toMatchObject({ code: 0, stdout: `root\n${name}\n` });
      const admin = await ssh(lab, ['-l', 'admin', name, 'id -un; sudo -n true && sudo -n id -un']);
      expect(admin, admin.stderr).toMatchObject({ code: 0, stdout: 'admin\nroot\n' });
    }
  });

  it('gives operator, guest and attacker their own source addresses; the ssh config binds the operator', async () => {
    const ips = SOURCE_ROLES.flatMap((r) => Array.from({ length: SOURCE_ADDRESSES[r] }, (_, i) => lab.sourceIp(r, i)));
    expect(new Set(ips).size).toBe(6);
    expect(lab.sourceIp('attacker', 4)).toBe(lab.sourceIp('attacker', 0));
    const machineIps = ['alpha', 'beta'].map((n) => lab.machine(n).ip);
    for (const ip of ips) {
      expect(ip).toMatch(/^10\.213\.5\.[0-9]+$/);
      expect(machineIps).not.toContain(ip);
    }
    // sshd sees each connection come from the address it was bound to
    const from = async (args: string[]): Promise<string> => {
      const r = await ssh(lab, [...args, 'alpha', 'echo "${SSH_CONNECTION%% *}"']);
      expect(r, r.stderr).toMatchObject({ code: 0 });
      return r.stdout.trim();
    };
    expect(await from([])).toBe(lab.sourceIp('operator'));
    expect(await from(['-b', lab.sourceIp('guest')])).toBe(lab.sourceIp('guest'));
    expect(await from(['-o', `BindAddress=${lab.sourceIp('attacker')}`])).toBe(lab.sourceIp('attacker'));
  });

  it('checks host keys strictly: a wrong known_hosts entry is refused', async () => {
    const alpha = lab.machine('alpha');
    const beta = lab.machine('beta');
    // beta's keys filed under alpha's address: ssh must refuse alpha.
    const swapped = path.join(lab.dir, 'known_hosts.swapped');
    const lines = fs.readFileSync(lab.knownHostsFile, 'utf8').split('\n');
    fs.writeFileSync(swapped, lines.filter((l) => l.startsWith(`${beta.ip} `)).map((l) => l.replace(beta.ip, alpha.ip)).join('\n') + '\n');
    const r = await ssh(lab, ['-o', `UserKnownHostsFile=${swapped}`, 'alpha', 'true']);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it('connects the machines over the bridge', async () => {
    const beta = lab.machine('beta');
    const r = await lab
      .machine('alpha')
      .run(`timeout 5 bash -c ${quote(`exec 3<>/dev/tcp/${beta.ip}/22 && head -c 8 <&3`)}`);
    expect(r).toMatchObject({ code: 0, stdout: 'SSH-2.0-' });
    const byName = await lab.machine('beta').run("timeout 5 bash -c 'exec 3<>/dev/tcp/alpha/22 && head -c 8 <&3'");
    expect(byName).toMatchObject({ code: 0, stdout: 'SSH-2.0-' });
  });

  it('gives each machine its own host keys and machine id', async () => {
    const [a, b] = [lab.machine('alpha'), lab.machine('beta')];
    const ids = await Promise.all([a, b].map((m) => m.run('cat /etc/machine-id')));
    expect(ids[0]!.stdout).toMatch(/^[0-9a-f]{32}\n$/);
    expect(ids[0]!.stdout).not.toBe(ids[1]!.stdout);
    const keys = await Promise.all([a, b].map((m) => m.run('cat /etc/ssh/ssh_host_*_key.pub')));
    expect(keys[0]!.stdout).not.toBe('');
    const aKeys = new Set(keys[0]!.stdout.split('\n').filter(Boolean).map((l) => l.split(' ')[1]));
    for (const l of keys[1]!.stdout.split('\n').filter(Boolean)) expect(aKeys.has(l.split(' ')[1])).toBe(false);
    // and known_hosts holds exactly what each machine serves
    const known = fs.readFileSync(lab.knownHostsFile, 'utf8');
    for (const [m, k] of [[a, keys[0]!], [b, keys[1]!]] as const) {
      for (const l of k.stdout.split('\n').filter(Boolean)) {
        const [type, key] = l.split(' ');
        expect(known).toContain(`${m.ip} ${type} ${key}\n`);
      }
    }
  });

  describe('guest terminal', () => {
    let term: GuestTerminal | undefined;
    afterAll(async () => {
      await term?.close();
    });

    it('shows a guest what the host types into a shared tmux session', async () => {
      const alpha = lab.machine('alpha');
      const start = await alpha.run("su - admin -c 'tmux new-session -d -s demo -x 100 -y 30'");
      expect(start).toMatchObject({ code: 0, stderr: '' });
      term = await openGuestTerminal({
        sshConfigFile: lab.sshConfigFile,
        host: 'alpha',
        user: 'admin',
        from: lab.sourceIp('guest'),
        command: 'tmux attach-session -r -t demo',
      });
      await term.waitFor('[demo]', 15_000);
      await alpha.run(`su - admin -c ${quote("tmux set-buffer -b t 'echo hello-$((6*7))\n' \\; paste-buffer -d -b t -t demo")}`);
      const screen = await term.waitFor('hello-42');
      expect(screen).toContain('echo hello-$((6*7))');
      expect(await term.exited()).toBe(false);
      // the guest is read-only: typing does not reach the session. Its keys went first; the
      // host's marker after them shows the session has moved on (no guessed wait).
      await term.type('echo from-guest\n');
      await alpha.run(`su - admin -c ${quote("tmux set-buffer -b t 'echo after-$((6*7))\n' \\; paste-buffer -d -b t -t demo")}`);
      expect(await term.waitFor('after-42')).not.toContain('from-guest');
      expect((await alpha.run("su - admin -c 'tmux capture-pane -p -t demo'")).stdout).not.toContain('from-guest');
      // detach: tmux ends, ssh ends, the terminal reports it
      await term.sendKeys('C-b', 'd');
      expect(await term.waitExit()).toBe(0);
      expect(await term.screen()).toMatch(/\[detached/);
      await term.close();
      const sock = path.join('/tmp', `tmux-${process.getuid?.() ?? 0}`, term.socketName);
      expect(fs.existsSync(sock)).toBe(false);
      await alpha.run("su - admin -c 'tmux kill-server'");
    });
  });

  it('stop() leaves nothing behind', async () => {
    const machines = ['alpha', 'beta'].map((n) => lab.machine(n));
    const pids = machines.flatMap((m) => [m.nspawnPid, m.leaderPid]);
    const copies = machines.map((m) => m.rootDir);
    const sources = SOURCE_ROLES.flatMap((r) => Array.from({ length: SOURCE_ADDRESSES[r] }, (_, i) => lab.sourceIp(r, i)));
    const t0 = Date.now();
    await lab.stop();
    console.log(`[lab.test] stop took ${Date.now() - t0} ms`);
    for (const pid of pids) expect(fs.existsSync(`/proc/${pid}`), `pid ${pid}`).toBe(false);
    for (const c of copies) {
      expect(fs.existsSync(c), c).toBe(false);
      for (const cg of cgroupDirsOf(c)) expect(fs.existsSync(cg), cg).toBe(false);
    }
    // its lease is gone (a concurrent lab may already hold a new lease on the same address)
    for (const m of machines) {
      const lease = `/run/pairctl-test/leases/${m.ip}`;
      if (fs.existsSync(lease)) expect(fs.readFileSync(lease, 'utf8')).not.toContain(path.basename(m.rootDir));
    }
    expect(fs.existsSync(lab.dir), lab.dir).toBe(false);
    // its source addresses are off the bridge (unless a concurrent lab leased one again since)
    const onBridge = execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', 'br-pairtest'], { encoding: 'utf8' });
    for (const ip of sources) {
      const lease = `/run/pairctl-test/leases/${ip}`;
      if (!fs.existsSync(lease)) expect(onBridge).not.toContain(` ${ip}/32 `);
      else expect(fs.readFileSync(lease, 'utf8')).not.toContain(lab.dir);
    }
    await lab.stop(); // idempotent
  });
});
