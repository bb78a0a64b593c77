import { describe, expect, it } from 'vitest';
import type { DesiredMachine } from '../../../src/graph/build-graph.js';
import type { Resource } from '../../../src/resources/kind.js';
import { planMachine } from '../../../src/plan/plan-machine.js';
import { backupPathFor, recordText, type RecordedResource } from '../../../src/plan/record.js';
import { fileAnswer, ScriptedRunner } from './scripted-runner.js';

const file = (path: string, content: string, deps: string[] = []): Resource => ({
  kind: 'file',
  address: `file[${JSON.stringify(path)}]`,
  spec: { path, content, mode: '0644', owner: 'root', group: 'root' },
  deps,
});
const dir = (path: string): Resource => ({
  kind: 'directory',
  address: `directory[${JSON.stringify(path)}]`,
  spec: { path, mode: '0755', owner: 'root', group: 'root' },
  deps: [],
});
const pkg: Resource = { kind: 'package', address: 'package["tmux"]', spec: { name: 'tmux' }, deps: [] };

const machine = (resources: Resource[]): DesiredMachine => ({ target: { id: 'box', ssh: 'box.lan', sudo: false }, role: 'host', resources });

/** A machine whose files and record are given; everything else is absent. */
function fakeMachine(opts: { files?: Record<string, string>; record?: RecordedResource[]; holder?: string; dirs?: string[] }) {
  return new ScriptedRunner((snippet) => {
    if (snippet.includes('state.json')) return opts.record ? recordText(opts.record) : '';
    if (snippet.includes('/var/lib/pairctl/lock')) return opts.holder ?? '';
    if (snippet.includes('dpkg-query')) return 'manager=apt\ninstalled=3.3a-3';
    const path = /^p='?([^'\n]*)'?\n/.exec(snippet)?.[1];
    if (path && opts.dirs?.includes(path)) return 'type=directory\nmode=755\nowner=root\ngroup=root';
    if (path && opts.files && path in opts.files) return fileAnswer(opts.files[path]!);
    return 'type=absent';
  });
}

