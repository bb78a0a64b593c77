/**
 * The built CLI runs the way npm installs it: through the bin symlink (npm link, a global
 * install, node_modules/.bin), and as an executable file on its own.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

describe('the pairctl executable', () => {
  it('runs through a bin symlink, as npm installs it', () => {
    const link = join(mkdtempSync(join(tmpdir(), 'pairctl-bin-')), 'pairctl');
    symlinkSync(BIN, link);
    expect(execFileSync('node', [link, '--help'], { encoding: 'utf8' })).toMatch(/^usage: pairctl <command>/);
    expect(execFileSync(link, ['--help'], { encoding: 'utf8' })).toMatch(/^usage: pairctl <command>/);
  });

  it('runs as a file of its own', () => {
    expect(execFileSync(BIN, ['schema'], { encoding: 'utf8' })).toContain('"$schema": "https://json-schema.org/draft/2020-12/schema"');
  });
});
