/**
 * The Mac most users run now: macOS 15 Sequoia (15.7.7), Apple's OpenSSH 9.9p2 and Homebrew's
 * tmux 3.7c (test/fixtures/macos/sequoia-*.json, sources in its README). The real engine plans
 * from the recorded output the way plan-all.ts does (one observation, then the graph rebuilt with
 * the facts it answered and compared against it), and the host takes the tmux 3.7 paths: versions shown, no "older than 3.7"
 * warning, mirror guests attach the way 3.7 allows.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PairConfig } from '../../../src/config/model.js';
import { buildGraph, topoSort, type DesiredMachine } from '../../../src/graph/build-graph.js';
import type { Facts } from '../../../src/graph/facts.js';
import { JOIN_PROGRAM } from '../../../src/graph/paths.js';
import { compare } from '../../../src/plan/compare.js';
import type { Observation } from '../../../src/plan/observe.js';
import { summarize } from '../../../src/plan/plan-model.js';
import { planJson } from '../../../src/plan/render-json.js';
import { renderPlanText } from '../../../src/plan/render-text.js';
import type { FileSpec } from '../../../src/resources/file-state.js';
import type { Resource } from '../../../src/resources/kind.js';
import { upScript } from '../../../src/session/session-scripts.js';
import { guest, sampleConfig } from '../fixtures.js';
import { observationOf } from '../plan/observations.js';

type Recording = Record<string, string> & { facts?: Record<string, string> };
const fixtures = join(import.meta.dirname, '../../fixtures/macos');
const recorded = (name: string) => JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as Recording;

function sequoiaConfig(): PairConfig {
  const c = sampleConfig([guest('todd'), guest('ann', { mode: 'pair' })]);
  c.hosts[0] = { ...c.hosts[0]!, id: 'mini', platform: 'macos', owner: 'bhorseman' };
  return c;
}

/** The Mac's observation from the recording (file-like probes from the spec when converged, which also holds pairctl's record). */
function macObservation(machine: DesiredMachine, table: Recording, converged: boolean): Observation {
  const resourceOutput = (r: Resource): string => {
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
  };
  const facts = Object.fromEntries((machine.facts ?? []).map((f) => [f.key, table.facts?.[f.key] ?? '']));
  return observationOf(machine, { output: resourceOutput, facts, record: converged ? topoSort(machine.resources) : undefined });
}

/** Plans the Mac the way planAll does: one observation, then the graph rebuilt with the facts it answered, compared against it. */
async function planMac(table: Recording, converged: boolean) {
  const config = sequoiaConfig();
  const [first] = buildGraph(config);
  const read = macObservation(first!, table, converged);
  const facts: Facts = { mini: read.facts };
  const [settled] = buildGraph(config, { facts });
  // Facts only change contents: the same observation answers the settled graph.
  const work = await compare(settled!, read);
  return { config, read, work, settled: settled!, facts };
}

describe('macOS 15 Sequoia with Homebrew tmux 3.7c (recorded)', () => {
  it('plans a fresh Mac from one observation and shows the versions it read', async () => {
    const { work } = await planMac(recorded('sequoia-fresh.json'), false);
    expect(work.errors).toEqual([]);
    expect(work.versions).toEqual({ tmux: '3.7c', openssh: '9.9p2' });
    const plan = { formatVersion: 1 as const, configFile: 'pair.yaml', configDigest: 'd', machines: [work], summary: summarize([work]), unreadable: [], facts: {} };
    expect(renderPlanText(plan, { color: false })).toContain('host mini (root@192.0.2.10):\n  found: tmux 3.7c, OpenSSH 9.9p2\n');
    expect(planJson(plan, { command: 'plan', pairctlVersion: 't', unreachable: [] }).machines[0]!.versions).toEqual({ tmux: '3.7c', openssh: '9.9p2' });
    // Homebrew's tmux is there already: nothing to install, and no "older than 3.7" warning.
    expect(work.steps.map((s) => s.address)).not.toContain('brew_package["tmux"]');
    expect(work.warnings.filter((w) => /tmux/.test(w))).toEqual([]);
  });

  it('plans no changes on the same Mac after apply, still showing the versions', async () => {
    const { work } = await planMac(recorded('sequoia-converged.json'), true);
    expect(work.errors).toEqual([]);
    expect(work.changes).toEqual([]);
    const plan = { formatVersion: 1 as const, configFile: 'pair.yaml', configDigest: 'd', machines: [work], summary: summarize([work]), unreadable: [], facts: {} };
    expect(renderPlanText(plan, { color: false })).toBe('mini: no changes (tmux 3.7c, OpenSSH 9.9p2)\n\nNo changes. Every machine matches pair.yaml.\n');
  });

  it('gives the graph the versions the Mac answered, for what differs by version', async () => {
    const { facts, settled } = await planMac(recorded('sequoia-fresh.json'), false);
    const { tmuxVersionOf, opensshVersionOf } = await import('../../../src/graph/tool-versions.js');
    expect(tmuxVersionOf(facts, 'mini')).toBe('3.7c');
    expect(opensshVersionOf(facts, 'mini')).toBe('9.9p2');
    // The join program runs Homebrew's tmux (the one whose version was read).
    const joinProgram = settled.resources.find((r) => r.address === `file["${JOIN_PROGRAM}"]`)!.spec as FileSpec;
    expect(joinProgram.content).toMatch(/^PATH=\/opt\/homebrew\/bin:/m);
  });

  it('grants the mirror guest read-only and the pair guest read-write, through the owner, in the session commands', () => {
    const config = sequoiaConfig();
    const script = upScript(config, config.hosts[0]!);
    expect(script).toContain('server-access -r -a pair-todd');
    expect(script).toContain('server-access -a pair-ann');
    expect(script).toContain('sudo -u bhorseman -H');
    expect(script).not.toContain('runuser');
  });

  // tmux 3.7 refuses `attach -r` from a client the ACL made read-only; `-f read-only,ignore-size`
  // joins on every tmux from 3.3 (flags since 3.2).
  it('mirror on tmux >= 3.7 uses -f read-only,ignore-size', async () => {
    const { settled } = await planMac(recorded('sequoia-fresh.json'), false);
    const joinProgram = (settled.resources.find((r) => r.address === `file["${JOIN_PROGRAM}"]`)!.spec as FileSpec).content;
    const mirror = joinProgram.split('\n').find((l) => /^\s*mirror\)/.test(l)) ?? '';
    expect(mirror).toContain('attach-session -f read-only,ignore-size');
    expect(mirror).not.toMatch(/attach(-session)? -r\b/);
  });
});
