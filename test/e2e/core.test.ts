/**
 * Issue 2, proven end to end on a real Debian machine (systemd, sshd, tmux) booted for the test:
 * pairctl applies over ssh from outside, and guests join with the real ssh client from this
 * machine, as a person would.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTerminal, type GuestTerminal } from '../machines/guest-terminal.js';
import { labUnavailableReason, startLab, type Lab, type LabMachine } from '../machines/lab.js';
import { pairctl } from '../machines/pairctl-cli.js';
import { addGuestKeys, writeGuestSshConfig } from '../machines/guest-keys.js';

const unavailable = labUnavailableReason();
const SOCKET = '/run/pairctl/pair/tmux.sock';
const OWNER = 'bhorseman';

interface GuestDef {
  mode: 'mirror' | 'pair' | 'rogue';
  expires?: string;
  from?: string[];
}

describe.skipIf(unavailable)('pairctl core on a real host', () => {
  let lab: Lab;
  let host: LabMachine;
  let dir: string;
  let guestConfig: string;
  const keys: Record<string, string> = {};
  const terminals: GuestTerminal[] = [];

  const guests: Record<string, GuestDef> = {
    todd: { mode: 'mirror', from: ['10.213.5.0/24'], expires: '2099-01-01T00:00:00Z' },
    ann: { mode: 'pair' },
    rita: { mode: 'rogue' },
    old: { mode: 'pair', expires: '2020-01-01T00:00:00Z' },
    far: { mode: 'pair', from: ['192.0.2.0/24'] },
  };

  function writeConfig(names: string[]): string {
    const lines = [
      '# yaml-language-server: $schema=../../schemas/pair.schema.json',
      'version: 1',
      'hosts:',
      '  box:',
      '    platform: linux',
      '    ssh: host',
      `    owner: ${OWNER}`,
      '    tunnel: { provider: lan }',
      'guests:',
    ];
    for (const n of names) {
      const g = guests[n]!;
      lines.push(`  ${n}:`, `    keys: [${JSON.stringify(keys[n])}]`, `    mode: ${g.mode}`);
      if (g.expires) lines.push(`    expires: ${g.expires}`);
      if (g.from) lines.push(`    from: ${JSON.stringify(g.from)}`);
    }
    lines.push('session:', '  name: pair', '  modes: [mirror, pair, rogue]', '  default_mode: mirror', '');
    const file = join(dir, 'pair.yaml');
    writeFileSync(file, lines.join('\n'));
    return file;
  }

  const cli = (...args: string[]) => pairctl([...args, '-F', lab.sshConfigFile]);

  /**
   * The address of the next attack: refused logins come from the attacker's addresses, one
   * after another, so sshd's per-source penalties (OpenSSH >= 9.8) never cut an honest guest
   * or pairctl, and no attacker address is refused before its own reason can be checked.
   */
  let attacks = 0;
  const attacker = (): string => lab.sourceIp('attacker', attacks++);

  /** ssh as a guest trying what it must not, no terminal, from an attacker address; returns exit status and output. */
  function guestSsh(account: string, key: string, extra: string[] = [], command?: string) {
    const r = spawnSync(
      'ssh',
      ['-F', guestConfig, '-b', attacker(), '-i', key, '-o', 'BatchMode=yes', ...extra, '-l', account, 'pairhost', ...(command ? [command] : [])],
      { encoding: 'utf8', timeout: 20_000, input: '' },
    );
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  async function joinAs(guest: string, extra: string[] = [], command?: string): Promise<GuestTerminal> {
    const t = await openTerminal(
      ['ssh', '-F', guestConfig, '-i', keys[`${guest}_key`]!, '-tt', ...extra, '-l', `pair-${guest}`, 'pairhost', ...(command ? [command] : [])],
      { cols: 100, rows: 30 },
    );
    terminals.push(t);
    return t;
  }

  const asOwner = (tmuxArgs: string) => host.run(`runuser -u ${OWNER} -- tmux -S ${SOCKET} ${tmuxArgs}`);
  const hostPane = async () => (await asOwner("capture-pane -p -t '=pair:'")).stdout;

  beforeAll(async () => {
    lab = await startLab({ machines: ['host'] });
    host = lab.machine('host');
    dir = join(lab.dir, 'core');
    mkdirSync(dir, { recursive: true });
    addGuestKeys(keys, dir, [...Object.keys(guests), 'stranger', 'neo']);
    // honest guests connect from the lab's guest address; attacks come from another one
    guestConfig = writeGuestSshConfig(lab, dir, host.ip, { connectTimeout: 10 });
    const made = await host.run(`useradd -m -s /bin/bash ${OWNER} && echo ok`);
    expect(made.stdout).toContain('ok');
  }, 180_000);

  afterAll(async () => {
    for (const t of terminals) await t.close();
    await lab?.stop();
  });

  it('validates, then plans every resource without changing anything', async () => {
    const file = writeConfig(Object.keys(guests));
    const v = await pairctl(['validate', '-f', file]);
    expect(v.code).toBe(0);
    expect(v.stderr).toMatch(/expires-past/);

    const before = await host.run('getent passwd pair-todd; ls /etc/ssh/sshd_config.d/');
    const p = await cli('plan', '-f', file);
    expect(p.stderr).not.toMatch(/error/i);
    expect(p.code).toBe(0);
    expect(p.stdout).toContain('+ account "pair-todd"');
    expect(p.stdout).toContain('+ sshd_dropin "/etc/ssh/sshd_config.d/00-pairctl.conf"');
    expect(p.stdout).toMatch(/\+restrict,pty,command="\/usr\/local\/libexec\/pairctl\/join",expiry-time="209901010000Z",from="10\.213\.5\.0\/24" ssh-ed25519 /);
    // No blanket tmux-age warning: pairctl's lockdown holds on every tmux from 3.3.
    expect(p.stdout).not.toMatch(/older than 3\.7/);
    expect(p.stdout).toMatch(/Plan: \d+ to add, 0 to change, 0 to destroy\./);
    expect((await host.run('getent passwd pair-todd; ls /etc/ssh/sshd_config.d/')).stdout).toBe(before.stdout);
  });

  it('refuses to apply without --yes when there is no terminal', async () => {
    const r = await cli('apply', '-f', join(dir, 'pair.yaml'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--yes/);
    expect((await host.run('getent passwd pair-todd')).code).not.toBe(0);
  });

  it('applies, and sshd then gives guests exactly the lockdown', async () => {
    const r = await cli('apply', '-f', join(dir, 'pair.yaml'), '--yes');
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Apply complete! Resources: \d+ added, 0 changed, 0 destroyed\./);
    // OpenSSH >= 10.4 prints the keywords in mixed case: compare them lower-cased.
    const eff = await host.run("sshd -T -C user=pair-todd,host=x,addr=10.213.5.1 | awk '{ $1 = tolower($1); print }'");
    for (const line of ['passwordauthentication no', 'kbdinteractiveauthentication no', 'allowtcpforwarding no', 'allowagentforwarding no', 'x11forwarding no', 'disableforwarding yes', 'permittunnel no', 'forcecommand /usr/local/libexec/pairctl/join']) {
      expect(eff.stdout).toContain(line);
    }
    const acct = await host.run("getent passwd pair-todd | cut -d: -f7; getent shadow pair-todd | cut -d: -f2; id -nG pair-todd; stat -c '%U %a' /home/pair-todd /home/pair-todd/.ssh /home/pair-todd/.ssh/authorized_keys");
    expect(acct.stdout).toBe('/bin/sh\n*\npair-todd pairctl\nroot 755\nroot 755\nroot 644\n');
    // The operator's own login keeps working after sshd was reloaded.
    expect(spawnSync('ssh', ['-F', lab.sshConfigFile, '-o', 'BatchMode=yes', 'host', 'true']).status).toBe(0);
  });

  it('plans no changes after apply, and a second apply changes nothing', async () => {
    const p = await cli('plan', '-f', join(dir, 'pair.yaml'), '--detailed-exitcode');
    expect(p.stdout).toContain('No changes.');
    expect(p.code).toBe(0);
    const a = await cli('apply', '-f', join(dir, 'pair.yaml'), '--yes');
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('No changes.');
    expect(a.stdout).not.toContain('applying');
  });

  it('tells a guest when no session is running (tmux exits 0 on refusal; the join program does not)', async () => {
    const t = await joinAs('todd');
    await t.waitFor('no pairing session is running');
    expect(await t.waitExit(10_000)).toBe(1);
  });

  it('prints the exact command a guest runs', async () => {
    const r = await cli('join', 'todd', '-f', join(dir, 'pair.yaml'));
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(`ssh pair-todd@${host.ip}`);
    // then the host's keys, read from it, as known_hosts lines (test/e2e/join-host-keys.test.ts)
    expect(r.stdout).toContain(`\n${host.ip} ssh-ed25519 AAAA`);
  });

  it('starts the shared session as the owner with a dedicated server', async () => {
    const r = await cli('up', '-f', join(dir, 'pair.yaml'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('session started');
    const who = await host.run(`stat -c '%U:%G %a' ${SOCKET}; ps -eo user:20=,args= | grep '[t]mux -S ${SOCKET}'`);
    expect(who.stdout).toMatch(new RegExp(`^${OWNER}:pairctl 660\\n${OWNER} +tmux -S ${SOCKET} -f /etc/pairctl/tmux.conf new-session`));
    const acl = await asOwner('server-access -l');
    expect(acl.stdout).toContain('pair-todd (R)');
    expect(acl.stdout).toContain('pair-ann (W)');
    expect(acl.stdout).toContain('pair-rita (W)');
    // Type only once the owner's shell has drawn its prompt.
    for (let i = 0; i < 100 && !(await hostPane()).includes('$'); i++) await new Promise((r) => setTimeout(r, 100));
    await asOwner("set-buffer -b t 'echo HELLO-FROM-HOST\n' \\; paste-buffer -d -b t -t '=pair:'");
    for (let i = 0; i < 50 && !(await hostPane()).includes('\nHELLO-FROM-HOST'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await hostPane()).toContain('\nHELLO-FROM-HOST');
  });

  it('mirror: the guest sees what the host prints, and its keystrokes never reach the pane', async () => {
    const t = await joinAs('todd');
    await t.waitFor('HELLO-FROM-HOST');
    await t.type('echo MIRROR-TYPED\n');
    // tmux 3.7 refuses send-keys when its target client (the most recently active one: here the
    // mirror guest who just typed) is read-only; paste-buffer types into the pane without one.
    await asOwner("set-buffer -b t 'echo AFTER-MIRROR\n' \\; paste-buffer -d -b t -t '=pair:'");
    await t.waitFor('AFTER-MIRROR');
    expect(await hostPane()).not.toContain('MIRROR-TYPED');
    // tmux's ACL holds too, not only attach -r: the client is read-only server-side.
    const clients = await asOwner("list-clients -F '#{client_user} #{client_readonly}'");
    expect(clients.stdout).toContain('pair-todd 1');
  });

  it('pair: the guest types into the shared pane', async () => {
    const t = await joinAs('ann');
    await t.waitFor('HELLO-FROM-HOST');
    await t.type('echo PAIR-$((6*7))\n');
    await t.waitFor('PAIR-42');
    expect(await hostPane()).toContain('PAIR-42');
  });

  it('rogue: the guest has its own window focus in the same windows', async () => {
    await asOwner("new-window -d -t '=pair:' 'echo SECOND-WINDOW; sleep 3600'");
    const t = await joinAs('rita');
    await t.waitFor('HELLO-FROM-HOST');
    await t.sendKeys('C-b', 'n');
    await t.waitFor('SECOND-WINDOW');
    const focus = await asOwner("list-sessions -F '#{session_name} #{window_index} #{session_group}'");
    expect(focus.stdout).toMatch(/^pair 0 pair$/m);
    expect(focus.stdout).toMatch(/^pair-pair-rita 1 pair$/m);
  });

  it("refuses the owner's other tmux sessions (C-b ( ) L s w)", async () => {
    await host.run(`runuser -u ${OWNER} -- tmux new-session -d -s secret 'echo SECRET-SESSION; sleep 3600'`);
    for (const guest of ['todd', 'ann']) {
      const t = await joinAs(guest);
      await t.waitFor('[pair]');
      for (const k of ['(', ')', 'L', 's', 'w']) await t.sendKeys('C-b', k);
      await new Promise((r) => setTimeout(r, 800));
      const screen = await t.screen();
      expect(screen).not.toContain('SECRET-SESSION');
      expect(screen).not.toContain('secret');
      await t.close();
    }
    const attached = await host.run(`runuser -u ${OWNER} -- tmux list-clients`);
    expect(attached.stdout).toBe('');
  });

  it('refuses running a command, bash --noprofile, sftp and scp', () => {
    const key = keys.ann_key!;
    const cmd = guestSsh('pair-ann', key, [], 'id');
    expect(cmd.code).not.toBe(0);
    expect(cmd.stdout).not.toMatch(/uid=/);
    expect(cmd.stderr).toMatch(/needs a terminal/);
    const bash = guestSsh('pair-ann', key, ['-T'], 'bash --noprofile -c id');
    expect(bash.code).not.toBe(0);
    expect(bash.stdout).not.toMatch(/uid=/);
    const sftp = spawnSync('sftp', ['-F', guestConfig, '-o', `BindAddress=${attacker()}`, '-i', key, '-b', '-', 'pair-ann@pairhost'], { input: 'ls /\n', encoding: 'utf8', timeout: 20_000 });
    expect(sftp.status).not.toBe(0);
    expect(sftp.stdout).not.toContain('etc');
    const local = join(dir, 'payload.txt');
    writeFileSync(local, 'x');
    for (const mode of [['-O'], []]) {
      const scp = spawnSync('scp', ['-F', guestConfig, '-o', `BindAddress=${attacker()}`, '-i', key, ...mode, local, 'pair-ann@pairhost:/tmp/payload.txt'], { encoding: 'utf8', timeout: 20_000 });
      expect(scp.status).not.toBe(0);
    }
  });

  it('checks nothing was copied by scp', async () => {
    expect((await host.run('ls /tmp/payload.txt')).code).not.toBe(0);
  });

  it('refuses -L, -D, -R and -W forwarding', async () => {
    const key = keys.ann_key!;
    const w = guestSsh('pair-ann', key, ['-W', '127.0.0.1:22']);
    expect(w.code).not.toBe(0);
    expect(w.stdout).not.toContain('SSH-2.0');
    expect(w.stderr).toMatch(/administratively prohibited|open failed/);
    const r = guestSsh('pair-ann', key, ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', '127.0.0.1:40022:127.0.0.1:22']);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/remote port forwarding failed/);
    expect(await throughLocalForward(key, ['-L', '127.0.0.1:40122:127.0.0.1:22'], 40122, false)).not.toContain('SSH-2.0');
    expect(await throughLocalForward(key, ['-D', '127.0.0.1:40123'], 40123, true)).not.toContain('SSH-2.0');
  });

  /** Opens a -L or -D forward and tries to reach the host's sshd through it; returns what came back. */
  async function throughLocalForward(key: string, forward: string[], port: number, socks: boolean): Promise<string> {
    const child = spawn('ssh', ['-F', guestConfig, '-b', attacker(), '-i', key, '-o', 'BatchMode=yes', '-N', ...forward, '-l', 'pair-ann', 'pairhost'], { stdio: 'ignore' });
    try {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const got = await new Promise<string | null>((resolve) => {
          const s = net.connect(port, '127.0.0.1');
          let data = '';
          s.on('connect', () => {
            if (socks) s.write(Buffer.from([5, 1, 0]));
            setTimeout(() => s.destroy(), 2000);
          });
          s.on('data', (d) => {
            if (socks && d.length === 2 && d[0] === 5) {
              s.write(Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, 0, 22]));
              return;
            }
            data += d.toString('latin1');
          });
          s.on('error', () => resolve(null));
          s.on('close', () => resolve(data));
        });
        if (got !== null) return got;
        if (Date.now() > deadline) throw new Error(`forward on ${port} never listened`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      child.kill('SIGTERM');
    }
  }

  it('refuses agent forwarding', async () => {
    const agentSock = join(dir, 'agent.sock');
    const agent = spawnSync('ssh-agent', ['-a', agentSock], { encoding: 'utf8' });
    const agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(agent.stdout)?.[1]);
    try {
      spawnSync('ssh-add', [keys.ann_key!], { env: { ...process.env, SSH_AUTH_SOCK: agentSock } });
      const t = await openTerminal(['ssh', '-F', guestConfig, '-b', attacker(), '-i', keys.ann_key!, '-A', '-tt', '-l', 'pair-ann', 'pairhost'], { env: { SSH_AUTH_SOCK: agentSock } });
      terminals.push(t);
      await t.waitFor('[pair]');
      const sockets = await host.run("find /tmp -name 'agent.*' -user pair-ann 2>/dev/null; ls -d /tmp/ssh-* 2>/dev/null || true");
      expect(sockets.stdout.trim()).toBe('');
      await t.close();
    } finally {
      if (agentPid) process.kill(agentPid, 'SIGTERM');
    }
  });

  it('refuses password login, an expired key, a key from outside `from`, and an unlisted key', () => {
    const pw = guestSsh('pair-ann', keys.ann_key!, ['-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=password,keyboard-interactive']);
    expect(pw.code).toBe(255);
    expect(pw.stderr).toMatch(/Permission denied \(publickey\)/);
    for (const [account, key] of [
      ['pair-old', keys.old_key!],
      ['pair-far', keys.far_key!],
      ['pair-ann', keys.stranger_key!],
      ['pair-todd', keys.ann_key!],
    ] as const) {
      const r = guestSsh(account, key, ['-tt']);
      expect(r.code, `${account} with ${key}`).toBe(255);
      expect(r.stderr).toMatch(/Permission denied/);
    }
  });

  it('lets a guest added while the session runs in after apply (the ACL follows pair.yaml)', async () => {
    guests.neo = { mode: 'mirror' };
    const file = writeConfig(['todd', 'ann', 'rita', 'neo']);
    const p = await cli('plan', '-f', file);
    expect(p.stdout).toContain('~ session_access');
    expect(p.stdout).toContain('- account "pair-old"');
    const a = await cli('apply', '-f', file, '--yes');
    expect(a.code).toBe(0);
    const t = await joinAs('neo');
    await t.waitFor('HELLO-FROM-HOST');
  });

  it('removes a guest from pair.yaml: refused after apply (even while connected), the others still join', async () => {
    const connected = await joinAs('ann');
    await connected.waitFor('[pair]');
    const file = writeConfig(['todd', 'rita', 'neo']);
    const p = await cli('plan', '-f', file);
    expect(p.stdout).toContain('- account "pair-ann"');
    expect(p.stdout).toContain('- file "/home/pair-ann/.ssh/authorized_keys"');
    const a = await cli('apply', '-f', file, '--yes');
    expect(a.stderr).not.toMatch(/error/i);
    expect(a.code).toBe(0);
    await connected.waitExit(15_000);
    expect((await host.run('getent passwd pair-ann; ls /home/pair-ann')).stdout).toBe('');
    const gone = guestSsh('pair-ann', keys.ann_key!, ['-tt']);
    expect(gone.code).toBe(255);
    expect(gone.stderr).toMatch(/Permission denied/);
    const still = await joinAs('todd');
    await still.waitFor('HELLO-FROM-HOST');
    expect((await cli('plan', '-f', file)).stdout).toContain('No changes.');
  });

  it('restores the previous sshd drop-in and never reloads when sshd -t fails; the operator still logs in', async () => {
    const file = join(dir, 'pair.yaml');
    // The drop-in was edited by hand (drift), and another drop-in is broken: sshd -t fails.
    await host.run(
      "sed -i 's/X11Forwarding no/X11Forwarding yes/' /etc/ssh/sshd_config.d/00-pairctl.conf && echo 'NoSuchKeyword yes' > /etc/ssh/sshd_config.d/50-broken.conf",
    );
    const state = async () =>
      (await host.run("cat /etc/ssh/sshd_config.d/00-pairctl.conf; ls -a /etc/ssh/sshd_config.d; journalctl -u ssh --no-pager | grep -c 'Received SIGHUP' || true")).stdout;
    const before = await state();
    const plan = await cli('plan', '-f', file);
    expect(plan.stdout).toContain('~ sshd_dropin "/etc/ssh/sshd_config.d/00-pairctl.conf"');
    expect(plan.stdout).toContain('-    X11Forwarding yes');
    const a = await cli('apply', '-f', file, '--yes');
    expect(a.code).toBe(1);
    expect(a.stdout).toMatch(/sshd -t rejected the new configuration, previous files restored, sshd not reloaded/);
    expect(a.stdout).toContain('NoSuchKeyword');
    expect(a.stderr).toContain('apply stopped at sshd_dropin["/etc/ssh/sshd_config.d/00-pairctl.conf"]');
    expect(await state()).toBe(before);
    expect(spawnSync('ssh', ['-F', lab.sshConfigFile, '-o', 'BatchMode=yes', 'host', 'true']).status).toBe(0);

    await host.run('rm /etc/ssh/sshd_config.d/50-broken.conf');
    const fixed = await cli('apply', '-f', file, '--yes');
    expect(fixed.code).toBe(0);
    expect((await host.run('sshd -T -C user=pair-todd,host=x,addr=10.213.5.1 | grep -i ^x11forwarding')).stdout.toLowerCase()).toBe('x11forwarding no\n');
    expect((await cli('plan', '-f', file)).stdout).toContain('No changes.');
    expect(spawnSync('ssh', ['-F', lab.sshConfigFile, '-o', 'BatchMode=yes', 'host', 'true']).status).toBe(0);
  });

  it('ends the session with down', async () => {
    const r = await cli('down', '-f', join(dir, 'pair.yaml'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('session ended');
    expect((await host.run(`test -e ${SOCKET}`)).code).not.toBe(0);
  });
});
