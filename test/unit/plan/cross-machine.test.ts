/**
 * The engine's cross-machine facts (issue 3), from observations given as data: the plan compared
 * from one observation per machine, "(known after apply)" for what waits for a fact only an apply
 * makes (kept in the Plan with its probe), the relay applied after its host with the fact read at
 * the end of the host's apply and the relay compared again from its observation, and secrets
 * read at apply time.
 */
import { describe, expect, it } from 'vitest';
import type { PairConfig } from '../../../src/config/model.js';
import { buildGraph } from '../../../src/graph/build-graph.js';
import { SSH_HOST_KEYS_FACT, TUNNEL_PUBLIC_KEY_FACT, type Facts } from '../../../src/graph/facts.js';
import { OPENSSH_VERSION_FACT, TMUX_VERSION_FACT } from '../../../src/graph/tool-versions.js';
import type { FileSpec } from '../../../src/resources/file-state.js';
import type { Resource } from '../../../src/resources/kind.js';
import { applyAll } from '../../../src/plan/apply-all.js';
import { KNOWN_AFTER_APPLY, planFromObservations, type PlanSession } from '../../../src/plan/plan-all.js';
import { ED25519, sampleConfig } from '../fixtures.js';
import { ApplyRunner, type ApplyCall } from './apply-runner.js';
import { observationOf } from './observations.js';

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

/** What each kind's probe prints on a fresh machine: the owner exists, tmux is installed, nothing pairctl makes is there. */
function freshOutput(r: Resource): string {
  switch (r.kind) {
    case 'owner':
      return 'uid=1000';
    case 'package':
      return 'manager=apt\ninstalled=3.3a-3\ntoolversion=tmux 3.3a';
    case 'systemd_service':
    case 'systemd_timer':
      return 'type=absent\nsystemd=yes\nenabled=\nactive=inactive\nexecutable=yes';
    case 'ufw_rule':
      return 'ufw=active';
    case 'sshd_dropin':
    case 'sshd_config':
      return 'type=absent\nincluded=yes\nsshd=yes';
    case 'session_access':
      return 'running=no';
    default:
      return 'type=absent';
  }
}

/**
 * The plan of a fresh host and relay from their observations (no machine is read), and apply
 * runners that succeed; the host's apply makes its tunnel key and reports it when asked (the
 * fact's probe at the end of its script). `log` says what ran where, in order.
 */
async function machines(config: PairConfig, opts: { hostApplies?: boolean; hostMakesKey?: boolean; keyMade?: boolean } = {}, env: Record<string, string> = {}) {
  const log: string[] = [];
  const host = { keyMade: opts.keyMade ?? false };
  const succeed =
    (name: string, after: () => void = () => {}) =>
    ({ mark, script }: ApplyCall) => {
      log.push(`${name}:apply`);
      const steps = [...script.matchAll(/mark start-(\d+)/g)].length;
      if (name === 'scotch' && opts.hostApplies === false) return { stdout: mark('start-0') + 'boom\n' + mark('fail-0-1'), code: 1 };
      after();
      const facts = [...script.matchAll(/mark fact-begin-(\d+)/g)].map((m) => {
        log.push(`${name}:facts`);
        return mark(`fact-begin-${m[1]}`) + (host.keyMade ? `${TUNNEL_PUB}\n` : '') + '\n' + mark(`fact-end-${m[1]}`);
      });
      return { stdout: Array.from({ length: steps }, (_, i) => mark(`start-${i}`) + mark(`done-${i}`)).join('') + facts.join('') + mark('complete') };
    };
  const hostRunner = new ApplyRunner(succeed('scotch', () => (host.keyMade = opts.hostMakesKey !== false)), 'scotch');
  const relayRunner = new ApplyRunner(succeed('elefante'), 'elefante');
  const desired = (facts: Facts) => buildGraph(config, { facts, env });
  const first = desired({});
  const read = new Map(
    first.map((m) => [
      m.target.id,
      observationOf(m, {
        output: freshOutput,
        facts:
          m.role === 'host'
            ? { [TMUX_VERSION_FACT]: '', [OPENSSH_VERSION_FACT]: '', [TUNNEL_PUBLIC_KEY_FACT]: host.keyMade ? TUNNEL_PUB : '' }
            : { [OPENSSH_VERSION_FACT]: '', [SSH_HOST_KEYS_FACT]: RELAY_KEY },
      }),
    ]),
  );
  const plan = await planFromObservations(config, first, desired, read);
  const s: Pick<PlanSession, 'plan' | 'runners' | 'desired'> = { plan, desired, runners: new Map([['scotch', hostRunner], ['elefante', relayRunner]]) };
  return { s, log, hostRunner, relayRunner, host };
}

