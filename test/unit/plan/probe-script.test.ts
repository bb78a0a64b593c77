import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildProbeScript, parseProbeOutput } from '../../../src/plan/probe-script.js';

describe('batched probe script', () => {
  it('runs every snippet in one sh and splits the output back, with statuses', () => {
    const snippets = ['echo a=1; echo b=2', 'echo "@@pairctl-forged-end-0-0"; false', 'printf "no newline"'];
    const { script, nonce } = buildProbeScript(snippets.map((snippet) => ({ snippet })));
    const stdout = execFileSync('sh', ['-s'], { input: script, encoding: 'utf8' });
    const results = parseProbeOutput(stdout, nonce, 3);
    expect(results[0]).toEqual({ output: 'a=1\nb=2', status: 0 });
    expect(results[1]).toEqual({ output: '@@pairctl-forged-end-0-0', status: 1 });
    expect(results[2]).toEqual({ output: 'no newline', status: 0 });
  });
  it('does not let a command in a snippet eat the rest of the script from stdin', () => {
    const { script, nonce } = buildProbeScript([{ snippet: 'cat >/dev/null; echo first' }, { snippet: 'echo second' }]);
    const stdout = execFileSync('sh', ['-s'], { input: script, encoding: 'utf8' });
    expect(parseProbeOutput(stdout, nonce, 2).map((r) => r.output)).toEqual(['first', 'second']);
  });
  it('reports an answer that was cut short', () => {
    expect(() => parseProbeOutput('', 'abc', 1)).toThrow(/cut short/);
  });
});
