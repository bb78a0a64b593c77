import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from '../../../src/transport/connect.js';
import { createLocalRunner, findSudo } from '../../../src/transport/local-runner.js';
import { ConnectError } from '../../../src/transport/runner.js';

const isRoot = process.getuid?.() === 0;

describe('local runner', () => {
  it('runs a script fed on stdin and returns stdout, stderr and the exit code', async () => {
    const runner = await connect({ id: 'me', ssh: 'local', sudo: !isRoot });
    const r = await runner.exec('echo "out $((1+2))"\necho err >&2\nprintf "%s" "$0"\nexit 3\n');
    expect(r).toEqual({ code: 3, stdout: 'out 3\nsh', stderr: 'err\n' });
    expect(runner.execCount).toBe(1);
    await runner.close();
  });

  it('runs as root and reads a long script without argv limits', async () => {
    const runner = createLocalRunner({ id: 'me', ssh: 'local', sudo: !isRoot });
    const lines = Array.from({ length: 20_000 }, (_, i) => `: guest-${i} "some text for guest ${i}"`);
    const r = await runner.exec(`${lines.join('\n')}\nid -u\n`);
    expect(r.code).toBe(0);
    if (isRoot) expect(r.stdout).toBe('0\n');
  });

  it('streams stdout to onStdout as it arrives and keeps utf8 whole', async () => {
    const runner = createLocalRunner({ id: 'me', ssh: 'local', sudo: !isRoot });
    const chunks: string[] = [];
    const r = await runner.exec('printf "h\\303"; sleep 0.2; printf "\\251llo\\n"', { onStdout: (c) => chunks.push(c) });
    expect(r.stdout).toBe('h\u00e9llo\n');
    expect(chunks.join('')).toBe(r.stdout);
    expect(chunks.length).toBeGreaterThanOrEqual(2);
  });

  it('turns death by a signal into a non-zero code', async () => {
    const runner = createLocalRunner({ id: 'me', ssh: 'local', sudo: !isRoot });
    const r = await runner.exec('kill -9 $$');
    expect(r.code).toBe(137);
    expect(r.stderr).toContain('SIGKILL');
  });

  it('counts execs and refuses after close', async () => {
    const runner = createLocalRunner({ id: 'me', ssh: 'local', sudo: !isRoot });
    await Promise.all([runner.exec('true'), runner.exec('false'), runner.exec('exit 0')]);
    expect(runner.execCount).toBe(3);
    await runner.close();
    await expect(runner.exec('true')).rejects.toThrow(/closed/);
  });

  it('as root, ignores sudo: true and runs sh directly', () => {
    expect(createLocalRunner({ id: 'me', ssh: 'local', sudo: true }, true).privilege).toBe('root');
  });

  it('not root: uses sudo when allowed (and on PATH), else refuses with what to do', () => {
    const bin = mkdtempSync(join(tmpdir(), 'pairctl-sudo-'));
    writeFileSync(join(bin, 'sudo'), '#!/bin/sh\n', { mode: 0o755 });
    expect(createLocalRunner({ id: 'me', ssh: 'local', sudo: true }, false, bin).privilege).toBe('sudo');
    let err: unknown;
    try {
      createLocalRunner({ id: 'me', ssh: 'local', sudo: false }, false);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).message).toMatch(/not root, and sudo is false/);
    expect((err as ConnectError).hint).toMatch(/set "sudo: true"/);
  });
});

describe('ssh: local with sudo: true, when sudo cannot run', () => {
  it('says sudo is missing, or may not be run, and what to do, before anything runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-nosudo-'));
    const catchErr = (path: string) => {
      try {
        createLocalRunner({ id: 'me', ssh: 'local', sudo: true }, false, path);
      } catch (err) {
        return err as ConnectError;
      }
      throw new Error('createLocalRunner did not refuse');
    };
    const missing = catchErr(dir);
    expect(missing).toBeInstanceOf(ConnectError);
    expect(missing.message).toMatch(/"sudo: true", but sudo is not installed here/);
    expect(missing.hint).toMatch(/install sudo and give .* passwordless sudo .*NOPASSWD.*or run pairctl as root/);
    // A sudo that is there but not executable (the "spawn sudo EACCES" case).
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'sudo'), '#!/bin/sh\n');
    chmodSync(join(bin, 'sudo'), 0o644);
    expect(catchErr(bin).message).toMatch(/may not run sudo here \(permission denied\)/);
    // Positive control: an executable sudo on PATH is found and used.
    chmodSync(join(bin, 'sudo'), 0o755);
    expect(findSudo(bin)).toEqual({ ok: true, file: join(bin, 'sudo') });
    expect(createLocalRunner({ id: 'me', ssh: 'local', sudo: true }, false, bin).privilege).toBe('sudo');
  });
});
