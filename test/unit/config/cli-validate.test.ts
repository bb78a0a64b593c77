import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { captureIo as io } from '../capture-io.js';
import { UsageError } from '../../../src/cli/io.js';
import { main } from '../../../src/cli/main.js';
import { validate } from '../../../src/cli/validate.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cases = fileURLToPath(new URL('../../fixtures/config/cases/', import.meta.url));


describe('pairctl validate', () => {
  it('exits 0 and says ok for a valid file', async () => {
    const file = join(root, 'examples/lan.yaml');
    const t = io();
    expect(await validate(['-f', file], t)).toBe(0);
    expect(t.out).toBe(`${file}: ok (1 host, 2 guests)\n`);
    expect(t.err).toBe('');
  });

  it('exits 1 and prints each problem as FILE:LINE:COL: severity: message [rule] plus a hint', async () => {
    const file = join(cases, 'key-duplicate.yaml');
    const t = io();
    expect(await validate(['--file', file], t)).toBe(1);
    expect(t.out).toBe('');
    const lines = t.err.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:18:9: error: .* \\[key-duplicate\\]$`));
    expect(lines[1]).toMatch(/^ {4}hint: /);
    expect(lines.at(-1)).toBe(`${file}: 3 errors`);
    expect(t.err).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('prints warnings on stderr and still exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-'));
    const file = join(dir, 'pair.yaml');
    const ed = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGpMzhB7HFBlLqFQS5xmBDTf57nQY2CoaW6s2GflV331 todd@trees';
    writeFileSync(
      file,
      `version: 1\nhosts:\n  h:\n    platform: linux\n    ssh: local\n    owner: me\nguests:\n  todd:\n    keys: ["${ed}"]\n    expires: 2001-01-01T00:00:00Z\n`,
    );
    const t = io();
    expect(await validate(['-f', file], t)).toBe(0);
    expect(t.err).toMatch(new RegExp(`:10:14: warning: .*\\[expires-past\\]`));
    expect(t.out).toBe(`${file}: ok (1 host, 1 guest, 1 warning)\n`);
  });

  it('reports a missing file at 1:1 with exit 1', async () => {
    const t = io();
    expect(await validate(['-f', '/nonexistent/pair.yaml'], t)).toBe(1);
    expect(t.err).toMatch(/^\/nonexistent\/pair\.yaml:1:1: error: file not found \[file-unreadable\]/);
  });

  it('treats stray arguments as a usage error', async () => {
    await expect(validate(['pair.yaml'], io())).rejects.toBeInstanceOf(UsageError);
  });
});

/**
 * Mistakes that used to surface only while the plan was built (from with a vps tunnel, a macOS
 * relay, ...) are config rules now: plan and apply stop at them with file:line:col and exit 1,
 * before any machine is contacted (the fixtures' machines are TEST-NET or unresolvable names; a
 * connection attempt would add a machine's failure to the output).
 */
describe('plan and apply refuse what used to be plan-time errors, as lint errors', () => {
  const moved = ['from-unenforceable', 'relay-platform-unsupported', 'ngrok-platform-unsupported', 'forward-name-reserved', 'relay-ssh-local', 'ssh-target-invalid'];
  it.each(moved)('%s', async (rule) => {
    const file = join(cases, `${rule}.yaml`);
    const expected = [...readFileSync(file, 'utf8').matchAll(/^# expect: (\S+) (\d+:\d+)$/gm)].map((m) => `${file}:${m[2]}: error: ${m[1]}`);
    expect(expected.length).toBeGreaterThan(0);
    for (const command of ['plan', 'apply']) {
      const t = io();
      expect(await main([command, '-f', file], t), command).toBe(1);
      expect(t.out, command).toBe('');
      const heads = t.err.trimEnd().split('\n').filter((l) => !l.startsWith('    hint: '));
      expect(heads.map((l) => l.replace(/: error: .* \[(\S+)\]$/, ': error: $1')), command).toEqual(expected);
    }
    // validate and lint say the same
    expect(await validate(['-f', file], io())).toBe(1);
  });
});
