/**
 * Issue 10 part 5, on Debian 13 (OpenSSH 10.0, PerSourcePenalties on by default): through a vps
 * tunnel every guest arrives at the host's guest-only sshd from 127.0.0.1, so a stranger's failed
 * logins on the relay's public port must not lock the guests out. The stranger attacks from an
 * address of its own (the lab's attacker source), pairctl from the operator's, the guest from its
 * machine. A control in the same run shows that the same attack does lock out loopback on an sshd
 * without the exemption (the host's own, port 22), so the test measures the exemption, not a
 * too-gentle attack. Also the audit log of a tunnelled guest: its join names the tunnel (via vps)
 * rather than loopback as where it came from; control, the same guest on the host's network.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTerminal, type GuestTerminal } from '../machines/guest-terminal.js';
import type { AuditLogEntry } from '../../src/session/audit-read.js';
import { labUnavailableReason } from '../machines/lab.js';
import { OWNER, SOCKET, adminLoginWorks, hostKeyLines, must, reachesHost, startTunnelLab, waitUntil, type TunnelLab } from './tunnel-lab.js';

const unavailable = labUnavailableReason();
const PORT = 2222;
/** Failed logins per attack: authfail costs 5 s and sshd blocks from 15 s on (10.0 defaults), so 3 would do. */
const ATTEMPTS = 8;

