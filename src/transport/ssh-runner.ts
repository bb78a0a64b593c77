/**
 * The runner for machines reached over ssh: one ssh2 connection per machine for the whole
 * pairctl command (a key login costs ~200 ms, a command on an open connection ~8 ms), and one
 * exec request per script, the script fed on stdin of `sh -s` so that argv stays short and no
 * secret appears in `ps`.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import type { AnyAuthMethod, AuthHandlerMiddleware, AuthenticationType, Client, ClientChannel } from 'ssh2';
import { exitCodeOf } from './exit-code.js';
import { HeldShell, type HeldResult } from './held-shell.js';
import { decideHostKey, type HostKeyContext } from './host-key-policy.js';
import { checkHostKey, knownHostsName, preferredHostKeyAlgorithms, readKnownHosts } from './known-hosts.js';
import { privilegeFor, privilegeNote, shellCommand, type Privilege } from './run-as-root.js';
import { ConnectError, type ConnectOptions, type ExecOptions, type ExecResult, type MachineTarget, type Runner } from './runner.js';
import type { planAuth } from './ssh-auth.js';
import { currentLocalEnv, readSshConfig, resolveSshConfig, type LocalEnv, type SshClientConfig, type SshConfigSource } from './ssh-config.js';
import { formatHostPort, parseSshTarget } from './ssh-target.js';
import { pipelineLogin } from './ssh2-pipelining.js';

/** Default for ConnectOptions.timeoutMs when neither it nor the ssh config's ConnectTimeout is set. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
// Key exchange plus login may wait on a slow agent; the TCP connect alone gets the short budget.
const MIN_READY_TIMEOUT_MS = 20_000;
// Like ServerAliveInterval 15 / ServerAliveCountMax 3: a dead link is noticed within a minute.
const KEEPALIVE_INTERVAL_MS = 15_000;
const KEEPALIVE_COUNT_MAX = 3;

/** A shell sshd started for an exec whose script is not sent yet (SshRunner.prepareExec). */
interface SpareShell {
  stream: ClientChannel;
  /** it exited or its channel closed before a script was written to it */
  ended(): boolean;
}

/** A Runner over one open ssh connection; `execCount` counts exec requests on it. */
export class SshRunner implements Runner {
  private count = 0;
  private closed = false;
  private lostReason: string | undefined;
  /** a shell started ahead of its script (prepareExec), once sshd has answered its exec request */
  private spare: Promise<SpareShell | undefined> | undefined;
  /** the shell of the last held exec (ExecOptions.hold), which every later exec is written into */
  private held: Promise<HeldShell | Error> | undefined;
  private heldShell: HeldShell | undefined;
  readonly canHold = true;

  constructor(
    readonly machine: string,
    private readonly client: Client,
    readonly privilege: Privilege,
    /** the login user, for messages */
    readonly user: string,
    /** `user@host[:port]` as dialled, for messages */
    readonly endpoint: string,
    /** the TCP socket under `client` */
    private readonly sock: Socket,
  ) {
    client.on('error', (err: Error) => {
      this.lostReason ??= err.message;
    });
    client.on('close', () => {
      this.lostReason ??= 'the connection was closed';
    });
  }

  get execCount(): number {
    return this.count;
  }

