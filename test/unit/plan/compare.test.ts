/**
 * compare on observation data (what each resource's state is), and observe on real files read
 * by the real `sh` (test/unit/plan/sh-runner.ts): one exec, a second only for removed resources.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { DesiredMachine } from '../../../src/graph/build-graph.js';
import { STATE_DIR } from '../../../src/graph/paths.js';
import type { Resource } from '../../../src/resources/kind.js';
import { compare } from '../../../src/plan/compare.js';
import { observe } from '../../../src/plan/observe.js';
import { backupPathFor, recordText, type RecordedResource } from '../../../src/plan/record.js';
import { fileState, observationOf } from './observations.js';
import { ShRunner } from './sh-runner.js';

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

/** The plan of a machine whose files, directories and record are given; everything else is absent. */
function planOf(resources: Resource[], opts: { files?: Record<string, string>; record?: RecordedResource[]; holder?: string; dirs?: string[] } = {}) {
  const m = machine(resources);
  const path = (r: Resource) => (r.spec as { path?: string }).path ?? '';
  return compare(
    m,
    observationOf(m, {
      record: opts.record,
      holder: opts.holder,
      state: (r) => {
        if (r.kind === 'directory' && opts.dirs?.includes(path(r))) return { type: 'directory', mode: '0755', owner: 'root', group: 'root' };
        if (r.kind === 'file' && opts.files && path(r) in opts.files) return fileState(opts.files[path(r)]!);
        return undefined;
      },
      output: (r) => (r.kind === 'package' ? 'manager=apt\ninstalled=3.3a-3' : 'type=absent'),
      backups: Object.fromEntries(Object.entries(opts.files ?? {}).map(([p, c]) => [p, fileState(c)])),
    }),
  );
}

