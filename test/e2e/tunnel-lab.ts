/**
 * The lab of the tunnel tests (issue 3): three real machines — `host` (shares its session),
 * `relay` (the VPS in between) and `guest` (a person outside) — where the guest can reach the
 * relay but not the host: the host rejects every TCP connection from the guest's address, as a
 * NAT or a home router would. pairctl runs on this machine and reaches host and relay over ssh.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { startLab, type Lab, type LabMachine, type Release } from '../machines/lab.js';
import { pairctl, type CliResult } from '../machines/pairctl-cli.js';

export const OWNER = 'bhorseman';
export const SOCKET = '/run/pairctl/pair/tmux.sock';
const COUNTING_SHELL = '/usr/local/sbin/pt-counting-shell';

export interface TunnelLab {
  lab: Lab;
  host: LabMachine;
  relay: LabMachine;
  guest: LabMachine;
  dir: string;
  /** the guest person's public key (made on the guest machine, as root there) */
  guestKey: string;
  /** `pairctl ARGS -F <lab ssh config>` */
  cli(...args: string[]): Promise<CliResult>;
  /** writes pair.yaml with the given host block lines (under `hosts: box:`) and guest todd's extra lines */
  writeConfig(hostLines: string[], guestLines?: string[]): string;
}

/** Runs a command on a machine and fails the test with its output when it exits non-zero. */
export async function must(m: LabMachine, cmd: string): Promise<string> {
  const r = await m.run(cmd);
  if (r.code !== 0) throw new Error(`${m.name}: ${cmd}\nexit ${r.code}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

export { sleep, waitUntil } from '../machines/wait.js';

export async function startTunnelLab(name: string, opts: { release?: Release } = {}): Promise<TunnelLab> {
  const lab = await startLab({ machines: ['host', 'relay', 'guest'], ...(opts.release ? { release: opts.release } : {}) });
  const host = lab.machine('host');
  const relay = lab.machine('relay');
  const guest = lab.machine('guest');
  const dir = join(lab.dir, name);
  mkdirSync(dir, { recursive: true });
  await must(host, `useradd -m -s /bin/bash ${OWNER}`);
  // The guest is outside: it reaches the relay, never the host (every TCP connection refused).
  await must(host, `iptables -A INPUT -s ${guest.ip} -p tcp -j REJECT --reject-with tcp-reset`);
  const guestKey = (await must(guest, "ssh-keygen -q -t ed25519 -N '' -C todd@guest -f /root/.ssh/id_ed25519 && cat /root/.ssh/id_ed25519.pub")).trim();
  // sshd runs every exec request through root's login shell: a shell that notes each one (with
  // its sshd, one per connection) lets the tests count pairctl's round trips on each machine.
  for (const m of [host, relay]) {
    await must(
      m,
      `printf '%s\\n' '#!/bin/sh' 'echo "$(date +%s.%N) $PPID" >> /run/pt-execs' 'exec /bin/bash "$@"' > ${COUNTING_SHELL} && chmod 0755 ${COUNTING_SHELL} && usermod -s ${COUNTING_SHELL} root`,
    );
  }
  const writeConfig = (hostLines: string[], guestLines: string[] = []): string => {
    const file = join(dir, 'pair.yaml');
    writeFileSync(
      file,
      [
        '# yaml-language-server: $schema=../../schemas/pair.schema.json',
        'version: 1',
        'relays:',
        '  relay:',
        '    platform: linux',
        '    ssh: relay',
        'hosts:',
        '  box:',
        '    platform: linux',
        '    ssh: host',
        `    owner: ${OWNER}`,
        ...hostLines.map((l) => `    ${l}`),
        'guests:',
        '  todd:',
        `    keys: [${JSON.stringify(guestKey)}]`,
        '    mode: mirror',
        ...guestLines.map((l) => `    ${l}`),
        '',
      ].join('\n'),
    );
    return file;
  };
  return { lab, host, relay, guest, dir, guestKey, cli: (...args) => pairctl([...args, '-F', lab.sshConfigFile]), writeConfig };
}

/** Counts what pairctl did on a machine since `since`: execs, and the sshd connections they came on. */
export async function execsSince(m: LabMachine, since: string): Promise<{ connections: number; execs: number }> {
  const lines = (await m.run('cat /run/pt-execs 2>/dev/null')).stdout
    .split('\n')
    .map((l) => l.split(' '))
    .filter(([at]) => at && Number(at) > Number(since));
  return { connections: new Set(lines.map(([, sshd]) => sshd)).size, execs: lines.length };
}

/** The machine's clock, in the form execsSince takes. */
export async function now(m: LabMachine): Promise<string> {
  return (await must(m, 'date +%s.%N')).trim();
}

/** The host's ssh host keys as `<name> <type> <base64>` known_hosts lines. */
export async function hostKeyLines(host: LabMachine, name: string): Promise<string> {
  const keys = await must(host, "for f in /etc/ssh/ssh_host_*_key.pub; do cut -d' ' -f1,2 \"$f\"; done");
  return keys
    .trim()
    .split('\n')
    .map((l) => `${name} ${l}`)
    .join('\n');
}

/**
 * True when a connection to address:port (by default the relay's public address, from the guest)
 * reaches the host's sshd: the host's own host key answers.
 */
export async function reachesHost(t: TunnelLab, port: number, address = t.relay.ip, from: LabMachine = t.guest): Promise<boolean> {
  const hostKey = (await must(t.host, "cut -d' ' -f2 /etc/ssh/ssh_host_ed25519_key.pub")).trim();
  const r = await from.run(`ssh-keyscan -T 2 -t ed25519 -p ${port} ${address} 2>/dev/null`);
  return r.stdout.includes(hostKey);
}

/** What the private half of the host's tunnel key looks like on the wire: none of it may leak. */
export async function privateKeyMarkers(host: LabMachine): Promise<string[]> {
  const body = await must(host, 'grep -v -- ----- /var/lib/pairctl/tunnel/id_ed25519');
  return body
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length >= 20);
}

/** Asserts the operator's own login to a machine still works (sshd was reloaded many times). */
export async function adminLoginWorks(t: TunnelLab, machine: string): Promise<void> {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync('ssh', ['-F', t.lab.sshConfigFile, '-o', 'BatchMode=yes', machine, 'echo admin-ok'], { encoding: 'utf8', timeout: 20_000 });
  expect(r.stdout).toContain('admin-ok');
}
