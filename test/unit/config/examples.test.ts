/**
 * The examples are what people copy: each must validate against the published schema with a
 * validator that is not pairctl's (@cfworker/json-schema, draft 2020-12), and lint clean with
 * --strict. The CI examples must parse and run `pairctl lint`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Validator } from '@cfworker/json-schema';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { captureIo as io } from '../capture-io.js';
import { lint } from '../../../src/cli/lint.js';
import { loadConfig } from '../../../src/config/load-config.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const schema = JSON.parse(readFileSync(join(root, 'schemas/pair.schema.json'), 'utf8'));
const examples = readdirSync(join(root, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => join('examples', f));
const all = [...examples, 'pair.yaml.example'];

function independent(data: unknown): { valid: boolean; errors: string[] } {
  const result = new Validator(schema, '2020-12', false).validate(data);
  return { valid: result.valid, errors: result.errors.map((e) => `${e.instanceLocation}: ${e.error}`) };
}

const readYaml = (rel: string): unknown => parse(readFileSync(join(root, rel), 'utf8'), { version: '1.2' });


describe('examples/', () => {
  it('has one pair.yaml per provider and one for macOS', () => {
    expect(examples).toEqual(expect.arrayContaining(['lan', 'vps', 'jump', 'ngrok', 'macos'].map((n) => `examples/${n}.yaml`)));
    for (const provider of ['lan', 'vps', 'jump', 'ngrok']) {
      const doc = readYaml(`examples/${provider}.yaml`) as { hosts: Record<string, { tunnel?: { provider?: string } }> };
      expect(Object.values(doc.hosts).map((h) => h.tunnel?.provider ?? 'lan'), provider).toContain(provider);
    }
    const mac = readYaml('examples/macos.yaml') as { hosts: Record<string, { platform: string }> };
    expect(Object.values(mac.hosts).map((h) => h.platform)).toContain('macos');
  });

  it.each(all)('%s validates against schemas/pair.schema.json with an independent validator', (rel) => {
    expect(independent(readYaml(rel))).toEqual({ valid: true, errors: [] });
  });

  it.each(all)('%s lints clean, even with --strict', async (rel) => {
    const { diagnostics, config } = await loadConfig(join(root, rel));
    expect(diagnostics).toEqual([]);
    expect(config).toBeDefined();
    const t = io();
    expect(await lint(['--strict', join(root, rel)], t)).toBe(0);
  });

  it('the independent validator does enforce the schema (it refuses what pairctl refuses)', () => {
    interface Doc {
      relays: Record<string, unknown>;
      hosts: { scotch: { onwer?: string; tunnel: Record<string, unknown>; forwards: { remote: number }[] } };
      guests: { todd: { expires?: string }; jo: { github?: string; mode?: string } };
    }
    const base = readYaml('examples/vps.yaml') as Doc;
    const tweak = (f: (d: Doc) => void): unknown => {
      const d = structuredClone(base);
      f(d);
      return d;
    };
    const refused = [
      tweak((d) => (d.hosts.scotch.onwer = 'x')),
      tweak((d) => delete d.hosts.scotch.tunnel.port), // vps needs port (if/then)
      tweak((d) => (d.hosts.scotch.tunnel.region = 'eu')), // region is ngrok's
      tweak((d) => (d.hosts.scotch.tunnel = { provider: 'lan', relay: 'elefante' })),
      tweak((d) => (d.hosts.scotch.forwards[0]!.remote = 70000)),
      tweak((d) => (d.guests.jo = { mode: 'pair' })), // neither keys nor github
      tweak((d) => (d.guests.jo.github = '-jo')),
      tweak((d) => (d.relays = { Elefante: d.relays.elefante })),
      tweak((d) => (d.guests.todd.expires = 'tomorrow')),
    ];
    for (const doc of refused) expect(independent(doc).valid, JSON.stringify(doc)).toBe(false);
  });
});

describe('examples/ci', () => {
  it('pairctl-lint.yml is a workflow that runs pairctl lint --format github on push and pull requests', () => {
    const wf = readYaml('examples/ci/pairctl-lint.yml') as {
      name: string;
      on: Record<string, unknown>;
      jobs: Record<string, { 'runs-on': string; steps: { uses?: string; run?: string }[] }>;
    };
    expect(typeof wf.name).toBe('string');
    expect(Object.keys(wf.on)).toEqual(expect.arrayContaining(['push', 'pull_request']));
    const steps = Object.values(wf.jobs).flatMap((j) => {
      expect(typeof j['runs-on']).toBe('string');
      return j.steps;
    });
    for (const step of steps) expect(Boolean(step.uses) !== Boolean(step.run), JSON.stringify(step)).toBe(true);
    expect(steps.some((s) => /^pairctl lint --format github\b/.test(s.run ?? ''))).toBe(true);
  });

  it('the pre-commit config and hook definition run pairctl lint on pair.yaml files', () => {
    const config = readYaml('examples/ci/pre-commit-config.yaml') as { repos: { repo: string; hooks: { id: string; entry: string; language: string; files: string }[] }[] };
    const hooks = readYaml('examples/ci/.pre-commit-hooks.yaml') as { id: string; entry: string; language: string; files: string }[];
    for (const hook of [...config.repos.flatMap((r) => r.hooks), ...hooks]) {
      expect(hook.id).toBe('pairctl-lint');
      expect(hook.entry).toMatch(/^pairctl lint\b/);
      const files = new RegExp(hook.files);
      expect(['pair.yaml', 'deploy/pair.yaml'].every((f) => files.test(f))).toBe(true);
      expect(['pair.yaml.example', 'repair.yaml', 'pair.yml'].some((f) => files.test(f))).toBe(false);
    }
  });
});
