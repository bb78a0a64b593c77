/**
 * The README's quick start, typed by a new user on a real Debian machine: pairctl installed from
 * the packed file, then init, plan, apply, up and join as that user (an everyday account with
 * passwordless sudo), nothing else prepared. The node binary and the installed package are
 * copied into the machine (it has no npm), exactly what `npm install -g` laid out here. Then a
 * guest joins over ssh as join says and sees what the owner types: the control that it all works.
 * The transcript is written to quickstart.txt in the lab dir (the README shows it).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openGuestTerminal } from '../machines/guest-terminal.js';
import { labUnavailableReason, startLab, type Lab, type LabMachine } from '../machines/lab.js';

const unavailable = labUnavailableReason();
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe.skipIf(unavailable)('the quick start, as a new user types it', () => {
  let lab: Lab;
  let box: LabMachine;
  let guestKey: string;
  const transcript: string[] = [];

  /** A command as alice types it in her home directory, recorded with its output. */
  async function alice(cmd: string): Promise<{ code: number; stdout: string; stderr: string }> {
    const r = await box.run(`cd /home/alice && runuser -u alice -- env HOME=/home/alice USER=alice NO_COLOR=1 PATH=/usr/local/bin:/usr/bin:/bin sh -c ${JSON.stringify(cmd)} 2>&1`);
    transcript.push(`$ ${cmd}\n${r.stdout}`);
    return r;
  }

  beforeAll(async () => {
    lab = await startLab({ machines: ['box'] });
    box = lab.machine('box');
    const work = mkdtempSync(join(tmpdir(), 'pairctl-quickstart-'));
    const packed = spawnSync('npm', ['pack', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' });
    expect(packed.status, packed.stderr).toBe(0);
    const tgz = join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);
    const prefix = join(work, 'prefix');
    const install = spawnSync('npm', ['install', '-g', '--no-fund', '--no-audit', tgz], { cwd: work, encoding: 'utf8', env: { ...process.env, npm_config_prefix: prefix } });
    expect(install.status, install.stderr).toBe(0);
    transcript.push(`$ npm install -g ./${tgz.split('/').at(-1)}\n${install.stdout}`);
    // What npm laid out under the prefix, and node itself, placed where they would be on the machine.
    cpSync(realpathSync(process.execPath), join(box.rootDir, 'usr/local/bin/node'));
    cpSync(join(prefix, 'lib/node_modules/pairctl'), join(box.rootDir, 'usr/local/lib/node_modules/pairctl'), { recursive: true });
    const setup = await box.run(
      'ln -s ../lib/node_modules/pairctl/dist/cli/main.js /usr/local/bin/pairctl && useradd -m -s /bin/bash alice && ' +
        "echo 'alice ALL=(ALL) ALL' > /etc/sudoers.d/alice && chmod 0440 /etc/sudoers.d/alice && echo ok",
    );
    expect(setup.stdout.trim()).toBe('ok');
    const keyFile = join(lab.dir, 'todd');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'todd@laptop', '-f', keyFile]);
    guestKey = readFileSync(`${keyFile}.pub`, 'utf8').trim();
  }, 600_000);

  afterAll(async () => {
    if (lab) {
      writeFileSync(join(lab.dir, '..', `pairctl-quickstart-${process.pid}.txt`), transcript.join('\n'));
      await lab.stop();
    }
  });

  it('install, init, plan, apply, up, join: each says what happened, and the guest gets in', async () => {
    expect((await alice('pairctl --version')).stdout).toMatch(/^pairctl 0\.\d+\.\d+ /);
    const init = await alice(`pairctl init --guest todd --key '${guestKey}'`);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('Wrote pair.yaml: host box (this machine, linux, owner alice), guest todd (mirror), tunnel lan.');
    transcript.push(`$ cat pair.yaml\n${(await box.run('cat /home/alice/pair.yaml')).stdout}`);

    // Before the machine is ready: sudo that asks for a password, then an owner that does not exist.
    const pw = await alice('pairctl plan');
    expect(pw.code).toBe(1);
    expect(pw.stdout).toContain('Could not read 1 machine:');
    expect(pw.stdout).toMatch(/"sudo -n" as "alice" needs a password; pairctl never types one\. Give "alice" passwordless sudo/);
    expect(pw.stdout).not.toContain('No changes');
    await box.run("echo 'alice ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/alice");
    await box.run("sed -i 's/owner: alice/owner: alcie/' /home/alice/pair.yaml");
    const typo = await alice('pairctl plan');
    expect(typo.code).toBe(1);
    expect(typo.stdout).toContain('Error: owner["alcie"]: the owner account alcie does not exist on box');
    expect(typo.stdout).toMatch(/Plan blocked: 1 machine has errors \(above\), so nothing can be applied\./);
    expect((await alice('pairctl apply --yes')).code).toBe(1);
    await box.run("sed -i 's/owner: alcie/owner: alice/' /home/alice/pair.yaml");
    expect((await box.run('ls /home/pair-todd 2>&1; getent passwd pair-todd || echo none')).stdout).toContain('none');

    const plan = await alice('pairctl plan');
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/Plan: \d+ to add, 0 to change, 0 to destroy\./);
    expect(plan.stdout).toContain('+ account "pair-todd"');

    const apply = await alice('pairctl apply --yes');
    expect(apply.code, apply.stdout).toBe(0);
    expect(apply.stdout).toMatch(/Apply complete! Resources: \d+ added, 0 changed, 0 destroyed\./);
    expect((await alice('pairctl plan')).stdout).toContain('No changes. Every machine matches pair.yaml.');

    const up = await alice('pairctl up');
    expect(up.code, up.stdout).toBe(0);
    expect(up.stdout).toContain('box: session started');

    const join_ = await alice('pairctl join todd');
    expect(join_.code).toBe(0);
    expect(join_.stdout).toMatch(/ssh pair-todd@box\.local/);

    // The control: todd runs the printed command (box.local is this lab's box, reached by its
    // address) and sees what alice types into the shared session.
    const todd = await openGuestTerminal({
      sshConfigFile: lab.sshConfigFile,
      host: 'box',
      user: 'pair-todd',
      from: lab.sourceIp('guest'),
      sshArgs: ['-i', join(lab.dir, 'todd'), '-o', 'IdentitiesOnly=yes'],
    });
    try {
      await todd.waitFor(/\$|#/, 30_000);
      const typed = await box.run("runuser -u alice -- tmux -S /run/pairctl/pair/tmux.sock set-buffer -b t 'echo hello-from-alice\n' \\; paste-buffer -d -b t -t '=pair:' && echo sent");
      expect(typed.stdout.trim(), typed.stderr).toBe('sent');
      const screen = await todd.waitFor('hello-from-alice', 30_000);
      transcript.push(`# todd's terminal after: ssh pair-todd@box.local\n${screen}`);
    } finally {
      await todd.close();
    }
  }, 600_000);
});
