/** `pairctl init` writes a file that validates and lints clean, never over another; `show` prints a saved plan. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { hostIdFrom } from '../../../src/cli/init.js';
import { summarize, type MachinePlan } from '../../../src/plan/plan-model.js';
import { toSavedPlan, writeSavedPlan } from '../../../src/plan/saved-plan.js';
import { captureIo } from '../capture-io.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGpMzhB7HFBlLqFQS5xmBDTf57nQY2CoaW6s2GflV331 todd@trees';

async function run(...argv: string[]) {
  const io = captureIo();
  const code = await main(argv, io);
  return { code, out: io.out, err: io.err };
}

describe('pairctl init', () => {
  it.each([
    ['lan', []],
    ['vps', ['--relay', 'me@vps.example.com']],
    ['jump', ['--relay', 'bastion.example.com']],
    ['ngrok', []],
  ] as const)('--provider %s: a file that validates and lints clean with --strict', async (provider, extra) => {
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-init-'));
    const file = join(dir, 'pair.yaml');
    const r = await run('init', '-f', file, '--guest', 'todd', '--key', KEY, '--github', 'toddtrees', '--mode', 'pair', '--owner', 'pairhost', '--provider', provider, ...extra);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Wrote ${file}: host `);
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('# yaml-language-server: $schema=./pair.schema.json\n')).toBe(true);
    expect(text).toContain('    ssh: local');
    expect(text).toContain(`      provider: ${provider}`);
    expect(JSON.parse(readFileSync(join(dir, 'pair.schema.json'), 'utf8')).$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    const lint = await run('lint', '--strict', file);
    expect(lint.err + lint.out).not.toMatch(/warning|error/);
    expect(lint.code).toBe(0);
    expect((await run('validate', '-f', file)).out).toBe(`${file}: ok (1 host, 1 guest)\n`);
  });

  it('never overwrites, and says what to do', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-init-'));
    const file = join(dir, 'pair.yaml');
    writeFileSync(file, 'mine\n');
    const r = await run('init', '-f', file, '--github', 'toddtrees', '--owner', 'pairhost');
    expect(r.code).toBe(1);
    expect(r.err).toContain('already exists; pairctl init never overwrites');
    expect(readFileSync(file, 'utf8')).toBe('mine\n');
  });

  it('refuses what would not make a working file, before writing anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-init-'));
    const f = join(dir, 'pair.yaml');
    expect((await run('init', '-f', f, '--owner', 'pairhost')).err).toContain('name the first guest');
    expect((await run('init', '-f', f, '--guest', 'todd', '--owner', 'pairhost')).err).toContain('guest todd needs keys');
    expect((await run('init', '-f', f, '--github', 'toddtrees', '--provider', 'vps', '--owner', 'pairhost')).err).toContain('--provider vps needs --relay');
    expect((await run('init', '-f', f, '--guest', 'Todd!', '--github', 'x', '--owner', 'pairhost')).err).toContain('is not a guest name');
    expect((await run('init', '-f', f, '--guest', 'todd', '--key', 'not a key', '--owner', 'pairhost')).err).toContain('is not a public key line');
    expect(() => readFileSync(f)).toThrow();
  });

  it('host ids from machine names', () => {
    expect(hostIdFrom('Scotch.example.com')).toBe('scotch');
    expect(hostIdFrom('my_box-2')).toBe('my-box-2');
    expect(hostIdFrom('1234')).toBe('workstation');
  });
});

describe('pairctl show', () => {
  it('prints a saved plan as text and as plan --json does, and refuses what is not one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-show-'));
    const m: MachinePlan = {
      machine: 'box',
      role: 'host',
      target: 'root@box.lan',
      stateDigest: 'abc',
      steps: [],
      record: [],
      interimRecord: [],
      reads: { scripts: [], nonces: [], unhashed: [] },
      changes: [{ address: 'account["pair-todd"]', kind: 'account', name: 'pair-todd', action: 'create', cause: 'config', attributes: [{ name: 'shell', after: '/bin/sh' }] }],
      warnings: [],
      errors: [],
    };
    const plan = { formatVersion: 1 as const, configFile: join(dir, 'pair.yaml'), configDigest: 'c0ffee', machines: [m], summary: summarize([m]), unreadable: [], facts: {} };
    const file = join(dir, 'tonight.plan');
    await writeSavedPlan(file, toSavedPlan(plan, { limit: ['box'] }, [], {}, new Date('2026-12-01T20:00:00Z')));
    const text = await run('show', file);
    expect(text.code).toBe(0);
    expect(text.out).toContain(`Saved plan ${file}: made 2026-12-01T20:00:00.000Z by pairctl `);
    expect(text.out).toContain('(--limit box)');
    expect(text.out).toContain('host box (root@box.lan):\n  + account "pair-todd"\n      shell = "/bin/sh"');
    expect(text.out).toContain('Plan: 1 to add, 0 to change, 0 to destroy.');
    expect(text.out).toContain(`To apply exactly it: pairctl apply ${file}`);
    const json = await run('show', '--json', file);
    const doc = JSON.parse(json.out) as { command: string; limit: string[]; machines: Array<{ id: string; changes: unknown[] }>; summary: unknown };
    expect(doc).toMatchObject({ command: 'plan', limit: ['box'], summary: { add: 1, change: 0, destroy: 0 } });
    expect(doc.machines[0]!.changes).toHaveLength(1);
    expect(json.out).not.toContain('script');
    writeFileSync(join(dir, 'not.plan'), '{}');
    const bad = await run('show', join(dir, 'not.plan'));
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('is not a saved pairctl plan');
    expect((await run('show')).code).toBe(2);
  });
});
