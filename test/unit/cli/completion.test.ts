/**
 * The completion scripts, run by the real shells: what bash and fish offer is exactly what the
 * command table (the parser's) holds. zsh is loaded through compinit (its completion needs a
 * terminal to run, so that it registers is what is checked).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../src/cli/commands.js';
import { bashCompletion, fishCompletion, zshCompletion } from '../../../src/cli/completion.js';

const dir = mkdtempSync(join(tmpdir(), 'pairctl-completion-'));
const has = (shell: string) => spawnSync(shell, ['-c', 'true']).status === 0;
// In CI every shell must be there: a missing one fails rather than skips.
const skip = (shell: string) => !has(shell) && !process.env.CI;

function sh(shell: string, script: string): string {
  const r = spawnSync(shell, ['-c', script], { cwd: dir, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

const longFlags = (name: string) => [...COMMANDS.find((c) => c.name === name)!.flags.map((f) => `--${f.name}`), '--help'].sort();

describe('shell completion from the command table', () => {
  it.skipIf(skip('bash'))('bash offers the commands, each command\'s flags, and flag values', () => {
    writeFileSync(join(dir, 'pairctl.bash'), bashCompletion());
    const complete = (...words: string[]) =>
      sh('bash', `source ./pairctl.bash; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _pairctl; printf '%s\\n' "\${COMPREPLY[@]}"`)
        .split('\n')
        .filter(Boolean)
        .sort();
    expect(complete('pairctl', 'pl')).toEqual(['plan']);
    expect(complete('pairctl', '')).toEqual([...COMMANDS.map((c) => c.name), '--help', '--version'].sort());
    for (const c of COMMANDS) expect(complete('pairctl', c.name, '--').filter((w) => w.startsWith('--'))).toEqual(longFlags(c.name));
    expect(complete('pairctl', 'lint', '--format', '')).toEqual(['github', 'json', 'sarif', 'text']);
    expect(complete('pairctl', 'init', '--provider', 'v')).toEqual(['vps']);
    expect(complete('pairctl', 'completion', '')).toEqual(['bash', 'fish', 'zsh']);
    expect(complete('pairctl', 'help', 'de')).toEqual(['destroy']);
    writeFileSync(join(dir, 'pair.yaml'), 'version: 1\n');
    expect(complete('pairctl', 'plan', '-f', 'pair.y')).toEqual(['pair.yaml']);
  });

  it.skipIf(skip('fish'))('fish offers the same, with descriptions', () => {
    writeFileSync(join(dir, 'pairctl.fish'), fishCompletion());
    const complete = (line: string) =>
      sh('fish', `source ./pairctl.fish; complete -C ${JSON.stringify(line)}`)
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0]!)
        .sort();
    expect(sh('fish', `source ./pairctl.fish; complete -C "pairctl pl"`)).toBe('plan\tread every machine and show what apply would change; changes nothing\n');
    for (const c of COMMANDS) expect(complete(`pairctl ${c.name} --`).filter((w) => w.startsWith('--'))).toEqual(longFlags(c.name));
    expect(complete('pairctl lint --format ')).toEqual(['github', 'json', 'sarif', 'text']);
    expect(complete('pairctl completion ')).toEqual(['bash', 'fish', 'zsh']);
  });

  it.skipIf(skip('zsh'))('zsh parses the script and registers _pairctl for pairctl', () => {
    writeFileSync(join(dir, 'pairctl.zsh'), zshCompletion());
    expect(sh('zsh', 'zsh -n ./pairctl.zsh && autoload -U compinit && compinit -u -D && source ./pairctl.zsh && print -r -- ${_comps[pairctl]}')).toBe('_pairctl\n');
    for (const c of COMMANDS) {
      const line = zshCompletion().split('\n').find((l) => l.startsWith(`    ${c.name}) _arguments`))!;
      for (const f of c.flags) expect(line).toMatch(new RegExp(`[',{*]--${f.name}[,}[]`));
    }
  });
});
