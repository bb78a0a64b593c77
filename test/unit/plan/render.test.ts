import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MachineApplyResult } from '../../../src/plan/apply-machine.js';
import { summarize, type MachinePlan, type Plan } from '../../../src/plan/plan-model.js';
import { applyJson, JSON_FORMAT_VERSION, planJson } from '../../../src/plan/render-json.js';
import { createProgress } from '../../../src/plan/render-progress.js';
import { renderApplyFailures, renderPlanText } from '../../../src/plan/render-text.js';

function plan(machines: MachinePlan[]): Plan {
  return { formatVersion: 1, configFile: 'pair.yaml', configDigest: 'c0ffee', machines, summary: summarize(machines), unreadable: [], facts: {} };
}

/** What apply runs: renderers never read it. */
const nothingToRun = { steps: [], record: [], interimRecord: [], reads: { scripts: [], nonces: [], unhashed: [] } };

const box: MachinePlan = {
  machine: 'box',
  role: 'host',
  target: 'root@box.lan',
  versions: { tmux: '3.3a', openssh: '9.2p1' },
  stateDigest: 'abc',
  ...nothingToRun,
  changes: [
    { address: 'file["/etc/a"]', kind: 'file', name: '/etc/a', action: 'update', cause: 'drift', attributes: [{ name: 'mode', before: '0600', after: '0644' }], diff: '@@ -1 +1 @@\n-x\n+y' },
    { address: 'account["pair-a"]', kind: 'account', name: 'pair-a', action: 'create', cause: 'drift', attributes: [] },
    { address: 'file["/etc/b"]', kind: 'file', name: '/etc/b', action: 'delete', cause: 'removed', attributes: [], restores: '/var/lib/pairctl/backup/1-b' },
    { address: 'group["g"]', kind: 'group', name: 'g', action: 'create', cause: 'config', attributes: [{ name: 'system', after: 'true' }] },
  ],
  warnings: ['tmux is old'],
  notes: ['package tmux stays installed'],
  errors: [],
};

describe('text plan', () => {
  it('marks drift, restores and teardown, and ends with the summary', () => {
    const text = renderPlanText(plan([box, { ...box, machine: 'old', teardown: 'removed', changes: [], notes: [], warnings: [] }]), { color: false });
    expect(text).toContain('  ~ file "/etc/a" (changed outside pairctl)\n      mode = "0600" -> "0644"\n      @@ -1 +1 @@\n      -x\n      +y');
    expect(text).toContain('  + account "pair-a" (deleted outside pairctl)');
    expect(text).toContain('  - file "/etc/b" (original put back from before pairctl)\n      from = "/var/lib/pairctl/backup/1-b"');
    expect(text).toContain('  + group "g"\n      system = "true"');
    expect(text).toContain('  Note: package tmux stays installed');
    expect(text).not.toContain('host old');
    expect(text.endsWith('Plan: 2 to add, 1 to change, 1 to destroy.\n')).toBe(true);
    expect(text).not.toContain('\x1b[');
    expect(text).toContain('host box (root@box.lan):\n  found: tmux 3.3a, OpenSSH 9.2p1\n  ~ file "/etc/a"');
    const removed = renderPlanText(plan([{ ...box, teardown: 'removed', versions: undefined }]), { color: true });
    expect(removed).toContain('host box (root@box.lan): no longer in pair.yaml; everything pairctl made there is removed:');
    expect(removed).toContain('\x1b[33m  ~ file "/etc/a" (changed outside pairctl)\x1b[0m');
  });

  it('says what every machine runs, those with nothing to do in one line each', () => {
    const relay: MachinePlan = { machine: 'elefante', role: 'relay', target: 'root@203.0.113.5', versions: { openssh: '10.0p2' }, stateDigest: 'r', ...nothingToRun, changes: [], warnings: [], errors: [] };
    const fresh: MachinePlan = { ...relay, machine: 'new', role: 'host', target: 'root@new', versions: { tmux: null, openssh: '10.6p1' } };
    const quiet = { ...box, changes: [], warnings: [], notes: [] };
    const text = renderPlanText(plan([quiet, relay, fresh]), { color: false });
    expect(text).toBe(
      ['box: no changes (tmux 3.3a, OpenSSH 9.2p1)', 'elefante: no changes (OpenSSH 10.0p2)', 'new: no changes (tmux not installed, OpenSSH 10.6p1)', '', 'No changes. Every machine matches pair.yaml.', ''].join('\n'),
    );
    // A plan saved before versions were read still renders as it did.
    expect(renderPlanText(plan([{ ...quiet, versions: undefined }]), { color: false })).toBe('No changes. Every machine matches pair.yaml.\n');
  });

  it('says what was made, interrupted and not made when an apply stops', () => {
    const results: MachineApplyResult[] = [
      { machine: 'ok', ok: true, done: ['a'], notStarted: [] },
      { machine: 'box', ok: false, done: ['a'], interrupted: 'b', notStarted: ['c'], error: 'lost the ssh connection' },
      { machine: 'sshd', ok: false, done: [], failed: { address: 'sshd_dropin', output: 'sshd -t rejected' }, notStarted: ['x'] },
      { machine: 'busy', ok: false, done: [], notStarted: ['a'], refused: 'locked', error: 'another pairctl apply holds the lock' },
    ];
    const text = renderApplyFailures(results, { withOutput: true });
    expect(text).toBe(
      [
        'Error: box: apply stopped during b: lost the ssh connection',
        '  made: a',
        '  interrupted, may or may not have taken effect: b',
        '  not made: c',
        '  Run pairctl plan to see where the machine stands; apply again once the cause is fixed.',
        'Error: sshd: apply stopped at sshd_dropin',
        '    sshd -t rejected',
        '  made: nothing',
        '  failed: sshd_dropin',
        '  not made: x',
        '  Run pairctl plan to see where the machine stands; apply again once the cause is fixed.',
        'Error: busy: apply stopped: another pairctl apply holds the lock',
        '',
      ].join('\n'),
    );
    expect(renderApplyFailures(results, { withOutput: false })).not.toContain('sshd -t rejected');
  });
});

