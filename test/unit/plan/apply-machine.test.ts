import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { applyMachine, applyScript, digestScript, type ApplyEvent } from '../../../src/plan/apply-machine.js';
import { digestInput } from '../../../src/plan/observe.js';
import type { MachinePlan } from '../../../src/plan/plan-model.js';
import { buildProbeScript } from '../../../src/plan/probe-script.js';
import { ApplyRunner, type ApplyScenario } from './apply-runner.js';

function work(addresses: string[], digest = 'd'.repeat(64)): MachinePlan {
  return {
    machine: 'box',
    role: 'host',
    target: 'box',
    changes: [],
    warnings: [],
    errors: [],
    stateDigest: digest,
    steps: addresses.map((address) => ({ address, action: 'create', script: `echo making ${address}` })),
    record: [],
    interimRecord: [],
    reads: { scripts: [buildProbeScript([{ snippet: 'echo x=1' }]).script], nonces: ['0000000000000000'], unhashed: [[]] },
  };
}

const STEPS = ['group["g"]', 'account["a"]', 'file["/f"]'];

async function run(scenario: ApplyScenario, w = work(STEPS), settle?: Array<{ key: string; snippet: string }>) {
  const events: ApplyEvent[] = [];
  const runner = new ApplyRunner(scenario);
  const result = await applyMachine(w, runner, (e) => events.push(e), { lockTimeoutSeconds: 5, holder: 'pairctl pid 1 on test as t', settle });
  return { result, events, script: runner.scripts[0]! };
}

describe('applyMachine', () => {
  it('reports every step done when the script completes', async () => {
    const { result, events } = await run(({ mark }) => ({
      stdout: STEPS.map((_, i) => mark(`start-${i}`) + mark(`done-${i}`)).join('') + mark('complete'),
    }));
    expect(result).toMatchObject({ ok: true, done: STEPS, notStarted: [] });
    expect(events.map((e) => e.type)).toEqual(['begin', 'start', 'done', 'start', 'done', 'start', 'done', 'end']);
  });

  it('stops at a failing step with its output, and lists what was not made', async () => {
    const { result } = await run(({ mark }) => ({
      stdout: mark('start-0') + mark('done-0') + mark('start-1') + 'useradd: oops\n\n' + mark('fail-1-1'),
      code: 1,
    }));
    expect(result).toMatchObject({ ok: false, done: [STEPS[0]], failed: { address: STEPS[1], output: 'useradd: oops' }, notStarted: [STEPS[2]] });
    expect(result.interrupted).toBeUndefined();
  });

  it('tells an interrupted step (outcome unknown) from steps never started when the connection drops', async () => {
    const { result, events } = await run(({ mark }) => ({ stdout: mark('start-0') + mark('done-0') + mark('start-1'), lost: true }));
    expect(result).toMatchObject({ ok: false, done: [STEPS[0]], interrupted: STEPS[1], notStarted: [STEPS[2]] });
    expect(result.error).toMatch(/lost the ssh connection/);
    expect(events.at(-1)).toEqual({ type: 'end', machine: 'box', ok: false });
  });

  it('finds a marker that follows output without a final newline', async () => {
    const { result } = await run(({ mark }) => ({
      stdout: mark('start-0') + `no newline at the end${mark('done-0')}` + mark('start-1') + mark('done-1') + mark('start-2') + mark('done-2') + mark('complete'),
    }));
    expect(result.ok).toBe(true);
    expect(result.done).toEqual(STEPS);
  });

  it('names who holds the lock while waiting, and refuses clearly when it is not released in time', async () => {
    const holder = Buffer.from('pid=42\nclient=pairctl pid 7 on laptop as ann\nstarted=2026-05-01T10:00:00Z\nalive=yes\n').toString('base64');
    const { result, events } = await run(({ mark }) => ({ stdout: mark(`waiting-${holder}`) + mark(`locked-${holder}`), code: 75 }));
    expect(events[1]).toEqual({
      type: 'waiting',
      machine: 'box',
      holder: { pid: '42', client: 'pairctl pid 7 on laptop as ann', started: '2026-05-01T10:00:00Z', alive: true },
    });
    expect(result).toMatchObject({ ok: false, refused: 'locked', done: [], notStarted: STEPS });
    expect(result.error).toBe(
      'another pairctl apply holds the lock on box (pairctl pid 7 on laptop as ann, since 2026-05-01T10:00:00Z; its shell there is pid 42, still running); gave up after 5 s. Nothing was changed. Wait for it to finish, or pass --lock-timeout with a longer wait',
    );
  });

  it('reports the facts other machines wait for, read at the end of the script (under the lock)', async () => {
    const settle = [{ key: 'tunnel-public-key', snippet: 'cat /k.pub' }];
    const { result, script } = await run(
      ({ mark }) => ({
        stdout: STEPS.map((_, i) => mark(`start-${i}`) + mark(`done-${i}`)).join('') + mark('fact-begin-0') + 'ssh-ed25519 AAAA\n\n' + mark('fact-end-0') + mark('complete'),
      }),
      work(STEPS),
      settle,
    );
    expect(result).toMatchObject({ ok: true, facts: { 'tunnel-public-key': 'ssh-ed25519 AAAA' } });
    expect(script.indexOf('cat /k.pub')).toBeGreaterThan(script.indexOf('mark done-2'));
    expect(script.indexOf('cat /k.pub')).toBeLessThan(script.lastIndexOf('pairctl_release'));
    // Without its fact the apply reports none (the waiting machine is then not applied).
    const cut = await run(({ mark }) => ({ stdout: STEPS.map((_, i) => mark(`start-${i}`) + mark(`done-${i}`)).join('') + mark('complete') }), work(STEPS), settle);
    expect(cut.result.facts).toBeUndefined();
  });

  it('refuses, changing nothing, when the machine changed since the plan read it', async () => {
    const { result } = await run(({ mark }) => ({ stdout: mark('stale'), code: 76 }));
    expect(result).toMatchObject({ ok: false, refused: 'stale', done: [], notStarted: STEPS });
    expect(result.error).toMatch(/box changed since this plan read it/);
  });
});

