/**
 * Issue 3, jump, proven end to end: the host tunnels to the relay's loopback only (no public
 * port), and the guest — who cannot reach the host — comes through with `ssh -J`, using a relay
 * account that may open only that port. One pair.yaml provisions both ends in one plan.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTerminal, type GuestTerminal } from '../machines/guest-terminal.js';
import { labUnavailableReason } from '../machines/lab.js';
import {
  OWNER,
  SOCKET,
  adminLoginWorks,
  execsSince,
  hostKeyLines,
  must,
  now,
  reachesHost,
  startTunnelLab,
  waitUntil,
  type TunnelLab,
} from './tunnel-lab.js';

const unavailable = labUnavailableReason();
/** What sshd -T must print for every account pairctl makes (keywords lower-cased: 10.4+ mixes case). */
const PINNED = [
  'acceptenv pairctl-accepts-no-environment',
  'permituserenvironment no',
  'authorizedkeysfile .ssh/authorized_keys',
  'authorizedkeyscommand none',
  'authorizedprincipalscommand none',
  'authorizedprincipalsfile none',
  'trustedusercakeys none',
];
const PORT = 2222;

describe.skipIf(unavailable)('jump tunnel through a relay', () => {
  let t: TunnelLab;
  let file: string;
  const terminals: GuestTerminal[] = [];
  const jumpLines = ['tunnel: { provider: jump, relay: relay, port: 2222 }', 'forwards:', '  - { name: web, local: 3000, remote: 8080 }'];
  // The guest may come only from the lab's network: the relay, where it arrives, checks it.
  const guestLines = ['from: ["10.213.5.0/24"]'];
  /** The tunnel as seen on the relay's own loopback. */
  const onRelay = () => reachesHost(t, PORT, '127.0.0.1', t.relay);

  beforeAll(async () => {
    t = await startTunnelLab('jump');
    file = t.writeConfig(jumpLines, guestLines);
  }, 180_000);

  afterAll(async () => {
    for (const term of terminals) await term.close();
    await t?.lab.stop();
  });

  const inGuest = async (command: string): Promise<GuestTerminal> => {
    const term = await openTerminal(['nsenter', '-t', String(t.guest.leaderPid), '-a', 'sh', '-c', command], { cols: 100, rows: 30 });
    terminals.push(term);
    return term;
  };

  it('plans host and relay in one plan, each read in one exec; the relay gets accounts, no public port', async () => {
    const direct = await t.guest.run(`ssh -o BatchMode=yes -o ConnectTimeout=3 -o StrictHostKeyChecking=no root@${t.host.ip} true`);
    expect(direct.stderr).toMatch(/Connection refused/);
    const since = { host: await now(t.host), relay: await now(t.relay) };
    const p = await t.cli('plan', '-f', file);
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    expect(p.stdout).toContain('+ relay_account "tunnel-box"');
    expect(p.stdout).toContain('+ relay_account "pair-todd"');
    expect(p.stdout).toContain('+ group "pairctl-jump"');
    expect(p.stdout).toMatch(/\+restrict,port-forwarding,permitopen="127\.0\.0\.1:2222",permitopen="127\.0\.0\.1:8080",command="\/bin\/false",from="10\.213\.5\.0\/24" ssh-ed25519 /);
    expect(p.stdout).toMatch(/\+ +PermitListen 127\.0\.0\.1:2222 127\.0\.0\.1:8080/);
    expect(p.stdout).toMatch(/\+ +PermitOpen 127\.0\.0\.1:2222 127\.0\.0\.1:8080/);
    expect(p.stdout).toMatch(/-R 127\.0\.0\.1:2222:127\.0\.0\.1:822 -R 127\.0\.0\.1:8080:localhost:3000 -l tunnel-box/);
    expect(p.stdout).not.toContain('ufw_rule');
    expect(await execsSince(t.host, since.host)).toEqual({ connections: 1, execs: 1 });
    expect(await execsSince(t.relay, since.relay)).toEqual({ connections: 1, execs: 1 });
  });

  it('a saved first-setup plan whose deferred value changed on the relay is refused as stale, changing nothing', async () => {
    const planFile = join(t.dir, 'stale.plan');
    const p = await t.cli('plan', '-f', file, '-o', planFile);
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/^ +content = "\(known after apply\)"$/m);
    // Someone writes the file the plan said it would fill once the host's key exists.
    await must(t.relay, 'mkdir -p /home/tunnel-box/.ssh && echo "ssh-ed25519 AAAAplanted someone" > /home/tunnel-box/.ssh/authorized_keys');
    const a = await t.cli('apply', planFile);
    expect(a.code).toBe(1);
    expect(a.stderr).toContain(`Error: stale plan: machine relay changed since ${planFile} was made`);
    expect(a.stderr).toContain('nothing was applied');
    expect((await t.host.run('ls /var/lib/pairctl/tunnel')).code).not.toBe(0);
    expect((await t.host.run('ls /var/lib/pairctl/state.json')).code).not.toBe(0);
    expect((await t.relay.run('getent passwd tunnel-box')).code).not.toBe(0);
    expect((await t.relay.run('ls /var/lib/pairctl/state.json')).code).not.toBe(0);
    await must(t.relay, 'rm -rf /home/tunnel-box');
  });

  it('applies both ends from a saved first-setup plan (the relay waits for the key the host makes); the tunnel listens on the relay loopback only', async () => {
    const planFile = join(t.dir, 'first.plan');
    const p = await t.cli('plan', '-f', file, '-o', planFile);
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/^ +waits for = "the tunnel public key of host box/m);
    const since = { host: await now(t.host), relay: await now(t.relay) };
    const a = await t.cli('apply', planFile);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/Apply complete!/);
    // Each machine read again (the file never says what runs) and applied; the host's apply also read its new key.
    expect(await execsSince(t.host, since.host)).toEqual({ connections: 1, execs: 2 });
    expect(await execsSince(t.relay, since.relay)).toEqual({ connections: 1, execs: 2 });
    const hostPub = (await must(t.host, "cut -d' ' -f1,2 /var/lib/pairctl/tunnel/id_ed25519.pub")).trim();
    expect(await must(t.relay, 'cat /home/tunnel-box/.ssh/authorized_keys')).toContain(` ${hostPub} pairctl-tunnel:box`);
    await waitUntil('the tunnel is up on the relay loopback', onRelay, 20_000);
    const listening = await must(t.relay, "ss -Hltn 'sport = :2222'");
    expect(listening).toMatch(/127\.0\.0\.1:2222/);
    expect(listening).not.toMatch(/0\.0\.0\.0:2222|\*:2222/);
    expect(await reachesHost(t, PORT)).toBe(false); // nothing public on the relay
    // Both kinds of relay account, from the lab's LAN, the internet and loopback alike.
    for (const addr of ['10.213.5.13', '192.0.2.1', '127.0.0.1']) {
      const eff = (await must(t.relay, `sshd -T -C user=pair-todd,host=x,addr=${addr}`)).toLowerCase();
      for (const line of ['allowtcpforwarding local', 'permitopen 127.0.0.1:2222 127.0.0.1:8080', 'permitlisten none', 'permittty no', 'forcecommand /bin/false', ...PINNED]) {
        expect(eff).toContain(`${line}\n`);
      }
      expect(eff).not.toMatch(/^acceptenv (lang|lc_)/m);
      const tunnel = (await must(t.relay, `sshd -T -C user=tunnel-box,host=x,addr=${addr}`)).toLowerCase();
      for (const line of ['allowtcpforwarding remote', 'permitlisten 127.0.0.1:2222 127.0.0.1:8080', ...PINNED]) expect(tunnel).toContain(`${line}\n`);
      expect(tunnel).not.toMatch(/^acceptenv (lang|lc_)/m);
    }
    await adminLoginWorks(t, 'relay');
    const again = await t.cli('apply', '-f', file, '--yes');
    expect(again.stdout).toContain('No changes.');
  });

  it('pairctl join prints the exact -J command and a ~/.ssh/config block; both join the session', async () => {
    const j = await t.cli('join', 'todd', '-f', file);
    expect(j.code).toBe(0);
    const lines = j.stdout.split('\n');
    expect(lines[0]).toBe(`ssh -J pair-todd@${t.relay.ip} -p ${PORT} -o HostKeyAlias=pairctl-box pair-todd@127.0.0.1`);
    const block = ['Host pairctl-box', '    HostName 127.0.0.1', `    Port ${PORT}`, '    User pair-todd', `    ProxyJump pair-todd@${t.relay.ip}`, '    HostKeyAlias pairctl-box'].join('\n');
    expect(j.stdout).toContain(`${block}\n`);
    expect(j.stdout).toContain(`# web (port 3000 on box): ssh -N -L 3000:127.0.0.1:8080 pair-todd@${t.relay.ip}, then open http://localhost:3000/`);

    // The guest knows the relay by its address and the host by its alias: one entry each.
    await must(t.guest, `ssh-keyscan -t ed25519 ${t.relay.ip} 2>/dev/null >> /root/.ssh/known_hosts && echo '${await hostKeyLines(t.host, 'pairctl-box')}' >> /root/.ssh/known_hosts`);
    expect((await t.cli('up', '-f', file)).code).toBe(0);
    const asOwner = (a: string) => t.host.run(`runuser -u ${OWNER} -- tmux -S ${SOCKET} ${a}`);
    await waitUntil('the shared shell prompt', async () => (await asOwner("capture-pane -p -t '=pair:'")).stdout.includes('$'), 10_000);
    await asOwner("set-buffer -b t 'echo HELLO-THROUGH-THE-JUMP\n' \\; paste-buffer -d -b t -t '=pair:'");

    const byCommand = await inGuest(lines[0]!);
    await byCommand.waitFor('HELLO-THROUGH-THE-JUMP', 15_000);
    await byCommand.close();

    await must(t.guest, `printf '%s\\n' '${block}' > /root/.ssh/config`);
    const byConfig = await inGuest('ssh pairctl-box');
    await byConfig.waitFor('HELLO-THROUGH-THE-JUMP', 15_000);
    await byConfig.close();
    // The host's key is known under its alias only: no 127.0.0.1 entry that another jump host would clash with.
    const kh = await must(t.guest, 'cat /root/.ssh/known_hosts');
    expect(kh).not.toMatch(/127\.0\.0\.1/);
    expect((await t.guest.run(`ssh-keygen -F '[127.0.0.1]:${PORT}' -f /root/.ssh/known_hosts`)).stdout).toBe('');
  });

  it("through the jump, root's and the owner's keys are refused on the tunnel port while the guest joins through it", async () => {
    const pub = (await must(t.guest, "ssh-keygen -q -t ed25519 -N '' -C stranger -f /root/stranger && cat /root/stranger.pub")).trim();
    await must(t.host, `mkdir -p /root/.ssh && echo '${pub}' >> /root/.ssh/authorized_keys`);
    await must(t.host, `install -d -o ${OWNER} -m 0700 /home/${OWNER}/.ssh && echo '${pub}' >> /home/${OWNER}/.ssh/authorized_keys && chown ${OWNER} /home/${OWNER}/.ssh/authorized_keys`);
    const priv = await must(t.guest, 'cat /root/stranger');
    await must(t.host, `umask 077 && printf '%s' '${priv}' > /root/stranger`);
    const opts = '-o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=10';
    for (const user of ['root', OWNER]) {
      // Positive control: the key logs in on the host's own port 22.
      expect(await must(t.host, `ssh ${opts} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i /root/stranger ${user}@127.0.0.1 'echo in-as-$(id -un)'`)).toBe(`in-as-${user}\n`);
      // Through the jump (the guest's own relay account) to the tunnel port: refused by the guest-only sshd.
      const r = await t.guest.run(`ssh ${opts} -o HostKeyAlias=pairctl-box -i /root/stranger -J pair-todd@${t.relay.ip} -p ${PORT} ${user}@127.0.0.1 'echo in-as-$(id -un)'`);
      expect(r.code).toBe(255);
      expect(r.stdout).not.toContain('in-as-');
      expect(r.stderr).toMatch(/Permission denied \(publickey\)/);
    }
    // journald takes each sshd-session's lines when it gets to them: wait for both.
    const refusedLine = (user: string) => `User ${user} from 127.0.0.1 not allowed because none of user's groups are listed in AllowGroups`;
    await waitUntil('the guest-only sshd logged both refusals', async () => {
      const log = await must(t.host, 'journalctl --no-pager -o cat -u pairctl-sshd.service');
      return log.includes(refusedLine('root')) && log.includes(refusedLine(OWNER));
    }, 15_000, 250);
    // The guest joins through the same port in the same run.
    const asOwner = (a: string) => t.host.run(`runuser -u ${OWNER} -- tmux -S ${SOCKET} ${a}`);
    await asOwner("set-buffer -b t 'echo AFTER-THE-STRANGERS\n' \\; paste-buffer -d -b t -t '=pair:'");
    const term = await inGuest(`ssh -J pair-todd@${t.relay.ip} -p ${PORT} -o HostKeyAlias=pairctl-box pair-todd@127.0.0.1`);
    await term.waitFor('AFTER-THE-STRANGERS', 15_000);
    await term.close();
    // The host's port 22 is not what the relay's port leads to: the relay may open only the tunnel's ports.
    const eff = (await must(t.host, `sshd -T -f /etc/pairctl/sshd_config -C user=${OWNER},host=x,addr=127.0.0.1,laddr=127.0.0.1,lport=822`)).toLowerCase();
    expect(eff).toMatch(/^allowgroups pairctl$/m);
    expect(eff).toMatch(/^permitrootlogin no$/m);
  });

  it("the guest's relay account opens only the host's ports: no shell, no other port, no listening", async () => {
    const ssh = 'ssh -o BatchMode=yes -o ConnectTimeout=5';
    const shell = await t.guest.run(`${ssh} pair-todd@${t.relay.ip} id`);
    expect(shell.code).not.toBe(0);
    expect(shell.stdout).not.toMatch(/uid=/);
    const relaySshd = await t.guest.run(`timeout 10 ${ssh} -W 127.0.0.1:22 pair-todd@${t.relay.ip} </dev/null`);
    expect(relaySshd.stdout).not.toContain('SSH-2.0');
    expect(relaySshd.stderr).toMatch(/administratively prohibited|open failed/);
    const hostPort = await t.guest.run(`timeout 5 ${ssh} -W 127.0.0.1:${PORT} pair-todd@${t.relay.ip} </dev/null`);
    expect(hostPort.stdout).toContain('SSH-2.0');
    const listen = await t.guest.run(`timeout 10 ${ssh} -N -o ExitOnForwardFailure=yes -R 127.0.0.1:2299:127.0.0.1:22 pair-todd@${t.relay.ip}`);
    expect(listen.code).toBe(255);
    expect(listen.stderr).toMatch(/remote port forwarding failed/);
  });

  it('the tunnel account may listen on no other port, nor on a public address', async () => {
    const as = '-F /dev/null -i /var/lib/pairctl/tunnel/id_ed25519 -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=/var/lib/pairctl/tunnel/known_hosts -o StrictHostKeyChecking=yes -o ExitOnForwardFailure=yes -l tunnel-box';
    const other = await t.host.run(`timeout 10 ssh -N ${as} -R 127.0.0.1:2299:localhost:22 ${t.relay.ip}`);
    expect(other.stderr).toMatch(/remote port forwarding failed for listen port 2299/);
    const shell = await t.host.run(`timeout 10 ssh ${as} ${t.relay.ip} id`);
    expect(shell.stdout).not.toMatch(/uid=/);
    // Its own port, but on every address (what vps would do): refused; on loopback: allowed.
    await must(t.host, 'systemctl stop pairctl-tunnel.service');
    await waitUntil('the port is free', async () => !(await onRelay()), 10_000);
    const publicBind = await t.host.run(`timeout 10 ssh -N ${as} -R 0.0.0.0:${PORT}:localhost:22 ${t.relay.ip}`);
    expect(publicBind.stderr).toMatch(new RegExp(`remote port forwarding failed for listen port ${PORT}`));
    const loopback = await t.host.run(`timeout 3 ssh -N ${as} -R 127.0.0.1:${PORT}:127.0.0.1:822 ${t.relay.ip}`);
    expect(loopback.code).toBe(124); // still holding the forward when timeout ended it
    await must(t.host, 'systemctl start pairctl-tunnel.service');
    await waitUntil('the tunnel is back', onRelay, 20_000);
  });

  it('a forward lets the guest reach the web server on the host through the relay', async () => {
    await must(t.host, 'mkdir -p /tmp/www && echo SERVED-BY-BOX > /tmp/www/marker.txt && systemd-run --unit=pt-web python3 -m http.server 3000 --bind 127.0.0.1 --directory /tmp/www >/dev/null 2>&1');
    await waitUntil('the web server', async () => (await t.host.run('curl -sf http://127.0.0.1:3000/marker.txt')).code === 0, 10_000);
    await must(t.guest, `ssh -f -N -o ExitOnForwardFailure=yes -L 3000:127.0.0.1:8080 pair-todd@${t.relay.ip}`);
    expect(await must(t.guest, 'curl -sf -m 5 http://localhost:3000/marker.txt')).toBe('SERVED-BY-BOX\n');
    await t.guest.run("pkill -f '^ssh -f -N'");
    await must(t.host, 'systemctl stop pt-web');
  });

  it('comes back by itself after kill -9, and after the relay sshd restarts', async () => {
    const pid = (await must(t.host, 'systemctl show -p MainPID --value pairctl-tunnel.service')).trim();
    // MainPID is 0 when the service is not running, and `kill -9 0` kills a whole process group
    expect(Number(pid), 'pairctl-tunnel.service MainPID').toBeGreaterThan(1);
    await must(t.host, `kill -9 ${pid}`);
    const t0 = Date.now();
    await waitUntil('the tunnel is back after kill -9', onRelay, 30_000);
    console.log(`[jump] back ${Date.now() - t0} ms after kill -9 of the tunnel`);
    await must(t.relay, 'systemctl stop ssh && pkill -KILL -u tunnel-box; sleep 3; systemctl start ssh');
    const t1 = Date.now();
    await waitUntil("the tunnel is back after the relay's sshd restarted", onRelay, 40_000);
    console.log(`[jump] back ${Date.now() - t1} ms after the relay's sshd was up again (it was down 3 s)`);
    await adminLoginWorks(t, 'relay');
  });

  it('removing the tunnel removes it on both ends, guests\' relay accounts included', async () => {
    // The test before restarted the relay's sshd. Under load the tunnel may still be settling
    // (restarted once more by systemd), and apply rightly refuses when the service's state changes
    // between its read and its re-read under the lock. Wait until it holds: running, the same
    // MainPID and restart count on two reads a second apart.
    let last = '';
    await waitUntil('the tunnel service is settled', async () => {
      const now = (await must(t.host, 'systemctl show -p ActiveState,SubState,MainPID,NRestarts pairctl-tunnel.service')).trim();
      const settled = now === last && now.includes('ActiveState=active') && now.includes('SubState=running');
      last = now;
      return settled;
    }, 60_000, 1000);
    t.writeConfig(['tunnel: { provider: lan }'], guestLines);
    const p = await t.cli('plan', '-f', file);
    for (const gone of ['- relay_account "tunnel-box"', '- relay_account "pair-todd"', '- group "pairctl-jump"', '- systemd_service "pairctl-tunnel.service"', '- systemd_service "pairctl-sshd.service"', '- sshd_config "/etc/pairctl/sshd_config"', '- sshd_dropin "/etc/ssh/sshd_config.d/00-pairctl-relay.conf"']) {
      expect(p.stdout).toContain(gone);
    }
    const a = await t.cli('apply', '-f', file, '--yes');
    expect(a.stderr).not.toMatch(/error/i);
    expect(a.code).toBe(0);
    expect((await t.relay.run('getent passwd tunnel-box pair-todd; getent group pairctl-jump; ls /etc/ssh/sshd_config.d/00-pairctl-relay.conf /home/pair-todd /home/tunnel-box')).stdout).toBe('');
    expect((await t.host.run('systemctl is-active pairctl-tunnel.service')).stdout).toBe('inactive\n');
    expect(await onRelay()).toBe(false);
    // Back on lan, the host's key lines no longer accept the loopback the tunnel came from.
    expect(await must(t.host, 'cat /home/pair-todd/.ssh/authorized_keys')).toContain('from="10.213.5.0/24" ssh-ed25519');
    await adminLoginWorks(t, 'relay');
    expect((await t.cli('plan', '-f', file)).stdout).toContain('No changes.');
  });
});
