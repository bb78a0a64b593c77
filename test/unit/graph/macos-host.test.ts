/**
 * macOS hosts cannot run here, so the macOS plan and apply command sequences are tested against
 * recorded output of the real tools (test/fixtures/macos): each kind parses it into the Mac's
 * observation, the real engine compares against that, and the apply script it would run is
 * checked for order and with shellcheck.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load-config.js';
import type { PairConfig } from '../../../src/config/model.js';
import { buildGraph, topoSort, type DesiredMachine } from '../../../src/graph/build-graph.js';
import { JOIN_PROGRAM } from '../../../src/graph/paths.js';
import { applyScript } from '../../../src/plan/apply-machine.js';
import { compare } from '../../../src/plan/compare.js';
import type { Observation } from '../../../src/plan/observe.js';
import type { FileSpec } from '../../../src/resources/file-state.js';
import type { Resource } from '../../../src/resources/kind.js';
import { kindOf } from '../../../src/resources/registry.js';
import { upScript } from '../../../src/session/session-scripts.js';
import { render } from '../../../src/templates/render.js';
import { guest, sampleConfig } from '../fixtures.js';
import { observationOf } from '../plan/observations.js';

const fixtures = join(import.meta.dirname, '../../fixtures/macos');
const recorded = (name: string) => JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as Record<string, string>;

function macConfig(): PairConfig {
  const c = sampleConfig([guest('todd'), guest('ann', { mode: 'pair' })]);
  c.hosts[0] = { ...c.hosts[0]!, id: 'mini', platform: 'macos', owner: 'bhorseman' };
  return c;
}

/** What the probe of one resource printed, from a recording (file-like probes built from the spec when converged). */
function outputFor(r: Resource, table: Record<string, string>, converged: boolean): string {
  const spec = r.spec as Partial<FileSpec> & { name?: string };
  if (converged && (r.kind === 'file' || r.kind === 'sshd_dropin' || r.kind === 'directory')) {
    const stat = `mode=${(spec.mode ?? '').replace(/^0/, '')}\nowner=${spec.owner}\ngroup=${spec.group}`;
    if (r.kind === 'directory') return `type=directory\n${stat}`;
    const file = `type=file\n${stat}\ncontent=${Buffer.from(spec.content ?? '').toString('base64')}`;
    return r.kind === 'sshd_dropin' ? `${file}\nincluded=yes\nsshd=yes` : file;
  }
  const out = table[r.kind];
  if (out === undefined) throw new Error(`no recording for ${r.kind}`);
  return out.replaceAll('{{account}}', spec.name ?? '');
}

/** The Mac's observation from the recording; after an apply the machine also holds pairctl's record of what it made. */
function macObservation(machine: DesiredMachine, table: Record<string, string>, converged: boolean): Observation {
  return observationOf(machine, { output: (r) => outputFor(r, table, converged), record: converged ? topoSort(machine.resources) : undefined });
}