  /** Runs one script as one exec request; a non-zero exit is a result, a lost link an error. */
  exec(script: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed) return Promise.reject(new Error(`runner for machine "${this.machine}" is closed`));
    if (this.lostReason !== undefined) return Promise.reject(this.lostError());
    if (this.held !== undefined || options.hold) return this.execHeld(script, options);
    const spare = this.spare;
    this.spare = undefined;
    if (spare === undefined) {
      const running = this.freshExec(script, options);
      // In the same tick: both channel opens leave in one flight.
      if (options.thenAnother) this.prepareExec();
      return running;
    }
    if (options.thenAnother) this.prepareExec();
    return spare.then((shell) => {
      // A shell that already ended (sudo refused, sshd's session limit) tells nothing of this
      // script: a fresh exec runs it and reports its own outcome.
      if (shell === undefined || shell.ended()) {
        shell?.stream.close();
        return this.freshExec(script, options);
      }
      return new Promise<ExecResult>((resolve, reject) => this.collect(shell.stream, script, options, resolve, reject));
    });
  }

  /** A held shell is open and reads the next exec's script (what it did before still holds). */
  get holding(): boolean {
    return this.heldShell?.open === true;
  }

  /**
   * An exec in the held shell: the first held exec opens it (one exec request); every exec after
   * goes into it, never into a new shell, since what it holds (the machine's lock) is why it is
   * used, and a shell that ended is reported as such, not replaced.
   */
  private execHeld(script: string, options: ExecOptions): Promise<ExecResult> {
    if (this.held === undefined) {
      this.count += 1;
      this.held = new Promise<HeldShell | Error>((resolve) => {
        this.client.exec(shellCommand(this.privilege), (err: Error | undefined, stream: ClientChannel) => {
          if (err) {
            resolve(this.execRefused(err));
            return;
          }
          stream.on('error', () => undefined);
          this.heldShell = new HeldShell({
            write: (text) => stream.write(text),
            end: (text) => stream.end(text),
            onStdout: (l) => stream.on('data', l),
            onStderr: (l) => stream.stderr.on('data', l),
            onExit: (l) => stream.on('exit', l),
            onClose: (l) => stream.on('close', l),
          });
          resolve(this.heldShell);
        });
      });
    }
    return this.held.then(async (shell) => {
      if (shell instanceof Error) throw shell;
      return this.heldResult(await shell.run(script, { hold: options.hold === true, onStdout: options.onStdout }));
    });
  }

  private heldResult(r: HeldResult): ExecResult {
    if (r.notRun) {
      if (this.lostReason !== undefined || this.closed) throw this.lostError();
      const why = r.stderr.trim().split('\n').slice(-3).join(' ');
      throw new ConnectError(
        this.machine,
        `machine "${this.machine}": the shell this command kept there ended (exit ${r.ended?.code ?? r.ended?.signal ?? 'unknown'}) before the next script; none of that script ran${why ? ` (${why})` : ''}`,
        'run the same command again',
      );
    }
    if (r.status !== undefined) return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    const ended = this.shellEnded(r.ended?.code, r.ended?.signal, r.stdout, r.stderr);
    if (ended instanceof Error) throw ended;
    return ended;
  }

  /** The result of a script whose shell ended: its exit, or the lost link when it sent none. */
  private shellEnded(code: number | null | undefined, signal: string | undefined, stdout: string, stderr: string): ExecResult | ConnectError {
    if (code === undefined && signal === undefined && (this.lostReason !== undefined || this.closed)) return this.lostError();
    const exit = exitCodeOf(code, signal);
    if (signal !== undefined) stderr += `pairctl: the script was killed by ${signal}\n`;
    else if (typeof code !== 'number') stderr += 'pairctl: the remote shell ended without an exit status\n';
    stderr += privilegeNote(this.privilege, this.machine, this.user, { code: exit, stderr });
    return { code: exit, stdout, stderr };
  }

  /**
   * Opens the next exec's channel and sends its exec request now, while the probe runs: sshd opens
   * a session channel with a window of 0 and widens it only once the command runs, so an exec
   * costs the channel open and the request's reply before its script can be sent (measured with
   * bench/trace.ts at 50 ms RTT: apply's second exec waited for both, ~100 ms). The shell (`sh -s`,
   * as root) waits for its script on stdin and does nothing until it comes; unused, it ends with
   * the connection. It counts as an exec request when it is made, and the next exec uses it.
   */
  private prepareExec(): void {
    if (this.spare !== undefined || this.closed || this.lostReason !== undefined) return;
    this.count += 1;
    this.spare = new Promise<SpareShell | undefined>((resolve) => {
      this.client.exec(shellCommand(this.privilege), (err: Error | undefined, stream: ClientChannel) => {
        if (err) {
          resolve(undefined);
          return;
        }
        let ended = false;
        const end = (): void => {
          ended = true;
        };
        // 'exit' and 'close' are events, not buffered data: once missed they are gone, so a shell
        // that ended before its script came is never used.
        stream.once('exit', end);
        stream.once('close', end);
        stream.on('error', () => undefined);
        resolve({ stream, ended: () => ended });
      });
    });
  }

  /** Why an exec request failed: the lost link, or sshd's refusal with what to check. */
  private execRefused(err: Error): ConnectError {
    if (this.lostReason !== undefined) return this.lostError();
    return new ConnectError(
      this.machine,
      `machine "${this.machine}": ${this.endpoint} refused to start a command: ${err.message}`,
      'check MaxSessions and any ForceCommand for this user in the machine\'s sshd_config',
    );
  }

  private freshExec(script: string, options: ExecOptions): Promise<ExecResult> {
    this.count += 1;
    return new Promise<ExecResult>((resolve, reject) => {
      this.client.exec(shellCommand(this.privilege), (err: Error | undefined, stream: ClientChannel) => {
        if (err) {
          reject(this.execRefused(err));
          return;
        }
        this.collect(stream, script, options, resolve, reject);
      });
    });
  }

  /** Ends the connection; pending execs fail, later execs are refused. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.lostReason !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, 2000);
      // Closed once our disconnect and FIN are flushed to the kernel: waiting for the server's
      // FIN as well costs one more round trip per command (measured: 50 ms at 50 ms RTT).
      this.sock.once('finish', done);
      this.client.once('close', done);
      this.client.end();
      if (this.sock.writableFinished) done();
    });
  }

  private collect(
    stream: ClientChannel,
    script: string,
    options: ExecOptions,
    resolve: (r: ExecResult) => void,
    reject: (e: Error) => void,
  ): void {
    const outDecoder = new StringDecoder('utf8');
    const errDecoder = new StringDecoder('utf8');
    let stdout = '';
    let stderr = '';
    let code: number | null | undefined;
    let signal: string | undefined;
    const emit = (text: string): void => {
      if (text === '') return;
      stdout += text;
      options.onStdout?.(text);
    };
    stream.on('data', (chunk: Buffer) => emit(outDecoder.write(chunk)));
    stream.stderr.on('data', (chunk: Buffer) => {
      stderr += errDecoder.write(chunk);
    });
    stream.on('exit', (c: number | null, s?: string) => {
      code = c;
      signal = s;
    });
    // Writing after the far end closed its stdin is harmless; the exit status tells the story.
    stream.on('error', () => undefined);
    stream.on('close', () => {
      emit(outDecoder.end());
      stderr += errDecoder.end();
      const ended = this.shellEnded(code, signal, stdout, stderr);
      if (ended instanceof Error) reject(ended);
      else resolve(ended);
    });
    // Not before the exec request's reply: sshd opens a session channel with a window of 0 and
    // widens it only once the command runs (measured: the reply and the WINDOW_ADJUST come in
    // one packet), so ssh2 could not send the script any earlier.
    stream.end(script);
  }

  private lostError(): ConnectError {
    const why = this.closed ? 'the runner was closed' : (this.lostReason ?? 'the connection was closed');
    return new ConnectError(
      this.machine,
      `machine "${this.machine}": lost the ssh connection to ${this.endpoint} (${why}); the script's outcome is unknown`,
      'run the same command again: pairctl re-reads the machine\'s state before changing anything',
    );
  }
}

/** Opens the one ssh connection for a machine: config, host key check, login, ready to exec. */
export async function connectSsh(target: MachineTarget, opts: ConnectOptions = {}, local: LocalEnv = currentLocalEnv()): Promise<SshRunner> {
  const id = target.id;
  const parsed = parseSshTarget(target.ssh);
  if (!parsed.ok) {
    throw new ConnectError(
      id,
      `machine "${id}": ${parsed.error}`,
      'write ssh: as [user@]address[:port], [IPv6]:port, a Host alias from your ssh config, or "local"',
    );
  }
  let source: SshConfigSource;
  try {
    source = readSshConfig(opts.sshConfigFile, local);
  } catch (err) {
    throw new ConnectError(id, `machine "${id}": ${err instanceof Error ? err.message : String(err)}`, 'pass an ssh config file that exists and is readable');
  }
  const cfg = resolveSshConfig(source, parsed.target, local);
  const configName = source.file ?? 'the ssh config';
  if (cfg.problems.length > 0) {
    throw new ConnectError(
      id,
      `machine "${id}": ${configName} for host ${cfg.alias}: ${cfg.problems.join('; ')}`,
      `fix the ssh config; "ssh -G ${cfg.alias}" shows how OpenSSH reads it`,
    );
  }
  if (cfg.unsupported.length > 0) {
    throw new ConnectError(
      id,
      `machine "${id}": ${configName} sets ${cfg.unsupported.join(' and ')} for host ${cfg.alias}; pairctl connects directly and cannot honour it`,
      'give pairctl an address it can reach directly, or run it from a machine that can',
    );
  }

  const endpoint = `${cfg.user}@${formatHostPort(cfg.hostName, cfg.port)}${cfg.alias !== cfg.hostName ? ` (Host ${cfg.alias})` : ''}`;
  const timeoutMs = opts.timeoutMs ?? cfg.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  // The TCP handshake (one round trip) runs while ssh2 is loaded (it and the key code are
  // imported here, not at start: ~40 ms a plan need not wait for), known_hosts and the keys are
  // read and the agent is asked.
  const connecting = openSocket(cfg, timeoutMs, id, endpoint);
  connecting.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
  const known = readKnownHosts([...cfg.userKnownHostsFiles, ...cfg.globalKnownHostsFiles]);
  const lookupName = cfg.hostKeyAlias ?? knownHostsName(cfg.hostName, cfg.port);
  const hostKeyContext: HostKeyContext = {
    machine: id,
    endpoint,
    hostName: cfg.hostName,
    port: cfg.port,
    user: cfg.user,
    lookupName,
    knownHostsFile: cfg.userKnownHostsFiles[0] ?? `${local.homeDir}/.ssh/known_hosts`,
    filesRead: known.read.filter((f) => f !== '/dev/null'),
    strict: cfg.strictHostKeyChecking,
  };
  let auth: Awaited<ReturnType<typeof planAuth>>;
  let ssh2: typeof import('ssh2');
  try {
    const [authModule, ssh2Module] = await Promise.all([import('./ssh-auth.js'), import('ssh2')]);
    ssh2 = ssh2Module.default;
    auth = await authModule.planAuth(cfg, local.homeDir);
  } catch (err) {
    void connecting.then((s) => s.destroy(), () => undefined);
    throw err;
  }
  // Still connecting after the event loop had a turn to see it (a real network's round trip, or
  // a machine that does not answer): the caller may use the wait. Else after the version line.
  let told = false;
  if (opts.onWaiting && !(await settlesWithinTurns(connecting, 2))) {
    told = true;
    opts.onWaiting();
  }
  const sock = await connecting;
  const greeting = watchGreeting(sock);
  const localAddress = sock.localAddress;
  const beforeHandshake = (): ConnectError => refusedBeforeHandshake(id, endpoint, greeting.text(), localAddress);

  const client = new ssh2.Client();
  return new Promise<SshRunner>((resolve, reject) => {
    let settled = false;
    let hostKeyRefusal: ConnectError | undefined;
    let serverMethods: string[] | undefined;
    const tried: string[] = [];
    const agentTrouble: string[] = [];
    const queue = [...auth.methods];

    const fail = (err: ConnectError): void => {
      if (settled) return;
      settled = true;
      client.end();
      sock.destroy();
      reject(err);
    };
    const authError = (tooMany: boolean): ConnectError => {
      const parts = [`machine "${id}": could not log in to ${endpoint}`];
      parts.push(tried.length > 0 ? `the server refused: ${tried.join(', ')}` : 'pairctl found no key to offer');
      const notOffered = [...auth.skipped, ...agentTrouble.map((m) => `ssh-agent (${m})`)];
      if (notOffered.length > 0) parts.push(`not offered: ${notOffered.join('; ')}`);
      if (serverMethods !== undefined) parts.push(`the server accepts: ${serverMethods.join(', ')}`);
      if (tooMany) parts.push('the server stopped after too many attempts');
      const hint = tooMany
        ? `set "IdentitiesOnly yes" and the right IdentityFile for ${cfg.alias} in your ssh config, so fewer keys are offered`
        : `add one of these public keys to ~${cfg.user}/.ssh/authorized_keys on ${cfg.hostName}, or set IdentityFile for ${cfg.alias} in your ssh config ` +
          '(an encrypted key must be loaded with ssh-add first); "ssh -v" with the same target shows what OpenSSH tries';
      return new ConnectError(id, parts.join('; '), hint);
    };

    const authHandler: AuthHandlerMiddleware = (authsLeft, _partial, next) => {
      if (Array.isArray(authsLeft)) serverMethods = authsLeft;
      const stop = next as (method: AnyAuthMethod | AuthenticationType | false) => void;
      if (serverMethods !== undefined && !serverMethods.includes('publickey')) return stop(false);
      const entry = queue.shift();
      if (entry === undefined) return stop(false);
      tried.push(entry.label);
      return stop(entry.method);
    };

    client.on('ready', () => {
      if (settled) return;
      settled = true;
      resolve(new SshRunner(id, client, privilegeFor(cfg.user === 'root', target.sudo), cfg.user, endpoint, sock));
    });
    client.on('error', (err: Error & { level?: string }) => {
      if (settled) return;
      // ssh2 reports a broken agent as an error but then moves on to the next method.
      if (err.level === 'agent') {
        agentTrouble.push(err.message);
        return;
      }
      if (hostKeyRefusal !== undefined) return fail(hostKeyRefusal);
      // Closed (or reset) before sshd even said its version: sshd turned the address away.
      if (!greeting.sawBanner() && (err.level === 'client-socket' || /before handshake/i.test(err.message))) return fail(beforeHandshake());
      if (err.level === 'client-authentication') return fail(authError(false));
      if (/too many authentication failures/i.test(err.message)) return fail(authError(true));
      if (err.level === 'client-timeout') {
        return fail(
          new ConnectError(
            id,
            `machine "${id}": ${endpoint} accepted the TCP connection but the ssh handshake and login did not finish within ${Math.round(readyTimeoutMs(timeoutMs) / 1000)} s`,
            'check that an ssh server (not some other service) listens on that port, and that your ssh-agent is not waiting for a confirmation',
          ),
        );
      }
      fail(
        new ConnectError(
          id,
          `machine "${id}": ssh to ${endpoint} failed: ${err.message}`,
          `"ssh -v" with the same target shows where OpenSSH stops`,
        ),
      );
    });
    client.on('close', () => {
      if (settled) return;
      if (hostKeyRefusal === undefined && !greeting.sawBanner()) return fail(beforeHandshake());
      fail(
        hostKeyRefusal ??
          new ConnectError(
            id,
            `machine "${id}": ${endpoint} closed the connection before login finished`,
            'look at the machine\'s sshd log (journalctl -u ssh); MaxStartups, AllowUsers/DenyUsers or a firewall may be refusing pairctl',
          ),
      );
    });

    try {
      client.connect({
        sock,
        username: cfg.user,
        readyTimeout: readyTimeoutMs(timeoutMs),
        keepaliveInterval: KEEPALIVE_INTERVAL_MS,
        keepaliveCountMax: KEEPALIVE_COUNT_MAX,
        algorithms: { serverHostKey: preferredHostKeyAlgorithms(known.lines, [lookupName]) },
        hostVerifier: (key: Buffer): boolean => {
          const decision = decideHostKey(checkHostKey(known.lines, [lookupName], key), hostKeyContext);
          if (!decision.accept) hostKeyRefusal = new ConnectError(id, decision.message, decision.hint);
          return decision.accept;
        },
        authHandler,
      });
      pipelineLogin(client);
      // ssh2 writes its version line once its crypto is initialised (a resolved promise): after
      // this tick's microtasks, before the next turn of the event loop.
      if (opts.onWaiting && !told) setImmediate(opts.onWaiting);
    } catch (err) {
      fail(new ConnectError(id, `machine "${id}": could not start ssh to ${endpoint}: ${err instanceof Error ? err.message : String(err)}`));
    }
  });
}

