/**
 * The engine's cross-machine facts (issue 3), on scripted machines: one read per machine for the
 * plan, "(known after apply)" for what waits for a fact only an apply makes, the relay applied
 * after its host with the host's fact read again in between, and secrets read at apply time.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { PairConfig } from '../../../src/config/model.js';
import { buildGraph } from '../../../src/graph/build-graph.js';
import { SSH_HOST_KEYS_FACT, TUNNEL_PUBLIC_KEY_FACT } from '../../../src/graph/facts.js';
import { OPENSSH_VERSION_FACT, TMUX_VERSION_FACT } from '../../../src/graph/tool-versions.js';
import type { FileSpec } from '../../../src/resources/file-state.js';
import { applyAll } from '../../../src/plan/apply-all.js';
import { KNOWN_AFTER_APPLY, planAll } from '../../../src/plan/plan-all.js';
import { replayRunner } from '../../../src/plan/replay-runner.js';
import { ED25519, sampleConfig } from '../fixtures.js';
import { ScriptedRunner, type ApplyCall } from './scripted-runner.js';

const runners = vi.hoisted(() => new Map<string, unknown>());
vi.mock('../../../src/transport/connect.js', () => ({
  connect: async (target: { id: string }) => {
    const r = runners.get(target.id);
    if (!r) throw new Error(`no scripted machine ${target.id}`);
    return r;
  },
}));

const pos = { file: 'pair.yaml', line: 1, column: 1 };
const TUNNEL_PUB = `ssh-ed25519 ${ED25519}`;
const RELAY_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEVR5xMbDCy5b5sXcnGOmKCG1d3XbXN6aMc2glhlyoYV';

function vpsConfig(): PairConfig {
  const c = sampleConfig();
  return {
    ...c,
    hosts: [{ ...c.hosts[0]!, tunnel: { provider: 'vps', relay: 'elefante', port: 2222 } }],
    relays: [{ id: 'elefante', platform: 'linux', ssh: 'root@203.0.113.5', sudo: false, pos }],
  };
}

/** What every kind's probe prints on a fresh machine, by the snippet's text. */
function freshAnswer(snippet: string, m: { keyMade: boolean }): string {
  if (snippet.includes('state.json')) return '';
  if (snippet.startsWith('if [ -f /var/lib/pairctl/tunnel/id_ed25519 ]')) return m.keyMade ? TUNNEL_PUB : '';
  if (snippet.includes('/etc/ssh/ssh_host_')) return RELAY_KEY;
  if (snippet.includes('/usr/sbin/sshd -V')) return 'OpenSSH_9.2';
  if (snippet.includes('dpkg-query')) return 'manager=apt\ninstalled=3.3a-3\ntoolversion=tmux 3.3a';
  if (snippet.includes('getent passwd') && snippet.includes('bhorseman')) return 'uid=1000';
  if (snippet.includes('systemctl is-enabled')) return 'type=absent\nsystemd=yes\nenabled=\nactive=inactive\nexecutable=yes';
  if (snippet.includes('ufw status')) return 'ufw=active';
  if (snippet.includes('included=')) return 'type=absent\nincluded=yes\nsshd=yes';
  if (snippet.includes('running=')) return 'running=no';
  return 'type=absent';
}

/** Every apply succeeds; the host's makes its tunnel key. `log` says what ran where, in order. */
function machines(opts: { hostApplies?: boolean; hostMakesKey?: boolean } = {}) {
  const log: string[] = [];
  const host = { keyMade: false };
  const relay = { keyMade: false };
  const succeed =
    (name: string, after: () => void = () => {}) =>
    ({ mark, script }: ApplyCall) => {
      log.push(`${name}:apply`);
      const steps = [...script.matchAll(/mark start-(\d+)/g)].length;
      if (name === 'scotch' && opts.hostApplies === false) return { stdout: mark('start-0') + 'boom\n' + mark('fail-0-1'), code: 1 };
      after();
      return { stdout: Array.from({ length: steps }, (_, i) => mark(`start-${i}`) + mark(`done-${i}`)).join('') + mark('complete') };
    };
  const hostRunner = new ScriptedRunner((s) => {
    if (s.startsWith('if [ -f /var/lib/pairctl/tunnel/id_ed25519 ]') && log.length > 0) log.push('scotch:facts');
    return freshAnswer(s, host);
  }, succeed('scotch', () => (host.keyMade = opts.hostMakesKey !== false)));
  const relayRunner = new ScriptedRunner((s) => freshAnswer(s, relay), succeed('elefante'));
  runners.set('scotch', hostRunner);
  runners.set('elefante', relayRunner);
  return { log, hostRunner, relayRunner, host };
}