describe('macOS host', () => {
  const [machine] = buildGraph(macConfig());
  const byAddress = new Map(machine!.resources.map((r) => [r.address, r]));

  it('uses the tools a Mac has: Homebrew tmux, Directory Services accounts, launchd sshd, root:wheel, /Users, /var/run', () => {
    const kinds = new Set(machine!.resources.map((r) => r.kind));
    expect(kinds).toContain('macos_host');
    expect(kinds).toContain('brew_package');
    expect(kinds).toContain('macos_account');
    expect(kinds).toContain('macos_group');
    expect(kinds).not.toContain('account');
    expect([...byAddress.keys()]).not.toContain('package["openssh-server"]');
    const keys = byAddress.get('file["/Users/pair-todd/.ssh/authorized_keys"]')!.spec as FileSpec;
    expect(`${keys.owner}:${keys.group}`).toBe('root:wheel');
    const dropin = byAddress.get('sshd_dropin["/etc/ssh/sshd_config.d/00-pairctl.conf"]')!.spec as { reload: string; path: string };
    expect(dropin.reload).toBe('launchd');
    // The first value wins in sshd, and macOS ships 100-macos.conf: ours must sort before it.
    expect(['100-macos.conf', '00-pairctl.conf'].sort()[0]).toBe('00-pairctl.conf');
    const joinProgram = byAddress.get(`file["${JOIN_PROGRAM}"]`)!.spec as FileSpec;
    expect(joinProgram.content).toContain('SOCKET=/var/run/pairctl/pair/tmux.sock');
    expect(joinProgram.content).toMatch(/^PATH=\/opt\/homebrew\/bin:/m);
  });

  it('plans a fresh Mac from recorded tool output, in a safe order', async () => {
    const work = await compare(machine!, macObservation(machine!, recorded('fresh.json'), false));
    expect(work.errors).toEqual([]);
    const order = work.steps.map((s) => s.address);
    const at = (a: string) => order.indexOf(a);
    expect(at('brew_package["tmux"]')).toBeGreaterThanOrEqual(0);
    expect(at('macos_group["pairctl"]')).toBeLessThan(at('macos_account["pair-todd"]'));
    expect(at('macos_account["pair-ann"]')).toBeLessThan(at('sshd_dropin["/etc/ssh/sshd_config.d/00-pairctl.conf"]'));
    const script = applyScript(work, '0123456789abcdef');
    let last = -1;
    for (const cmd of [
      'sudo -u bhorseman -H /opt/homebrew/bin/brew install tmux',
      'dscl . -create /Groups/pairctl PrimaryGroupID "$gid"',
      'dscl . -create /Users/pair-todd IsHidden 1',
      'dseditgroup -o edit -a pair-todd -t user com.apple.access_ssh',
      '/usr/sbin/sshd -t',
      'launchctl kickstart -k system/com.openssh.sshd',
      '/usr/sbin/sshd -T -C user=pair-todd',
    ]) {
      const i = script.indexOf(cmd, last + 1);
      expect(i, cmd).toBeGreaterThan(last);
      last = i;
    }
    expect(script).not.toContain('useradd');
    expect(script).not.toContain('systemctl reload');
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-mac-'));
    writeFileSync(join(dir, 'apply.sh'), script);
    execFileSync('shellcheck', ['-s', 'sh', '-S', 'error', join(dir, 'apply.sh')]);
  });

  it('plans no changes on the same Mac after apply', async () => {
    const work = await compare(machine!, macObservation(machine!, recorded('converged.json'), true));
    expect(work.errors).toEqual([]);
    expect(work.changes.map((c) => c.address)).toEqual([]);
  });

  it('refuses to plan when Remote Login is off, with the exact command that fixes it', async () => {
    const table = { ...recorded('fresh.json'), macos_host: 'version=14.5\nremotelogin=Remote Login: Off\nsshd=unloaded\naccess=all' };
    const work = await compare(machine!, macObservation(machine!, table, false));
    expect(work.errors.join('\n')).toContain('sudo systemsetup -setremotelogin on');
  });

  it('never tests or runs Homebrew\'s tmux as root: the owner looks, in a clean environment', () => {
    const tmux = machine!.resources.find((r) => r.address === 'brew_package["tmux"]')!;
    const probe = kindOf('brew_package').probe(tmux.spec);
    const ownerPart = probe.indexOf('sudo -u bhorseman -H -- env -i');
    expect(ownerPart).toBeGreaterThanOrEqual(0);
    // Everything that names Homebrew's bin directory is inside the owner's quoted script.
    expect(probe.slice(0, ownerPart)).not.toContain('/opt/homebrew');
    execFileSync('sh', ['-n'], { input: probe });
  });

  it('starts the session with sudo (no runuser on a Mac) under /var/run', () => {
    const config = macConfig();
    const script = upScript(config, config.hosts[0]!);
    // The whole owner side is one script run with sudo as the owner, in a clean environment.
    expect(script).toContain('sudo -u bhorseman -H -- env -i PATH=/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin HOME="$home" /bin/sh -c');
    expect(script).toContain('tmux -S /var/run/pairctl/pair/tmux.sock -f /etc/pairctl/tmux.conf new-session');
    expect(script).toContain('chmod 2710 "$d"');
    expect(script).not.toMatch(/^(chown|chmod)[^\n]*tmux\.sock/m);
    expect(script).toContain("dscl . -read /Users/bhorseman NFSHomeDirectory");
    expect(script).not.toContain('runuser');
    expect(script).not.toContain('getent');
    execFileSync('sh', ['-n'], { input: script });
  });

  it('holds a vps tunnel up with a launchd daemon (KeepAlive) running the same pinned ssh command', () => {
    const config = macConfig();
    const pos = config.hosts[0]!.pos;
    config.relays = [{ id: 'elefante', platform: 'linux', ssh: 'root@203.0.113.5', sudo: false, pos }];
    config.hosts[0] = { ...config.hosts[0]!, tunnel: { provider: 'vps', relay: 'elefante', port: 2222 } };
    const [mac] = buildGraph(config);
    expect(mac!.errors ?? []).toEqual([]);
    const kinds = mac!.resources.map((r) => r.kind);
    expect(kinds).toContain('launchd_service');
    expect(kinds).not.toContain('systemd_service');
    const service = mac!.resources.find((r) => r.address === 'launchd_service["dev.pairctl.tunnel"]')!.spec as FileSpec & { label: string };
    expect(service.path).toBe('/Library/LaunchDaemons/dev.pairctl.tunnel.plist');
    expect(`${service.owner}:${service.group}`).toBe('root:wheel');
    const plist = JSON.parse(
      execFileSync('python3', ['-c', 'import sys, json, plistlib; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))'], {
        input: service.content,
        encoding: 'utf8',
      }),
    ) as { Label: string; ProgramArguments: string[]; KeepAlive: boolean; RunAtLoad: boolean };
    expect(plist.Label).toBe('dev.pairctl.tunnel');
    expect(plist.KeepAlive).toBe(true);
    expect(plist.RunAtLoad).toBe(true);
    expect(plist.ProgramArguments[0]).toBe('/usr/bin/ssh');
    expect(plist.ProgramArguments.join(' ')).toContain('-o ExitOnForwardFailure=yes');
    expect(plist.ProgramArguments.join(' ')).toContain('-R 0.0.0.0:2222:127.0.0.1:822 -l tunnel-mini 203.0.113.5');
    const key = mac!.resources.find((r) => r.kind === 'directory' && (r.spec as FileSpec).path === '/var/lib/pairctl/tunnel')!.spec as FileSpec;
    expect(`${key.owner}:${key.group}:${key.mode}`).toBe('root:wheel:0700');

    // The tunnel leads to the guest-only sshd, a launchd daemon of its own (sshd -D -f), root:wheel.
    const listener = mac!.resources.find((r) => r.address === 'launchd_service["dev.pairctl.sshd"]')!;
    expect(listener.deps).toEqual(['sshd_config["/etc/pairctl/sshd_config"]']);
    const lp = listener.spec as FileSpec & { label: string };
    expect(lp.path).toBe('/Library/LaunchDaemons/dev.pairctl.sshd.plist');
    expect(`${lp.owner}:${lp.group}`).toBe('root:wheel');
    const parsed = JSON.parse(
      execFileSync('python3', ['-c', 'import sys, json, plistlib; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))'], { input: lp.content, encoding: 'utf8' }),
    ) as { Label: string; ProgramArguments: string[]; KeepAlive: boolean };
    expect(parsed).toMatchObject({ Label: 'dev.pairctl.sshd', ProgramArguments: ['/usr/sbin/sshd', '-D', '-f', '/etc/pairctl/sshd_config'], KeepAlive: true });
    const cfg = mac!.resources.find((r) => r.address === 'sshd_config["/etc/pairctl/sshd_config"]')!;
    const cfgSpec = cfg.spec as FileSpec & { reload: string; unit: string };
    expect(cfgSpec).toMatchObject({ owner: 'root', group: 'wheel', reload: 'launchd', unit: 'dev.pairctl.sshd' });
    expect(cfgSpec.content).toMatch(/^ListenAddress 127\.0\.0\.1:822$/m);
    expect(cfgSpec.content).toMatch(/^AllowGroups pairctl$/m);
    expect(cfg.deps).toContain('macos_group["pairctl"]');
    // A changed config is validated, then sshd re-executes on SIGHUP from launchctl (sessions stay).
    const change = kindOf('sshd_config').diff(cfgSpec, kindOf('sshd_config').parse('type=absent\nsshd=yes', cfgSpec), { wanted: true, recorded: false });
    expect(change.script).toContain('/usr/sbin/sshd -t -f /etc/pairctl/sshd_config.pairctl-new');
    expect(change.script).toContain('launchctl kill HUP system/dev.pairctl.sshd');
    expect(change.script).not.toContain('systemctl');
    execFileSync('sh', ['-n'], { input: change.script });
    // PerSourcePenalties: macOS 15 ships OpenSSH 9.8, and sshd -V says so.
    const withVersion = buildGraph(config, { facts: { mini: { 'openssh-version': 'OpenSSH_9.8' } } })[0]!;
    const exempt = (withVersion.resources.find((r) => r.address === 'sshd_config["/etc/pairctl/sshd_config"]')!.spec as FileSpec).content;
    expect(exempt).toMatch(/^PerSourcePenaltyExemptList 127\.0\.0\.1,::1$/m);
    expect(cfgSpec.content).not.toMatch(/PerSourcePenalty/);

    // ngrok on macOS is refused by lint (ngrok-platform-unsupported, at tunnel.provider); a graph asked anyway is a bug.
    const ngrokYaml = (platform: string) =>
      `version: 1\nhosts:\n  mini:\n    platform: ${platform}\n    ssh: mini\n    owner: bhorseman\n    tunnel: { provider: ngrok }\nguests:\n  todd:\n    keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHNdfJhzu3dxa1iwaciuGwMJvnOmhb2yQVvTW4IMuQWY todd@trees"]\n`;
    expect(loadConfigText(ngrokYaml('linux'), 'pair.yaml').diagnostics).toEqual([]);
    expect(loadConfigText(ngrokYaml('macos'), 'pair.yaml').diagnostics.map((d) => `${d.line}:${d.column} ${d.rule} ${d.message}`)).toEqual([
      '7:25 ngrok-platform-unsupported host "mini": the ngrok tunnel is not built for macOS hosts yet',
    ]);
    config.hosts[0] = { ...config.hosts[0]!, tunnel: { provider: 'ngrok', authtokenEnv: 'NGROK_AUTHTOKEN' } };
    expect(() => buildGraph(config)).toThrow(/internal error: host mini is macOS with an ngrok tunnel/);
  });

  it('loads, reloads and removes the launchd daemon from recorded launchctl output', () => {
    const spec = { path: '/Library/LaunchDaemons/dev.pairctl.tunnel.plist', content: '<plist/>\n', mode: '0644', owner: 'root', group: 'wheel', label: 'dev.pairctl.tunnel' };
    const kind = kindOf('launchd_service');
    // launchctl print of a service that is not loaded: exit 113, "Could not find service …".
    const fresh = kind.parse('type=absent\nloaded=no', spec);
    const create = kind.diff(spec, fresh, { wanted: true, recorded: false });
    expect(create.action).toBe('create');
    expect(create.script.indexOf('launchctl bootstrap system /Library/LaunchDaemons/dev.pairctl.tunnel.plist')).toBeGreaterThan(create.script.indexOf('mv -f'));
    const running = kind.parse(`type=file\nmode=644\nowner=root\ngroup=wheel\ncontent=${Buffer.from('<plist/>\n').toString('base64')}\nloaded=yes\nstate=running`, spec);
    expect(kind.diff(spec, running, { wanted: true, recorded: true }).action).toBe('noop');
    expect(kind.diff(spec, running, { wanted: false, recorded: true }).script).toMatch(/launchctl bootout system\/dev\.pairctl\.tunnel[\s\S]*rm -f/);
  });

  it('renders launchd property lists that plistlib parses back exactly, whatever the arguments', () => {
    const args = ['/usr/bin/ssh', '-N', '-R', '0.0.0.0:2222:localhost:22', 'a&b<c>"d\'e', 'ünïcødé'];
    const xml = render('launchd.plist', { label: 'dev.pairctl.tunnel', args, throttle: 5, log: '/var/log/pairctl-tunnel.log' });
    const parsed = JSON.parse(
      execFileSync('python3', ['-c', 'import sys, json, plistlib; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))'], { input: xml, encoding: 'utf8' }),
    ) as Record<string, unknown>;
    expect(parsed).toEqual({
      Label: 'dev.pairctl.tunnel',
      ProgramArguments: args,
      RunAtLoad: true,
      KeepAlive: true,
      ThrottleInterval: 5,
      StandardErrorPath: '/var/log/pairctl-tunnel.log',
    });
    expect(() => render('launchd.plist', { label: 'x', args: ['bad\u0001'], throttle: 5, log: '/x' })).toThrow(/control character/);
  });
});