describe('planMachine', () => {
  it('plans creates from an empty record as changes of pair.yaml, in one exec', async () => {
    const runner = fakeMachine({});
    const work = await planMachine(machine([file('/etc/a', 'A\n')]), runner);
    expect(runner.execCount).toBe(1);
    expect(work.plan.changes).toMatchObject([{ address: 'file["/etc/a"]', action: 'create', cause: 'config' }]);
    expect(work.plan.changes[0]!.diff).toContain('+A');
    expect(work.record).toEqual([{ ...file('/etc/a', 'A\n'), origin: 'created' }]);
    // Until its step ran, the new resource is listed as pending: no spec of it was applied yet.
    expect(work.interimRecord).toEqual([{ ...file('/etc/a', 'A\n'), origin: 'created', pending: true }]);
  });

  it('calls a difference drift when pair.yaml still wants what pairctl last applied', async () => {
    const a = file('/etc/a', 'A\n');
    const work = await planMachine(machine([a]), fakeMachine({ files: { '/etc/a': 'edited by hand\n' }, record: [{ ...a, origin: 'created' }] }));
    expect(work.plan.changes).toMatchObject([{ action: 'update', cause: 'drift' }]);
    expect(work.plan.changes[0]!.diff).toContain('-edited by hand');
    expect(work.plan.changes[0]!.diff).toContain('+A');
  });

  it('calls it a change of pair.yaml when the spec differs from the one last applied', async () => {
    const old = file('/etc/a', 'old\n');
    const work = await planMachine(machine([file('/etc/a', 'new\n')]), fakeMachine({ files: { '/etc/a': 'old\n' }, record: [{ ...old, origin: 'created' }] }));
    expect(work.plan.changes).toMatchObject([{ action: 'update', cause: 'config' }]);
    // While the step is pending, the record keeps the spec last applied (the old one).
    expect(work.interimRecord[0]!.spec).toEqual(old.spec);
    expect(work.record[0]!.spec).toEqual(file('/etc/a', 'new\n').spec);
  });

  it('calls a hand-deleted recorded file "deleted outside" drift (a create)', async () => {
    const a = file('/etc/a', 'A\n');
    const work = await planMachine(machine([a]), fakeMachine({ record: [{ ...a, origin: 'created' }] }));
    expect(work.plan.changes).toMatchObject([{ action: 'create', cause: 'drift' }]);
  });

  it('backs up a file it did not create before replacing it, once, and records where', async () => {
    const a = file('/etc/a', 'A\n');
    const work = await planMachine(machine([a]), fakeMachine({ files: { '/etc/a': 'theirs\n' } }));
    const backup = backupPathFor('/etc/a');
    expect(work.steps[0]!.script).toContain(`[ ! -e ${backup} ]`);
    expect(work.steps[0]!.script.indexOf(backup)).toBeLessThan(work.steps[0]!.script.indexOf('mktemp'));
    expect(work.record[0]).toMatchObject({ origin: 'adopted', backup });
    // The interim record already points at the backup: an interrupted apply still restores it.
    expect(work.interimRecord[0]).toMatchObject({ origin: 'adopted', backup, pending: true });
  });

  it('takes over an identical file without a backup, and leaves it in place when let go', async () => {
    const a = file('/etc/a', 'A\n');
    const adopt = await planMachine(machine([a]), fakeMachine({ files: { '/etc/a': 'A\n' } }));
    expect(adopt.plan.changes).toEqual([]);
    expect(adopt.record[0]).toEqual({ ...a, origin: 'adopted' });
    const release = await planMachine(machine([]), fakeMachine({ files: { '/etc/a': 'A\n' }, record: adopt.record }));
    expect(release.plan.changes.map((c) => c.address)).toEqual(['state["/var/lib/pairctl"]']);
    expect(release.plan.notes).toEqual(['file "/etc/a" is left in place: it was there before pairctl managed it']);
  });

  it('owns a taken-over file it had to make anew (deleted by hand), so removal deletes it', async () => {
    const a = file('/etc/a', 'A\n');
    const work = await planMachine(machine([a]), fakeMachine({ record: [{ ...a, origin: 'adopted' }] }));
    expect(work.plan.changes).toMatchObject([{ action: 'create', cause: 'drift' }]);
    expect(work.record[0]).toEqual({ ...a, origin: 'created' });
  });

  it('puts the original back when a file it replaced leaves pair.yaml, showing what comes back', async () => {
    const a = file('/etc/a', 'A\n');
    const backup = backupPathFor('/etc/a');
    const keep = file('/etc/keep', 'K\n');
    const runner = fakeMachine({
      files: { '/etc/a': 'A\n', [backup]: 'theirs\n', '/etc/keep': 'K\n' },
      record: [{ ...keep, origin: 'created' }, { ...a, origin: 'adopted', backup }],
    });
    const work = await planMachine(machine([keep]), runner);
    expect(runner.execCount).toBe(2);
    expect(work.plan.changes).toMatchObject([{ address: 'file["/etc/a"]', action: 'delete', cause: 'removed', restores: backup }]);
    expect(work.plan.changes[0]!.diff).toMatch(/-A\n\+theirs/);
    expect(work.steps[0]!.script).toMatch(/rm -f \/etc\/a\n[\s\S]*cp -p \/var\/lib\/pairctl\/backup\/[0-9a-f]{12}-a "\$t"[\s\S]*mv -f "\$t" \/etc\/a\n/);
    expect(work.record).toEqual([{ ...keep, origin: 'created' }]);
  });

  it('deletes what it created when pair.yaml drops it, dependents first, without a content diff', async () => {
    const d = dir('/etc/x');
    const f = file('/etc/x/f', 'F\n', [d.address]);
    const work = await planMachine(
      machine([]),
      fakeMachine({ files: { '/etc/x/f': 'F\n' }, dirs: ['/etc/x'], record: [{ ...d, origin: 'created' }, { ...f, origin: 'created' }] }),
    );
    expect(work.plan.changes.map((c) => `${c.action} ${c.address}`)).toEqual([
      'delete file["/etc/x/f"]',
      'delete directory["/etc/x"]',
      'delete state["/var/lib/pairctl"]',
    ]);
    expect(work.plan.changes[0]!.diff).toBeUndefined();
    // The record and state directory go last, after everything they listed.
    expect(work.steps.at(-1)!.script).toContain('rm -f /var/lib/pairctl/state.json /var/lib/pairctl/lock');
    expect(work.record).toEqual([]);
  });

  it('says that packages stay installed when they leave the record', async () => {
    const work = await planMachine(machine([]), fakeMachine({ record: [{ ...pkg, origin: 'adopted' }] }));
    expect(work.plan.notes?.[0]).toMatch(/package tmux stays installed: pairctl never uninstalls packages/);
  });

  it('gives the same state digest for two reads of the same machine (nonces differ)', async () => {
    const a = file('/etc/a', 'A\n');
    const m = fakeMachine({ files: { '/etc/a': 'x\n' }, record: [{ ...a, origin: 'created' }] });
    const one = await planMachine(machine([a]), m);
    const two = await planMachine(machine([a]), m);
    expect(one.reads.nonces[0]).not.toBe(two.reads.nonces[0]);
    expect(one.plan.stateDigest).toBe(two.plan.stateDigest);
    const changed = await planMachine(machine([a]), fakeMachine({ files: { '/etc/a': 'y\n' }, record: [{ ...a, origin: 'created' }] }));
    expect(changed.plan.stateDigest).not.toBe(one.plan.stateDigest);
  });

  it('leaves who holds the lock out of the digest: it is not the machine\'s state', async () => {
    const quiet = await planMachine(machine([]), fakeMachine({}));
    const held = await planMachine(machine([]), fakeMachine({ holder: 'pid=77\nclient=pairctl pid 5 on laptop as ann\nalive=yes' }));
    expect(held.plan.stateDigest).toBe(quiet.plan.stateDigest);
    expect(held.reads.unhashed).toEqual([[1]]);
  });

  it('warns when the last apply did not finish, and when one is running now', async () => {
    const dead = await planMachine(machine([]), fakeMachine({ holder: 'pid=77\nclient=pairctl pid 5 on laptop as ann\nstarted=2026-01-02T03:04:05Z' }));
    expect(dead.plan.warnings[0]).toMatch(/the last apply on box did not finish \(pairctl pid 5 on laptop as ann, since 2026-01-02T03:04:05Z; its shell there is pid 77, no longer running\)/);
    const live = await planMachine(machine([]), fakeMachine({ holder: 'pid=77\nclient=pairctl pid 5 on laptop as ann\nalive=yes' }));
    expect(live.plan.warnings[0]).toMatch(/an apply is running on box right now/);
  });
});
