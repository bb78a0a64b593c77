/**
 * The remote atomic replace, run under the real `sh` against a temp directory: content, owner
 * and mode land, no temp file is left, a symlink at the path is replaced and not followed, and a
 * failure leaves the old file. Each attack case has its honest control in the same run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { restoreScript } from '../../../src/plan/compare.js';
import { atomicReplaceScript, type AtomicReplace } from '../../../src/resources/atomic-replace.js';
import { writeFileScript } from '../../../src/resources/file-state.js';
import { sh } from '../../../src/transport/shell-quote.js';

const isRoot = process.getuid?.() === 0;
const me = { user: execFileSync('id', ['-un'], { encoding: 'utf8' }).trim(), group: execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim() };

/** Runs a script as the step runner does: POSIX sh, `set -eu`, in a subshell. */
function run(script: string): { status: number | null; stderr: string } {
  const r = spawnSync('sh', ['-c', `set -eu\n(\n${script}\n)`], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

function shellcheck(script: string): void {
  const lint = spawnSync('shellcheck', ['-s', 'sh', '-S', 'warning', '-'], { input: `#!/bin/sh\nset -eu\n${script}\n`, encoding: 'utf8' });
  expect(lint.stdout).toBe('');
  expect(lint.status).toBe(0);
}

const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8).padStart(4, '0');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pairctl-replace-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('atomicReplaceScript', () => {
  const printf = (text: string) => sh`printf '%s' ${text} > "$t"`;
  const replace = (r: Partial<AtomicReplace> & { path: string }) => atomicReplaceScript({ fill: printf('new\n'), ...r });

  it('writes content, owner and mode over an old file and leaves no temp file', () => {
    const path = join(dir, 'a.conf');
    writeFileSync(path, 'old\n', { mode: 0o600 });
    const script = replace({ path, owner: me, mode: '0640' });
    expect(run(script)).toEqual({ status: 0, stderr: '' });
    expect(readFileSync(path, 'utf8')).toBe('new\n');
    expect(mode(path)).toBe('0640');
    expect(statSync(path).uid).toBe(process.getuid!());
    expect(readdirSync(dir)).toEqual(['a.conf']);
    shellcheck(script);
  });

  it('replaces a symlink at the path instead of writing through it (control: a plain file is written)', () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    const path = join(dir, 'link');
    symlinkSync(victim, path);
    const plain = join(dir, 'plain');
    writeFileSync(plain, 'old\n');
    expect(run(replace({ path, mode: '0644' })).status).toBe(0);
    expect(run(replace({ path: plain, mode: '0644' })).status).toBe(0);
    expect(lstatSync(path).isSymbolicLink()).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('new\n');
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(readFileSync(plain, 'utf8')).toBe('new\n');
    expect(readdirSync(dir).sort()).toEqual(['link', 'plain', 'victim']);
  });

  it('a failing fill leaves the old file and no temp file (control: the same fill without the failure replaces it)', () => {
    const path = join(dir, 'a');
    writeFileSync(path, 'old\n', { mode: 0o644 });
    const failing = run(atomicReplaceScript({ path, fill: `${printf('half')}\nfalse`, mode: '0600' }));
    expect(failing.status).not.toBe(0);
    expect(readFileSync(path, 'utf8')).toBe('old\n');
    expect(mode(path)).toBe('0644');
    expect(readdirSync(dir)).toEqual(['a']);
    expect(run(atomicReplaceScript({ path, fill: printf('half'), mode: '0600' })).status).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe('half');
    expect(readdirSync(dir)).toEqual(['a']);
  });

  it('a chown that fails leaves the old file and no temp file', () => {
    const path = join(dir, 'a');
    writeFileSync(path, 'old\n');
    const r = run(replace({ path, owner: { user: 'pairctl-no-such-user', group: me.group }, mode: '0644' }));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/pairctl-no-such-user/);
    expect(readFileSync(path, 'utf8')).toBe('old\n');
    expect(readdirSync(dir)).toEqual(['a']);
  });

  it('the temp file is 0600 before the fill writes a secret into it', () => {
    const path = join(dir, 'secret');
    const seen = join(dir, 'seen');
    const fill = sh`stat -c %a "$t" > ${seen}\nprintf '%s' "$secret" > "$t"`;
    const script = atomicReplaceScript({ path, fill, mode: '0640' });
    const r = spawnSync('sh', ['-c', `set -eu\n(\n${script}\n)`], { encoding: 'utf8', env: { ...process.env, secret: 's3cr3t' } });
    expect(r.status).toBe(0);
    expect(readFileSync(seen, 'utf8').trim()).toBe('600');
    expect(readFileSync(path, 'utf8')).toBe('s3cr3t');
    expect(mode(path)).toBe('0640');
  });

  it('makes a missing directory with mkdir -p, or root-owned 0755 with install; `given` makes none', () => {
    const nested = join(dir, 'x', 'y', 'f');
    expect(run(replace({ path: nested, dir: 'mkdir' })).status).toBe(0);
    expect(readFileSync(nested, 'utf8')).toBe('new\n');
    expect(readdirSync(join(dir, 'x', 'y'))).toEqual(['f']);

    const installed = join(dir, 'z', 'f');
    const r = run(replace({ path: installed }));
    if (isRoot) {
      expect(r.status).toBe(0);
      expect(mode(join(dir, 'z'))).toBe('0755');
      expect(statSync(join(dir, 'z')).uid).toBe(0);
      expect(readFileSync(installed, 'utf8')).toBe('new\n');
    } else {
      // Not root: install -o root fails, and nothing is written.
      expect(r.status).not.toBe(0);
      expect(() => statSync(installed)).toThrow();
    }

    const given = join(dir, 'missing', 'f');
    expect(run(replace({ path: given, dir: 'given' })).status).not.toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['x', 'z']);
  });

  it('expresses restoreScript exactly: a cp -p of the backup, keeping its mode, directory made with mkdir -p', () => {
    const path = join(dir, 'etc', 'a');
    const backup = join(dir, 'backup-a');
    writeFileSync(backup, 'original\n');
    chmodSync(backup, 0o640);
    // restoreScript is built on atomicReplaceScript; this runs what it produces.
    const composed = restoreScript(path, backup);
    expect(composed).toContain(sh`cp -p ${backup} "$t"`);
    expect(run(composed)).toEqual({ status: 0, stderr: '' });
    expect(readFileSync(path, 'utf8')).toBe('original\n');
    expect(mode(path)).toBe('0640');
    expect(readdirSync(dir).sort()).toEqual(['etc']);
    expect(readdirSync(join(dir, 'etc'))).toEqual(['a']);
    shellcheck(composed);
  });

  it('writeFileScript keeps its text (fixtures pin it) and writes bytes exactly, quotes and newlines included', () => {
    mkdirSync(join(dir, 'd d'));
    const path = join(dir, 'd d', "it's");
    const content = "line 'one'\n$(touch /tmp/pwned)\n\\n\n";
    const script = writeFileScript({ path, content, mode: '0604', owner: me.user, group: me.group });
    expect(script.split('\n').map((l) => l.split(' ')[0])).toEqual(['[', 't=$(mktemp', 'trap', 'printf', 'chown', 'chmod', 'mv', 'trap']);
    expect(run(script)).toEqual({ status: 0, stderr: '' });
    expect(readFileSync(path, 'utf8')).toBe(content);
    expect(mode(path)).toBe('0604');
    expect(readdirSync(join(dir, 'd d'))).toEqual(["it's"]);
    shellcheck(script);
  });

  it('refuses a path that is not absolute or spans lines', () => {
    expect(() => replace({ path: 'relative/f' })).toThrow(/internal error: refusing to replace/);
    expect(() => replace({ path: '/etc/a\nb' })).toThrow(/internal error/);
  });
});
