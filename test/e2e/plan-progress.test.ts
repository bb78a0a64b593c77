/**
 * What a person sees while applying: on a terminal, one status line per machine redrawn in
 * place, in colour unless NO_COLOR or --no-color says otherwise; in a pipe or a CI log, plain
 * lines. The terminal is a real pty (util-linux `script`), so stdin and stdout are TTYs exactly
 * as in a shell.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labUnavailableReason, startLab, type Lab, type LabMachine } from '../machines/lab.js';
import { quote } from '../../src/transport/shell-quote.js';
import { pairctl } from '../machines/pairctl-cli.js';

const unavailable = labUnavailableReason();
const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const ESC = '\x1b';

describe.skipIf(unavailable)('apply progress on a terminal and in a pipe', () => {
  let lab: Lab;
  let box: LabMachine;
  let dir: string;
  const keys: string[] = [];

  function writeConfig(n: number): string {
    const file = join(dir, 'pair.yaml');
    const guests = keys.slice(0, n).map((k, i) => `  p${i}: { keys: [${JSON.stringify(k)}], mode: pair }`);
    writeFileSync(file, ['version: 1', 'hosts:', '  box: { platform: linux, ssh: box, owner: bhorseman }', 'guests:', ...guests, ''].join('\n'));
    return file;
  }

  /** `pairctl ARGS` in a real pty; returns the raw bytes it wrote to the terminal. */
  function onTerminal(args: string[], env: Record<string, string> = {}, cols?: number): { code: number | null; screen: string } {
    const cmd = `${cols ? `stty cols ${cols} rows 40; ` : ''}${['node', BIN, ...args, '-F', lab.sshConfigFile].map(quote).join(' ')}`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, TERM: 'xterm', ...env }, timeout: 120_000 });
    return { code: r.status, screen: r.stdout };
  }

  beforeAll(async () => {
    lab = await startLab({ machines: ['box'] });
    box = lab.machine('box');
    dir = join(lab.dir, 'progress');
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 4; i++) {
      const key = join(dir, `p${i}`);
      spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `p${i}`, '-f', key]);
      keys.push(readFileSync(`${key}.pub`, 'utf8').trim());
    }
    expect((await box.run('useradd -m bhorseman && echo ok')).stdout).toBe('ok\n');
  }, 180_000);

  afterAll(async () => {
    await lab?.stop();
  });

  it('redraws one coloured status line per machine on a terminal', () => {
    const file = writeConfig(1);
    const r = onTerminal(['apply', '--yes', '-f', file]);
    expect(r.code).toBe(0);
    // Redrawn in place: move up over the block, clear the line, rewrite it.
    expect(r.screen).toContain(`${ESC}[1F${ESC}[2Kbox applying [`);
    expect(r.screen).toMatch(new RegExp(`${ESC}\\[2Kbox ${ESC}\\[32mdone${ESC}\\[0m +\\[(\\d+)/\\1\\] in \\d+\\.\\d s`));
    // Not the one-line-per-step form of a pipe.
    expect(r.screen).not.toMatch(/box: account\["pair-p0"\]: applying/);
    expect(r.screen).toContain(`${ESC}[32m  + account "pair-p0"${ESC}[0m`);
    expect(r.screen).toContain('Apply complete!');
  });

  it('drops colour with NO_COLOR or --no-color, and keeps the live redraw', () => {
    for (const [guests, flags, env] of [
      [2, [], { NO_COLOR: '1' }],
      [3, ['--no-color'], {}],
    ] as const) {
      const r = onTerminal(['apply', '--yes', ...flags, '-f', writeConfig(guests)], env);
      expect(r.code).toBe(0);
      expect(r.screen).not.toMatch(new RegExp(`${ESC}\\[\\d+m`));
      expect(r.screen).toContain(`${ESC}[2Kbox done    [`);
      expect(r.screen).toContain('  + account "pair-p');
    }
  });

  it('cuts the live lines to a narrow terminal, so the redraw never wraps', () => {
    const r = onTerminal(['apply', '--yes', '-f', writeConfig(1)], {}, 30); // removes the guests the test above added
    expect(r.code).toBe(0);
    // Every status line the block draws (after "erase line"), colour codes aside, fits in 29 columns.
    const drawn = [...r.screen.matchAll(new RegExp(`${ESC}\\[2K([^\\r\\n]*)`, 'g'))].map((m) => m[1]!.replace(new RegExp(`${ESC}\\[[0-9;]*[A-Za-z]`, 'g'), ''));
    expect(drawn.length).toBeGreaterThan(2);
    for (const line of drawn) expect([...line].length, line).toBeLessThanOrEqual(29);
    expect(drawn.some((l) => l.endsWith('…'))).toBe(true);
    expect(drawn.at(-1)).toMatch(/^box done +\[\d+\/\d+\] in/);
    expect(r.screen).toContain('Apply complete!');
  });

  it('prints plain lines, one per step, in a pipe', async () => {
    const r = await pairctl(['apply', '--yes', '-f', writeConfig(4), '-F', lab.sshConfigFile]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(ESC);
    expect(r.stdout).toMatch(/^box: applying \d+ changes$/m);
    expect(r.stdout).toMatch(/^box: account\["pair-p3"\]: applying \(\d+\/\d+\)$/m);
    expect(r.stdout).toMatch(/^box: account\["pair-p3"\]: done \(\d+\.\d s\)$/m);
    expect(r.stdout).toMatch(/^box: finished in \d+\.\d s$/m);
  });
});
