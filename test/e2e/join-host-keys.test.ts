/**
 * `pairctl join` pins the host's keys, on a real host, with the real ssh client: the known_hosts
 * lines it prints, alone in a fresh known_hosts file, let `ssh -o StrictHostKeyChecking=yes` into
 * the session (positive control), while a wrong line, or none, is refused before any login.
 * Through a jump relay, the guest's ssh checks two machines: the relay (the -J hop) by its
 * address, the host by its HostKeyAlias; the printed lines pin both, each read in one exec.
 * Also here because it needs a real host: a `pairctl` group that already holds an account pairctl
 * did not make stops the plan, naming it, and freeing the group lets the same plan through.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTerminal, type GuestTerminal } from '../machines/guest-terminal.js';
import { labUnavailableReason, startLab, type Lab, type LabMachine } from '../machines/lab.js';
import { pairctl } from '../machines/pairctl-cli.js';
import { execsSince, hostKeyLines, must, now, reachesHost, startTunnelLab, waitUntil, type TunnelLab } from './tunnel-lab.js';

const unavailable = labUnavailableReason();
const OWNER = 'bhorseman';
const SOCKET = '/run/pairctl/pair/tmux.sock';

describe.skipIf(unavailable)('pairctl join pins the host keys a guest will see', () => {
  let lab: Lab;
  let host: LabMachine;
  let dir: string;
  let file: string;
  let guestKey: string;
  const terminals: GuestTerminal[] = [];

  const cli = (...args: string[]) => pairctl([...args, '-F', lab.sshConfigFile]);

  /** The real ssh client as the guest, with nothing but `knownHosts` to check the host key by. */
  function guestSsh(knownHosts: string, tty: boolean): string[] {
    return [
      'ssh', '-F', '/dev/null', '-i', guestKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'ConnectTimeout=20', ...(tty ? ['-tt'] : []), `pair-todd@${host.ip}`,
    ];
  }

  beforeAll(async () => {
    lab = await startLab({ machines: ['host'] });
    host = lab.machine('host');
    dir = join(lab.dir, 'join-keys');
    mkdirSync(dir, { recursive: true });
    guestKey = join(dir, 'todd_ed25519');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'todd@guest', '-f', guestKey]);
    const pub = readFileSync(`${guestKey}.pub`, 'utf8').trim();
    file = join(dir, 'pair.yaml');
    writeFileSync(file, `version: 1\nhosts:\n  box: { platform: linux, ssh: host, owner: ${OWNER} }\nguests:\n  todd:\n    keys: ["${pub}"]\n    mode: mirror\n`);
    const made = await host.run(`useradd -m -s /bin/bash ${OWNER} && echo ok`);
    expect(made.stdout).toContain('ok');
  }, 180_000);

  afterAll(async () => {
    for (const t of terminals) await t.close();
    await lab?.stop();
  });

  it('refuses a pairctl group holding an account pairctl did not make, naming it; once freed, plans', async () => {
    await host.run('groupadd --system pairctl && useradd -M -s /usr/sbin/nologin -G pairctl bob');
    const refused = await cli('plan', '-f', file);
    expect(refused.code).toBe(1);
    const said = refused.stdout + refused.stderr;
    expect(said).toContain('group pairctl already exists with a member pairctl did not make: bob.');
    expect(said).toContain('gpasswd -d bob pairctl');
    expect((await host.run('getent passwd pair-todd')).code).not.toBe(0);
    // positive control: the same plan once bob is out
    await host.run('gpasswd -d bob pairctl');
    const fine = await cli('plan', '-f', file);
    expect(fine.stdout + fine.stderr).not.toContain('did not make');
    expect(fine.code).toBe(0);
  });

  it('prints the fingerprints ssh-keygen -l gives and a known_hosts line per key for the address guests use', async () => {
    expect((await cli('apply', '-f', file, '--yes')).code).toBe(0);
    const j = await cli('join', 'todd', '-f', file);
    expect(j.stderr).not.toContain('Error');
    expect(j.code).toBe(0);
    expect(j.stdout.split('\n')[0]).toBe(`ssh pair-todd@${host.ip}`);
    // The host's real keys, as ssh-keygen reads them there.
    const onHost = await host.run('for f in /etc/ssh/ssh_host_*_key.pub; do ssh-keygen -l -f "$f"; done');
    const fingerprints = onHost.stdout.trim().split('\n').map((l) => l.split(' ')[1]!);
    expect(fingerprints.length).toBeGreaterThanOrEqual(2);
    for (const fp of fingerprints) expect(j.stdout).toContain(` ${fp} (`);
    const lines = j.stdout.split('\n').filter((l) => l.startsWith(`${host.ip} `));
    expect(lines).toHaveLength(fingerprints.length);
    writeFileSync(join(dir, 'known_hosts'), `${lines.join('\n')}\n`);
  });

  it('with only those lines the real ssh, StrictHostKeyChecking=yes, joins the session', async () => {
    expect((await cli('up', '-f', file)).code).toBe(0);
    const asOwner = (a: string) => host.run(`runuser -u ${OWNER} -- tmux -S ${SOCKET} ${a}`);
    await waitUntil('the shared shell prompt', async () => (await asOwner("capture-pane -p -t '=pair:'")).stdout.includes('$'), 15_000);
    await asOwner("set-buffer -b t 'echo PINNED-HOST-KEY-OK\n' \\; paste-buffer -d -b t -t '=pair:'");
    const t = await openTerminal(guestSsh(join(dir, 'known_hosts'), true), { cols: 100, rows: 30 });
    terminals.push(t);
    await t.waitFor('PINNED-HOST-KEY-OK', 20_000);
  });

  it('a wrong known_hosts line (another key under the same name), or none, is refused before any login', async () => {
    const other = join(dir, 'other_host_key');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const [type, blob] = readFileSync(`${other}.pub`, 'utf8').trim().split(' ');
    writeFileSync(join(dir, 'wrong_known_hosts'), `${host.ip} ${type} ${blob}\n`);
    const wrong = spawnSync('ssh', guestSsh(join(dir, 'wrong_known_hosts'), false).slice(1), { encoding: 'utf8', timeout: 60_000, input: '' });
    expect(wrong.status).toBe(255);
    expect(wrong.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    writeFileSync(join(dir, 'empty_known_hosts'), '');
    const none = spawnSync('ssh', guestSsh(join(dir, 'empty_known_hosts'), false).slice(1), { encoding: 'utf8', timeout: 60_000, input: '' });
    expect(none.status).toBe(255);
    expect(none.stderr).toContain('Host key verification failed');
    // positive control in the same run, same account, no terminal: past the host key and the login,
    // to the join program itself (which wants a terminal)
    const right = spawnSync('ssh', guestSsh(join(dir, 'known_hosts'), false).slice(1), { encoding: 'utf8', timeout: 60_000, input: '' });
    expect(right.stderr).toContain('pairctl: joining needs a terminal');
    expect(right.status).toBe(1);
  });
});