/** What the server sent before its `SSH-` version line, kept to explain a refusal. */
interface Greeting {
  sawBanner(): boolean;
  /** the first bytes received, printable characters only */
  text(): string;
}

const GREETING_LIMIT = 512;

/**
 * Watches the first bytes of the connection without taking them from ssh2: the socket is paused
 * first, so adding a listener does not start the flow before ssh2 attaches its own (it resumes it).
 */
function watchGreeting(sock: Socket): Greeting {
  let seen = '';
  let banner = false;
  sock.pause();
  const onData = (chunk: Buffer): void => {
    seen += chunk.toString('latin1');
    if (/(^|\n)SSH-/.test(seen)) banner = true;
    if (banner || seen.length >= GREETING_LIMIT) sock.off('data', onData);
  };
  sock.on('data', onData);
  return {
    sawBanner: () => banner,
    text: () =>
      seen
        .slice(0, GREETING_LIMIT)
        .replace(/[^\x20-\x7e\n]/g, '')
        .trim(),
  };
}

/**
 * sshd accepted the TCP connection and dropped it before its version line. OpenSSH >= 9.8 does
 * that to an address it penalises (PerSourcePenalties: on by default, after failed logins from
 * it), and every version when MaxStartups is exceeded; sshd.c's drop_connection() first writes
 * "Not allowed at this time" (9.8+) or "Exceeded MaxStartups" (before), but the reset may
 * overtake it. The defaults are servconf.c's (9.8 to 10.x): authfail 5 s, noauth 1 s, crash
 * 90 s, refused once 15 s (min) accrued, for at most 600 s (max).
 */
