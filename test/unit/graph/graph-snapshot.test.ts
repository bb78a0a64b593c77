/**
 * A graph regression test: the desired state built for every config the repository ships
 * (examples/, pair.yaml.example, the valid config fixtures) and for variants of each (every
 * tunnel provider, macOS, guests with `from`, relay port clashes), without facts and with every
 * fact read, must stay byte for byte what graph-snapshot.json holds. A refactor of graph/ keeps
 * the plan's resources, their order, addresses, specs, probes, facts and errors as they were.
 *
 * The fixture holds each case's SHA-256 (the whole JSON is ~60 MB). To see what changed, dump
 * every case's JSON before and after (PAIRCTL_GRAPH_SNAPSHOT_DUMP=/tmp/before, then /tmp/after)
 * and `diff -r` them. After a change meant to alter the graph: PAIRCTL_UPDATE_GRAPH_SNAPSHOT=1.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load-config.js';
import type { Host, PairConfig, TunnelProvider } from '../../../src/config/model.js';
import { buildGraph, type GraphInputs } from '../../../src/graph/build-graph.js';
import { SSH_HOST_KEYS_FACT, TUNNEL_PUBLIC_KEY_FACT, type Facts } from '../../../src/graph/facts.js';
import { OPENSSH_VERSION_FACT, TMUX_VERSION_FACT } from '../../../src/graph/tool-versions.js';
import { kindOf } from '../../../src/resources/registry.js';
import { ED25519 } from '../fixtures.js';

const ROOT = join(import.meta.dirname, '../../..');
const FIXTURE = join(import.meta.dirname, 'graph-snapshot.json');
const NOW = new Date('2026-01-01T00:00:00Z');

/** Every config file shipped that loads without errors. */
function configFiles(): string[] {
  const files = [join(ROOT, 'pair.yaml.example')];
  const examples = join(ROOT, 'examples');
  for (const f of readdirSync(examples).sort()) if (f.endsWith('.yaml')) files.push(join(examples, f));
  const cases = join(ROOT, 'test/fixtures/config/cases');
  for (const f of readdirSync(cases).sort()) if (f.startsWith('valid') && f.endsWith('.yaml')) files.push(join(cases, f));
  return files.filter(existsSync);
}

const RELAY_KEYS = `ssh-ed25519 ${ED25519}\necdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=`;

/** Every fact each machine could answer, with the given OpenSSH version line. */
function allFacts(config: PairConfig, openssh: string): Facts {
  const facts: Facts = {};
  for (const h of config.hosts) facts[h.id] = { [TUNNEL_PUBLIC_KEY_FACT]: `ssh-ed25519 ${ED25519}`, [OPENSSH_VERSION_FACT]: openssh, [TMUX_VERSION_FACT]: 'tmux 3.5a' };
  for (const r of config.relays) facts[r.id] = { [SSH_HOST_KEYS_FACT]: RELAY_KEYS, [OPENSSH_VERSION_FACT]: openssh };
  return facts;
}

const RELAY = (config: PairConfig) => config.relays[0] ?? { id: 'snap-relay', platform: 'linux' as const, ssh: 'root@203.0.113.9:2200', sudo: true, pos: config.hosts[0]!.pos };

/** The config with every host's tunnel through the given provider (a relay made when there is none). */
function withProvider(config: PairConfig, provider: TunnelProvider): PairConfig {
  const relay = RELAY(config);
  const relays = provider === 'vps' || provider === 'jump' ? (config.relays.length > 0 ? config.relays : [relay]) : config.relays;
  const hosts = config.hosts.map((h, i): Host => {
    if (provider === 'lan') return { ...h, tunnel: { provider } };
    if (provider === 'ngrok') return { ...h, tunnel: { provider, authtokenEnv: 'SNAP_TOKEN', region: 'eu' }, forwards: h.forwards };
    return { ...h, tunnel: { provider, relay: relay.id, port: 2222 + 10 * i }, forwards: h.forwards.map((f, j) => ({ ...f, remote: 8080 + 10 * i + j })) };
  });
  return { ...config, hosts, relays };
}

interface Variant {
  name: string;
  config: PairConfig;
}