describe('compare', () => {
  it('plans creates from an empty record as changes of pair.yaml', async () => {
    const work = await planOf([file('/etc/a', 'A\n')]);
    expect(work.changes).toMatchObject([{ address: 'file["/etc/a"]', action: 'create', cause: 'config' }]);
    expect(work.changes[0]!.diff).toContain('+A');
    expect(work.record).toEqual([{ ...file('/etc/a', 'A\n'), origin: 'created' }]);
    // Until its step ran, the new resource is listed as pending: no spec of it was applied yet.
    expect(work.interimRecord).toEqual([{ ...file('/etc/a', 'A\n'), origin: 'created', pending: true }]);
  });

  it('calls a difference drift when pair.yaml still wants what pairctl last applied', async () => {
    const a = file('/etc/a', 'A\n');
    const work = await planOf([a], { files: { '/etc/a': 'edited by hand\n' }, record: [{ ...a, origin: 'created' }] });
    expect(work.changes).toMatchObject([{ action: 'update', cause: 'drift' }]);
    expect(work.changes[0]!.diff).toContain('-edited by hand');
    expect(work.changes[0]!.diff).toContain('+A');
  });

  it('calls it a change of pair.yaml when the spec differs from the one last applied', async () => {
    const old = file('/etc/a', 'old\n');
    const work = await planOf([file('/etc/a', 'new\n')], { files: { '/etc/a': 'old\n' }, record: [{ ...old, origin: 'created' }] });
    expect(work.changes).toMatchObject([{ action: 'update', cause: 'config' }]);
    // While the step is pending, the record keeps the spec last applied (the old one).
    expect(work.interimRecord[0]!.spec).toEqual(old.spec);
    expect(work.record[0]!.spec).toEqual(file('/etc/a', 'new\n').spec);
  });

  it('calls a hand-deleted recorded file "deleted outside" drift (a create)', async () => {
    const a = file('/etc/a', 'A\n');
    const work = await planOf([a], { record: [{ ...a, origin: 'created' }] });
    expect(work.changes).toMatchObject([{ action: 'create', cause: 'drift' }]);
  });

  it('backs up a file it did not create before replacing it, once, and records where', async () => {
    const a = file('/etc/a', 'A\n');
    const work = await planOf([a], { files: { '/etc/a': 'theirs\n' } });
    const backup = backupPathFor('/etc/a');
    expect(work.steps[0]!.script).toContain(`[ ! -e ${backup} ]`);
    expect(work.steps[0]!.script.indexOf(backup)).toBeLessThan(work.steps[0]!.script.indexOf('mktemp'));
    expect(work.record[0]).toMatchObject({ origin: 'adopted', backup });
    // The interim record already points at the backup: an interrupted apply still restores it.
    expect(work.interimRecord[0]).toMatchObject({ origin: 'adopted', backup, pending: true });
  });

  it('takes over an identical file without a backup, and leaves it in place when let go', async () => {
    const a = file('/etc/a', 'A\n');
    const adopt = await planOf([a], { files: { '/etc/a': 'A\n' } });
    expect(adopt.changes).toEqual([]);
    expect(adopt.record[0]).toEqual({ ...a, origin: 'adopted' });
    const release = await planOf([], { files: { '/etc/a': 'A\n' }, record: adopt.record });
    expect(release.changes.map((c) => c.address)).toEqual(['state["/var/lib/pairctl"]']);
    expect(release.notes).toEqual(['file "/etc/a" is left in place: it was there before pairctl managed it']);
  });

  it('owns a taken-over file it had to make anew (deleted by hand), so removal deletes it', async () => {
    const a = file('/etc/a', 'A\n');
    const work = await planOf([a], { record: [{ ...a, origin: 'adopted' }] });
    expect(work.changes).toMatchObject([{ action: 'create', cause: 'drift' }]);
    expect(work.record[0]).toEqual({ ...a, origin: 'created' });
  });

  it('puts the original back when a file it replaced leaves pair.yaml, showing what comes back', async () => {
    const a = file('/etc/a', 'A\n');
    const backup = backupPathFor('/etc/a');
    const keep = file('/etc/keep', 'K\n');
    const work = await planOf([keep], {
      files: { '/etc/a': 'A\n', [backup]: 'theirs\n', '/etc/keep': 'K\n' },
      record: [{ ...keep, origin: 'created' }, { ...a, origin: 'adopted', backup }],
    });
    expect(work.changes).toMatchObject([{ address: 'file["/etc/a"]', action: 'delete', cause: 'removed', restores: backup }]);
    expect(work.changes[0]!.diff).toMatch(/-A\n\+theirs/);
    expect(work.steps[0]!.script).toMatch(/rm -f \/etc\/a\n[\s\S]*cp -p \/var\/lib\/pairctl\/backup\/[0-9a-f]{12}-a "\$t"[\s\S]*mv -f "\$t" \/etc\/a\n/);
    expect(work.record).toEqual([{ ...keep, origin: 'created' }]);
  });

  it('deletes what it created when pair.yaml drops it, dependents first, without a content diff', async () => {
    const d = dir('/etc/x');
    const f = file('/etc/x/f', 'F\n', [d.address]);
    const work = await planOf([], { files: { '/etc/x/f': 'F\n' }, dirs: ['/etc/x'], record: [{ ...d, origin: 'created' }, { ...f, origin: 'created' }] });
    expect(work.changes.map((c) => `${c.action} ${c.address}`)).toEqual([
      'delete file["/etc/x/f"]',
      'delete directory["/etc/x"]',
      'delete state["/var/lib/pairctl"]',
    ]);
    expect(work.changes[0]!.diff).toBeUndefined();
    // The record and state directory go last, after everything they listed.
    expect(work.steps.at(-1)!.script).toContain('rm -f /var/lib/pairctl/state.json /var/lib/pairctl/lock');
    expect(work.record).toEqual([]);
  });

  it('says that packages stay installed when they leave the record (the package kind says so)', async () => {
    const work = await planOf([], { record: [{ ...pkg, origin: 'adopted' }] });
    expect(work.notes?.[0]).toMatch(/package tmux stays installed: pairctl never uninstalls packages/);
  });

  it('warns when the last apply did not finish, and when one is running now', async () => {
    const dead = await planOf([], { holder: 'pid=77\nclient=pairctl pid 5 on laptop as ann\nstarted=2026-01-02T03:04:05Z' });
    expect(dead.warnings[0]).toMatch(/the last apply on box did not finish \(pairctl pid 5 on laptop as ann, since 2026-01-02T03:04:05Z; its shell there is pid 77, no longer running\)/);
    const live = await planOf([], { holder: 'pid=77\nclient=pairctl pid 5 on laptop as ann\nalive=yes' });
    expect(live.warnings[0]).toMatch(/an apply is running on box right now/);
  });

  it('refuses an observation that lacks a desired resource (it was read for another graph)', async () => {
    const m = machine([file('/etc/a', 'A\n')]);
    await expect(compare(machine([file('/etc/b', 'B\n')]), observationOf(m))).rejects.toThrow(/file\["\/etc\/b"\] was not read on box/);
  });
});

