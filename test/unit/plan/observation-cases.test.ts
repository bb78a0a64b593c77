/**
 * Table-driven engine cases: each JSON file under test/fixtures/observations is a machine's
 * desired resources, what was observed there, and what the plan must say (README there).
 * Adding a case is adding a file.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DesiredMachine } from '../../../src/graph/build-graph.js';
import { compare } from '../../../src/plan/compare.js';
import type { RecordedResource } from '../../../src/plan/record.js';
import type { FileObserved } from '../../../src/resources/file-state.js';
import type { Resource } from '../../../src/resources/kind.js';
import { observationOf } from './observations.js';

interface Case {
  desired: Resource[];
  observation: { record?: RecordedResource[]; states?: Record<string, unknown>; holder?: string; backups?: Record<string, FileObserved> };
  expect: { changes: string[]; notes?: string[]; warnings?: string[]; errors?: string[]; restores?: Record<string, string> };
}

const dir = join(import.meta.dirname, '../../fixtures/observations');
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as Case] as const);

describe.each(cases)('%s', (_file, c) => {
  it('plans what the case says', async () => {
    const machine: DesiredMachine = { target: { id: 'box', ssh: 'box.lan', sudo: false }, role: 'host', resources: c.desired };
    const { record, states, holder, backups } = c.observation;
    const plan = await compare(machine, observationOf(machine, { record, holder, backups, state: (r) => states?.[r.address] }));
    expect(plan.changes.map((ch) => `${ch.action} ${ch.address} ${ch.cause}`)).toEqual(c.expect.changes);
    expect(plan.steps.map((s) => s.address)).toEqual(plan.changes.map((ch) => ch.address));
    expect(plan.notes ?? []).toEqual(c.expect.notes ?? []);
    expect(plan.warnings).toEqual(c.expect.warnings ?? []);
    expect(plan.errors).toEqual(c.expect.errors ?? []);
    for (const [address, backup] of Object.entries(c.expect.restores ?? {})) {
      expect(plan.changes.find((ch) => ch.address === address)?.restores).toBe(backup);
      expect(plan.steps.find((s) => s.address === address)?.script).toContain(`cp -p ${backup} "$t"`);
    }
  });
});
