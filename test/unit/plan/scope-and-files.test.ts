import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listFlag, parseDuration, useColor } from '../../../src/cli/load.js';
import type { CliIO } from '../../../src/cli/io.js';
import type { DesiredMachine } from '../../../src/graph/build-graph.js';
import { knownMachinesPath, readKnownMachines, updateKnownMachines } from '../../../src/plan/known-machines.js';
import { describeHolder, holderName, parseHolder } from '../../../src/plan/lock.js';
import { summarize } from '../../../src/plan/plan-model.js';
import { canonicalJson, parseRecord } from '../../../src/plan/record.js';
import { redact, REDACTED, secretValues } from '../../../src/plan/redact.js';
import { changedGuestKeys, guestKeyDigests, pairctlVersion, readSavedPlan, toSavedPlan, writeSavedPlan } from '../../../src/plan/saved-plan.js';
import { planScope } from '../../../src/plan/scope.js';
import { sampleConfig } from '../fixtures.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'pairctl-plan-test-'));
const desired = (id: string): DesiredMachine => ({ target: { id, ssh: `root@${id}`, sudo: false }, role: 'host', resources: [{ kind: 'group', address: 'group["g"]', spec: { name: 'g' }, deps: [] }] });

describe('plan scope', () => {
  const config = sampleConfig();
  const old = { id: 'old', role: 'host' as const, ssh: 'root@192.0.2.99', sudo: true };

  it('adds machines pairctl applied to that pair.yaml no longer names, to be torn down', () => {
    const scope = planScope(config, [old, { id: 'scotch', role: 'host', ssh: 'x', sudo: false }], {});
    const picked = scope.select([desired('scotch')]);
    expect(picked.map((m) => [m.target.id, m.resources.length])).toEqual([['scotch', 1], ['old', 0]]);
    expect(picked[1]!.target).toEqual({ id: 'old', ssh: 'root@192.0.2.99', sudo: true });
    expect([...scope.teardown]).toEqual([['old', 'removed']]);
  });

  it('narrows to --limit, and refuses an id no one knows, listing the known ones', () => {
    const scope = planScope(config, [old], { limit: ['old'] });
    expect(scope.select([desired('scotch')]).map((m) => m.target.id)).toEqual(['old']);
    expect(() => planScope(config, [old], { limit: ['scotch', 'nope'] })).toThrow('no machine "nope" in pair.yaml or among the machines pairctl applied to from it; machines: scotch, old');
  });

  it('tears everything down for destroy', () => {
    const scope = planScope(config, [old], { destroy: true });
    expect(scope.select([desired('scotch')]).map((m) => m.resources.length)).toEqual([0, 0]);
    expect([...scope.teardown]).toEqual([['scotch', 'destroy'], ['old', 'destroy']]);
  });
});

describe('known machines file', () => {
  it('remembers applied machines beside pair.yaml and forgets torn-down ones', async () => {
    const file = join(tmp(), 'pair.yaml');
    expect(await readKnownMachines(file)).toEqual([]);
    await updateKnownMachines(file, [{ id: 'b', role: 'host', ssh: 'root@b', sudo: false }, { id: 'a', role: 'relay', ssh: 'a', sudo: true }], []);
    await updateKnownMachines(file, [], ['b']);
    expect(await readKnownMachines(file)).toEqual([{ id: 'a', role: 'relay', ssh: 'a', sudo: true }]);
    expect(JSON.parse(readFileSync(knownMachinesPath(file), 'utf8'))).toEqual({ format: 1, machines: { a: { role: 'relay', ssh: 'a', sudo: true } } });
  });

  it('refuses a file it did not write rather than guessing', async () => {
    const dir = tmp();
    const file = join(dir, 'pair.yaml');
    await updateKnownMachines(file, [{ id: 'a', role: 'host', ssh: 'a', sudo: false }], []);
    writeFileSync(knownMachinesPath(file), '{"format": 9}');
    await expect(readKnownMachines(file)).rejects.toThrow(/is not a pairctl machines file/);
  });
});

describe('saved plan file', () => {
  const plan = { formatVersion: 1 as const, configFile: 'pair.yaml', configDigest: 'cd', machines: [], summary: summarize([]), unreadable: [], facts: {} };

  it('round-trips owner-only, pinned to the config and this pairctl version', async () => {
    const file = join(tmp(), 'p.plan');
    const saved = toSavedPlan(plan, { limit: ['scotch'] }, [], { todd: 'd1' }, new Date('2026-01-01T00:00:00Z'));
    await writeSavedPlan(file, saved);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const back = await readSavedPlan(file);
    expect(back).toEqual(saved);
    expect(back.configFile).toBe(join(process.cwd(), 'pair.yaml'));
    expect(back.pairctlVersion).toBe(pairctlVersion());
  });

  it('refuses files that are not plans, or were saved by another version', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'x'), 'hello');
    await expect(readSavedPlan(join(dir, 'x'))).rejects.toThrow(/is not a saved pairctl plan \(not JSON\)/);
    const other = { ...toSavedPlan(plan, {}, [], {}), pairctlVersion: '0.0.1-old' };
    writeFileSync(join(dir, 'y'), JSON.stringify(other));
    await expect(readSavedPlan(join(dir, 'y'))).rejects.toThrow(`was saved by pairctl 0.0.1-old (plan format 2); this is pairctl ${pairctlVersion()}`);
    await expect(readSavedPlan(join(dir, 'missing'))).rejects.toThrow(/no such file/);
  });
});