describe('plan across a host and its relay', () => {
  it('compares each machine from its one observation and shows the relay authorized_keys as known after apply', async () => {
    const { s, hostRunner, relayRunner } = await machines(vpsConfig());
    expect(s.plan.unreadable).toEqual([]);
    // Planning reads nothing more: the observations are all there is.
    expect([hostRunner.execCount, relayRunner.execCount]).toEqual([0, 0]);
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
    expect(s.plan.machines.filter((m) => m.deferred).map((m) => m.machine)).toEqual(['elefante']);
    // The plan holds what the wait needs: the value, the machine and probe that settle it, and the relay's observation.
    const relay = s.plan.machines[1]!;
    expect(relay.deferred).toEqual([
      {
        address: 'file["/home/tunnel-scotch/.ssh/authorized_keys"]',
        what: 'the tunnel public key of host scotch (made there by /var/lib/pairctl/tunnel/id_ed25519)',
        waitsFor: { machine: 'scotch', key: TUNNEL_PUBLIC_KEY_FACT },
        probe: buildGraph(vpsConfig())[0]!.facts!.find((f) => f.key === TUNNEL_PUBLIC_KEY_FACT)!.snippet,
      },
    ]);
    expect(relay.observation?.stateDigest).toBe(relay.stateDigest);
    expect(JSON.parse(JSON.stringify(s.plan))).toEqual(s.plan);
    // The tool versions ride along.
    expect(s.plan.facts).toEqual({
      scotch: { [TMUX_VERSION_FACT]: '', [OPENSSH_VERSION_FACT]: '', [TUNNEL_PUBLIC_KEY_FACT]: '' },
      elefante: { [OPENSSH_VERSION_FACT]: '', [SSH_HOST_KEYS_FACT]: RELAY_KEY },
    });
    expect(s.plan.machines.map((m) => m.versions)).toEqual([{ tmux: null, openssh: null }, { openssh: null }]);
  });

  it('needs no waiting once the key exists: the relay gets it at plan time', async () => {
    const { s, hostRunner, relayRunner } = await machines(vpsConfig(), { keyMade: true });
    expect([hostRunner.execCount, relayRunner.execCount]).toEqual([0, 0]);
    expect(s.plan.machines.filter((m) => m.deferred)).toEqual([]);
    const keys = s.plan.machines[1]!.changes.find((c) => c.address === 'file["/home/tunnel-scotch/.ssh/authorized_keys"]')!;
    expect(keys.diff).toContain(`command="/bin/false" ${TUNNEL_PUB} pairctl-tunnel:scotch`);
  });
});

