/**
 * The one entry point the engine uses to reach a machine: a local runner for `ssh: local`, else
 * one ssh connection that every exec of the command reuses. Each runner is imported only when a
 * machine needs it: execa alone costs ~115 ms of a command's start, and a plan over ssh never
 * uses it (ssh2, ~60 ms, is likewise not loaded for `ssh: local`).
 */
import type { ConnectOptions, MachineTarget, Runner } from './runner.js';

/** Opens the runner for a machine; failures are ConnectErrors that name it and say what to do. */
export async function connect(target: MachineTarget, opts: ConnectOptions = {}): Promise<Runner> {
  if (target.ssh === 'local') return (await import('./local-runner.js')).createLocalRunner(target);
  return (await import('./ssh-runner.js')).connectSsh(target, opts);
}