describe.skipIf(unavailable)('PerSourcePenalties through a vps tunnel (Debian 13, OpenSSH 10.0)', () => {
  let t: TunnelLab;
  let file: string;
  const terminals: GuestTerminal[] = [];

  beforeAll(async () => {
    t = await startTunnelLab('penalties', { release: 'trixie' });
    file = t.writeConfig(['tunnel: { provider: vps, relay: relay, port: 2222 }']);
    // The stranger's key: accepted by nobody.
    spawnSync('rm', ['-f', `${t.dir}/stranger`, `${t.dir}/stranger.pub`]);
    const k = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stranger', '-f', `${t.dir}/stranger`], { encoding: 'utf8' });
    expect(k.status).toBe(0);
  }, 600_000);

  afterAll(async () => {
    for (const term of terminals) await term.close();
    await t?.lab.stop();
  });

  /** One failed login by the stranger, from its own address; returns ssh's exit code and stderr. */
  const strangerLogin = (user: string, host: string, port: number) => {
    const r = spawnSync(
      'ssh',
      ['-F', '/dev/null', '-b', t.lab.sourceIp('attacker'), '-p', String(port), '-i', `${t.dir}/stranger`, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
        '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=10', `${user}@${host}`, 'true'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    return { code: r.status, stderr: r.stderr };
  };

  const guestJoins = async (marker: string) => {
    await must(t.host, `runuser -u ${OWNER} -- tmux -S ${SOCKET} set-buffer -b t 'echo ${marker}\n' \\; paste-buffer -d -b t -t '=pair:'`);
    const term = await openTerminal(['nsenter', '-t', String(t.guest.leaderPid), '-a', 'sh', '-c', `ssh -p ${PORT} pair-todd@${t.relay.ip}`], { cols: 100, rows: 30 });
    terminals.push(term);
    await term.waitFor(marker, 20_000);
    await term.close();
  };

  it('runs OpenSSH >= 9.8, and pairctl exempts loopback on the guest-only sshd only', async () => {
    expect(await must(t.host, '/usr/sbin/sshd -V 2>&1')).toMatch(/^OpenSSH_(9\.(8|9)|1\d\.)/);
    const p = await t.cli('plan', '-f', file);
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    expect(p.stdout).toContain('+PerSourcePenaltyExemptList 127.0.0.1,::1');
    const a = await t.cli('apply', '-f', file, '--yes');
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    await waitUntil('the tunnel listens on the relay', () => reachesHost(t, PORT), 30_000);
    const listener = (await must(t.host, 'sshd -T -f /etc/pairctl/sshd_config -C user=pair-todd,host=x,addr=127.0.0.1,laddr=127.0.0.1,lport=822')).toLowerCase();
    expect(listener).toMatch(/^persourcepenaltyexemptlist 127\.0\.0\.1,::1$/m);
    expect(listener).toMatch(/^persourcepenalties crash:90 authfail:5 /m);
    // The host's own sshd keeps its penalties for everyone, loopback included: pairctl leaves it alone.
    const main = (await must(t.host, 'sshd -T -C user=root,host=x,addr=127.0.0.1')).toLowerCase();
    expect(main).toMatch(/^persourcepenaltyexemptlist none$/m);
    expect((await t.cli('plan', '-f', file, '--detailed-exitcode')).code).toBe(0);
    await must(t.guest, `echo '${await hostKeyLines(t.host, `[${t.relay.ip}]:${PORT}`)}' >> /root/.ssh/known_hosts`);
    expect((await t.cli('up', '-f', file)).code).toBe(0);
    await waitUntil('the shared shell prompt', async () => (await t.host.run(`runuser -u ${OWNER} -- tmux -S ${SOCKET} capture-pane -p -t '=pair:'`)).stdout.includes('$'), 15_000);
    await guestJoins('BEFORE-THE-STRANGER');
  });

  it("names the tunnel (via vps) in the audit entry of the guest who came through the relay; a guest on the host's network shows its own address and no via", async () => {
    // Control: the same guest key from the relay's machine straight to the host's port 22 (the
    // host's network, no tunnel), through the same join program.
    await must(t.relay, `umask 077 && mkdir -p /root/.ssh && printf '%s\n' '${await must(t.guest, 'cat /root/.ssh/id_ed25519')}' > /root/todd_key`);
    await must(t.relay, `echo '${await hostKeyLines(t.host, t.host.ip)}' >> /root/.ssh/known_hosts`);
    await must(t.host, `runuser -u ${OWNER} -- tmux -S ${SOCKET} set-buffer -b t 'echo ON-THE-LAN\n' \\; paste-buffer -d -b t -t '=pair:'`);
    const lan = await openTerminal(['nsenter', '-t', String(t.relay.leaderPid), '-a', 'sh', '-c', `ssh -i /root/todd_key -o IdentitiesOnly=yes pair-todd@${t.host.ip}`], { cols: 100, rows: 30 });
    terminals.push(lan);
    await lan.waitFor('ON-THE-LAN', 20_000);
    await lan.close();

    const fingerprint = (await must(t.guest, 'ssh-keygen -lf /root/.ssh/id_ed25519.pub')).split(' ')[1];
    expect(fingerprint).toMatch(/^SHA256:/);
    let joins: AuditLogEntry[] = [];
    let seen = '';
    await waitUntil('both joins and their leaves in the audit log', async () => {
      const r = await t.cli('log', '--json', '-f', file);
      const entries = (JSON.parse(r.stdout) as { entries: AuditLogEntry[] }).entries.filter((e) => e.guest === 'todd');
      seen = entries.map((e) => `${e.event} ${e.source} via=${e.via}`).join('; ');
      joins = entries.filter((e) => e.event === 'join');
      return joins.length === 2 && entries.filter((e) => e.event === 'leave').length === 2;
    }, 30_000, 250).catch(async (e: Error) => {
      throw new Error(`${e.message}; todd's entries: ${seen}; the host's pairctl journal:\n${(await t.host.run('journalctl --no-pager -o short-precise -t pairctl')).stdout}`);
    });
    const [relayed, onLan] = joins as [AuditLogEntry, AuditLogEntry];
    // Through the relay the host's sshd sees loopback: the entry names the tunnel it came through.
    expect(relayed).toMatchObject({ fingerprint, via: 'vps', source: '127.0.0.1', writer: 'guest' });
    expect(onLan).toMatchObject({ fingerprint, via: null, source: t.relay.ip, writer: 'guest' });
    expect(onLan.time_us).toBeGreaterThan(relayed.time_us);
    // The text log presents the relayed guest as coming through the relay, never from 127.0.0.1.
    const text = await t.cli('log', '-f', file);
    expect(text.code).toBe(0);
    const rows = text.stdout.split('\n').filter((l) => / join +todd /.test(l));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/ join +todd +mirror +vps relay +SHA256:/);
    expect(rows[1]).toMatch(new RegExp(` join +todd +mirror +${t.relay.ip.replace(/\./g, '\\.')} +SHA256:`));
    expect(text.stdout).not.toContain('127.0.0.1');
  });

  it('control: the same attack on an sshd without the exemption locks loopback out', async () => {
    // The stranger's failures from the host's loopback, on the host's own port 22.
    const attack = await must(
      t.host,
      `rm -f /root/stranger /root/stranger.pub && ssh-keygen -q -t ed25519 -N '' -f /root/stranger
for i in $(seq ${ATTEMPTS}); do ssh -F /dev/null -i /root/stranger -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 root@127.0.0.1 true 2>&1 | tail -n 1; done`,
    );
    expect(attack).toMatch(/Permission denied \(publickey/);
    // Within the attack itself, sshd starts cutting loopback off (measured: after 4 failures)...
    expect(attack).toMatch(/Connection (reset|closed) by 127\.0\.0\.1 port 22/);
    // ...and an honest connection from loopback is now cut before the handshake.
    const keyscan = await t.host.run('ssh-keyscan -T 5 -t ed25519 127.0.0.1 2>/dev/null');
    expect(keyscan.stdout).not.toContain('ssh-ed25519');
    // pairctl itself comes from the operator's address and is unaffected.
    await adminLoginWorks(t, 'host');
  });

  it("after a stranger's repeated failed logins through the relay, the guest still joins through it", async () => {
    const refused: string[] = [];
    for (let i = 0; i < ATTEMPTS; i++) {
      for (const user of ['root', OWNER, 'pair-todd']) {
        const r = strangerLogin(user, t.relay.ip, PORT);
        expect(r.code).toBe(255);
        refused.push(r.stderr.trim().split('\n').pop() ?? '');
      }
    }
    // Every attempt reached the guest-only sshd and was refused there (not cut off before it).
    expect(refused.filter((l) => /Permission denied \(publickey\)/.test(l))).toHaveLength(ATTEMPTS * 3);
    const journal = () => must(t.host, 'journalctl --no-pager -o cat -u pairctl-sshd.service');
    await waitUntil('the guest-only sshd logged the refusals', async () => (await journal()).includes("User root from 127.0.0.1 not allowed because none of user's groups are listed in AllowGroups"), 15_000, 250);
    expect(await journal()).not.toMatch(/penalty/i);
    // Right after the attack: the host key still answers through the relay, and the guest joins.
    expect(await reachesHost(t, PORT)).toBe(true);
    await guestJoins('AFTER-THE-STRANGER');
    await adminLoginWorks(t, 'relay');
  });
});
