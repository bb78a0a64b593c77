/**
 * The tunnel graph of issue 3: what each provider builds on the host and on the relay, how the
 * cross-machine facts fill it in, and the generated files checked by the tools that read them
 * (systemd-analyze, ssh-keygen, a YAML parser).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfigText } from '../../../src/config/load-config.js';
import type { Host, PairConfig, Relay } from '../../../src/config/model.js';
import { buildGraph, type DesiredMachine } from '../../../src/graph/build-graph.js';
import { SSH_HOST_KEYS_FACT, TUNNEL_PUBLIC_KEY_FACT, type Facts } from '../../../src/graph/facts.js';
import { OPENSSH_VERSION_FACT, TMUX_VERSION_FACT } from '../../../src/graph/tool-versions.js';
import { tunnelAccount } from '../../../src/graph/paths.js';
import { tunnelArgv } from '../../../src/graph/tunnel-host.js';
import { tunnelOf, type RelayTunnel } from '../../../src/graph/tunnel.js';
import { unitArg } from '../../../src/graph/systemd-unit.js';
import type { FileSpec } from '../../../src/resources/file-state.js';
import { kindOf, type KindName } from '../../../src/resources/registry.js';
import { SECRET_SLOT, type SecretFileSpec } from '../../../src/resources/secret-file.js';
import type { SshdConfigSpec } from '../../../src/resources/sshd-config.js';
import type { SshdDropinSpec } from '../../../src/resources/sshd-dropin.js';
import { GUEST_SSHD_SETTINGS } from '../../../src/graph/sshd-settings.js';
import type { SystemdServiceSpec } from '../../../src/resources/systemd-service.js';
import { ED25519, guest, sampleConfig } from '../fixtures.js';

const pos = { file: 'pair.yaml', line: 1, column: 1 };
const TUNNEL_PUB = `ssh-ed25519 ${ED25519}`;
const RELAY_KEYS = `ssh-ed25519 ${ED25519}\necdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=`;

function relay(id = 'elefante', ssh = 'bhorseman@203.0.113.5'): Relay {
  return { id, platform: 'linux', ssh, sudo: true, pos };
}

function tunnelled(over: Partial<Host> & Pick<Host, 'tunnel'>, relays: Relay[] = [relay()]): PairConfig {
  const c = sampleConfig();
  return { ...c, hosts: [{ ...c.hosts[0]!, ...over }], relays };
}

const vps = () => tunnelled({ tunnel: { provider: 'vps', relay: 'elefante', port: 2222 }, forwards: [{ name: 'rails', local: 3000, remote: 8080 }] });
const jump = () => tunnelled({ tunnel: { provider: 'jump', relay: 'elefante', port: 2222 }, forwards: [{ name: 'rails', local: 3000, remote: 8080 }] });
const allFacts: Facts = { scotch: { [TUNNEL_PUBLIC_KEY_FACT]: TUNNEL_PUB, [OPENSSH_VERSION_FACT]: 'OpenSSH_10.0' }, elefante: { [SSH_HOST_KEYS_FACT]: RELAY_KEYS } };

/** pair.yaml text of host scotch on `provider` through relay elefante, with lines for guest todd and for the hosts. */
function lintYaml(provider: 'vps' | 'jump', guestLines: string[], hostLines: string[] = []): string {
  return [
    'version: 1',
    'relays:',
    '  elefante: { platform: linux, ssh: bhorseman@203.0.113.5 }',
    'hosts:',
    '  scotch:',
    '    platform: linux',
    '    ssh: local',
    '    owner: bhorseman',
    `    tunnel: { provider: ${provider}, relay: elefante, port: 2222 }`,
    ...hostLines,
    'guests:',
    '  todd:',
    `    keys: ["ssh-ed25519 ${ED25519} todd@trees"]`,
    ...guestLines,
    '',
  ].join('\n');
}

const machine = (g: DesiredMachine[], id: string) => g.find((m) => m.target.id === id)!;
const spec = <S>(m: DesiredMachine, address: string) => {
  const r = m.resources.find((x) => x.address === address);
  if (!r) throw new Error(`${m.target.id} has no ${address}: ${m.resources.map((x) => x.address).join(', ')}`);
  return r.spec as S;
};
/** What each resource is and how it is read: facts may change neither. */
const shape = (g: DesiredMachine[]) => g.map((m) => [m.target.id, m.resources.map((r) => [r.address, kindOf(r.kind).probe(r.spec)]), m.facts]);