describe('saved plan: keys pinned per guest', () => {
  const key = (b: string, origin?: string) => ({ type: 'ssh-ed25519', base64: b, comment: '', fingerprint: `SHA256:${b}`, bits: 256, ...(origin ? { origin } : {}) });
  const guest = (name: string, keys: ReturnType<typeof key>[]) => ({ name, keys, mode: 'mirror' as const, from: [], pos: { file: 'f', line: 1, column: 1 } });

  it('names exactly the guests whose keys changed, appeared or went away', () => {
    const before = guestKeyDigests({ guests: [guest('todd', [key('A', 'https://github.com/todd.keys')]), guest('ann', [key('B')])] });
    const same = guestKeyDigests({ guests: [guest('ann', [key('B')]), guest('todd', [key('A', 'https://github.com/todd.keys')])] });
    expect(changedGuestKeys(before, same)).toEqual([]);
    const rekeyed = guestKeyDigests({ guests: [guest('todd', [key('C', 'https://github.com/todd.keys')]), guest('ann', [key('B')]), guest('neo', [key('D')])] });
    expect(changedGuestKeys(before, rekeyed)).toEqual(['neo', 'todd']);
    expect(changedGuestKeys(before, guestKeyDigests({ guests: [guest('ann', [key('B')])] }))).toEqual(['todd']);
  });
});

describe('lock holder', () => {
  it('parses the lock file and says who holds it', () => {
    const h = parseHolder('pid=12\nclient=pairctl pid 3 on laptop as ann\nstarted=2026-01-01T00:00:00Z\n');
    expect(h).toEqual({ pid: '12', client: 'pairctl pid 3 on laptop as ann', started: '2026-01-01T00:00:00Z', alive: false });
    expect(describeHolder(h!)).toBe('pairctl pid 3 on laptop as ann, since 2026-01-01T00:00:00Z; its shell there is pid 12, no longer running');
    expect(parseHolder('')).toBeUndefined();
    expect(holderName(5, 'lap\ntop', 'ann')).toBe('pairctl pid 5 on lap?top as ann');
  });
});

describe('record', () => {
  it('reads old records (no origin) and refuses unknown formats without losing data', () => {
    expect(parseRecord('').record.resources).toEqual([]);
    expect(parseRecord('{"format":2,"resources":[]}').error).toMatch(/unknown format/);
    expect(parseRecord('{"format":1,"resources":[{"kind":"group","address":"g","spec":{},"deps":[]}]}').record.resources).toHaveLength(1);
  });
  it('compares specs whatever their key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 3 } })).toBe(canonicalJson({ a: { c: 3, d: [1, { x: 1, y: 2 }] }, b: 1 }));
  });
});

describe('secrets in output', () => {
  it('blanks the values of the variables pair.yaml names, never short strings', () => {
    const config = sampleConfig();
    config.hosts[0]!.tunnel = { provider: 'ngrok', authtokenEnv: 'NGROK_AUTHTOKEN' };
    const secrets = secretValues(config, { NGROK_AUTHTOKEN: '2abcDEF_ghijklmnop', OTHER: 'not-named-in-config' });
    expect(secrets).toEqual(['2abcDEF_ghijklmnop']);
    expect(redact('authtoken: 2abcDEF_ghijklmnop\n', secrets)).toBe(`authtoken: ${REDACTED}\n`);
    expect(secretValues(config, { NGROK_AUTHTOKEN: 'short' })).toEqual([]);
  });

  it('blanks the credentials of $PAIRCTL_GITHUB_URL, as written and decoded', () => {
    const secrets = secretValues(sampleConfig(), { PAIRCTL_GITHUB_URL: 'https://ci-bot:ghp_ab%2Fcd1234567@ghe.example.com/' });
    expect(secrets).toEqual(['ghp_ab%2Fcd1234567', 'ghp_ab/cd1234567']);
    expect(redact('fetch https://ci-bot:ghp_ab/cd1234567@ghe failed', secrets)).toBe(`fetch https://ci-bot:${REDACTED}@ghe failed`);
  });
});

describe('flag values', () => {
  it('reads --lock-timeout as seconds or minutes', () => {
    expect(parseDuration('--lock-timeout', undefined, 60)).toBe(60);
    expect(parseDuration('--lock-timeout', '90', 60)).toBe(90);
    expect(parseDuration('--lock-timeout', '2m', 60)).toBe(120);
    expect(parseDuration('--lock-timeout', '0', 60)).toBe(0);
    expect(() => parseDuration('--lock-timeout', 'soon', 60)).toThrow('--lock-timeout takes a duration such as 90, 90s or 2m, not "soon"');
  });
  it('reads a repeatable, comma-separated list', () => {
    expect(listFlag(['a,b', 'c', 'a'])).toEqual(['a', 'b', 'c']);
    expect(listFlag(undefined)).toBeUndefined();
  });
});

describe('colour', () => {
  const io = (interactive: boolean, env: NodeJS.ProcessEnv = {}): CliIO => ({ stdout: () => {}, stderr: () => {}, interactive, prompt: async () => '', env });
  it('only on a terminal, never with NO_COLOR (any non-empty value) or --no-color', () => {
    expect(useColor(io(true), undefined)).toBe(true);
    expect(useColor(io(false), undefined)).toBe(false);
    expect(useColor(io(true, { NO_COLOR: '1' }), undefined)).toBe(false);
    expect(useColor(io(true, { NO_COLOR: '' }), undefined)).toBe(true);
    expect(useColor(io(true), true)).toBe(false);
  });
});
