/**
 * Table-driven: each JSON file under test/fixtures/resources is one case — a kind, a spec, what
 * its probe printed on a machine, and what the kind must decide. Adding a case is adding a file.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DiffContext } from '../../../src/resources/kind.js';
import { kindOf, type KindName } from '../../../src/resources/registry.js';

interface Case {
  /** read from disk: kindOf checks it */
  kind: KindName;
  spec: unknown;
  probe: string;
  ctx: DiffContext;
  expect: {
    action: string;
    attributes?: string[];
    script?: string[];
    scriptOrder?: string[];
    /** text the script must not contain (e.g. root touching the owner's socket) */
    scriptLacks?: string[];
    errors?: string[];
    warnings?: string[];
    diff?: string;
  };
}

const dir = join(import.meta.dirname, '../../fixtures/resources');
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as Case] as const);

describe.each(cases)('%s', (_file, c) => {
  const kind = kindOf(c.kind);
  const delta = kind.diff(c.spec, kind.parse(c.probe, c.spec), c.ctx);

  it(`decides ${c.expect.action}`, () => {
    expect(delta.action).toBe(c.expect.action);
    if (c.expect.action === 'noop') expect(delta.script).toBe('');
  });
  it('shows the expected attributes, errors and warnings', () => {
    if (c.expect.attributes) expect(delta.attributes.map((a) => a.name)).toEqual(c.expect.attributes);
    for (const e of c.expect.errors ?? []) expect(delta.errors.join('\n')).toContain(e);
    if (!c.expect.errors) expect(delta.errors).toEqual([]);
    for (const w of c.expect.warnings ?? []) expect(delta.warnings.join('\n')).toContain(w);
    if (c.expect.diff) expect(`${delta.content?.before ?? ''}\0${delta.content?.after ?? ''}`).toContain(c.expect.diff.slice(1));
  });
  it('emits the expected commands, in order, as valid POSIX sh', () => {
    for (const s of c.expect.script ?? []) expect(delta.script).toContain(s);
    let at = -1;
    for (const s of c.expect.scriptOrder ?? []) {
      const i = delta.script.indexOf(s, at + 1);
      expect(i, `"${s}" after position ${at}`).toBeGreaterThan(at);
      at = i;
    }
    for (const s of c.expect.scriptLacks ?? []) expect(delta.script).not.toContain(s);
    if (delta.script) execFileSync('sh', ['-n'], { input: delta.script });
  });
  it('probes with a snippet that is valid POSIX sh', () => {
    execFileSync('sh', ['-n'], { input: kind.probe(c.spec) });
    if (kind.probeMany) execFileSync('sh', ['-n'], { input: kind.probeMany([c.spec]) });
  });
});
