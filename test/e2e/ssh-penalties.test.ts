/**
 * Issue 11 part 5, for real: OpenSSH >= 9.8 penalises a source address after failed logins from
 * it (PerSourcePenalties) and then drops its connections before the ssh handshake. Failed logins
 * from the address pairctl connects from make sshd refuse pairctl; pairctl must then say what
 * likely happened, for how long and what to do, naming the machine. Positive controls in the same
 * run: pairctl plans the machine before the attack, and while pairctl is refused an honest login
 * from another address succeeds (sshd is up; only that address is turned away).
 *
 * Bookworm's OpenSSH 9.2 has no penalties, so this runs on Debian 13 (OpenSSH 10.0) unless the
 * run asks for a newer release.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRelease, labUnavailableReason, startLab, type Lab, type LabMachine } from '../machines/lab.js';
import { pairctl } from '../machines/pairctl-cli.js';

const execFileP = promisify(execFile);
const unavailable = labUnavailableReason();
const OWNER = 'bhorseman';
const release = defaultRelease() === 'bookworm' ? 'trixie' : defaultRelease();

describe.skipIf(unavailable)(`pairctl refused before the handshake by OpenSSH's PerSourcePenalties (${release})`, () => {
  let lab: Lab;
  let box: LabMachine;
  let file: string;
  let stranger: string;

  /** The real ssh client from `source`, non-interactive; never throws. */
  async function sshFrom(source: string, key: string, user = 'root'): Promise<{ code: number; stderr: string }> {
    const args = ['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'];
    args.push('-o', `BindAddress=${source}`, '-o', 'ConnectTimeout=30', '-i', key, `${user}@${box.ip}`, 'true');
    try {
      await execFileP('ssh', args, { timeout: 60_000 });
      return { code: 0, stderr: '' };
    } catch (e) {
      const err = e as { code?: number; stderr?: string };
      return { code: typeof err.code === 'number' ? err.code : -1, stderr: err.stderr ?? '' };
    }
  }

  beforeAll(async () => {
    lab = await startLab({ machines: ['box'], release });
    box = lab.machine('box');
    file = join(lab.dir, 'pair.yaml');
    const guestKey = join(lab.dir, 'todd');
    stranger = join(lab.dir, 'stranger');
    for (const k of [guestKey, stranger]) spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test', '-f', k]);
    writeFileSync(
      file,
      [
        'version: 1',
        'hosts:',
        `  box: { platform: linux, ssh: box, owner: ${OWNER} }`,
        'guests:',
        `  todd: { keys: [${JSON.stringify(readFileSync(`${guestKey}.pub`, 'utf8').trim())}], mode: pair }`,
        '',
      ].join('\n'),
    );
    expect((await box.run(`useradd -m -s /bin/bash ${OWNER} && echo ok`)).stdout).toBe('ok\n');
  }, 300_000);

  afterAll(async () => {
    await lab?.stop();
  });

  it('names the machine, the likely cause, how long and what to do; another address still logs in', async () => {
    const cli = (...args: string[]) => pairctl([...args, '-F', lab.sshConfigFile]);
    // Positive control: pairctl reads the machine, and shows the OpenSSH that penalises.
    const before = await cli('plan', '-f', file);
    expect(before.stderr).toBe('');
    expect(before.code).toBe(0);
    const versions = (await box.run('tmux -V; ssh -V 2>&1')).stdout;
    const openssh = /found: tmux \S+, OpenSSH (\S+)/.exec(before.stdout)?.[1];
    expect(openssh, before.stdout).toBeDefined();
    expect(versions).toContain(`OpenSSH_${openssh}`);

    // The address sshd saw pairctl come from is the one to penalise (whatever pairctl binds to).
    const log = await box.run("journalctl -u ssh --no-pager -o cat | sed -n 's/^Accepted publickey for root from \\([0-9.]*\\) port.*/\\1/p' | tail -n 1");
    const source = log.stdout.trim();
    expect(source, log.stderr).toMatch(/^10\.213\.5\.\d+$/);
    const other = [lab.sourceIp('guest'), lab.sourceIp('attacker'), lab.sourceIp('operator')].find((ip) => ip !== source)!;

    // Failed logins from that address, a few at a time (concurrent penalties add up), until
    // sshd drops its connections before the handshake. Bounded by attempts, not by time.
    let refused = '';
    for (let round = 0; round < 10 && !refused; round++) {
      const tries = await Promise.all(Array.from({ length: 4 }, () => sshFrom(source, stranger)));
      for (const t of tries) expect(t.code, t.stderr).not.toBe(0);
      refused = tries.map((t) => t.stderr).find((e) => /Not allowed at this time|kex_exchange_identification|Connection (closed|reset)/.test(e)) ?? '';
    }
    expect(refused, 'sshd never refused the address').not.toBe('');

    const after = await cli('plan', '-f', file);
    const honest = await sshFrom(other, lab.adminKeyFile);
    console.log(`[penalties] ${release}, OpenSSH ${openssh}, pairctl from ${source}:\n${after.stdout}\n${after.stderr}`);
    expect(after.code).toBe(1);
    // The plan lists the machine it could not read, with why, above its summary (never "No
    // changes"), and says so on stderr too.
    const why = after.stdout;
    expect(why).toContain('Could not read 1 machine:');
    expect(why).toContain('  box: machine "box": ');
    expect(why).toContain('closed the connection before the ssh handshake');
    expect(why).toContain('most likely OpenSSH 9.8 or newer refusing this address');
    expect(why).toContain('after failed logins from it (PerSourcePenalties');
    expect(why).toContain('up to 10 minutes');
    expect(why).toMatch(/PerSourcePenaltyExemptList (10\.213\.5\.\d+|<the address pairctl connects from>)/);
    if (/PerSourcePenaltyExemptList 10\./.test(why)) expect(why).toContain(`PerSourcePenaltyExemptList ${source}`);
    expect(why).not.toContain('No changes');
    expect(after.stderr).toContain('Error: box could not be read');
    expect(why + after.stderr).not.toContain('Connection lost before handshake');
    // Same moment, another address: sshd is up and lets an honest login in.
    expect(honest.code, honest.stderr).toBe(0);
    // And sshd itself says why it dropped pairctl.
    const drops = await box.run(`journalctl -u ssh --no-pager -o cat | grep -F 'drop connection' | grep -F '[${source}]' | tail -n 1`);
    expect(drops.stdout).toMatch(/penalty: failed authentication/);
  }, 300_000);
});
