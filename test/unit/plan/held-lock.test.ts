/**
 * apply --yes takes each machine's lock in the shell that reads it (lock.ts takeLock) and applies
 * in that shell without reading again; everywhere else (a busy lock, a runner that cannot keep a
 * shell, a shell that ended, plan and a prompted apply) the apply script waits for the lock and
 * reads the machine again. The runner here is a fake that says what each exec was asked; the
 * real shell's side is in ssh-runner.test.ts and, on real machines, e2e/faults.test.ts.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STATE_DIR } from '../../../src/graph/paths.js';
import { applyAll } from '../../../src/plan/apply-all.js';
import { TAKE_LOCK_SCRIPT } from '../../../src/plan/lock.js';
import { planAll, type Dial } from '../../../src/plan/plan-all.js';
import { HeldShell } from '../../../src/transport/held-shell.js';
import type { ConnectOptions, ExecOptions, ExecResult, Runner } from '../../../src/transport/runner.js';
import { sampleConfig } from '../fixtures.js';

/** What a machine where pairctl made nothing prints for a probe: each section empty. */
function emptyAnswer(script: string): string {
  let out = '';
  for (const m of script.matchAll(/@@pairctl-([0-9a-f]+)-begin-(\d+)/g)) out += `\n@@pairctl-${m[1]}-begin-${m[2]}\n\n@@pairctl-${m[1]}-end-${m[2]}-0\n`;
  return out;
}

class HoldingRunner implements Runner {
  readonly calls: Array<{ script: string; hold: boolean }> = [];
  holding = false;
  execCount = 0;
  constructor(
    readonly machine: string,
    readonly canHold: boolean,
    private readonly lockAnswer = 'held\n',
  ) {}
  async exec(script: string, o: ExecOptions = {}): Promise<ExecResult> {
    if (!this.holding) this.execCount += 1;
    this.calls.push({ script, hold: o.hold === true });
    this.holding = this.canHold && o.hold === true;
    if (script === TAKE_LOCK_SCRIPT) return { code: 0, stdout: this.lockAnswer, stderr: '' };
    return { code: 0, stdout: emptyAnswer(script), stderr: '' };
  }
  async close(): Promise<void> {}
}

async function planned(opts: ConnectOptions, runner: HoldingRunner) {
  const dial: Dial = async () => runner;
  const session = await planAll(sampleConfig(), opts, undefined, {}, dial);
  const probes = runner.calls.length;
  await applyAll(session, () => {}, {}, {});
  return { session, before: runner.calls.slice(0, probes), apply: runner.calls.slice(probes) };
}

const rereads = (script: string) => script.includes('pairctl_reads') && script.includes('flock');

describe('the lock held from the read to the apply (apply --yes)', () => {
  it('takes the lock first in a held shell, probes in it, and applies there without waiting for the lock or reading again', async () => {
    const runner = new HoldingRunner('scotch', true);
    const { session, before, apply } = await planned({ holdLock: true, spareExec: true }, runner);
    expect(before.map((c) => [c.script === TAKE_LOCK_SCRIPT, c.hold])).toEqual([
      [true, true],
      [false, true],
    ]);
    expect([...(session.heldLocks ?? [])]).toEqual(['scotch']);
    expect(apply).toHaveLength(1);
    expect(apply[0]!.hold).toBe(false);
    expect(rereads(apply[0]!.script)).toBe(false);
    // Still says who holds the lock (a waiting apply names it) and frees it at the end.
    expect(apply[0]!.script).toContain('client=%s');
    expect(apply[0]!.script).toContain('pairctl_release\nmark complete');
    expect(runner.execCount).toBe(1);
  });

  it('a lock another apply holds is not waited for in the probe: the apply script waits and reads again', async () => {
    const runner = new HoldingRunner('scotch', true, 'busy\n');
    const { session, apply } = await planned({ holdLock: true }, runner);
    expect([...(session.heldLocks ?? [])]).toEqual([]);
    expect(rereads(apply[0]!.script)).toBe(true);
  });

  it('no lock is taken by plan (no holdLock) or on a runner that cannot keep a shell (ssh: local)', async () => {
    for (const [opts, canHold] of [
      [{}, true],
      [{ holdLock: true }, false],
    ] as const) {
      const runner = new HoldingRunner('scotch', canHold);
      const { session, before, apply } = await planned(opts, runner);
      expect(before.map((c) => [c.script === TAKE_LOCK_SCRIPT, c.hold])).toEqual([[false, false]]);
      expect(session.heldLocks?.size ?? 0).toBe(0);
      expect(rereads(apply[0]!.script)).toBe(true);
    }
  });

  it('a held shell that ended before the apply: the apply script does its own lock and re-read', async () => {
    const runner = new HoldingRunner('scotch', true);
    const dial: Dial = async () => runner;
    const session = await planAll(sampleConfig(), { holdLock: true }, undefined, {}, dial);
    expect([...(session.heldLocks ?? [])]).toEqual(['scotch']);
    runner.holding = false;
    await applyAll(session, () => {}, {}, {});
    expect(rereads(runner.calls.at(-1)!.script)).toBe(true);
  });
});

describe('TAKE_LOCK_SCRIPT in a real sh -s kept open (HeldShell over a child process)', () => {
  /** The script with the state directory moved to `dir`, run held in a fresh `sh -s`; then `rest` ends it. */
  async function held(dir: string, rest = 'true') {
    const child = spawn('sh', ['-s'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const shell = new HeldShell({
      write: (t) => child.stdin.write(t),
      end: (t) => child.stdin.end(t),
      onStdout: (l) => child.stdout.on('data', l),
      onStderr: (l) => child.stderr.on('data', l),
      onExit: (l) => child.on('exit', (code, signal) => l(code, signal ?? undefined)),
      onClose: (l) => child.on('close', l),
    });
    const lock = await shell.run(TAKE_LOCK_SCRIPT.replaceAll(STATE_DIR, dir), { hold: true });
    return { lock, shell, end: () => shell.run(rest, { hold: false }) };
  }
  const other = (dir: string) => execFileSync('sh', ['-c', `if flock -n ${join(dir, 'lock')} true; then echo free; else echo busy; fi`]).toString();

  it('holds the lock while the shell waits for its next script, and frees it when the shell ends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-held-'));
    try {
      const a = await held(dir);
      expect(a.lock).toMatchObject({ status: 0, stdout: 'held\n' });
      expect(other(dir)).toBe('busy\n');
      // A second apply's shell finds it busy and takes nothing.
      const b = await held(dir);
      expect(b.lock).toMatchObject({ status: 0, stdout: 'busy\n' });
      expect((await b.end()).ended?.code).toBe(0);
      expect(other(dir)).toBe('busy\n');
      expect((await a.end()).ended?.code).toBe(0);
      expect(other(dir)).toBe('free\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes nothing, and creates nothing, where pairctl has no state directory yet', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'pairctl-held-')), 'absent');
    const a = await held(dir);
    expect(a.lock.stdout).toBe('free\n');
    await a.end();
    expect(() => mkdirSync(dir)).not.toThrow(); // it did not exist
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });
});