describe('JSON plan', () => {
  const ctx = { command: 'plan' as const, pairctlVersion: '0.1.0', unreachable: [{ machine: 'far', message: 'no route' }] };

  it('has the documented shape (docs/plan-json.md), nulls rather than missing keys', () => {
    const doc = planJson(plan([box]), ctx);
    expect(doc.format_version).toBe(JSON_FORMAT_VERSION);
    expect(Object.keys(doc)).toEqual([
      'format_version', 'pairctl_version', 'command', 'config', 'limit', 'destroy', 'machines', 'unreachable', 'warnings', 'summary', 'changes_pending', 'applicable',
    ]);
    expect(doc.machines[0]).toEqual({
      id: 'box',
      role: 'host',
      target: 'root@box.lan',
      versions: { tmux: '3.3a', openssh: '9.2p1' },
      teardown: null,
      state_digest: 'abc',
      changes: expect.any(Array),
      notes: ['package tmux stays installed'],
      warnings: ['tmux is old'],
      errors: [],
    });
    expect(doc.machines[0]!.changes[0]).toEqual({
      address: 'file["/etc/a"]',
      kind: 'file',
      name: '/etc/a',
      action: 'update',
      cause: 'drift',
      attributes: [{ name: 'mode', before: '0600', after: '0644' }],
      diff: '@@ -1 +1 @@\n-x\n+y',
      restores_from: null,
    });
    expect(doc.machines[0]!.changes[2]!.restores_from).toBe('/var/lib/pairctl/backup/1-b');
    expect(doc.summary).toEqual({ add: 2, change: 1, destroy: 1 });
    // Versions not read (a relay's tmux; a plan saved before 1.1) are null, never missing.
    expect(planJson(plan([{ ...box, versions: { openssh: '10.0p2' } }]), ctx).machines[0]!.versions).toEqual({ tmux: null, openssh: '10.0p2' });
    expect(planJson(plan([{ ...box, versions: undefined }]), ctx).machines[0]!.versions).toEqual({ tmux: null, openssh: null });
    expect(doc).toMatchObject({ changes_pending: true, applicable: false, limit: null, unreachable: [{ machine: 'far', message: 'no route', hint: null }] });
  });

  it('matches the example and the tables in docs/plan-json.md, key for key', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../../docs/plan-json.md'), 'utf8');
    const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const example = JSON.parse(blocks[0]!) as Record<string, unknown>;
    const real = planJson(plan([box]), ctx) as unknown as Record<string, unknown>;
    const keys = (o: unknown) => Object.keys(o as object);
    const first = (o: Record<string, unknown>, k: string) => (o[k] as Array<Record<string, unknown>>)[0]!;
    expect(keys(example)).toEqual(keys(real));
    expect(keys(first(example, 'machines'))).toEqual(keys(first(real, 'machines')));
    expect(keys(first(first(example, 'machines'), 'changes'))).toEqual(keys(first(first(real, 'machines'), 'changes')));
    expect(example.format_version).toBe(JSON_FORMAT_VERSION);
    const applyExample = JSON.parse(`{${blocks[1]!}}`) as { apply: Record<string, unknown> };
    const realApply = applyJson(plan([box]), ctx, [{ machine: 'box', ok: true, done: [], notStarted: [] }]).apply as unknown as Record<string, unknown>;
    expect(keys(applyExample.apply)).toEqual(keys(realApply));
    expect(keys(first(applyExample.apply, 'machines'))).toEqual(keys(first(realApply, 'machines')));
    // Every key of the documents has a row in a table.
    for (const k of [...keys(real), ...keys(first(first(real, 'machines'), 'changes')), ...keys(first(realApply, 'machines'))]) {
      expect(doc, k).toMatch(new RegExp(`\\| \`[^|]*${k}[^|]*\` \\|`));
    }
  });

  it('adds what the apply did, and null when nothing was applied', () => {
    const results: MachineApplyResult[] = [{ machine: 'box', ok: false, done: ['a'], interrupted: 'b', notStarted: ['c'], error: 'lost' }];
    const doc = applyJson(plan([box]), { ...ctx, command: 'apply', unreachable: [] }, results);
    expect(doc.apply).toEqual({
      ok: false,
      machines: [{ id: 'box', ok: false, made: ['a'], failed: null, interrupted: 'b', not_made: ['c'], refused: null, error: 'lost' }],
    });
    expect(applyJson(plan([box]), ctx, undefined).apply).toBeNull();
  });
});