describe.skipIf(unavailable)('pairctl join pins the relay and the host for a jump tunnel', () => {
  let t: TunnelLab;
  let file: string;
  const terminals: GuestTerminal[] = [];
  const PORT = 2222;
  let command = '';
  let pinned: string[] = [];

  beforeAll(async () => {
    t = await startTunnelLab('join-jump');
    file = t.writeConfig(['tunnel: { provider: jump, relay: relay, port: 2222 }']);
    expect((await t.cli('apply', '-f', file, '--yes')).code).toBe(0);
    await waitUntil('the tunnel is up on the relay loopback', () => reachesHost(t, PORT, '127.0.0.1', t.relay), 60_000);
    // The guest's ssh, and the ssh ProxyJump starts for the hop, know only the file written below.
    await must(t.guest, "printf '%s\\n' 'Host *' '  StrictHostKeyChecking yes' '  UserKnownHostsFile /root/pinned_known_hosts' '  GlobalKnownHostsFile /dev/null' '  ConnectTimeout 20' > /root/.ssh/config");
  }, 240_000);

  afterAll(async () => {
    for (const term of terminals) await term.close();
    await t?.lab.stop();
  });

  const inGuest = async (cmd: string): Promise<GuestTerminal> => {
    const term = await openTerminal(['nsenter', '-t', String(t.guest.leaderPid), '-a', 'sh', '-c', cmd], { cols: 100, rows: 30 });
    terminals.push(term);
    return term;
  };

  it('prints a known_hosts line per key for the relay by its address and for the host by its alias, one exec each', async () => {
    const since = { host: await now(t.host), relay: await now(t.relay) };
    const j = await t.cli('join', 'todd', '-f', file);
    expect(j.stderr).not.toContain('Error');
    expect(j.code).toBe(0);
    expect(await execsSince(t.host, since.host)).toEqual({ connections: 1, execs: 1 });
    expect(await execsSince(t.relay, since.relay)).toEqual({ connections: 1, execs: 1 });
    command = j.stdout.split('\n')[0]!;
    expect(command).toBe(`ssh -J pair-todd@${t.relay.ip} -p ${PORT} -o HostKeyAlias=pairctl-box pair-todd@127.0.0.1`);
    pinned = j.stdout.split('\n').filter((l) => /^\S+ (ssh-|ecdsa-)\S+ AAAA/.test(l));
    // exactly the machines' own keys, under the names ssh looks up
    const expected = [...(await hostKeyLines(t.relay, t.relay.ip)).split('\n'), ...(await hostKeyLines(t.host, 'pairctl-box')).split('\n')];
    expect([...pinned].sort()).toEqual(expected.sort());
  });

  it('with only those lines the printed command joins through the relay; a wrong line for either machine is refused', async () => {
    const asOwner = (a: string) => t.host.run(`runuser -u ${OWNER} -- tmux -S ${SOCKET} ${a}`);
    expect((await t.cli('up', '-f', file)).code).toBe(0);
    await waitUntil('the shared shell prompt', async () => (await asOwner("capture-pane -p -t '=pair:'")).stdout.includes('$'), 15_000);
    await asOwner("set-buffer -b t 'echo PINNED-THROUGH-THE-JUMP\n' \\; paste-buffer -d -b t -t '=pair:'");
    const write = (lines: string[]) => must(t.guest, `printf '%s\\n' ${lines.map((l) => `'${l}'`).join(' ')} > /root/pinned_known_hosts`);
    await write(pinned);
    const term = await inGuest(command);
    await term.waitFor('PINNED-THROUGH-THE-JUMP', 30_000);
    await term.close();

    const fake = (await must(t.guest, "rm -f /tmp/fake /tmp/fake.pub; ssh-keygen -q -t ed25519 -N '' -f /tmp/fake && cut -d' ' -f1,2 /tmp/fake.pub")).trim();
    const batch = command.replace(/^ssh /, 'ssh -o BatchMode=yes ');
    for (const [what, lines] of [
      ['the host under its alias', [...pinned.filter((l) => !l.startsWith('pairctl-box ')), `pairctl-box ${fake}`]],
      ['the relay', [...pinned.filter((l) => !l.startsWith(`${t.relay.ip} `)), `${t.relay.ip} ${fake}`]],
    ] as const) {
      await write([...lines]);
      const r = await t.guest.run(`${batch} true < /dev/null`);
      expect(r.code, what).toBe(255);
      expect(r.stderr, what).toMatch(/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
    }
    // positive control, same account, same way, right after: the pinned lines still get in
    await write(pinned);
    const ok = await t.guest.run(`${batch} < /dev/null`);
    expect(ok.stderr).toContain('pairctl: joining needs a terminal');
  });
});

describe.skipIf(unavailable)('pairctl join pins the host behind a vps relay port', () => {
  let t: TunnelLab;
  let file: string;
  const terminals: GuestTerminal[] = [];
  const PORT = 2222;

  beforeAll(async () => {
    t = await startTunnelLab('join-vps');
    file = t.writeConfig(['tunnel: { provider: vps, relay: relay, port: 2222 }']);
    expect((await t.cli('apply', '-f', file, '--yes')).code).toBe(0);
    await waitUntil('the tunnel is up on the relay', () => reachesHost(t, PORT), 60_000);
    await must(t.guest, "printf '%s\\n' 'Host *' '  StrictHostKeyChecking yes' '  UserKnownHostsFile /root/pinned_known_hosts' '  GlobalKnownHostsFile /dev/null' '  ConnectTimeout 20' > /root/.ssh/config");
  }, 240_000);

  afterAll(async () => {
    for (const term of terminals) await term.close();
    await t?.lab.stop();
  });

  it("prints the host's keys under [relay]:port, and with only them the printed command joins; a wrong line is refused", async () => {
    const j = await t.cli('join', 'todd', '-f', file);
    expect(j.stderr).not.toContain('Error');
    expect(j.code).toBe(0);
    const command = j.stdout.split('\n')[0]!;
    expect(command).toBe(`ssh -p ${PORT} pair-todd@${t.relay.ip}`);
    const pinned = j.stdout.split('\n').filter((l) => /^\S+ (ssh-|ecdsa-)\S+ AAAA/.test(l));
    // the relay only forwards: what answers on its port is the host's sshd, with the host's keys
    expect([...pinned].sort()).toEqual((await hostKeyLines(t.host, `[${t.relay.ip}]:${PORT}`)).split('\n').sort());
    const write = (lines: string[]) => must(t.guest, `printf '%s\\n' ${lines.map((l) => `'${l}'`).join(' ')} > /root/pinned_known_hosts`);

    const asOwner = (a: string) => t.host.run(`runuser -u ${OWNER} -- tmux -S ${SOCKET} ${a}`);
    expect((await t.cli('up', '-f', file)).code).toBe(0);
    await waitUntil('the shared shell prompt', async () => (await asOwner("capture-pane -p -t '=pair:'")).stdout.includes('$'), 15_000);
    await asOwner("set-buffer -b t 'echo PINNED-THROUGH-THE-RELAY\n' \\; paste-buffer -d -b t -t '=pair:'");
    await write(pinned);
    const term = await openTerminal(['nsenter', '-t', String(t.guest.leaderPid), '-a', 'sh', '-c', command], { cols: 100, rows: 30 });
    terminals.push(term);
    await term.waitFor('PINNED-THROUGH-THE-RELAY', 30_000);

    // attack: the relay's own key under that name (what a relay answering itself would show) is refused
    await write((await hostKeyLines(t.relay, `[${t.relay.ip}]:${PORT}`)).split('\n'));
    const batch = command.replace(/^ssh /, 'ssh -o BatchMode=yes ');
    const wrong = await t.guest.run(`${batch} true < /dev/null`);
    expect(wrong.code).toBe(255);
    expect(wrong.stderr).toMatch(/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
    // positive control right after, same account and way
    await write(pinned);
    expect((await t.guest.run(`${batch} < /dev/null`)).stderr).toContain('pairctl: joining needs a terminal');
  });
});
