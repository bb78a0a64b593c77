/**
 * The one entry point the engine uses to reach a machine: a local runner for `ssh: local`, else
 * one ssh connection that every exec of the command reuses.
 */
import { createLocalRunner } from './local-runner.js';
import type { ConnectOptions, MachineTarget, Runner } from './runner.js';
import { connectSsh } from './ssh-runner.js';

/** Opens the runner for a machine; failures are ConnectErrors that name it and say what to do. */
export async function connect(target: MachineTarget, opts: ConnectOptions = {}): Promise<Runner> {
  if (target.ssh === 'local') return createLocalRunner(target);
  return connectSsh(target, opts);
}
