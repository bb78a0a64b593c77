/**
 * A Runner that runs scripts with the real `sh` on this machine, with pairctl's state directory
 * (record, lock, backups) moved under a test's own directory: probes read real files.
 */
import { spawnSync } from 'node:child_process';
import { STATE_DIR } from '../../../src/graph/paths.js';
import type { ExecResult, Runner } from '../../../src/transport/runner.js';

export class ShRunner implements Runner {
  readonly machine = 'box';
  readonly scripts: string[] = [];

  constructor(private readonly root: string) {}

  get execCount(): number {
    return this.scripts.length;
  }

  async exec(script: string): Promise<ExecResult> {
    this.scripts.push(script);
    const res = spawnSync('sh', ['-s'], { input: script.replaceAll(STATE_DIR, `${this.root}${STATE_DIR}`), encoding: 'utf8' });
    return { code: res.status ?? 1, stdout: res.stdout, stderr: res.stderr };
  }

  async close(): Promise<void> {}
}