describe('apply across a host and its relay', () => {
  it('applies the host, reads its key at the end of that apply, then applies the relay with it', async () => {
    const { s, log, hostRunner, relayRunner } = await machines(vpsConfig());
    const results = await applyAll(s, () => {}, {}, {});
    expect(results.map((r) => [r.machine, r.ok, r.error])).toEqual([
      ['scotch', true, undefined],
      ['elefante', true, undefined],
    ]);
    expect(log).toEqual(['scotch:apply', 'scotch:facts', 'elefante:apply']);
    // One apply exec each: the host's key is read by its own apply script, under its lock.
    expect([hostRunner.execCount, relayRunner.execCount]).toEqual([1, 1]);
    expect(hostRunner.scripts[0]).toContain(s.plan.machines[1]!.deferred![0]!.probe);
    const want = buildGraph(vpsConfig(), { facts: { scotch: { [TUNNEL_PUBLIC_KEY_FACT]: TUNNEL_PUB }, elefante: { [SSH_HOST_KEYS_FACT]: RELAY_KEY } } })[1]!
      .resources.find((r) => r.address === 'file["/home/tunnel-scotch/.ssh/authorized_keys"]')!.spec as FileSpec;
    expect(want.content).toContain(TUNNEL_PUB);
    expect(relayRunner.scripts.at(-1)).toContain(Buffer.from(want.content).toString('base64'));
  });

  it('does not apply a waiting machine whose plan lost the observation it compares again from', async () => {
    const { s, log } = await machines(vpsConfig());
    delete s.plan.machines[1]!.observation;
    const results = await applyAll(s, () => {}, {}, {});
    expect(results[0]!.ok).toBe(true);
    expect(results[1]).toMatchObject({ machine: 'elefante', ok: false, done: [] });
    expect(results[1]!.error).toMatch(/^not applied: internal error: elefante cannot be compared again/);
    expect(log).toEqual(['scotch:apply', 'scotch:facts']);
  });

  it('does not apply the relay when the host fails', async () => {
    const { s, log } = await machines(vpsConfig(), { hostApplies: false });
    const results = await applyAll(s, () => {}, {}, {});
    expect(results[0]!.ok).toBe(false);
    expect(results[1]).toMatchObject({ machine: 'elefante', ok: false, done: [] });
    expect(results[1]!.error).toMatch(/waits for the tunnel public key of host scotch .*and the apply of scotch failed/);
    expect(log).toEqual(['scotch:apply']);
  });

  it('does not apply the relay when the fact is still missing after the host applied', async () => {
    const { s, log } = await machines(vpsConfig(), { hostMakesKey: false });
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
    const { s, hostRunner } = await machines(ngrokConfig());
    const cfg = s.plan.machines[0]!.changes.find((c) => c.kind === 'secret_file')!;
    expect(cfg.diff).toContain('+authtoken: (sensitive value from $NGROK_AUTHTOKEN)');
    const results = await applyAll(s, () => {}, {}, {});
    expect(results.every((r) => !r.ok)).toBe(true);
    expect(results[0]!.error).toMatch(/^\$NGROK_AUTHTOKEN is not set .*; nothing was applied on any machine$/);
    expect(hostRunner.execCount).toBe(0); // nothing ran
  });

  it('gives the value to the one step that writes it, and to nothing the plan or record holds', async () => {
    const env = { NGROK_AUTHTOKEN: TOKEN };
    const { s, hostRunner } = await machines(ngrokConfig(), {}, env);
    // The plan holds the steps too: neither its changes nor its scripts carry the value.
    expect(JSON.stringify(s.plan)).not.toContain(TOKEN);
    expect(JSON.stringify(s.plan.machines.map((m) => m.steps))).not.toContain(TOKEN);
    const results = await applyAll(s, () => {}, {}, env);
    expect(results[0]!.ok).toBe(true);
    const script = hostRunner.scripts.at(-1)!;
    expect(script.split(TOKEN)).toHaveLength(2);
    expect(script).toContain(`pairctl_secret_NGROK_AUTHTOKEN=${TOKEN}\n`);
  });

  it('refuses a value that could break the file it goes into, without saying it', async () => {
    const { s } = await machines(ngrokConfig());
    const results = await applyAll(s, () => {}, {}, { NGROK_AUTHTOKEN: "x' y" });
    expect(results[0]!.error).toMatch(/\$NGROK_AUTHTOKEN holds characters a secret may not have here/);
    expect(results[0]!.error).not.toContain("x' y");
  });
});
