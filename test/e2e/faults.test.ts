/**
 * Faults on a real host: the connection dropped in the middle of an apply, an sshd change that
 * sshd -t rejects (on the first apply and on destroy), and two applies at once.
 *
 * A slow step is made the way a slow machine would have one: a `useradd` on PATH before the real
 * one, which waits while a gate file for the account it creates exists (GATE_DIR/<name>). The test
 * holds the gate for as long as it needs the step to run, and opens it when it has acted, so
 * nothing depends on how fast a busy machine is (a fixed sleep here once did).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { labUnavailableReason, startLab, type Lab, type LabMachine } from '../machines/lab.js';
import { pairctl, type CliResult } from '../machines/pairctl-cli.js';
import { waitUntil } from '../machines/wait.js';

const unavailable = labUnavailableReason();
const OWNER = 'bhorseman';
const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const DROPIN = '/etc/ssh/sshd_config.d/00-pairctl.conf';
const GATE_DIR = '/run/pt-gate';
const USERADD_GATE = `#!/bin/sh
for name; do :; done
while [ -e ${GATE_DIR}/"$name" ]; do sleep 0.05; done
exec /usr/sbin/useradd "$@"
`;

/** pairctl started in the background, its stdout readable while it runs. */
interface Running {
  pid: number;
  stdout(): string;
  done: Promise<CliResult>;
}

function startPairctl(args: string[]): Running {
  const child = spawn('node', [BIN, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout: out, stderr: err })));
  return { pid: child.pid!, stdout: () => out, done };
}