beforeEach(() => runners.clear());

describe('plan across a host and its relay', () => {
  it('reads each machine in one exec and shows the relay authorized_keys as known after apply', async () => {
    const { hostRunner, relayRunner } = machines();
    const s = await planAll(vpsConfig(), {}, (m) => m, {});
    expect(s.failures).toEqual([]);
    expect([hostRunner.execCount, relayRunner.execCount]).toEqual([1, 1]);
    const relayPlan = s.plan.machines.find((m) => m.machine === 'elefante')!;
    const keys = relayPlan.changes.find((c) => c.address === 'file["/home/tunnel-scotch/.ssh/authorized_keys"]')!;
    expect(keys.action).toBe('create');
    expect(keys.attributes).toEqual([
      { name: 'content', after: KNOWN_AFTER_APPLY },
      { name: 'waits for', after: 'the tunnel public key of host scotch (made there by /var/lib/pairctl/tunnel/id_ed25519)' },
    ]);
    expect(keys.diff).toBeUndefined();
    // The host's pinned known_hosts is known at plan time: the relay was read in the same plan.
    const kh = s.plan.machines[0]!.changes.find((c) => c.address === 'file["/var/lib/pairctl/tunnel/known_hosts"]')!;
    expect(kh.diff).toContain(`+203.0.113.5 ${RELAY_KEY}`);
    expect([...s.crossMachine!.waits.keys()]).toEqual(['elefante']);
    // The tool versions ride along (these scripted machines answer them as any unknown read).
    expect(s.crossMachine!.facts).toEqual({
      scotch: { [TMUX_VERSION_FACT]: 'type=absent', [OPENSSH_VERSION_FACT]: 'type=absent', [TUNNEL_PUBLIC_KEY_FACT]: '' },
      elefante: { [OPENSSH_VERSION_FACT]: 'type=absent', [SSH_HOST_KEYS_FACT]: RELAY_KEY },
    });
    expect(s.plan.machines.map((m) => m.versions)).toEqual([{ tmux: null, openssh: null }, { openssh: null }]);
  });

  it('needs no waiting once the key exists: the relay gets it at plan time', async () => {
    const { host, hostRunner, relayRunner } = machines();
    host.keyMade = true;
    const s = await planAll(vpsConfig(), {}, (m) => m, {});
    expect([hostRunner.execCount, relayRunner.execCount]).toEqual([1, 1]);
    expect(s.crossMachine!.waits.size).toBe(0);
    const keys = s.plan.machines[1]!.changes.find((c) => c.address === 'file["/home/tunnel-scotch/.ssh/authorized_keys"]')!;
    expect(keys.diff).toContain(`command="/bin/false" ${TUNNEL_PUB} pairctl-tunnel:scotch`);
  });
});

describe('apply across a host and its relay', () => {
  it('applies the host, reads its key again, then applies the relay with it', async () => {
    const { log, hostRunner, relayRunner } = machines();
    const s = await planAll(vpsConfig(), {}, (m) => m, {});
    const results = await applyAll(s, () => {}, {}, {});
    expect(results.map((r) => [r.machine, r.ok, r.error])).toEqual([
      ['scotch', true, undefined],
      ['elefante', true, undefined],
    ]);
    expect(log).toEqual(['scotch:apply', 'scotch:facts', 'elefante:apply']);
    // host: plan, apply, fact re-read; relay: plan, apply.
    expect([hostRunner.execCount, relayRunner.execCount]).toEqual([3, 2]);
    const want = buildGraph(vpsConfig(), { facts: { scotch: { [TUNNEL_PUBLIC_KEY_FACT]: TUNNEL_PUB }, elefante: { [SSH_HOST_KEYS_FACT]: RELAY_KEY } } })[1]!
      .resources.find((r) => r.address === 'file["/home/tunnel-scotch/.ssh/authorized_keys"]')!.spec as FileSpec;
    expect(want.content).toContain(TUNNEL_PUB);
    expect(relayRunner.scripts.at(-1)).toContain(Buffer.from(want.content).toString('base64'));
  });

  it('does not apply the relay when the host fails', async () => {
    const { log } = machines({ hostApplies: false });
    const s = await planAll(vpsConfig(), {}, (m) => m, {});
    const results = await applyAll(s, () => {}, {}, {});
    expect(results[0]!.ok).toBe(false);
    expect(results[1]).toMatchObject({ machine: 'elefante', ok: false, done: [] });
    expect(results[1]!.error).toMatch(/waits for the tunnel public key of host scotch .*and the apply of scotch failed/);
    expect(log).toEqual(['scotch:apply']);
  });

  it('does not apply the relay when the fact is still missing after the host applied', async () => {
    const { log } = machines({ hostMakesKey: false });
    const s = await planAll(vpsConfig(), {}, (m) => m, {});
    const results = await applyAll(s, () => {}, {}, {});
    expect(results[1]!.error).toMatch(/the tunnel public key of host scotch .* still unknown after scotch was applied/);
    expect(log).toEqual(['scotch:apply', 'scotch:facts']);
  });
});

