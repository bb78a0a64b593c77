/**
 * The runner for `ssh: local`: the same contract as over ssh (script on stdin of `sh -s`, as
 * root), so resources never know whether the machine they change is this one.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { execa } from 'execa';
import { exitCodeOf } from './exit-code.js';
import { privilegeFor, privilegeNote, type Privilege } from './run-as-root.js';
import { ConnectError, type ExecOptions, type ExecResult, type MachineTarget, type Runner } from './runner.js';

/** A Runner on this machine; every exec is one `sh -s` (or `sudo -n sh -s`) process. */
export class LocalRunner implements Runner {
  readonly machine: string;
  readonly privilege: Privilege;
  private count = 0;
  private closed = false;

  constructor(machine: string, privilege: Privilege) {
    this.machine = machine;
    this.privilege = privilege;
  }

  get execCount(): number {
    return this.count;
  }

  /** Runs one script; resolves with its exit code rather than throwing on failure. */
  async exec(script: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed) throw new Error(`runner for machine "${this.machine}" is closed`);
    this.count += 1;
    const [file, ...args] = this.privilege === 'sudo' ? ['sudo', '-n', 'sh', '-s'] : ['sh', '-s'];
    const sub = execa(file ?? 'sh', args, {
      input: script,
      reject: false,
      stripFinalNewline: false,
      cwd: '/',
    });
    const onStdout = options.onStdout;
    if (onStdout !== undefined && sub.stdout !== null) {
      const decoder = new StringDecoder('utf8');
      sub.stdout.on('data', (chunk: Buffer) => {
        const text = decoder.write(chunk);
        if (text !== '') onStdout(text);
      });
      sub.stdout.on('end', () => {
        const rest = decoder.end();
        if (rest !== '') onStdout(rest);
      });
    }
    const r = await sub;
    const stdout = typeof r.stdout === 'string' ? r.stdout : '';
    let stderr = typeof r.stderr === 'string' ? r.stderr : '';
    let code = exitCodeOf(r.exitCode, r.signal);
    if (r.exitCode === undefined && r.signal === undefined) {
      // The process never ran (no sh, no sudo): report like a shell would.
      code = 127;
      stderr += `${r.originalMessage ?? r.shortMessage}\n`;
    } else if (r.signal !== undefined) {
      stderr += `pairctl: the script was killed by ${r.signal}\n`;
    }
    stderr += privilegeNote(this.privilege, this.machine, localUserName(), { code, stderr });
    return { code, stdout, stderr };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/**
 * Where `sudo` is on PATH, or why it cannot be run: without this a missing sudo shows only as
 * Node's "spawn sudo ENOENT" (or EACCES) in the plan, with nothing said about what to do.
 */
export function findSudo(path = process.env.PATH ?? ''): { ok: true; file: string } | { ok: false; why: 'missing' | 'denied' } {
  let denied = false;
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const file = join(dir, 'sudo');
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return { ok: true, file };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') denied = true;
    }
  }
  return { ok: false, why: denied ? 'denied' : 'missing' };
}

/** Makes the local runner, refusing up front when root is neither held nor allowed via sudo. */
export function createLocalRunner(target: MachineTarget, isRoot = process.getuid?.() === 0, path = process.env.PATH): LocalRunner {
  const privilege = privilegeFor(isRoot, target.sudo);
  if (privilege === 'sudo') {
    const sudo = findSudo(path);
    if (!sudo.ok) {
      throw new ConnectError(
        target.id,
        sudo.why === 'missing'
          ? `machine "${target.id}" is this computer (ssh: local) and "sudo: true", but sudo is not installed here (not on PATH)`
          : `machine "${target.id}" is this computer (ssh: local) and "sudo: true", but "${localUserName()}" may not run sudo here (permission denied)`,
        `install sudo and give "${localUserName()}" passwordless sudo (e.g. "${localUserName()} ALL=(ALL) NOPASSWD: ALL" in /etc/sudoers.d/), or run pairctl as root`,
      );
    }
  }
  if (privilege === 'user') {
    throw new ConnectError(
      target.id,
      `machine "${target.id}" is this computer (ssh: local), but pairctl runs as "${localUserName()}", not root, and sudo is false`,
      `set "sudo: true" for machine "${target.id}" in pair.yaml (needs passwordless sudo), or run pairctl as root`,
    );
  }
  return new LocalRunner(target.id, privilege);
}

function localUserName(): string {
  return process.env.USER ?? process.env.LOGNAME ?? `uid ${process.getuid?.() ?? '?'}`;
}