describe('applyScript', () => {
  it('waits for the lock as long as asked, or not at all, and writes who holds it', () => {
    const w = work(STEPS);
    expect(applyScript(w, 'n'.repeat(16), { lockTimeoutSeconds: 90 })).toContain('flock -w 90 9');
    expect(applyScript(w, 'n'.repeat(16), { lockTimeoutSeconds: 0 })).toMatch(/if ! flock -n 9; then mark "locked/);
    const s = applyScript(w, 'n'.repeat(16), { holder: "pairctl pid 1 on o'brien as me" });
    expect(s).toContain(`"$$" 'pairctl pid 1 on o'\\''brien as me'`);
    // The digest check comes after the lock and before the first change.
    expect(s.indexOf('flock -n 9')).toBeLessThan(s.indexOf('mark stale'));
    expect(s.indexOf('mark stale')).toBeLessThan(s.indexOf('mark start-0'));
    // Steps never inherit the lock's descriptor (a daemon a step starts must not hold it).
    expect(s).toContain(') 9>&- 2>&1');
    expect(() => execFileSync('sh', ['-n'], { input: s })).not.toThrow();
    expect(() => execFileSync('sh', ['-n'], { input: applyScript(w, 'n'.repeat(16), { settle: [{ key: 'k', snippet: 'echo x' }] }) })).not.toThrow();
  });

  it('writes no final record after a teardown (its last step removed the record)', () => {
    const w = work(STEPS);
    const torn = applyScript(w, 'n'.repeat(16));
    const kept = applyScript({ ...w, record: [{ kind: 'group', address: 'group["g"]', spec: { name: 'g' }, deps: [] }] }, 'n'.repeat(16));
    expect((torn.match(/state\.json/g) ?? []).length).toBe((kept.match(/state\.json/g) ?? []).length - 1);
  });

  it('re-reads the machine under the lock to exactly the digest the plan computed', () => {
    const snippets = ['echo a=1; echo "b=$((6*7))"', 'printf "no newline"', 'echo "@@pairctl-forged-end-0-0"'];
    const first = buildProbeScript(snippets.map((snippet) => ({ snippet })));
    const second = buildProbeScript([{ snippet: 'echo removed=1' }]);
    const out1 = execFileSync('sh', ['-s'], { input: first.script, encoding: 'utf8' });
    const out2 = execFileSync('sh', ['-s'], { input: second.script, encoding: 'utf8' });
    // Section 1 (who holds the lock, in real plans) is left out of the digest.
    const planned = createHash('sha256').update(digestInput(out1, first.nonce, [1])).update(digestInput(out2, second.nonce)).digest('hex');
    expect(digestInput(out1, first.nonce, [1])).not.toContain('no newline');
    const w = { ...work([]), reads: { scripts: [first.script, second.script], nonces: [first.nonce, second.nonce], unhashed: [[1], []] } };
    const now = execFileSync('sh', ['-s'], { input: `${digestScript(w)}\necho "$now"\n`, encoding: 'utf8' }).trim();
    expect(now).toBe(planned);
  });
});