describe('secrets at apply time', () => {
  const TOKEN = '2abcDEFghiJKLmnoPQRstuVWXyz_0123456789abcdefGHIJ';
  function ngrokConfig(): PairConfig {
    const c = sampleConfig();
    return { ...c, hosts: [{ ...c.hosts[0]!, tunnel: { provider: 'ngrok', authtokenEnv: 'NGROK_AUTHTOKEN' } }] };
  }

  it('refuses to apply anything anywhere when the variable is not set, without changing a machine', async () => {
    const { hostRunner } = machines();
    const s = await planAll(ngrokConfig(), {}, (m) => m, {});
    const cfg = s.plan.machines[0]!.changes.find((c) => c.kind === 'secret_file')!;
    expect(cfg.diff).toContain('+authtoken: (sensitive value from $NGROK_AUTHTOKEN)');
    const results = await applyAll(s, () => {}, {}, {});
    expect(results.every((r) => !r.ok)).toBe(true);
    expect(results[0]!.error).toMatch(/^\$NGROK_AUTHTOKEN is not set .*; nothing was applied on any machine$/);
    expect(hostRunner.execCount).toBe(1); // the plan's read only
  });

  it('gives the value to the one step that writes it, and to nothing the plan or record holds', async () => {
    const { hostRunner } = machines();
    const env = { NGROK_AUTHTOKEN: TOKEN };
    const s = await planAll(ngrokConfig(), {}, (m) => m, env);
    expect(JSON.stringify(s.plan)).not.toContain(TOKEN);
    expect(JSON.stringify(s.works)).not.toContain(TOKEN);
    const results = await applyAll(s, () => {}, {}, env);
    expect(results[0]!.ok).toBe(true);
    const script = hostRunner.scripts.at(-1)!;
    expect(script.split(TOKEN)).toHaveLength(2);
    expect(script).toContain(`pairctl_secret_NGROK_AUTHTOKEN=${TOKEN}\n`);
  });

  it('refuses a value that could break the file it goes into, without saying it', async () => {
    machines();
    const s = await planAll(ngrokConfig(), {}, (m) => m, {});
    const results = await applyAll(s, () => {}, {}, { NGROK_AUTHTOKEN: "x' y" });
    expect(results[0]!.error).toMatch(/\$NGROK_AUTHTOKEN holds characters a secret may not have here/);
    expect(results[0]!.error).not.toContain("x' y");
  });
});

describe('replaying a read', () => {
  const probe = (nonce: string, body: string) => `printf '\\n@@pairctl-${nonce}-begin-0\\n'\n( ${body}\n) 2>&1`;

  it('answers the same script with a new nonce, and refuses any other script', async () => {
    const log = [{ script: probe('aaaa', 'cat /x'), result: { code: 0, stdout: '@@pairctl-aaaa-begin-0\nX\n', stderr: '' } }];
    const r = replayRunner('box', log);
    expect((await r.exec(probe('bbbb', 'cat /x'))).stdout).toBe('@@pairctl-bbbb-begin-0\nX\n');
    await expect(replayRunner('box', log).exec(probe('cccc', 'cat /y'))).rejects.toThrow(/reads box differently/);
    await expect(r.exec(probe('dddd', 'cat /x'))).rejects.toThrow(/reads box differently/); // only one exec was read
  });
});