export function refusedBeforeHandshake(id: string, endpoint: string, said: string, localAddress?: string): ConnectError {
  const quoted = said ? `; it said ${JSON.stringify(said.split('\n')[0]!.slice(0, 120))}` : '';
  const from = localAddress ? localAddress.replace(/^::ffff:/, '') : undefined;
  let likely: string;
  if (/Exceeded MaxStartups/i.test(said)) {
    likely = 'sshd had too many connections still logging in (MaxStartups) and turned this one away';
  } else if (said && !/Not allowed at this time/i.test(said)) {
    return new ConnectError(
      id,
      `machine "${id}": ${endpoint} closed the connection before the ssh handshake${quoted}: what answers on that port does not look like an ssh server`,
      'check the address and port in pair.yaml or your ssh config',
    );
  } else {
    likely =
      `this is most likely OpenSSH 9.8 or newer refusing ${from ? `this address (${from})` : 'this address'} for a while after failed logins from it (PerSourcePenalties, on by default)` +
      (/Not allowed at this time/i.test(said) ? ', or too many connections still logging in (MaxStartups)' : '; MaxStartups, TCP wrappers or a firewall can look the same');
  }
  return new ConnectError(
    id,
    `machine "${id}": ${endpoint} closed the connection before the ssh handshake${quoted}: ${likely}`,
    'with OpenSSH\'s defaults each failed login from an address adds 5 s and the address is refused once 15 s have built up, ' +
      'for up to 10 minutes (PerSourcePenalties authfail:5s min:15s max:10m); wait and run the command again, ' +
      `or exempt the address pairctl connects from in the machine's sshd_config: PerSourcePenaltyExemptList ${from ?? '<the address pairctl connects from>'}. ` +
      'The machine\'s sshd log says which it was ("drop connection #N from [address]:port ... penalty: failed authentication"; journalctl -u ssh)',
  );
}