function variants(file: string, config: PairConfig): Variant[] {
  const out: Variant[] = [{ name: 'as written', config }];
  for (const p of ['lan', 'vps', 'jump', 'ngrok'] as const) out.push({ name: `provider ${p}`, config: withProvider(config, p) });
  for (const p of ['lan', 'vps', 'jump', 'ngrok'] as const) {
    const mac = withProvider({ ...config, hosts: config.hosts.map((h) => ({ ...h, platform: 'macos' as const })) }, p);
    out.push({ name: `macos provider ${p}`, config: mac });
  }
  const from = { ...config, guests: config.guests.map((g, i) => (i === 0 ? { ...g, from: ['198.51.100.0/24'] } : g)) };
  for (const p of ['vps', 'jump', 'ngrok'] as const) out.push({ name: `a guest with from, provider ${p}`, config: withProvider(from, p) });
  // Two hosts on one relay with the same ports, a from with vps/ngrok, ngrok on macOS: config rules
  // refuse these before a graph is built (relay-port-conflict, from-unenforceable,
  // ngrok-platform-unsupported); the graph no longer reports them (or asserts, for ngrok on macOS).
  const vps = withProvider(config, 'vps');
  const first = vps.hosts[0]!;
  out.push({ name: 'two vps hosts on one port', config: { ...vps, hosts: [first, { ...first, id: `${first.id}-twin`, ssh: 'root@192.0.2.77' }] } });
  const jumpTwin = withProvider(config, 'jump');
  const j = jumpTwin.hosts[0]!;
  out.push({ name: 'a jump and a vps host on one relay', config: { ...jumpTwin, hosts: [j, { ...j, id: `${j.id}-vps`, tunnel: { ...j.tunnel, provider: 'vps', port: 2300 }, forwards: [] }] } });
  out.push({ name: 'tunnel without relay', config: { ...config, hosts: config.hosts.map((h) => ({ ...h, tunnel: { provider: 'vps' as const, port: 2222 } })) } });
  return out.map((v) => ({ ...v, name: `${file} ${v.name}` }));
}

function inputsFor(config: PairConfig): Array<[string, GraphInputs]> {
  const endpoints = Object.fromEntries(config.relays.map((r) => [r.id, { host: '198.51.100.44', port: 2022 }]));
  return [
    ['no facts', {}],
    ['all facts, OpenSSH 9.2', { facts: allFacts(config, 'OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024') }],
    ['all facts, OpenSSH 10.0, resolved endpoints, token', { facts: allFacts(config, 'OpenSSH_10.0p2 Debian-7, OpenSSL 3.5.1 1 Jul 2025'), relayEndpoints: endpoints, env: { SNAP_TOKEN: 'abcdefgh_1234', NGROK_AUTHTOKEN: 'zyxwvuts_9876', PAIRCTL_NGROK_AUTHTOKEN: 'qwertyui_5555' } }],
    ['candidate version, bad token, bad relay keys', { facts: { ...allFacts(config, 'candidate 1:10.0p1-7'), ...Object.fromEntries(config.relays.map((r) => [r.id, { [SSH_HOST_KEYS_FACT]: 'not a key' }])) }, env: { SNAP_TOKEN: 'bad token!', NGROK_AUTHTOKEN: 'bad token!', PAIRCTL_NGROK_AUTHTOKEN: 'bad token!' } }],
  ];
}

/** What the graph gave for one case: every machine's target, role, resources (with probes), facts, deferred and errors. */
function snapshot(config: PairConfig, inputs: GraphInputs): string {
  try {
    const machines = buildGraph(config, inputs);
    return JSON.stringify(
      machines.map((m) => ({ ...m, probes: m.resources.map((r) => kindOf(r.kind).probe(r.spec)) })),
      null,
      1,
    );
  } catch (err) {
    return `throws: ${err instanceof Error ? err.message : String(err)}`;
  }
}

async function allCases(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const path of configFiles()) {
    const loaded = await loadConfig(path, { now: NOW });
    const file = path.slice(ROOT.length + 1);
    if (!loaded.config) throw new Error(`${file} does not load: ${loaded.diagnostics.map((d) => d.message).join('; ')}`);
    for (const v of variants(file, loaded.config)) for (const [name, inputs] of inputsFor(v.config)) out[`${v.name}, ${name}`] = snapshot(v.config, inputs);
  }
  return out;
}

describe('the graph of every shipped config and its variants', () => {
  it('is byte for byte what graph-snapshot.json holds', async () => {
    const cases = await allCases();
    const dump = process.env.PAIRCTL_GRAPH_SNAPSHOT_DUMP;
    if (dump) {
      mkdirSync(dump, { recursive: true });
      for (const [name, json] of Object.entries(cases)) writeFileSync(join(dump, `${name.replace(/[^A-Za-z0-9.,-]+/g, '_')}.json`), json);
    }
    const hashes = Object.fromEntries(Object.entries(cases).map(([name, json]) => [name, createHash('sha256').update(json).digest('hex')]));
    if (process.env.PAIRCTL_UPDATE_GRAPH_SNAPSHOT === '1') writeFileSync(FIXTURE, `${JSON.stringify(hashes, null, 1)}\n`);
    const saved = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, string>;
    expect(Object.keys(hashes)).toEqual(Object.keys(saved));
    for (const [name, got] of Object.entries(hashes)) expect(got, name).toBe(saved[name]);
    // Positive control: the cases exercise every provider, both platforms, deferred facts and errors.
    const all = Object.values(cases).join('\n');
    for (const needle of ['tunnel_key', 'ufw_rule', 'secret_file', 'macos_host', 'launchd_service', 'relay_account', '"waitsFor"', 'throws: internal error: host'])
      expect(all, needle).toContain(needle);
    expect(Object.keys(cases).length).toBeGreaterThan(100);
  });
});
