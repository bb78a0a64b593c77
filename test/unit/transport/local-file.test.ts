/**
 * The local atomic replace against a real temp directory: mode, content, no temp file left on
 * success or failure, a symlink at the target replaced and not followed, and `exclusive` refusing
 * whatever is there. Each refusal has its honest control in the same test.
 */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replaceFileAtomic } from '../../../src/transport/local-file.js';

const mode = (p: string) => statSync(p).mode & 0o7777;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pairctl-local-file-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('replaceFileAtomic', () => {
  it('writes a new file with exactly the mode given, and replaces an old one of another mode', async () => {
    const path = join(dir, 'plan');
    expect(await replaceFileAtomic(path, 'one\n', { mode: 0o600 })).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('one\n');
    expect(mode(path)).toBe(0o600);
    writeFileSync(path, 'old\n', { mode: 0o666 });
    expect(await replaceFileAtomic(path, 'two ünïcode\n', { mode: 0o640 })).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('two ünïcode\n');
    expect(mode(path)).toBe(0o640);
    expect(readdirSync(dir)).toEqual(['plan']);
  });

  it('replaces a symlink at the target instead of writing through it (control: the link target is untouched)', async () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n', { mode: 0o644 });
    const path = join(dir, 'machines.json');
    symlinkSync(victim, path);
    expect(await replaceFileAtomic(path, '{}\n', { mode: 0o600 })).toBe(true);
    expect(lstatSync(path).isSymbolicLink()).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('{}\n');
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(mode(victim)).toBe(0o644);
    expect(readdirSync(dir).sort()).toEqual(['machines.json', 'victim']);
  });

  it('a failed rename throws, leaves what was there and no temp file (control: a file path next to it works)', async () => {
    const path = join(dir, 'taken');
    mkdirSync(path);
    writeFileSync(join(path, 'inside'), 'x');
    await expect(replaceFileAtomic(path, 'text', { mode: 0o600 })).rejects.toThrow(/EISDIR|EEXIST|ENOTEMPTY|directory/i);
    expect(statSync(path).isDirectory()).toBe(true);
    expect(readdirSync(dir)).toEqual(['taken']);
    expect(await replaceFileAtomic(join(dir, 'free'), 'text', { mode: 0o600 })).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['free', 'taken']);
  });

  it('a missing directory is an error, and nothing is made', async () => {
    await expect(replaceFileAtomic(join(dir, 'no', 'f'), 'text', { mode: 0o600 })).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('exclusive writes where nothing is, and refuses a file, a symlink or a dangling symlink, writing nothing', async () => {
    const fresh = join(dir, 'pair.yaml');
    expect(await replaceFileAtomic(fresh, 'version: 1\n', { mode: 0o644, exclusive: true })).toBe(true);
    expect(readFileSync(fresh, 'utf8')).toBe('version: 1\n');
    expect(mode(fresh)).toBe(0o644);

    expect(await replaceFileAtomic(fresh, 'other\n', { mode: 0o644, exclusive: true })).toBe(false);
    expect(readFileSync(fresh, 'utf8')).toBe('version: 1\n');

    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, join(dir, 'link.yaml'));
    expect(await replaceFileAtomic(join(dir, 'link.yaml'), 'other\n', { mode: 0o644, exclusive: true })).toBe(false);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');

    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling.yaml'));
    expect(await replaceFileAtomic(join(dir, 'dangling.yaml'), 'other\n', { mode: 0o644, exclusive: true })).toBe(false);
    expect(() => lstatSync(join(dir, 'nowhere'))).toThrow();

    expect(readdirSync(dir).sort()).toEqual(['dangling.yaml', 'link.yaml', 'pair.yaml', 'victim']);
  });

  it('writers racing on one path never collide on a temp name, and the file ends whole', async () => {
    const path = join(dir, 'machines.json');
    const texts = Array.from({ length: 20 }, (_, i) => `${String(i).repeat(4096)}\n`);
    const results = await Promise.all(texts.map((t) => replaceFileAtomic(path, t, { mode: 0o600 })));
    expect(results.every(Boolean)).toBe(true);
    expect(texts).toContain(readFileSync(path, 'utf8'));
    expect(readdirSync(dir)).toEqual(['machines.json']);
  });
});