describe('observe (real sh, real files)', () => {
  const me = userInfo().username;
  const group = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
  /** A machine root: the record, lock and backups live under it, and so do the test's files. */
  function box(record?: RecordedResource[], holder?: string) {
    const root = mkdtempSync(join(tmpdir(), 'pairctl-observe-'));
    mkdirSync(join(root, STATE_DIR, 'backup'), { recursive: true });
    if (record) writeFileSync(join(root, STATE_DIR, 'state.json'), recordText(record));
    if (holder) writeFileSync(join(root, STATE_DIR, 'lock'), holder);
    const mine = (name: string, content: string): Resource => ({
      kind: 'file',
      address: `file[${JSON.stringify(join(root, name))}]`,
      spec: { path: join(root, name), content, mode: '0644', owner: me, group },
      deps: [],
    });
    return { root, runner: new ShRunner(root), mine };
  }

  it('reads a machine in one exec, and plans creates from it', async () => {
    const { runner, mine } = box();
    const a = mine('a', 'A\n');
    const o = await observe(machine([a]), runner);
    expect(runner.execCount).toBe(1);
    expect(o.resources[a.address]).toEqual({ type: 'absent' });
    const work = await compare(machine([a]), o);
    expect(work.changes).toMatchObject([{ address: a.address, action: 'create', cause: 'config' }]);
    expect(JSON.parse(JSON.stringify(o))).toEqual(o);
  });

  it('takes a second exec only when the record lists removed resources, reading their backups too', async () => {
    const probe = box();
    const a = probe.mine('a', 'A\n');
    const keep = probe.mine('keep', 'K\n');
    const backup = backupPathFor((a.spec as { path: string }).path);
    const { root, runner } = box([{ ...keep, origin: 'created' }, { ...a, origin: 'adopted', backup }]);
    writeFileSync((a.spec as { path: string }).path, 'A\n');
    writeFileSync((keep.spec as { path: string }).path, 'K\n', { mode: 0o644 });
    mkdirSync(join(root, STATE_DIR, 'backup'), { recursive: true });
    writeFileSync(join(root, backup), 'theirs\n');
    const o = await observe(machine([keep]), runner);
    expect(runner.execCount).toBe(2);
    expect(o.backups[backup]).toMatchObject({ type: 'file', content: 'theirs\n' });
    const work = await compare(machine([keep]), o);
    expect(work.changes).toMatchObject([{ address: a.address, action: 'delete', cause: 'removed', restores: backup }]);
    expect(work.changes[0]!.diff).toMatch(/-A\n\+theirs/);
  });

  it('gives the same state digest for two reads of the same machine (nonces differ)', async () => {
    const probe = box();
    const a = probe.mine('a', 'A\n');
    const { runner } = box([{ ...a, origin: 'created' }]);
    writeFileSync((a.spec as { path: string }).path, 'x\n');
    const one = await observe(machine([a]), runner);
    const two = await observe(machine([a]), runner);
    expect(one.reads.nonces[0]).not.toBe(two.reads.nonces[0]);
    expect(one.stateDigest).toBe(two.stateDigest);
    writeFileSync((a.spec as { path: string }).path, 'y\n');
    const changed = await observe(machine([a]), runner);
    expect(changed.stateDigest).not.toBe(one.stateDigest);
  });

  it('leaves who holds the lock out of the digest: it is not the machine\'s state', async () => {
    const quiet = await observe(machine([]), box().runner);
    const held = await observe(machine([]), box(undefined, 'pid=77\nclient=pairctl pid 5 on laptop as ann\n').runner);
    expect(held.holder).toMatch(/^pid=77\nclient=pairctl pid 5 on laptop as ann\b/);
    expect(held.stateDigest).toBe(quiet.stateDigest);
    expect(held.reads.unhashed).toEqual([[1]]);
  });
});