describe('vps tunnel', () => {
  const before = buildGraph(vps());
  const after = buildGraph(vps(), { facts: allFacts });

  it('adds the relay as a machine, and facts change contents only, never addresses or probes', () => {
    expect(before.map((m) => `${m.role} ${m.target.id} ${m.target.ssh}`)).toEqual(['host scotch root@192.0.2.10', 'relay elefante bhorseman@203.0.113.5']);
    expect(shape(after)).toEqual(shape(before));
    expect(machine(before, 'elefante').target.sudo).toBe(true);
  });

  it('defers what needs an unknown fact, and nothing once the facts are read', () => {
    expect(machine(before, 'scotch').deferred).toEqual([
      { address: 'file["/var/lib/pairctl/tunnel/known_hosts"]', waitsFor: { machine: 'elefante', key: SSH_HOST_KEYS_FACT }, what: 'the ssh host keys of relay elefante' },
    ]);
    expect(machine(before, 'elefante').deferred?.map((d) => [d.address, d.waitsFor])).toEqual([
      ['file["/home/tunnel-scotch/.ssh/authorized_keys"]', { machine: 'scotch', key: TUNNEL_PUBLIC_KEY_FACT }],
    ]);
    expect(after.flatMap((m) => m.deferred)).toEqual([]);
    expect(after.flatMap((m) => m.errors)).toEqual([]);
  });

  it('declares the facts each machine answers: the host its tunnel key (made by the tunnel_key), the relay its host keys', () => {
    // Besides the tool versions every machine answers (graph/tool-versions.ts).
    const crossFacts = (id: string) => (machine(before, id).facts ?? []).filter((f) => f.key !== TMUX_VERSION_FACT && f.key !== OPENSSH_VERSION_FACT);
    expect(crossFacts('scotch').map((f) => [f.key, f.madeBy])).toEqual([[TUNNEL_PUBLIC_KEY_FACT, 'tunnel_key["/var/lib/pairctl/tunnel/id_ed25519"]']]);
    expect(crossFacts('scotch')[0]?.snippet).toContain('ssh-keygen -y -f /var/lib/pairctl/tunnel/id_ed25519');
    expect(crossFacts('elefante').map((f) => [f.key, f.madeBy])).toEqual([[SSH_HOST_KEYS_FACT, undefined]]);
  });

  it('pins every relay host key under the address the tunnel connects to', () => {
    const kh = spec<FileSpec>(machine(after, 'scotch'), 'file["/var/lib/pairctl/tunnel/known_hosts"]');
    expect(kh.content.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(RELAY_KEYS.split('\n').map((l) => `203.0.113.5 ${l}`));
    expect(kh.mode).toBe('0644');
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-kh-'));
    writeFileSync(join(dir, 'known_hosts'), kh.content);
    const found = spawnSync('ssh-keygen', ['-F', '203.0.113.5', '-f', join(dir, 'known_hosts')], { encoding: 'utf8' });
    expect(found.stdout).toContain('ssh-ed25519');
  });

  it('runs ssh -N with every option pinned, -R on 0.0.0.0 for the session (to the guest-only listener, never port 22) and each forward', () => {
    const c = vps();
    expect(tunnelArgv(tunnelOf(c, c.hosts[0]!) as RelayTunnel, { host: '203.0.113.5', port: 22 })).toEqual([
      '/usr/bin/ssh', '-N', '-T', '-F', '/dev/null',
      '-o', 'BatchMode=yes', '-o', 'ExitOnForwardFailure=yes', '-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3',
      '-o', 'ConnectTimeout=10', '-o', 'StrictHostKeyChecking=yes', '-o', 'UserKnownHostsFile=/var/lib/pairctl/tunnel/known_hosts',
      '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'UpdateHostKeys=no', '-o', 'IdentitiesOnly=yes',
      '-i', '/var/lib/pairctl/tunnel/id_ed25519', '-p', '22',
      '-R', '0.0.0.0:2222:127.0.0.1:822', '-R', '0.0.0.0:8080:localhost:3000',
      '-l', 'tunnel-scotch', '203.0.113.5',
    ]);
    const unit = spec<SystemdServiceSpec>(machine(after, 'scotch'), 'systemd_service["pairctl-tunnel.service"]');
    expect(unit.content).toMatch(/^ExecStart=\/usr\/bin\/ssh -N -T .* -R 0\.0\.0\.0:2222:127\.0\.0\.1:822 -R 0\.0\.0\.0:8080:localhost:3000 -l tunnel-scotch 203\.0\.113\.5$/m);
    expect(unit.content).toMatch(/^Restart=always$/m);
    expect(unit.content).toMatch(/^RestartSec=2$/m);
    expect(unit.content).toMatch(/^StartLimitIntervalSec=0$/m);
  });

  it('gives the tunnel account exactly its ports in one drop-in, sshd -T names as the check', () => {
    const dropin = spec<SshdDropinSpec>(machine(after, 'elefante'), 'sshd_dropin["/etc/ssh/sshd_config.d/00-pairctl-relay.conf"]');
    const block = dropin.content.slice(dropin.content.indexOf('Match User tunnel-scotch'));
    for (const line of [
      'AllowTcpForwarding remote',
      'PermitListen 0.0.0.0:2222 0.0.0.0:8080',
      'GatewayPorts clientspecified',
      'PermitTTY no',
      'ForceCommand /bin/false',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'AuthenticationMethods publickey',
      'PermitOpen none',
      'AllowAgentForwarding no',
      'X11Forwarding no',
      'AuthorizedKeysFile .ssh/authorized_keys',
      'AuthorizedKeysCommand none',
      'AuthorizedPrincipalsCommand none',
      'AuthorizedPrincipalsFile none',
      'AcceptEnv pairctl-accepts-no-environment',
    ]) {
      expect(block).toContain(`\n    ${line}\n`);
    }
    expect(dropin.checks.map((c) => c.user)).toEqual(['tunnel-scotch']);
    expect(dropin.checks[0]!.expect).toMatchObject({ permitlisten: '0.0.0.0:2222 0.0.0.0:8080', allowtcpforwarding: 'remote', forcecommand: '/bin/false', permittty: 'no', acceptenv: 'pairctl-accepts-no-environment' });
    // PermitUserEnvironment is global-only in sshd: checked, never set for the relay's other users.
    expect(dropin.globalExpect).toEqual({ permituserenvironment: 'no' });
    expect(dropin.content).not.toMatch(/PermitUserEnvironment/);
  });

  it("locks the host's tunnel key on the relay to forwarding its own ports, and OpenSSH reads the line", () => {
    const keys = spec<FileSpec>(machine(after, 'elefante'), 'file["/home/tunnel-scotch/.ssh/authorized_keys"]');
    const line = keys.content.split('\n').find((l) => l.startsWith('restrict'))!;
    expect(line).toBe(
      `restrict,port-forwarding,permitlisten="0.0.0.0:2222",permitlisten="0.0.0.0:8080",command="/bin/false" ${TUNNEL_PUB} pairctl-tunnel:scotch`,
    );
    expect(keys.owner).toBe('root');
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-ak-'));
    writeFileSync(join(dir, 'authorized_keys'), keys.content);
    expect(execFileSync('ssh-keygen', ['-l', '-f', join(dir, 'authorized_keys')], { encoding: 'utf8' })).toMatch(/^256 SHA256:\S+ pairctl-tunnel:scotch \(ED25519\)/);
    // Before the key exists, the file has no key line at all (and is shown as known after apply).
    const placeholder = spec<FileSpec>(machine(before, 'elefante'), 'file["/home/tunnel-scotch/.ssh/authorized_keys"]');
    expect(placeholder.content).not.toContain('restrict');
  });

  it('opens each public port in ufw with a comment naming the host', () => {
    const ufw = machine(after, 'elefante').resources.filter((r) => r.kind === 'ufw_rule').map((r) => r.spec);
    expect(ufw).toEqual([
      { port: 2222, proto: 'tcp', comment: 'pairctl: ssh of host scotch' },
      { port: 8080, proto: 'tcp', comment: 'pairctl: rails of host scotch' },
    ]);
  });

  it('refuses guests with "from": a vps tunnel cannot enforce it (a lint error, before any graph)', () => {
    const text = lintYaml('vps', ['    from: ["198.51.100.0/24"]']);
    const { config, diagnostics } = loadConfigText(text, 'pair.yaml');
    expect(config).toBeUndefined();
    expect(diagnostics.map((d) => `${d.file}:${d.line}:${d.column} ${d.rule} ${d.message}`)).toEqual([
      'pair.yaml:13:5 from-unenforceable guest "todd" has "from", which the vps tunnel of host "scotch" cannot enforce: through it every guest reaches the host from the host\'s own loopback',
    ]);
    // the positive control: the same guest through a jump relay is fine
    expect(loadConfigText(lintYaml('jump', ['    from: ["198.51.100.0/24"]']), 'pair.yaml').diagnostics).toEqual([]);
  });

  it('resolves a relay alias through the given endpoints (the ssh config), else pair.yaml', () => {
    const c = tunnelled({ tunnel: { provider: 'vps', relay: 'elefante', port: 2222 } }, [relay('elefante', 'elefante-alias')]);
    const unit = (g: DesiredMachine[]) => spec<SystemdServiceSpec>(machine(g, 'scotch'), 'systemd_service["pairctl-tunnel.service"]').content;
    expect(unit(buildGraph(c))).toContain(' -p 22 ');
    expect(unit(buildGraph(c))).toMatch(/-l tunnel-scotch elefante-alias$/m);
    expect(unit(buildGraph(c, { relayEndpoints: { elefante: { host: '198.51.100.9', port: 2200 } } }))).toMatch(/-p 2200 .* -l tunnel-scotch 198\.51\.100\.9$/m);
  });
});

describe("each host's tunnel, worked out once (graph/tunnel.ts)", () => {
  it('holds what both ends read: account, listen address, ports, endpoint, key lines', () => {
    const c = vps();
    const t = tunnelOf(c, c.hosts[0]!, { facts: allFacts }) as RelayTunnel;
    expect(t).toMatchObject({ provider: 'vps', account: 'tunnel-scotch', listen: '0.0.0.0', sshPort: 2222, endpoint: { host: '203.0.113.5', port: 22 }, errors: [] });
    expect(t.relay?.id).toBe('elefante');
    expect(t.ports).toEqual([
      { port: 2222, to: '127.0.0.1:822', what: 'ssh' },
      { port: 8080, to: 'localhost:3000', what: 'rails' },
    ]);
    expect(t.publicKey).toEqual({ machine: 'scotch', key: TUNNEL_PUBLIC_KEY_FACT });
    expect(t.keyLines).toEqual([`restrict,port-forwarding,permitlisten="0.0.0.0:2222",permitlisten="0.0.0.0:8080",command="/bin/false" ${TUNNEL_PUB} pairctl-tunnel:scotch`]);
    // Both ends show exactly these: the host's -R and -l, the relay's PermitListen and key file.
    const g = buildGraph(c, { facts: allFacts });
    const unit = spec<SystemdServiceSpec>(machine(g, 'scotch'), 'systemd_service["pairctl-tunnel.service"]').content;
    for (const p of t.ports) expect(unit).toContain(`-R ${t.listen}:${p.port}:${p.to}`);
    expect(unit).toMatch(new RegExp(`-l ${t.account} 203\\.0\\.113\\.5$`, 'm'));
    const dropin = spec<SshdDropinSpec>(machine(g, 'elefante'), `sshd_dropin["/etc/ssh/sshd_config.d/00-pairctl-relay.conf"]`);
    expect(dropin.content).toContain(`Match User ${t.account}`);
    expect(dropin.content).toContain(`PermitListen ${t.ports.map((p) => `${t.listen}:${p.port}`).join(' ')}`);
    expect(spec<FileSpec>(machine(g, 'elefante'), `file["/home/${t.account}/.ssh/authorized_keys"]`).content).toContain(t.keyLines![0]);
  });

  it('has no key lines until the key is read, and keeps why a key or an endpoint cannot be used', () => {
    const c = jump();
    const before = tunnelOf(c, c.hosts[0]!) as RelayTunnel;
    expect([before.listen, before.keyLines, before.keyError]).toEqual(['127.0.0.1', undefined, undefined]);
    const bad = tunnelOf(c, c.hosts[0]!, { facts: { scotch: { [TUNNEL_PUBLIC_KEY_FACT]: 'not a key' } } }) as RelayTunnel;
    expect([bad.keyLines, bad.keyError]).toEqual([undefined, expect.stringMatching(/^the tunnel key of host scotch is not an OpenSSH public key/)]);
    const unreachable = tunnelled({ tunnel: { provider: 'vps', relay: 'elefante', port: 2222 } }, [relay('elefante', 'bad host name!')]);
    const u = tunnelOf(unreachable, unreachable.hosts[0]!) as RelayTunnel;
    expect(u.endpoint).toBeUndefined();
    expect(u.errors).toHaveLength(1);
    // The host's part is then only that error; the relay's still has the tunnel account.
    const g = buildGraph(unreachable);
    expect(machine(g, 'scotch').errors).toEqual(u.errors);
    expect(machine(g, 'scotch').resources.some((r) => r.kind === 'systemd_service' && r.address.includes('tunnel'))).toBe(false);
    expect(machine(g, 'elefante').resources.map((r) => r.address)).toContain('relay_account["tunnel-scotch"]');
    expect(tunnelOf(sampleConfig(), sampleConfig().hosts[0]!)).toEqual({ provider: 'lan', host: sampleConfig().hosts[0] });
  });
});

describe('a relay shared by two hosts', () => {
  const c = vps();
  c.hosts.push({ ...c.hosts[0]!, id: 'rye', ssh: 'root@192.0.2.11', tunnel: { provider: 'jump', relay: 'elefante', port: 2223 }, forwards: [] });
  const g = buildGraph(c, { facts: { ...allFacts, rye: { [TUNNEL_PUBLIC_KEY_FACT]: TUNNEL_PUB } } });
  const relayMachine = machine(g, 'elefante');

  it('gets one drop-in with one Match block per tunnel account, each with only its own ports', () => {
    const drops = relayMachine.resources.filter((r) => r.kind === 'sshd_dropin');
    expect(drops).toHaveLength(1);
    const content = (drops[0]!.spec as SshdDropinSpec).content;
    const blocks = content.split(/\n(?=# )/).filter((b) => b.includes('Match '));
    expect(blocks.map((b) => /Match (.*)/.exec(b)![1])).toEqual(['User tunnel-scotch', 'User tunnel-rye', 'Group pairctl-jump']);
    expect(blocks[0]).toContain('PermitListen 0.0.0.0:2222 0.0.0.0:8080');
    expect(blocks[1]).toContain('PermitListen 127.0.0.1:2223\n');
    expect(blocks[1]).toContain('GatewayPorts no');
    expect(blocks[2]).toContain('PermitOpen 127.0.0.1:2223\n');
    expect(blocks[2]).toContain('AllowTcpForwarding local');
  });

  it('has one tunnel account per host, and refuses a port used twice', () => {
    expect(relayMachine.resources.filter((r) => r.kind === 'relay_account' && r.address.includes('tunnel')).map((r) => r.address)).toEqual([
      'relay_account["tunnel-scotch"]',
      'relay_account["tunnel-rye"]',
    ]);
    // A port used twice on the relay is a lint error (relay-port-conflict) at its position; the graph no longer checks.
    const shared = (port: number) =>
      lintYaml('vps', [], [
        '    forwards: [{ name: rails, local: 3000, remote: 8080 }]',
        '  rye:',
        '    platform: linux',
        '    ssh: root@192.0.2.11',
        '    owner: bhorseman',
        `    tunnel: { provider: jump, relay: elefante, port: ${port} }`,
      ]);
    expect(loadConfigText(shared(2223), 'pair.yaml').diagnostics).toEqual([]);
    expect(loadConfigText(shared(8080), 'pair.yaml').diagnostics.map((d) => `${d.line}:${d.column} ${d.rule} ${d.message}`)).toEqual([
      '15:54 relay-port-conflict hosts.rye.tunnel.port: port 8080 on relay "elefante" is already used by hosts.scotch.forwards[0].remote (line 10)',
    ]);
  });
});

describe('jump tunnel', () => {
  const c = jump();
  c.guests = [guest('todd', { from: ['198.51.100.0/24'], expires: new Date('2026-12-31T18:05:00Z') }), guest('ann', { mode: 'pair' })];
  const g = buildGraph(c, { facts: allFacts });

  it('binds the relay end to loopback only', () => {
    expect(tunnelArgv(tunnelOf(c, c.hosts[0]!) as RelayTunnel, { host: '203.0.113.5', port: 22 })).toEqual(expect.arrayContaining(['-R', '127.0.0.1:2222:127.0.0.1:822', '-R', '127.0.0.1:8080:localhost:3000']));
    expect(machine(g, 'elefante').resources.some((r) => r.kind === 'ufw_rule')).toBe(false);
  });

  it("gives each guest a relay account that may open only the host's loopback ports, with the guest's from and expiry", () => {
    const keys = spec<FileSpec>(machine(g, 'elefante'), 'file["/home/pair-todd/.ssh/authorized_keys"]');
    const line = keys.content.split('\n').find((l) => l.startsWith('restrict'))!;
    expect(line).toBe(
      `restrict,port-forwarding,permitopen="127.0.0.1:2222",permitopen="127.0.0.1:8080",command="/bin/false",expiry-time="202612311805Z",from="198.51.100.0/24" ssh-ed25519 ${ED25519} pairctl:todd:1`,
    );
    const acc = spec<{ groups: string[]; shell: string }>(machine(g, 'elefante'), 'relay_account["pair-todd"]');
    expect(acc).toMatchObject({ groups: ['pairctl-jump'], shell: '/usr/sbin/nologin' });
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-jk-'));
    writeFileSync(join(dir, 'authorized_keys'), keys.content);
    expect(execFileSync('ssh-keygen', ['-l', '-f', join(dir, 'authorized_keys')], { encoding: 'utf8' })).toContain('pairctl:todd:1');
  });

  it("lets a guest with from in on the host too, where it arrives from the tunnel's loopback end", () => {
    const keys = spec<FileSpec>(machine(g, 'scotch'), 'file["/home/pair-todd/.ssh/authorized_keys"]');
    expect(keys.content).toContain('from="198.51.100.0/24,127.0.0.1,::1"');
  });
});

describe('ngrok tunnel', () => {
  const c = tunnelled({ tunnel: { provider: 'ngrok', authtokenEnv: 'NGROK_AUTHTOKEN', region: 'eu' }, forwards: [{ name: 'rails', local: 3000, remote: 8080 }] }, []);
  const token = '2abcDEFghiJKLmnoPQRstuVWXyz_0123456789abcdefGHIJ';
  const g = buildGraph(c, { env: { NGROK_AUTHTOKEN: token } });
  const host = machine(g, 'scotch');
  const cfg = spec<SecretFileSpec>(host, 'secret_file["/etc/pairctl/ngrok.yml"]');

  it('writes a v2 agent config that parses back to exactly the wanted tunnels', () => {
    const parsed = parseYaml(cfg.template.replace(SECRET_SLOT, token)) as Record<string, unknown>;
    expect(parsed).toEqual({
      version: '2',
      authtoken: token,
      web_addr: false,
      region: 'eu',
      tunnels: { ssh: { proto: 'tcp', addr: '127.0.0.1:822' }, rails: { proto: 'http', addr: 3000 } },
    });
    expect(cfg).toMatchObject({ mode: '0600', owner: 'root', group: 'root', secretEnv: 'NGROK_AUTHTOKEN', restartUnit: 'pairctl-ngrok.service' });
  });

  it('generates exactly this file: the agent\'s local inspector and API are off (web_addr: false)', () => {
    expect(cfg.template).toBe(
      [
        '# Managed by pairctl for host scotch. Do not edit; `pairctl apply` rewrites it.',
        '# Holds the ngrok authtoken (from $NGROK_AUTHTOKEN when pairctl applied): root only.',
        'version: "2"',
        `authtoken: ${SECRET_SLOT}`,
        "# The agent's local web inspector and API (127.0.0.1:4040) stay off: any local user could read",
        '# the traffic and start or stop tunnels through them.',
        'web_addr: false',
        'region: eu',
        'tunnels:',
        '  ssh:',
        '    proto: tcp',
        '    addr: 127.0.0.1:822',
        '  rails:',
        '    proto: http',
        '    addr: 3000',
        '',
      ].join('\n'),
    );
  });

  it('never holds the token: only the sha256 of the content it makes', () => {
    expect(JSON.stringify(g)).not.toContain(token);
    expect(cfg.contentSha256).toMatch(/^[0-9a-f]{64}$/);
    const without = spec<SecretFileSpec>(machine(buildGraph(c), 'scotch'), 'secret_file["/etc/pairctl/ngrok.yml"]');
    expect(without.contentSha256).toBeUndefined();
    expect(without.template).toBe(cfg.template);
  });

  it('refuses a token that could break the YAML, without saying it', () => {
    const bad = 'abc"def\nversion: 9';
    const errors = machine(buildGraph(c, { env: { NGROK_AUTHTOKEN: bad } }), 'scotch').errors!.join('\n');
    expect(errors).toMatch(/\$NGROK_AUTHTOKEN does not look like an ngrok authtoken/);
    expect(errors).not.toContain('abc');
  });

  it('runs the agent as a service on every tunnel of the config', () => {
    const unit = spec<SystemdServiceSpec>(host, 'systemd_service["pairctl-ngrok.service"]');
    expect(unit.content).toMatch(/^ExecStart=\/usr\/local\/bin\/ngrok start --all --config \/etc\/pairctl\/ngrok\.yml --log stdout$/m);
    expect(unit.executable).toBe('/usr/local/bin/ngrok');
    expect(unit.content).not.toContain(token);
  });
});

describe('the guest-only sshd a tunnel leads to', () => {
  const host = (g: DesiredMachine[]) => machine(g, 'scotch');
  const listener = (g: DesiredMachine[]) => spec<SshdConfigSpec>(host(g), 'sshd_config["/etc/pairctl/sshd_config"]');
  const lines = (content: string) => content.split('\n').filter((l) => l && !l.startsWith('#'));

  it('is a complete config on loopback: guests only, publickey only, the join program, every guest setting', () => {
    const cfg = listener(buildGraph(vps(), { facts: allFacts }));
    const got = lines(cfg.content);
    for (const line of ['ListenAddress 127.0.0.1:822', 'AllowGroups pairctl', 'PermitRootLogin no', 'PidFile none', 'PermitUserEnvironment no', 'TrustedUserCAKeys none']) {
      expect(got).toContain(line);
    }
    for (const [k, v] of GUEST_SSHD_SETTINGS) expect(got).toContain(`${k} ${v}`);
    // Nothing of the machine's sshd_config or its drop-ins: no Include, no Match, no Subsystem (sftp).
    expect(cfg.content).not.toMatch(/^(Include|Match|Subsystem|Port|HostKey) /im);
    expect(cfg).toMatchObject({ mode: '0644', owner: 'root', group: 'root', unit: 'pairctl-sshd.service', listen: { address: '127.0.0.1', port: 822 } });
    expect(cfg.checks.map((c) => c.user)).toEqual(['pair-todd']);
    expect(cfg.checks[0]!.expect).toMatchObject({ allowgroups: 'pairctl', permitrootlogin: 'no', forcecommand: '/usr/local/libexec/pairctl/join', acceptenv: 'pairctl-accepts-no-environment' });
    const probe = kindOf('sshd_config').probe(cfg);
    expect(probe).toContain('/usr/sbin/sshd -T -f /etc/pairctl/sshd_config -C user=pair-todd,host=pairctl.invalid,addr=127.0.0.1,laddr=127.0.0.1,lport=822');
  });

  it('exempts loopback from PerSourcePenalties only where OpenSSH knows the keyword (>= 9.8), installed or about to be', () => {
    const withVersion = (v: string | undefined) => {
      const facts: Facts = { ...allFacts, scotch: { ...allFacts.scotch!, [OPENSSH_VERSION_FACT]: v ?? '' } };
      return lines(listener(buildGraph(vps(), { facts })).content);
    };
    const exemption = 'PerSourcePenaltyExemptList 127.0.0.1,::1';
    expect(withVersion('OpenSSH_10.0')).toContain(exemption);
    expect(withVersion('OpenSSH_9.8')).toContain(exemption);
    expect(withVersion('candidate 1:10.0p1-7')).toContain(exemption);
    expect(withVersion('OpenSSH_9.7')).not.toContain(exemption);
    expect(withVersion('OpenSSH_9.2')).not.toContain(exemption);
    expect(withVersion('candidate 1:9.2p1-2+deb12u3')).not.toContain(exemption);
    expect(withVersion(undefined)).not.toContain(exemption);
    expect(listener(buildGraph(vps(), { facts: allFacts })).checks[0]!.expect).toMatchObject({ persourcepenaltyexemptlist: '127.0.0.1,::1' });
    // The version changes the content and the expectation, never the probe (facts may not).
    const nine = buildGraph(vps(), { facts: { ...allFacts, scotch: { ...allFacts.scotch!, [OPENSSH_VERSION_FACT]: 'OpenSSH_9.2' } } });
    expect(kindOf('sshd_config').probe(listener(nine))).toBe(kindOf('sshd_config').probe(listener(buildGraph(vps(), { facts: allFacts }))));
  });

  it('reads the version from sshd itself (its usage text before 9.8), else from apt', () => {
    const probe = host(buildGraph(vps())).facts!.find((f) => f.key === OPENSSH_VERSION_FACT)!;
    expect(probe.snippet).toContain('/usr/sbin/sshd /usr/bin/sshd');
    expect(probe.snippet).toContain('-V 2>&1');
    expect(probe.snippet).toContain('apt-cache policy openssh-server');
    execFileSync('sh', ['-n'], { input: probe.snippet });
  });

  it('is what vps, jump and ngrok lead to, runs as its own unit, and a lan host has none', () => {
    for (const c of [vps(), jump(), tunnelled({ tunnel: { provider: 'ngrok', authtokenEnv: 'NGROK_AUTHTOKEN' }, forwards: [] }, [])]) {
      const g = buildGraph(c, { facts: allFacts });
      expect(listener(g).path).toBe('/etc/pairctl/sshd_config');
      const unit = spec<SystemdServiceSpec>(host(g), 'systemd_service["pairctl-sshd.service"]');
      expect(unit.content).toMatch(/^ExecStart=\/usr\/sbin\/sshd -D -f \/etc\/pairctl\/sshd_config$/m);
      expect(unit.content).toMatch(/^ExecStartPre=\/usr\/sbin\/sshd -t -f \/etc\/pairctl\/sshd_config$/m);
      expect(unit.content).toMatch(/^KillMode=process$/m);
      expect(host(g).resources.find((r) => r.address === 'systemd_service["pairctl-sshd.service"]')!.deps).toEqual(['sshd_config["/etc/pairctl/sshd_config"]']);
    }
    const lan = buildGraph(tunnelled({ tunnel: { provider: 'lan' } }, []));
    expect(host(lan).resources.map((r) => r.kind)).not.toContain('sshd_config');
    expect((host(lan).facts ?? []).map((f) => f.key)).toEqual([TMUX_VERSION_FACT, OPENSSH_VERSION_FACT]);
  });
});

describe('generated systemd units pass systemd-analyze verify with nothing on stderr', () => {
  // Verified inside a throwaway root that has the system's own units and the programs ExecStart
  // names (ngrok cannot be installed here: a stand-in executable takes its place).
  function verify(units: SystemdServiceSpec[]): string {
    const root = mkdtempSync(join(tmpdir(), 'pairctl-units-'));
    mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
    cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    for (const u of units) {
      const exe = join(root, u.executable);
      mkdirSync(join(exe, '..'), { recursive: true });
      writeFileSync(exe, '#!/bin/sh\n', { mode: 0o755 });
      writeFileSync(join(root, u.path), u.content);
    }
    const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, ...units.map((u) => u.unit)], { encoding: 'utf8' });
    return `${r.status} ${r.stderr}`;
  }

  it('for the vps, jump and ngrok services, and the guest-only sshd', () => {
    const units = [
      spec<SystemdServiceSpec>(machine(buildGraph(vps(), { facts: allFacts }), 'scotch'), 'systemd_service["pairctl-sshd.service"]'),
      spec<SystemdServiceSpec>(machine(buildGraph(vps(), { facts: allFacts }), 'scotch'), 'systemd_service["pairctl-tunnel.service"]'),
      spec<SystemdServiceSpec>(
        machine(buildGraph(tunnelled({ tunnel: { provider: 'ngrok', authtokenEnv: 'NGROK_AUTHTOKEN' }, forwards: [] }, [])), 'scotch'),
        'systemd_service["pairctl-ngrok.service"]',
      ),
    ];
    expect(verify(units)).toBe('0 ');
    const jumpUnit = spec<SystemdServiceSpec>(machine(buildGraph(jump(), { facts: allFacts }), 'scotch'), 'systemd_service["pairctl-tunnel.service"]');
    expect(verify([jumpUnit])).toBe('0 ');
  });

  it('and the check itself catches a bad unit', () => {
    const unit = spec<SystemdServiceSpec>(machine(buildGraph(vps(), { facts: allFacts }), 'scotch'), 'systemd_service["pairctl-tunnel.service"]');
    expect(verify([{ ...unit, content: unit.content.replace('Restart=always', 'Restart=sometimes') }])).toMatch(/^0 .*Failed to parse service restart specifier/); // exit 0: only stderr tells
  });

  it('escapes % for systemd and refuses what would need quoting', () => {
    expect(unitArg('fe80::1%eth0')).toBe('fe80::1%%eth0');
    expect(() => unitArg('a b')).toThrow(/would need quoting/);
    expect(() => unitArg('$(id)')).toThrow(/would need quoting/);
  });
});

describe('relay account names', () => {
  it('fit in 32 characters for the longest host ids, and stay distinct', () => {
    const a = tunnelAccount('a'.repeat(31));
    const b = tunnelAccount(`${'a'.repeat(30)}b`);
    expect(tunnelAccount('scotch')).toBe('tunnel-scotch');
    expect(a.length).toBeLessThanOrEqual(32);
    expect(b.length).toBeLessThanOrEqual(32);
    expect(a).not.toBe(b);
  });
});

describe('lan', () => {
  it('adds no machine and no tunnel resource', () => {
    const g = buildGraph(sampleConfig());
    expect(g).toHaveLength(1);
    // (a lan host's one service is the audit log's follower, graph/audit.ts)
    expect(g[0]!.resources.some((r) => ['tunnel_key', 'systemd_service', 'secret_file'].includes(r.kind) && r.address !== 'systemd_service["pairctl-audit.service"]')).toBe(false);
  });
});

describe('the tunnel kinds write shell that shellcheck accepts', () => {
  // Every fixture of the kinds issue 3 added: their probes and change scripts, as POSIX sh under set -eu.
  const dir = join(import.meta.dirname, '../../fixtures/resources');
  const files = readdirSync(dir).filter((f) => /^(tunnel-key|systemd-service|ufw-rule|secret-file|relay-account)-/.test(f));
  it.each(files)('%s', (f) => {
    const c = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { kind: KindName; spec: unknown; probe: string; ctx: { wanted: boolean; recorded: boolean } };
    const kind = kindOf(c.kind);
    const delta = kind.diff(c.spec, kind.parse(c.probe, c.spec), c.ctx);
    const tmp = mkdtempSync(join(tmpdir(), 'pairctl-sc-'));
    for (const [name, script] of [['probe', kind.probe(c.spec)], ['change', delta.script]] as const) {
      if (!script) continue;
      writeFileSync(join(tmp, name), `#!/bin/sh\nset -eu\n${script}\n`);
      // SC2154: the secret's variable is defined by the apply engine, for that step only.
      const r = spawnSync('shellcheck', ['-s', 'sh', '-e', 'SC2154', join(tmp, name)], { encoding: 'utf8' });
      expect(r.stdout, `${f} ${name}`).toBe('');
      expect(r.status).toBe(0);
    }
  });
});
