/** loadConfigText must turn any input into diagnostics: never a throw, never a hang. */
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load-config.js';

function checkOne(text: string): void {
  // CPU time is loadConfigText's own work; wall time also counts whatever else shares the cores.
  const cpu = process.cpuUsage();
  const result = loadConfigText(text, 'fuzz.yaml', { now: new Date('2026-06-01T00:00:00Z') });
  const used = process.cpuUsage(cpu);
  expect((used.user + used.system) / 1000, 'CPU time (ms)').toBeLessThan(1000);
  expect(Array.isArray(result.diagnostics)).toBe(true);
  for (const d of result.diagnostics) {
    expect(d.line).toBeGreaterThanOrEqual(1);
    expect(d.column).toBeGreaterThanOrEqual(1);
    expect(d.rule).toMatch(/^[a-z]+(-[a-z]+)*$/);
    expect(d.rule, d.message).not.toBe('internal-error');
  }
  if (!result.config) expect(result.diagnostics.some((d) => d.severity === 'error')).toBe(true);
}

const keyish = fc.constantFrom(
  'version', 'hosts', 'guests', 'session', 'platform', 'ssh', 'owner', 'sudo', 'tunnel', 'provider',
  'keys', 'mode', 'expires', 'from', 'name', 'modes', 'default_mode', 'scotch', 'todd', '<<',
);
const leaf = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('linux', 'local', 'mirror', 'lan', '2026-02-30T00:00:00Z', 'ssh-ed25519 AAAA x', '10.0.0.1/8'),
);
const tree = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('list'), tie('map')),
  list: fc.array(tie('node'), { maxLength: 4 }),
  map: fc.dictionary(fc.oneof(keyish, fc.string()), tie('node'), { maxKeys: 5 }),
})).map;

describe('loadConfigText never throws', () => {
  it('on random strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (s) => checkOne(s)), { numRuns: 200 });
  });

  it('on random YAML-ish text', () => {
    const piece = fc.constantFrom('\ufeff', '!!binary ', '!!set ', '!x ', '\n', '  ', ':', '- ', '&a ', '*a', '<<: ', '{', '}', '[', ']', '"', "'", '#', '|', '>', '!!str ', '%YAML 1.1\n', '---\n', '? ', 'hosts', 'guests', 'version: 1', '\t');
    fc.assert(fc.property(fc.array(fc.oneof(piece, fc.string({ maxLength: 5 })), { maxLength: 60 }), (parts) => checkOne(parts.join(''))), {
      numRuns: 200,
    });
  });

  it('on random nested objects dumped to YAML', () => {
    fc.assert(fc.property(tree, (value) => checkOne(stringify(value))), { numRuns: 200 });
  });

  it('on random objects wrapped in a plausible top level', () => {
    fc.assert(
      fc.property(tree, tree, tree, (hosts, guests, session) => checkOne(stringify({ version: 1, hosts, guests, session }))),
      { numRuns: 200 },
    );
  });
});
