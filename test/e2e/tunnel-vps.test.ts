/**
 * Issue 3, vps, proven end to end: one pair.yaml provisions the host and the relay in one plan;
 * the host keeps a reverse tunnel to the relay's public port, and a guest who cannot reach the
 * host joins its session (and its dev web server) through the relay.
 */
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
  privateKeyMarkers,
  reachesHost,
  sleep,
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
const WEB = 8080;

describe.skipIf(unavailable)('vps tunnel through a relay', () => {
  let t: TunnelLab;
  let file: string;
  const terminals: GuestTerminal[] = [];
  const outputs: string[] = [];
  let secret: string[] = [];
  const vpsLines = ['tunnel: { provider: vps, relay: relay, port: 2222 }', 'forwards:', '  - { name: web, local: 3000, remote: 8080 }'];

  beforeAll(async () => {
    t = await startTunnelLab('vps');
    file = t.writeConfig(vpsLines);
    // The relay's firewall is on (ssh allowed first): the tunnel's ports must be opened by pairctl.
    await must(t.relay, 'ufw allow 22/tcp >/dev/null && ufw --force enable >/dev/null');
  }, 180_000);

  afterAll(async () => {
    for (const term of terminals) await term.close();
    await t?.lab.stop();
  });

  const cli = async (...args: string[]) => {
    const r = await t.cli(...args);
    outputs.push(r.stdout, r.stderr);
    return r;
  };

  it('the guest reaches the relay but not the host', async () => {
    const direct = await t.guest.run(`ssh -o BatchMode=yes -o ConnectTimeout=3 -o StrictHostKeyChecking=no root@${t.host.ip} true`);
    expect(direct.code).toBe(255);
    expect(direct.stderr).toMatch(/Connection refused/);
    expect((await t.guest.run(`ssh-keyscan -T 3 ${t.relay.ip} 2>/dev/null`)).stdout).toContain('ssh-ed25519');
  });

  it('plans host and relay in one plan, each read in one exec, changing nothing', async () => {
    expect((await t.cli('validate', '-f', file)).code).toBe(0);
    const since = { host: await now(t.host), relay: await now(t.relay) };
    const p = await cli('plan', '-f', file);
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/^host box \(host\):$/m);
    expect(p.stdout).toMatch(/^relay relay \(relay\):$/m);
    expect(p.stdout).toContain('+ tunnel_key "/var/lib/pairctl/tunnel/id_ed25519"');
    expect(p.stdout).toContain('+ systemd_service "pairctl-tunnel.service"');
    expect(p.stdout).toContain('+ sshd_config "/etc/pairctl/sshd_config"');
    expect(p.stdout).toContain('+ systemd_service "pairctl-sshd.service"');
    expect(p.stdout).toContain('+ relay_account "tunnel-box"');
    expect(p.stdout).toContain('+ sshd_dropin "/etc/ssh/sshd_config.d/00-pairctl-relay.conf"');
    expect(p.stdout).toContain('+ ufw_rule "2222/tcp"');
    expect(p.stdout).toContain('+ ufw_rule "8080/tcp"');
    // The relay's real host keys, pinned, shown in the plan; the tunnel key is known after apply.
    const relayKey = (await must(t.relay, "cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub")).trim();
    expect(p.stdout).toContain(`+${t.relay.ip} ${relayKey}`);
    const keysChange = p.stdout.slice(p.stdout.indexOf('+ file "/home/tunnel-box/.ssh/authorized_keys"'));
    expect(keysChange).toMatch(/^ +content = "\(known after apply\)"$/m);
    expect(keysChange).toMatch(/^ +waits for = "the tunnel public key of host box/m);
    expect(p.stdout).toMatch(/\+ +PermitListen 0\.0\.0\.0:2222 0\.0\.0\.0:8080/);
    expect(p.stdout).toMatch(/ExecStart=\/usr\/bin\/ssh -N .* -R 0\.0\.0\.0:2222:127\.0\.0\.1:822 -R 0\.0\.0\.0:8080:localhost:3000 -l tunnel-box 10\.213\.5\.\d+/);
    const counts = { host: await execsSince(t.host, since.host), relay: await execsSince(t.relay, since.relay) };
    expect(counts).toEqual({ host: { connections: 1, execs: 1 }, relay: { connections: 1, execs: 1 } });
    console.log(`[vps] plan, per machine: host ${JSON.stringify(counts.host)}, relay ${JSON.stringify(counts.relay)}`);
    expect((await t.host.run('ls /var/lib/pairctl/tunnel')).code).not.toBe(0);
    expect((await t.relay.run('getent passwd tunnel-box')).code).not.toBe(0);
  });

  it('applies both ends from one file: the host first, then the relay with the key the host made', async () => {
    const since = { host: await now(t.host), relay: await now(t.relay) };
    const a = await cli('apply', '-f', file, '--yes');
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/Apply complete!/);
    const counts = { host: await execsSince(t.host, since.host), relay: await execsSince(t.relay, since.relay) };
    console.log(`[vps] apply (plan + apply), per machine: host ${JSON.stringify(counts.host)}, relay ${JSON.stringify(counts.relay)}`);
    // host: read, then apply in the same shell (which reads its new tunnel key under its lock);
    // relay: read, apply in the same shell. One connection and one exec each (apply --yes).
    expect(counts).toEqual({ host: { connections: 1, execs: 1 }, relay: { connections: 1, execs: 1 } });
    const up = await waitUntil('the tunnel listens on the relay', () => reachesHost(t, PORT), 20_000);
    console.log(`[vps] tunnel reached the host ${up} ms after apply returned`);
    expect(await must(t.host, 'systemctl is-active pairctl-tunnel.service; systemctl is-enabled pairctl-tunnel.service')).toBe('active\nenabled\n');
    expect(await must(t.host, "stat -c '%U:%G %a' /var/lib/pairctl/tunnel /var/lib/pairctl/tunnel/id_ed25519")).toBe('root:root 700\nroot:root 600\n');
    // The tunnel account's settings, from the internet, a LAN and loopback alike.
    for (const addr of ['192.0.2.1', '192.168.1.10', '127.0.0.1']) {
      const eff = (await must(t.relay, `sshd -T -C user=tunnel-box,host=x,addr=${addr}`)).toLowerCase();
      for (const line of ['allowtcpforwarding remote', 'permitlisten 0.0.0.0:2222 0.0.0.0:8080', 'gatewayports clientspecified', 'permittty no', 'forcecommand /bin/false', 'passwordauthentication no', 'permitopen none', ...PINNED]) {
        expect(eff).toContain(`${line}\n`);
      }
      expect(eff).not.toMatch(/^acceptenv (lang|lc_)/m);
    }
    const ak = await must(t.relay, 'cat /home/tunnel-box/.ssh/authorized_keys');
    const hostPub = (await must(t.host, "cut -d' ' -f1,2 /var/lib/pairctl/tunnel/id_ed25519.pub")).trim();
    expect(ak).toContain(`restrict,port-forwarding,permitlisten="0.0.0.0:2222",permitlisten="0.0.0.0:8080",command="/bin/false" ${hostPub} pairctl-tunnel:box`);
    const ufw = await must(t.relay, 'ufw status');
    expect(ufw).toMatch(/^2222\/tcp +ALLOW +Anywhere +# pairctl: ssh of host box$/m);
    expect(ufw).toMatch(/^8080\/tcp +ALLOW +Anywhere +# pairctl: web of host box$/m);
    await adminLoginWorks(t, 'relay');
    await adminLoginWorks(t, 'host');
  });

  it('plans no changes after apply, and a second apply changes nothing', async () => {
    const p = await cli('plan', '-f', file, '--detailed-exitcode');
    expect(p.stdout).toContain('No changes.');
    expect(p.code).toBe(0);
    const a = await cli('apply', '-f', file, '--yes');
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('No changes.');
    expect(a.stdout).not.toMatch(/applying/);
  });

  it('apply --yes of a change to converged machines applies in the shell that read each one, under the lock it took there: one exec per machine', async () => {
    // (The first apply above found no state directory, so no lock to take in the probe: its apply
    // script took the lock and read again, in the same shell.) A host-only change now, and back:
    for (const guestLines of [['expires: 2099-01-01T00:00:00Z'], []]) {
      t.writeConfig(vpsLines, guestLines);
      const since = { host: await now(t.host), relay: await now(t.relay) };
      const a = await cli('apply', '-f', file, '--yes');
      expect(a.stderr).toBe('');
      expect(a.code).toBe(0);
      expect(a.stdout).toMatch(/Apply complete! Resources: \d+ added, [1-9]\d* changed/);
      expect({ host: await execsSince(t.host, since.host), relay: await execsSince(t.relay, since.relay) }).toEqual({
        host: { connections: 1, execs: 1 },
        relay: { connections: 1, execs: 1 },
      });
      // The lock is free again and names no holder: the apply ended normally.
      expect(await must(t.host, 'flock -n /var/lib/pairctl/lock echo free; wc -c < /var/lib/pairctl/lock')).toBe('free\n0\n');
      expect((await cli('plan', '-f', file)).stdout).toContain('No changes.');
    }
  });

  it('keeps the private half of the tunnel key on the host: not in any output, record or journal', async () => {
    secret = await privateKeyMarkers(t.host);
    const places = await Promise.all([
      must(t.host, 'cat /var/lib/pairctl/state.json; journalctl --no-pager -o cat'),
      must(t.relay, 'cat /var/lib/pairctl/state.json; journalctl --no-pager -o cat; cat /home/tunnel-box/.ssh/authorized_keys'),
    ]);
    for (const text of [...outputs, ...places]) for (const m of secret) expect(text).not.toContain(m);
  });

  it('the guest joins the session through the relay with the command pairctl join prints, and sees the host', async () => {
    const j = await t.cli('join', 'todd', '-f', file);
    expect(j.code).toBe(0);
    const command = j.stdout.split('\n')[0]!;
    expect(command).toBe(`ssh -p ${PORT} pair-todd@${t.relay.ip}`);
    expect(j.stdout).toContain(`# web (port 3000 on box): http://${t.relay.ip}:${WEB}/`);
    // The guest trusts the host's own key under the relay's address (what the tunnel serves).
    await must(t.guest, `echo '${await hostKeyLines(t.host, `[${t.relay.ip}]:${PORT}`)}' >> /root/.ssh/known_hosts`);
    expect((await cli('up', '-f', file)).code).toBe(0);
    const asOwner = (a: string) => t.host.run(`runuser -u ${OWNER} -- tmux -S ${SOCKET} ${a}`);
    await waitUntil('the shared shell prompt', async () => (await asOwner("capture-pane -p -t '=pair:'")).stdout.includes('$'), 10_000);
    await asOwner("set-buffer -b t 'echo HELLO-THROUGH-THE-RELAY\n' \\; paste-buffer -d -b t -t '=pair:'");
    const term = await openTerminal(['nsenter', '-t', String(t.guest.leaderPid), '-a', 'sh', '-c', command], { cols: 100, rows: 30 });
    terminals.push(term);
    await term.waitFor('HELLO-THROUGH-THE-RELAY', 15_000);
    await term.close();
  });

  it("through the relay, root's and the owner's keys are refused while the guest joins: the tunnel reaches the guest-only sshd, not port 22", async () => {
    // A key root and the owner both accept on the host's own sshd (positive control below).
    const pub = (await must(t.guest, "ssh-keygen -q -t ed25519 -N '' -C stranger -f /root/stranger && cat /root/stranger.pub")).trim();
    await must(t.host, `mkdir -p /root/.ssh && echo '${pub}' >> /root/.ssh/authorized_keys`);
    await must(t.host, `install -d -o ${OWNER} -m 0700 /home/${OWNER}/.ssh && echo '${pub}' >> /home/${OWNER}/.ssh/authorized_keys && chown ${OWNER} /home/${OWNER}/.ssh/authorized_keys`);
    const priv = await must(t.guest, 'cat /root/stranger');
    await must(t.host, `umask 077 && printf '%s' '${priv}' > /root/stranger`);
    const opts = '-o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10';
    for (const user of ['root', OWNER]) {
      // Positive control: the key logs in on the host's port 22.
      expect(await must(t.host, `ssh ${opts} -i /root/stranger ${user}@127.0.0.1 'echo in-as-$(id -un)'`)).toBe(`in-as-${user}\n`);
      // Through the relay's public port: refused, and the guest-only sshd is who refused it.
      const r = await t.guest.run(`ssh ${opts} -i /root/stranger -p ${PORT} ${user}@${t.relay.ip} 'echo in-as-$(id -un)'`);
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
    // The tunnel's end on the host is the listener on 127.0.0.1:822; nothing listens there but loopback.
    expect(await must(t.host, "ss -Hltn 'sport = :822'")).toMatch(/^LISTEN .* 127\.0\.0\.1:822 /m);
    expect(await must(t.host, "ss -Hltn 'sport = :822'")).not.toMatch(/0\.0\.0\.0:822|\*:822|\[::\]:822/);
    // In the same run, the guest joins through the same port (positive control of the refusal).
    await must(t.host, `runuser -u ${OWNER} -- tmux -S ${SOCKET} set-buffer -b t 'echo AFTER-THE-STRANGERS\n' \\; paste-buffer -d -b t -t '=pair:'`);
    const join = await openTerminal(['nsenter', '-t', String(t.guest.leaderPid), '-a', 'sh', '-c', `ssh -p ${PORT} pair-todd@${t.relay.ip}`], { cols: 100, rows: 30 });
    terminals.push(join);
    await join.waitFor('AFTER-THE-STRANGERS', 15_000);
    await join.close();
  });

  it('the guest-only sshd gives guests their settings and refuses every other account (sshd -T with lport)', async () => {
    const at = 'host=x,addr=127.0.0.1,laddr=127.0.0.1,lport=822';
    const eff = (await must(t.host, `sshd -T -f /etc/pairctl/sshd_config -C user=pair-todd,${at}`)).toLowerCase();
    for (const line of ['listenaddress 127.0.0.1:822', 'allowgroups pairctl', 'permitrootlogin no', 'authenticationmethods publickey', 'passwordauthentication no', 'kbdinteractiveauthentication no', 'disableforwarding yes', 'permittty yes', 'forcecommand /usr/local/libexec/pairctl/join', ...PINNED]) {
      expect(eff).toContain(`${line}\n`);
    }
    expect(eff).not.toMatch(/^acceptenv (lang|lc_)/m);
    for (const user of ['root', OWNER]) {
      expect((await must(t.host, `sshd -T -f /etc/pairctl/sshd_config -C user=${user},${at}`)).toLowerCase()).toMatch(/^allowgroups pairctl$/m);
    }
    // The host's own sshd still serves port 22 (for the operator), and the drop-in pins the same for guests there, from any address.
    for (const addr of ['10.213.5.1', '127.0.0.1', '192.0.2.1']) {
      const main = (await must(t.host, `sshd -T -C user=pair-todd,host=x,addr=${addr}`)).toLowerCase();
      for (const line of PINNED) expect(main).toContain(`${line}\n`);
      expect(main).not.toMatch(/^acceptenv (lang|lc_)/m);
    }
    expect(await must(t.host, 'systemctl is-active pairctl-sshd.service ssh.service')).toBe('active\nactive\n');
  });

  it('a user CA in sshd_config, or PermitUserEnvironment, is a plan error with the fix', async () => {
    // A CA the host's sshd trusts, and a certificate it signed for the owner and for pair-todd.
    await must(t.host, "rm -f /etc/ssh/pt_user_ca /etc/ssh/pt_user_ca.pub && ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/pt_user_ca");
    await must(t.relay, "rm -f /root/cert /root/cert.pub /root/cert-cert.pub && ssh-keygen -q -t ed25519 -N '' -f /root/cert");
    const pub = (await must(t.relay, 'cat /root/cert.pub')).trim();
    await must(t.host, `printf '%s\\n' '${pub}' > /tmp/cert.pub && ssh-keygen -q -s /etc/ssh/pt_user_ca -I attacker -n ${OWNER},pair-todd /tmp/cert.pub`);
    await must(t.relay, `printf '%s\\n' '${(await must(t.host, 'cat /tmp/cert-cert.pub')).trim()}' > /root/cert-cert.pub`);
    const cert = '-o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 -i /root/cert -o CertificateFile=/root/cert-cert.pub';
    await must(t.host, "cp -p /etc/ssh/sshd_config /etc/ssh/sshd_config.pt-orig && printf '%s\\n' 'TrustedUserCAKeys /etc/ssh/pt_user_ca.pub' 'PermitUserEnvironment yes' >> /etc/ssh/sshd_config && systemctl reload ssh");
    try {
      // Positive control: the CA works; the certificate logs in as the owner on port 22.
      await waitUntil('the CA admits the owner', async () => (await t.relay.run(`timeout 20 ssh ${cert} ${OWNER}@${t.host.ip} id -un </dev/null`)).stdout === `${OWNER}\n`, 15_000);
      const p = await t.cli('plan', '-f', file);
      const out = p.stdout + p.stderr;
      expect(p.code).not.toBe(0);
      expect(out).toContain('sshd trusts the user CA keys in /etc/ssh/pt_user_ca.pub for pair-todd');
      expect(out).toContain('Match User *,!pair-*,!tunnel-*');
      expect(out).toContain('sshd has permituserenvironment yes');
      expect(out).toContain('set "permituserenvironment no" in /etc/ssh/sshd_config');
      // Measured besides: pairctl's Match block pins AuthorizedPrincipalsFile/Command none, which
      // sshd keeps as literal names inside a Match, so it demands principals it never finds and
      // refuses the same certificate for pair-todd on port 22 (a second wall, not the one relied on).
      const guestCert = await t.relay.run(`timeout 20 ssh ${cert} pair-todd@${t.host.ip} </dev/null`);
      expect(guestCert.code).toBe(255);
      expect(guestCert.stderr).toMatch(/Permission denied \(publickey\)/);
      // The guest-only sshd trusts no CA at all: through the tunnel the certificate is refused too.
      const viaTunnel = await t.relay.run(`timeout 20 ssh ${cert} -p ${PORT} pair-todd@${t.relay.ip} </dev/null`);
      expect(viaTunnel.code).toBe(255);
      expect(viaTunnel.stderr).toMatch(/Permission denied \(publickey\)/);
    } finally {
      await must(t.host, 'mv -f /etc/ssh/sshd_config.pt-orig /etc/ssh/sshd_config && systemctl reload ssh');
    }
    const again = await t.cli('plan', '-f', file, '--detailed-exitcode');
    expect(again.stdout).toContain('No changes.');
    expect(again.code).toBe(0);
  });

  it('the tunnel account gets no shell on the relay and may listen on no other port', async () => {
    const as = '-F /dev/null -i /var/lib/pairctl/tunnel/id_ed25519 -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=/var/lib/pairctl/tunnel/known_hosts -o StrictHostKeyChecking=yes -o ExitOnForwardFailure=yes -l tunnel-box';
    const shell = await t.host.run(`timeout 10 ssh ${as} ${t.relay.ip} id`);
    expect(shell.code).not.toBe(0);
    expect(shell.stdout).not.toMatch(/uid=/);
    const tty = await t.host.run(`timeout 10 ssh -tt ${as} ${t.relay.ip} id`);
    expect(tty.stdout + tty.stderr).toMatch(/PTY allocation request failed/);
    expect(tty.stdout).not.toMatch(/uid=/);
    const other = await t.host.run(`timeout 10 ssh -N ${as} -R 0.0.0.0:2299:localhost:22 ${t.relay.ip}`);
    expect(other.code).toBe(255);
    expect(other.stderr).toMatch(/remote port forwarding failed for listen port 2299/);
    const local = await t.host.run(`timeout 10 ssh ${as} -W 127.0.0.1:22 ${t.relay.ip} </dev/null`);
    expect(local.stdout).not.toContain('SSH-2.0');
    expect(local.stderr).toMatch(/administratively prohibited|open failed/);
  });

  it('a forward lets the guest reach a web server on the host through the relay', async () => {
    await must(t.host, "mkdir -p /tmp/www && echo SERVED-BY-BOX > /tmp/www/marker.txt && systemd-run --unit=pt-web python3 -m http.server 3000 --bind 127.0.0.1 --directory /tmp/www >/dev/null 2>&1");
    await waitUntil('the web server', async () => (await t.host.run('curl -sf http://127.0.0.1:3000/marker.txt')).code === 0, 10_000);
    expect((await t.guest.run(`curl -s -m 3 http://${t.host.ip}:3000/marker.txt`)).code).not.toBe(0);
    const r = await must(t.guest, `curl -sf -m 5 http://${t.relay.ip}:${WEB}/marker.txt`);
    expect(r).toBe('SERVED-BY-BOX\n');
  });

  it('comes back by itself after its process is killed with -9', async () => {
    const before = (await must(t.host, 'systemctl show -p MainPID --value pairctl-tunnel.service')).trim();
    // MainPID is 0 when the service is not running, and `kill -9 0` kills a whole process group
    expect(Number(before), 'pairctl-tunnel.service MainPID').toBeGreaterThan(1);
    await must(t.host, `kill -9 ${before}`);
    const t0 = Date.now();
    await waitUntil('the tunnel is down', async () => !(await reachesHost(t, PORT)), 5_000, 50).catch(() => 0);
    const back = await waitUntil('the tunnel is back', () => reachesHost(t, PORT), 30_000, 100);
    const total = Date.now() - t0;
    console.log(`[vps] back ${total} ms after kill -9 of the tunnel (RestartSec=2)`);
    const after = (await must(t.host, 'systemctl show -p MainPID --value pairctl-tunnel.service')).trim();
    expect(after).not.toBe(before);
    expect(back).toBeLessThan(30_000);
  });

  it("comes back by itself after the relay's sshd restarts (with the tunnel's connection gone)", async () => {
    // A plain restart leaves open sessions alone (KillMode=process); drop the tunnel's too.
    await must(t.relay, 'systemctl stop ssh && pkill -KILL -u tunnel-box; sleep 3; systemctl start ssh');
    const t0 = Date.now();
    const back = await waitUntil('the tunnel is back', () => reachesHost(t, PORT), 40_000, 100);
    console.log(`[vps] back ${Date.now() - t0} ms after the relay's sshd was up again (it was down 3 s)`);
    expect(back).toBeLessThan(40_000);
    await must(t.relay, 'systemctl restart ssh');
    await sleep(500);
    expect(await reachesHost(t, PORT)).toBe(true);
    await adminLoginWorks(t, 'relay');
  });

  it('removing the tunnel from pair.yaml removes it on both ends', async () => {
    await must(t.host, 'systemctl stop pt-web');
    t.writeConfig(['tunnel: { provider: lan }']);
    const p = await cli('plan', '-f', file);
    expect(p.code).toBe(0);
    for (const gone of [
      '- systemd_service "pairctl-tunnel.service"',
      '- systemd_service "pairctl-sshd.service"',
      '- sshd_config "/etc/pairctl/sshd_config"',
      '- tunnel_key "/var/lib/pairctl/tunnel/id_ed25519"',
      '- relay_account "tunnel-box"',
      '- sshd_dropin "/etc/ssh/sshd_config.d/00-pairctl-relay.conf"',
      '- ufw_rule "2222/tcp"',
      '- ufw_rule "8080/tcp"',
    ]) {
      expect(p.stdout).toContain(gone);
    }
    const a = await cli('apply', '-f', file, '--yes');
    expect(a.stderr).not.toMatch(/error/i);
    expect(a.code).toBe(0);
    expect(await must(t.host, 'systemctl is-active pairctl-tunnel.service; ls /etc/systemd/system/pairctl-tunnel.service /var/lib/pairctl/tunnel 2>&1 || :')).toMatch(/^inactive\n.*No such file.*\n.*No such file/);
    expect(await must(t.host, 'systemctl is-active pairctl-sshd.service; ls /etc/pairctl/sshd_config /etc/systemd/system/pairctl-sshd.service 2>&1 || :')).toMatch(/^inactive\n.*No such file.*\n.*No such file/);
    expect(await must(t.host, "ss -Hltn 'sport = :822'")).toBe('');
    expect((await t.relay.run('getent passwd tunnel-box; ls /etc/ssh/sshd_config.d/00-pairctl-relay.conf /home/tunnel-box')).stdout).toBe('');
    const ufw = await must(t.relay, 'ufw status');
    expect(ufw).toContain('Status: active');
    expect(ufw).not.toMatch(/2222|8080/);
    expect(await reachesHost(t, PORT)).toBe(false);
    await adminLoginWorks(t, 'relay');
    expect((await cli('plan', '-f', file)).stdout).toContain('No changes.');
  });

  it('never printed the private half of the tunnel key, nor recorded it, anywhere', () => {
    expect(secret.length).toBeGreaterThan(0);
    for (const o of outputs) {
      expect(o).not.toMatch(/PRIVATE KEY/);
      for (const m of secret) expect(o).not.toContain(m);
    }
  });
});