/** True when the promise settles within `turns` turns of the event loop (each polls for I/O once). */
async function settlesWithinTurns(p: Promise<unknown>, turns: number): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < turns && !settled; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  return settled;
}

function readyTimeoutMs(timeoutMs: number): number {
  return Math.max(timeoutMs, MIN_READY_TIMEOUT_MS);
}

function openSocket(cfg: SshClientConfig, timeoutMs: number, id: string, endpoint: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = netConnect({ host: cfg.hostName, port: cfg.port, ...(cfg.bindAddress !== undefined && { localAddress: cfg.bindAddress }) });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(
        new ConnectError(
          id,
          `machine "${id}": no answer from ${endpoint} within ${timeoutMs / 1000} s`,
          'check the address and that the machine is up and its firewall lets port ' + cfg.port + ' through (ConnectTimeout in the ssh config sets the wait)',
        ),
      );
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      sock.setNoDelay(true);
      resolve(sock);
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      sock.destroy();
      reject(socketError(err, cfg, id, endpoint));
    });
  });
}

function socketError(err: NodeJS.ErrnoException, cfg: SshClientConfig, id: string, endpoint: string): ConnectError {
  switch (err.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConnectError(
        id,
        `machine "${id}": cannot resolve the host name "${cfg.hostName}"${cfg.alias !== cfg.hostName ? ` (HostName of ${cfg.alias})` : ''}`,
        cfg.alias === cfg.hostName
          ? `check the spelling, or add "Host ${cfg.alias}" with a HostName to your ssh config`
          : 'check the HostName in your ssh config and your DNS',
      );
    case 'ECONNREFUSED':
      return new ConnectError(
        id,
        `machine "${id}": ${endpoint} refused the connection: nothing listens on port ${cfg.port}`,
        'check that sshd runs on the machine and the port is right',
      );
    case 'ECONNRESET':
      // Reset while connecting: sshd accepted and dropped it at once, as it does an address it penalises.
      return refusedBeforeHandshake(id, endpoint, '', cfg.bindAddress);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ConnectError(id, `machine "${id}": ${endpoint} is unreachable (${err.code})`, 'check the address, the network and any VPN');
    default:
      return new ConnectError(id, `machine "${id}": cannot connect to ${endpoint}: ${err.message}`, 'check the address, the port and the network');
  }
}