describe.skipIf(unavailable)('faults during apply, on a real host', () => {
  let lab: Lab;
  let box: LabMachine;
  let dir: string;
  let file: string;
  const keys: Record<string, string> = {};

  function writeConfig(guests: string[]): string {
    const lines = ['version: 1', 'hosts:', `  box: { platform: linux, ssh: box, owner: ${OWNER} }`, 'guests:'];
    for (const g of guests) lines.push(`  ${g}: { keys: [${JSON.stringify(keys[g])}], mode: mirror }`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  }

  const cli = (...args: string[]) => pairctl([...args, '-F', lab.sshConfigFile]);
  const operatorLogin = () => spawnSync('ssh', ['-F', lab.sshConfigFile, '-o', 'BatchMode=yes', 'box', 'true']).status;
  const hold = async (account: string) => expect((await box.run(`mkdir -p ${GATE_DIR} && touch ${GATE_DIR}/${account} && echo held`)).stdout).toBe('held\n');
  const release = async (account: string) => expect((await box.run(`rm ${GATE_DIR}/${account} && echo open`)).stdout).toBe('open\n');
  const sshdState = async () => (await box.run("systemctl show -p MainPID --value ssh; journalctl -u ssh --no-pager | grep -c 'Received SIGHUP' || true")).stdout;

  beforeAll(async () => {
    lab = await startLab({ machines: ['box'] });
    box = lab.machine('box');
    dir = join(lab.dir, 'faults');
    mkdirSync(dir, { recursive: true });
    file = join(dir, 'pair.yaml');
    for (const g of ['ga', 'gb', 'gc', 'gd', 'ge', 'gf', 'gg', 'gh']) {
      const key = join(dir, g);
      spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', g, '-f', key]);
      keys[g] = readFileSync(`${key}.pub`, 'utf8').trim();
    }
    const setup = await box.run(`useradd -m -s /bin/bash ${OWNER} && cat > /usr/local/sbin/useradd && chmod 0755 /usr/local/sbin/useradd && echo ok`, {
      input: USERADD_GATE,
    });
    expect(setup.stdout).toBe('ok\n');
  }, 180_000);

  afterEach(async () => {
    // a test that failed while holding a gate must not stall the next one
    await box?.run(`rm -rf ${GATE_DIR}`);
  });

  afterAll(async () => {
    await lab?.stop();
  });

  it('reports what was made when the connection drops mid-apply; no file is half-written; the next apply converges', async () => {
    writeConfig(['ga', 'gb', 'gc', 'gd', 'ge', 'gf']);
    await hold('pair-gc');
    const run = startPairctl(['apply', '-f', file, '--yes', '-F', lab.sshConfigFile]);
    await waitUntil('the third account to start', () => run.stdout().includes('box: account["pair-gc"]: applying'), 60_000, 50);
    // Kill the sshd processes serving pairctl's connection, from inside the machine. From
    // OpenSSH 9.8 they are sshd-session (measured: "sshd-session: root [priv]" on 10.0,
    // "sshd-session: root [postauth]" on 10.6, "sshd: root@notty" on 9.2).
    await box.run("pkill -KILL -f '^sshd(-session)?: root@notty'; pkill -KILL -f '^sshd(-session)?: root \\[(priv|postauth)\\]'; true");
    const r = await run.done;
    await release('pair-gc');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Error: box: apply stopped during account\["pair-gc"\]: machine "box": lost the ssh connection/);
    const made = /made: (.*)\n/.exec(r.stderr)?.[1] ?? '';
    expect(made).toContain('account["pair-ga"]');
    expect(made).toContain('file["/home/pair-gb/.ssh/authorized_keys"]');
    expect(r.stderr).toContain('interrupted, may or may not have taken effect: account["pair-gc"]');
    expect(r.stderr).toMatch(/not made: .*account\["pair-gf"\].*sshd_dropin/);

    // The cut-off shell ends at its next progress line (it cannot report, so it does not go on).
    await waitUntil('the cut-off step to end', async () => (await box.run("pgrep -f '[u]seradd' || echo none")).stdout === 'none\n', 60_000, 50);
    // Nothing after the interrupted step ran, and no temp file of an atomic write was left behind.
    const leftovers = await box.run("find /etc /usr/local/libexec /home /var/lib/pairctl -name '.pairctl.*' 2>/dev/null; getent passwd pair-gd || echo no-gd; test -e " + DROPIN + ' || echo no-dropin');
    expect(leftovers.stdout).toBe('no-gd\nno-dropin\n');
    const p = await cli('plan', '-f', file);
    expect(p.stdout).toMatch(/Warning: the last apply on box did not finish \(pairctl pid \d+ on .+ as root, since \S+; its shell there is pid \d+, no longer running\)/);
    // Every file already written is whole: the plan only creates what is missing, it rewrites nothing.
    expect(p.stdout).not.toMatch(/^ {2}~ (file|sshd_dropin) /m);
    expect(p.stdout).toContain('+ account "pair-gf"');
    const again = await cli('apply', '-f', file, '--yes');
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    const converged = await cli('plan', '-f', file);
    expect(converged.stdout).toContain('No changes.');
    expect(converged.stdout).not.toContain('did not finish');
  });

  it('rejected by sshd -t on the first apply: the new drop-in is removed, sshd is not reloaded, the operator still logs in', async () => {
    expect((await cli('destroy', '-f', file, '--yes')).code).toBe(0);
    await box.run("echo 'NoSuchKeyword yes' > /etc/ssh/sshd_config.d/50-broken.conf");
    const before = await sshdState();
    writeConfig(['ga']);
    const a = await cli('apply', '-f', file, '--yes');
    expect(a.code).toBe(1);
    expect(a.stdout).toMatch(/sshd -t rejected the new configuration, previous files restored, sshd not reloaded/);
    expect(a.stderr).toContain('apply stopped at sshd_dropin["/etc/ssh/sshd_config.d/00-pairctl.conf"]');
    expect(a.stderr).toMatch(/made: .*account\["pair-ga"\]/);
    expect((await box.run(`test -e ${DROPIN} || echo absent; ls /etc/ssh/sshd_config.d`)).stdout).toBe('absent\n50-broken.conf\n');
    expect(await sshdState()).toBe(before);
    expect(operatorLogin()).toBe(0);

    await box.run('rm /etc/ssh/sshd_config.d/50-broken.conf');
    expect((await cli('apply', '-f', file, '--yes')).code).toBe(0);
    // OpenSSH >= 10.4 prints the keywords in mixed case ("ForceCommand").
    expect((await box.run('sshd -T -C user=pair-ga,host=x,addr=10.213.5.1 | grep -i ^forcecommand')).stdout.toLowerCase()).toBe('forcecommand /usr/local/libexec/pairctl/join\n');
    expect((await cli('plan', '-f', file)).stdout).toContain('No changes.');
  });

  it('rejected by sshd -t on destroy: the drop-in is put back, sshd is not reloaded, the rest waits', async () => {
    await box.run("echo 'NoSuchKeyword yes' > /etc/ssh/sshd_config.d/50-broken.conf");
    const dropin = (await box.run(`cat ${DROPIN}`)).stdout;
    const before = await sshdState();
    const d = await cli('destroy', '-f', file, '--yes');
    expect(d.code).toBe(1);
    expect(d.stderr).toContain('apply stopped at sshd_dropin["/etc/ssh/sshd_config.d/00-pairctl.conf"]');
    // Only the audit log's follower (which nothing in sshd needs) may go before the drop-in.
    expect(d.stderr).toMatch(/made: (nothing|(systemd_service\["pairctl-audit\.service"\]|file\["\/usr\/local\/libexec\/pairctl\/audit-follow"\])(, )?)+\n[\s\S]*not made: .*account\["pair-ga"\]/);
    expect((await box.run(`cat ${DROPIN}`)).stdout).toBe(dropin);
    expect(await sshdState()).toBe(before);
    expect(operatorLogin()).toBe(0);
    expect((await box.run('getent passwd pair-ga >/dev/null && echo kept')).stdout).toBe('kept\n');
    await box.run('rm /etc/ssh/sshd_config.d/50-broken.conf');
    expect((await cli('destroy', '-f', file, '--yes')).code).toBe(0);
    expect((await box.run(`test -e ${DROPIN} || echo absent; getent passwd pair-ga || echo gone`)).stdout).toBe('absent\ngone\n');
    expect(operatorLogin()).toBe(0);
  });

  it('two applies at once: one applies, the other waits for the lock and then refuses, changing nothing; the machine converges', async () => {
    writeConfig(['ga', 'gb', 'gc']);
    // Started together, a fast apply could finish before the other even read the machine; so
    // the second starts once the first holds the lock inside a slow step, and the step ends
    // only once the second is waiting for the lock.
    await hold('pair-ga');
    const first = startPairctl(['apply', '-f', file, '--yes', '-F', lab.sshConfigFile]);
    await waitUntil('the first apply to take the lock', () => first.stdout().includes('box: account["pair-ga"]: applying'), 60_000, 50);
    const second = startPairctl(['apply', '-f', file, '--yes', '-F', lab.sshConfigFile]);
    await waitUntil('the second apply to wait for the lock', () => second.stdout().includes('box: waiting for the lock'), 60_000, 50);
    await release('pair-ga');
    const [winner, loser] = await Promise.all([first.done, second.done]);
    expect(winner.code).toBe(0);
    expect(loser.code).toBe(1);
    expect(loser.stdout).toMatch(/box: waiting for the lock \(held by pairctl pid \d+ on .+ as root, since \S+; its shell there is pid \d+, still running\)/);
    expect(loser.stderr).toContain('box changed since this plan read it (another apply, or a change by hand); nothing was changed. Run pairctl plan again');
    expect(loser.stderr).not.toContain('made:');
    expect((await cli('plan', '-f', file)).stdout).toContain('No changes.');
  });

  it('gives up after --lock-timeout, naming the apply that holds the lock', async () => {
    writeConfig(['ga', 'gb', 'gc', 'gd', 'ge']);
    await hold('pair-gd');
    const first = startPairctl(['apply', '-f', file, '--yes', '-F', lab.sshConfigFile]);
    await waitUntil('the first apply to take the lock', () => first.stdout().includes('box: account["pair-gd"]: applying'), 60_000, 50);
    // The first holds the lock until the gate opens, so the second can only return by giving up.
    const second = await cli('apply', '-f', file, '--yes', '--lock-timeout', '1');
    await release('pair-gd');
    expect(second.code).toBe(1);
    expect(second.stdout).toContain('Warning: an apply is running on box right now');
    expect(second.stderr).toContain(
      `another pairctl apply holds the lock on box (pairctl pid ${first.pid} on ${hostname()} as root, since `,
    );
    expect(second.stderr).toMatch(/still running\); gave up after 1 s\. Nothing was changed\./);
    expect((await first.done).code).toBe(0);
    expect((await cli('plan', '-f', file)).stdout).toContain('No changes.');
  });
});
