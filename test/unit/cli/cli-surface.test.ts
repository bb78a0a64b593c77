/** What a new user meets first: version, help for every command, one-line mistakes with the nearest name. */
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../../src/cli/args.js';
import { COMMANDS, nearest } from '../../../src/cli/commands.js';
import { main } from '../../../src/cli/main.js';
import { captureIo } from '../capture-io.js';

async function run(...argv: string[]) {
  const io = captureIo();
  const code = await main(argv, io);
  return { code, out: io.out, err: io.err };
}

describe('version and help', () => {
  it('--version and version print the package version', async () => {
    for (const argv of [['--version'], ['version'], ['-V']]) {
      const r = await run(...argv);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^pairctl \d+\.\d+\.\d+ \(node \d+/);
    }
  });

  it.each(COMMANDS.map((c) => c.name))('%s: --help, -h and help COMMAND show its flags and examples', async (name) => {
    const spec = COMMANDS.find((c) => c.name === name)!;
    const viaFlag = await run(name, '--help');
    expect(viaFlag.code).toBe(0);
    expect(viaFlag.err).toBe('');
    expect(viaFlag.out).toContain(`pairctl ${name}: ${spec.summary}`);
    expect(viaFlag.out).toContain(`usage: pairctl ${name}`);
    for (const f of spec.flags) expect(viaFlag.out).toContain(`--${f.name}`);
    expect(viaFlag.out).toContain(`examples:\n  ${spec.examples[0]![0]}`);
    expect((await run(name, '-h')).out).toBe(viaFlag.out);
    expect((await run('help', name)).out).toBe(viaFlag.out);
  });

  it('pairctl --help lists every command; no command at all is a usage error', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^usage: pairctl <command>/);
    for (const c of COMMANDS) expect(r.out).toContain(`  ${c.name} `);
    const none = await run();
    expect(none.code).toBe(2);
    expect(none.err).toBe(r.out);
  });
});

describe('mistakes: one line, the nearest name', () => {
  it('unknown commands', async () => {
    const r = await run('pln');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe('pairctl: unknown command "pln" (did you mean "plan"?); pairctl --help lists the commands\n');
    expect((await run('aplly')).err).toContain('(did you mean "apply"?)');
    expect((await run('destory')).err).toContain('(did you mean "destroy"?)');
    expect((await run('frobnicate')).err).toBe('pairctl: unknown command "frobnicate"; pairctl --help lists the commands\n');
    expect((await run('help', 'pln')).err).toContain('no command "pln" (did you mean "plan"?)');
  });

  it('unknown flags, missing values and bad choices', async () => {
    const r = await run('plan', '--jsn');
    expect(r.code).toBe(2);
    expect(r.err).toBe('pairctl plan: unknown option --jsn (did you mean --json?); see pairctl plan --help\n');
    expect((await run('apply', '--lock-timout', '5')).err).toContain('unknown option --lock-timout (did you mean --lock-timeout?)');
    expect((await run('plan', '-x')).err).toBe('pairctl plan: unknown option -x; see pairctl plan --help\n');
    expect((await run('plan', '-f')).err).toBe('pairctl plan: --file (-f) needs a value (FILE); see pairctl plan --help\n');
    expect((await run('plan', '--json=yes')).err).toBe('pairctl plan: --json (-f) takes no value; see pairctl plan --help\n'.replace(' (-f)', ''));
    expect((await run('lint', '--format', 'githb')).err).toBe('pairctl lint: --format takes text, json, github, sarif, not "githb" (did you mean github?)\n');
    expect((await run('completion', 'zhs')).err).toContain('no completion for "zhs" (did you mean zsh?)');
    for (const r2 of [await run('plan', '--jsn'), await run('pln')]) expect(r2.err.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('the parser takes what the table says: short groups, =values, repeats, and -- ends options', () => {
    const p = parseCommand('apply', ['-yf', 'x.yaml', '--limit=a,b', '--limit', 'c', '--', '--plan-file-starting-with-dash']);
    expect(p.file).toBe('x.yaml');
    expect(p.flags.yes).toBe(true);
    expect(p.flags.limit).toEqual(['a,b', 'c']);
    expect(p.positionals).toEqual(['--plan-file-starting-with-dash']);
  });

  it('nearest: close typos and unique prefixes, nothing for far words', () => {
    expect(nearest('pln', ['plan', 'apply'])).toBe('plan');
    expect(nearest('paln', ['plan', 'apply'])).toBe('plan');
    expect(nearest('comp', ['completion', 'config'])).toBe('completion');
    expect(nearest('xyz', ['plan', 'apply'])).toBeUndefined();
    expect(nearest('up', ['up', 'down'])).toBe('up');
  });
});
