/**
 * Issue 4 on real machines: drift is told apart from a change of pair.yaml and put back; a saved
 * plan applies exactly or is refused as stale; --json and --limit; a file pairctl replaced is
 * backed up and restored by destroy; a host dropped from pair.yaml has its setup removed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labUnavailableReason, startLab, type Lab, type LabMachine } from '../machines/lab.js';
import { pairctl } from '../machines/pairctl-cli.js';

const unavailable = labUnavailableReason();
const OWNER = 'bhorseman';

describe.skipIf(unavailable)('plan and apply you can trust, on real hosts', () => {
  let lab: Lab;
  let one: LabMachine;
  let two: LabMachine;
  let dir: string;
  let file: string;
  const keys: Record<string, string> = {};

  /** pair.yaml with the given hosts (lab aliases) and guests. */
  function writeConfig(hosts: string[], guests: string[], extra: string[] = []): string {
    const lines = ['version: 1', 'hosts:'];
    for (const h of hosts) lines.push(`  ${h}: { platform: linux, ssh: ${h}, owner: ${OWNER} }`);
    lines.push('guests:');
    for (const g of guests) lines.push(`  ${g}: { keys: [${JSON.stringify(keys[g])}], mode: pair }`);
    lines.push(...extra, '');
    writeFileSync(file, lines.join('\n'));
    return file;
  }

  const cli = (...args: string[]) => pairctl([...args, '-F', lab.sshConfigFile]);

  beforeAll(async () => {
    lab = await startLab({ machines: ['one', 'two'] });
    one = lab.machine('one');
    two = lab.machine('two');
    dir = join(lab.dir, 'lifecycle');
    mkdirSync(dir, { recursive: true });
    file = join(dir, 'pair.yaml');
    for (const g of ['todd', 'ann', 'rita']) {
      const key = join(dir, g);
      spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', g, '-f', key]);
      keys[g] = readFileSync(`${key}.pub`, 'utf8').trim();
    }
    for (const m of [one, two]) expect((await m.run(`useradd -m -s /bin/bash ${OWNER} && echo ok`)).stdout).toBe('ok\n');
  }, 180_000);

  afterAll(async () => {
    await lab?.stop();
  });

  it('applies only the machines named by --limit, and remembers the machines it applied to', async () => {
    writeConfig(['one', 'two'], ['todd', 'ann']);
    const p = await cli('plan', '-f', file, '--limit', 'one');
    expect(p.code).toBe(0);
    expect(p.stdout).toContain('host one (one):');
    expect(p.stdout).not.toContain('host two');
    const bad = await cli('plan', '-f', file, '--limit', 'nope');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('no machine "nope"');
    const a = await cli('apply', '-f', file, '--yes', '--limit', 'one');
    expect(a.code).toBe(0);
    expect((await one.run('getent passwd pair-todd >/dev/null && echo yes')).stdout).toBe('yes\n');
    expect((await two.run('getent passwd pair-todd || echo no')).stdout).toBe('no\n');
    expect(JSON.parse(readFileSync(join(dir, '.pairctl', 'machines.json'), 'utf8'))).toEqual({
      format: 1,
      machines: { one: { role: 'host', ssh: 'one', sudo: false } },
    });
    expect((await cli('apply', '-f', file, '--yes')).code).toBe(0);
    expect((await cli('plan', '-f', file, '--detailed-exitcode')).code).toBe(0);
  });

  it('shows hand edits as drift with their diff, and apply puts them back', async () => {
    await one.run(
      "sed -i 's/^set -u$/set -u # tweaked/' /usr/local/libexec/pairctl/join && usermod -s /bin/bash pair-todd && rm /home/pair-ann/.ssh/authorized_keys",
    );
    const p = await cli('plan', '-f', file, '--detailed-exitcode');
    expect(p.code).toBe(2);
    expect(p.stdout).toContain('~ file "/usr/local/libexec/pairctl/join" (changed outside pairctl)');
    expect(p.stdout).toMatch(/-set -u # tweaked\n\s+\+set -u\n/);
    expect(p.stdout).toContain('~ account "pair-todd" (changed outside pairctl)\n      shell = "/bin/bash" -> "/bin/sh"');
    expect(p.stdout).toContain('+ file "/home/pair-ann/.ssh/authorized_keys" (deleted outside pairctl)');
    expect(p.stdout).not.toContain('host two');
    // A change of pair.yaml is not drift.
    writeConfig(['one', 'two'], ['todd', 'ann', 'rita']);
    const q = await cli('plan', '-f', file);
    expect(q.stdout).toMatch(/~ file "\/usr\/local\/libexec\/pairctl\/join"\n/);
    expect(q.stdout).toContain('+ account "pair-rita"\n');
    const a = await cli('apply', '-f', file, '--yes');
    expect(a.code).toBe(0);
    expect((await one.run("getent passwd pair-todd | cut -d: -f7; grep -c 'tweaked' /usr/local/libexec/pairctl/join || true")).stdout).toBe('/bin/sh\n0\n');
    expect((await cli('plan', '-f', file)).stdout).toContain('No changes.');
  });

  it('applies a saved plan exactly, and refuses it as stale when a machine or pair.yaml changed', async () => {
    const planFile = join(dir, 'tfplan');
    writeConfig(['one', 'two'], ['todd', 'ann']);
    const p = await cli('plan', '-f', file, '-o', planFile);
    expect(p.code).toBe(0);
    expect(p.stdout).toContain(`Saved the plan to ${planFile}`);
    expect(spawnSync('stat', ['-c', '%a', planFile], { encoding: 'utf8' }).stdout).toBe('600\n');
    // Stale: the machine changed since.
    await two.run('usermod -s /bin/dash pair-todd');
    const stale = await cli('apply', planFile);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain(`stale plan: machine two changed since ${planFile} was made`);
    expect((await one.run('getent passwd pair-rita >/dev/null && echo still-there')).stdout).toBe('still-there\n');
    // Fresh plan, applied as saved: exactly its changes, no prompt.
    expect((await cli('plan', '-f', file, '-o', planFile)).code).toBe(0);
    const ok = await cli('apply', planFile);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    // changed: join and the audit follower's program and unit (they name the guests) on each
    // host, and pair-todd's shell on two; destroyed: rita's key file, .ssh and account on each.
    expect(ok.stdout).toMatch(/Apply complete! Resources: 0 added, 7 changed, 6 destroyed\./);
    expect((await two.run('getent passwd pair-todd | cut -d: -f7')).stdout).toBe('/bin/sh\n');
    // Stale: pair.yaml changed since.
    expect((await cli('plan', '-f', file, '-o', planFile)).code).toBe(0);
    writeConfig(['one', 'two'], ['todd']);
    const edited = await cli('apply', planFile);
    expect(edited.code).toBe(1);
    expect(edited.stderr).toContain(`stale plan: ${file} changed since ${planFile} was made`);
    expect((await one.run('getent passwd pair-ann >/dev/null && echo kept')).stdout).toBe('kept\n');
  });

  it('prints the documented JSON for plan and apply', async () => {
    writeConfig(['one', 'two'], ['todd', 'ann', 'rita']);
    const p = await cli('plan', '-f', file, '--json', '--limit', 'two');
    expect(p.code).toBe(0);
    const doc = JSON.parse(p.stdout);
    expect(doc).toMatchObject({ format_version: '1.1', command: 'plan', limit: ['two'], destroy: false, changes_pending: true, applicable: true, unreachable: [] });
    expect(doc.machines.map((m: { id: string }) => m.id)).toEqual(['two']);
    // The versions the plan read are the machine's own (tmux -V; ssh -V of the same release as sshd).
    const tools = (await two.run('tmux -V; ssh -V 2>&1')).stdout;
    expect(tools).toContain(`tmux ${doc.machines[0].versions.tmux}\n`);
    expect(doc.machines[0].versions.openssh).toMatch(/^\d+\.\d+/);
    expect(tools).toContain(`OpenSSH_${doc.machines[0].versions.openssh}`);
    const rita = doc.machines[0].changes.find((c: { address: string }) => c.address === 'account["pair-rita"]');
    expect(rita).toMatchObject({ kind: 'account', name: 'pair-rita', action: 'create', cause: 'config', diff: null, restores_from: null });
    expect(doc.machines[0].changes.find((c: { address: string }) => c.address.startsWith('file["/home/pair-rita'))?.diff).toContain('+restrict,pty,command=');
    expect(JSON.stringify(doc)).not.toContain('useradd');
    const a = await cli('apply', '-f', file, '--json', '--yes');
    expect(a.code).toBe(0);
    const applied = JSON.parse(a.stdout);
    expect(applied.command).toBe('apply');
    expect(applied.apply.ok).toBe(true);
    expect(applied.apply.machines.map((m: { id: string; ok: boolean; not_made: string[] }) => [m.id, m.ok, m.not_made])).toEqual([
      ['one', true, []],
      ['two', true, []],
    ]);
    expect(applied.apply.machines[1].made).toContain('account["pair-rita"]');
    expect(a.stderr).toContain('two: account["pair-rita"]: done');
    const none = JSON.parse((await cli('plan', '-f', file, '--json')).stdout);
    expect(none).toMatchObject({ changes_pending: false, summary: { add: 0, change: 0, destroy: 0 } });
  });

  it('backs up a file it replaces and puts it back on destroy; packages stay', async () => {
    // /etc/pairctl/tmux.conf existed before pairctl on "two": remove pairctl's setup there first.
    const d = await cli('destroy', '-f', file, '--host', 'two', '--yes');
    expect(d.code).toBe(0);
    expect(d.stdout).toContain('host two (two): destroy; everything pairctl made there is removed:');
    expect(d.stdout).toContain('Note: package tmux stays installed');
    expect((await two.run('ls /var/lib/pairctl /etc/pairctl 2>&1; getent passwd pair-todd || echo gone')).stdout).toMatch(/No such file[\s\S]*No such file[\s\S]*gone/);
    await two.run(`mkdir -p /etc/pairctl && printf 'set -g mouse on\\n' > /etc/pairctl/tmux.conf && chown ${OWNER}:${OWNER} /etc/pairctl/tmux.conf && chmod 0640 /etc/pairctl/tmux.conf`);
    const before = (await two.run("stat -c '%U:%G %a' /etc/pairctl/tmux.conf; sha256sum < /etc/pairctl/tmux.conf")).stdout;
    const p = await cli('plan', '-f', file, '--limit', 'two');
    expect(p.stdout).toMatch(/~ file "\/etc\/pairctl\/tmux.conf"\n/);
    expect(p.stdout).toContain('-set -g mouse on');
    expect((await cli('apply', '-f', file, '--yes', '--limit', 'two')).code).toBe(0);
    const backup = await two.run("stat -c '%a' /var/lib/pairctl /var/lib/pairctl/backup; cat /var/lib/pairctl/backup/*-tmux.conf");
    expect(backup.stdout).toBe('700\n700\nset -g mouse on\n');
    expect((await two.run('grep -c unbind-key /etc/pairctl/tmux.conf')).stdout).not.toBe('0\n');

    const destroy = await cli('destroy', '-f', file, '--host', 'two', '--yes');
    expect(destroy.code).toBe(0);
    expect(destroy.stdout).toContain('- file "/etc/pairctl/tmux.conf" (original put back from before pairctl)');
    expect(destroy.stdout).toContain('Note: directory "/etc/pairctl" is left in place: it was there before pairctl managed it');
    expect(destroy.stdout).toMatch(/Destroy complete! Resources: \d+ destroyed\./);
    expect((await two.run("stat -c '%U:%G %a' /etc/pairctl/tmux.conf; sha256sum < /etc/pairctl/tmux.conf")).stdout).toBe(before);
    const gone = await two.run('ls /etc/ssh/sshd_config.d/ /usr/local/libexec/pairctl 2>&1; getent group pairctl || echo nogroup; dpkg-query -W -f=\'${Status}\' tmux');
    expect(gone.stdout).toMatch(/No such file[\s\S]*nogroup\ninstall ok installed/);
    expect(gone.stdout).not.toContain('00-pairctl.conf');
    // The operator still logs in over ssh after sshd was reloaded without the drop-in.
    expect(spawnSync('ssh', ['-F', lab.sshConfigFile, '-o', 'BatchMode=yes', 'two', 'true']).status).toBe(0);
    // "one" was not touched by a destroy limited to "two".
    expect((await one.run('getent passwd pair-todd >/dev/null && echo kept')).stdout).toBe('kept\n');
  });

  it('removes everything from a host dropped from pair.yaml, reached through the machines it applied to', async () => {
    writeConfig(['one', 'two'], ['todd']);
    expect((await cli('apply', '-f', file, '--yes')).code).toBe(0);
    writeConfig(['one'], ['todd']);
    const p = await cli('plan', '-f', file);
    expect(p.code).toBe(0);
    expect(p.stdout).toContain('host two (two): no longer in pair.yaml; everything pairctl made there is removed:');
    expect(p.stdout).toContain('- account "pair-todd"');
    expect(p.stdout).toContain('- sshd_dropin "/etc/ssh/sshd_config.d/00-pairctl.conf"');
    const a = await cli('apply', '-f', file, '--yes');
    expect(a.code).toBe(0);
    expect((await two.run('getent passwd pair-todd || echo gone; ls /var/lib/pairctl 2>&1')).stdout).toMatch(/^gone\n.*No such file/);
    expect(JSON.parse(readFileSync(join(dir, '.pairctl', 'machines.json'), 'utf8')).machines).toEqual({ one: { role: 'host', ssh: 'one', sudo: false } });
    expect((await cli('plan', '-f', file)).stdout).toContain('No changes.');
    expect(existsSync(join(dir, '.pairctl', 'machines.json'))).toBe(true);
  });
});
