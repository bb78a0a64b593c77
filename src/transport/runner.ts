/**
 * A connection to one machine that runs POSIX shell scripts as root. The engine batches all of a
 * machine's reads into one `exec` and all of its changes into as few as possible, so a runner
 * counts what it did: connections and exec requests are a measured budget (DESIGN.md).
 */

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** called with stdout as it arrives, for live progress while applying */
  onStdout?: (chunk: string) => void;
  /**
   * another exec follows this one (apply after its probe): start that one's shell now, while this
   * one runs, so it is ready when its script comes (ssh: saves the channel open and the exec
   * request's reply, two round trips); the local runner starts each shell when asked
   */
  thenAnother?: boolean;
  /**
   * keep this exec's shell for the next exec (transport/held-shell.ts): the result comes when the
   * script ends, and the shell, with what it holds (the machine's lock), reads the next script;
   * only where `canHold`
   */
  hold?: boolean;
}

export interface Runner {
  /** machine id from pair.yaml (host or relay id) */
  readonly machine: string;
  /** the script runs under `sh -s` as root (directly, or via `sudo -n`), fed on stdin */
  exec(script: string, options?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
  /** exec requests made so far on this connection */
  readonly execCount: number;
  /** exec can keep its shell (ExecOptions.hold) */
  readonly canHold?: boolean;
  /** a held shell is open: the next exec runs in it */
  readonly holding?: boolean;
}

/** Where and how to reach a machine. */
export interface MachineTarget {
  id: string;
  /** "local", [user@]address[:port], or a Host alias from the ssh config */
  ssh: string;
  /** become root with `sudo -n` when the login user is not root */
  sudo: boolean;
}

/** Options shared by every connection of one pairctl run. */
export interface ConnectOptions {
  /** ssh client config file to read instead of ~/.ssh/config (like `ssh -F`) */
  sshConfigFile?: string;
  /** connection timeout in milliseconds */
  timeoutMs?: number;
  /**
   * Called once, when the connection has sent what it can and waits for the machine's answer
   * (ssh: the client's version line is written; the key exchange needs the server's reply). A
   * plan builds its desired graph then, in the shadow of that round trip (plan/plan-all.ts).
   */
  onWaiting?: () => void;
  /** an exec follows the probe (apply, destroy): start its shell while the probe runs (ExecOptions.thenAnother) */
  spareExec?: boolean;
  /**
   * apply --yes: take each machine's lock in the shell that reads it, where the lock is free at
   * once, and keep that shell for the apply (ExecOptions.hold; plan/observe.ts)
   */
  holdLock?: boolean;
}

/** A failure to reach or authenticate to a machine, with what the operator should do. */
export class ConnectError extends Error {
  constructor(
    readonly machine: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ConnectError';
  }
}