describe('apply progress', () => {
  const events = (p: ReturnType<typeof createProgress>) => {
    p.onEvent({ type: 'begin', machine: 'box', total: 2 });
    p.onEvent({ type: 'begin', machine: 'relay-1', total: 1 });
    p.onEvent({ type: 'start', machine: 'box', address: 'a', index: 0, total: 2 });
    p.onEvent({ type: 'done', machine: 'box', address: 'a', index: 0, total: 2 });
    p.onEvent({ type: 'waiting', machine: 'relay-1', holder: { client: 'pairctl pid 3 on x as y', alive: true } });
    p.onEvent({ type: 'start', machine: 'box', address: 'b', index: 1, total: 2 });
    p.onEvent({ type: 'failed', machine: 'box', address: 'b', output: 'boom\nbang' });
    p.onEvent({ type: 'end', machine: 'box', ok: false });
    p.finish();
  };

  it('prints plain lines, one per event, when not on a terminal', () => {
    let out = '';
    let t = 0;
    events(createProgress({ live: false, color: false, write: (s) => (out += s), now: () => (t += 100) }));
    expect(out).toBe(
      [
        'box: applying 2 changes',
        'relay-1: applying 1 change',
        'box: a: applying (1/2)',
        'box: a: done (0.1 s)',
        'relay-1: waiting for the lock (held by pairctl pid 3 on x as y, still running)',
        'box: b: applying (2/2)',
        'box: b: FAILED',
        '    boom',
        '    bang',
        'box: stopped',
        '',
      ].join('\n'),
    );
  });

  it('redraws one status line per machine in place on a terminal', () => {
    const writes: string[] = [];
    events(createProgress({ live: true, color: false, write: (s) => writes.push(s), now: () => 0 }));
    expect(writes[0]).toBe('\x1b[2Kbox applying [0/2]\n');
    // From then on each redraw first moves up over the block it drew before.
    expect(writes[2]).toBe('\x1b[2F\x1b[2Kbox     applying [0/2] a\n\x1b[2Krelay-1 applying [0/1]\n');
    expect(writes.at(-1)).toBe('\x1b[2F\x1b[2Kbox     stopped [1/2] at b\n\x1b[2Krelay-1 waiting for another apply to release the lock\n');
  });

  it('cuts each live line to the terminal width, read at every redraw, colour kept', () => {
    const writes: string[] = [];
    let cols = 30;
    events(createProgress({ live: true, color: true, write: (s) => writes.push(s), now: () => 0, columns: () => cols }));
    const visible = (w: string) => w.split('\n').filter(Boolean).map((l) => l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, ''));
    const before = writes.length;
    for (const w of writes) for (const l of visible(w)) expect([...l].length).toBeLessThanOrEqual(29);
    expect(visible(writes.at(-1)!)).toEqual(['box     stopped [1/2] at b', 'relay-1 waiting for another …']);
    expect(writes.at(-1)).toContain('\x1b[33mwaiting\x1b[0m');
    // Resized narrower than the status word: still one line each.
    cols = 12;
    events(createProgress({ live: true, color: true, write: (s) => writes.push(s), now: () => 0, columns: () => cols }));
    for (const w of writes.slice(before)) for (const l of visible(w)) expect([...l].length).toBeLessThanOrEqual(11);
  });
});

describe('text plan with machines not read or blocked', () => {
  it('lists what could not be read above the last line, which is then never an all-clear', () => {
    const text = renderPlanText(plan([{ ...box, changes: [], warnings: [], notes: [] }]), { color: false }, [
      { machine: 'far', message: 'connect ECONNREFUSED 127.0.0.1:1', hint: 'is sshd running there?' },
    ]);
    expect(text).not.toContain('No changes');
    expect(text.endsWith(
      'Could not read 1 machine:\n  far: connect ECONNREFUSED 127.0.0.1:1\n    hint: is sshd running there?\n\nPlan incomplete: 1 machine could not be read, so nothing can be applied. For the 1 machine read: 0 to add, 0 to change, 0 to destroy.\n',
    )).toBe(true);
  });

  it('a machine with errors and no changes is blocked, not converged', () => {
    const text = renderPlanText(plan([{ ...box, changes: [], warnings: [], notes: [], errors: ['owner "pairhost" does not exist'] }]), { color: false });
    expect(text).not.toContain('No changes');
    expect(text).toContain('  Error: owner "pairhost" does not exist');
    expect(text.endsWith('Plan blocked: 1 machine has errors (above), so nothing can be applied. Otherwise: 0 to add, 0 to change, 0 to destroy.\n')).toBe(true);
  });
});
