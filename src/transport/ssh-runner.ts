/**
 * The runner for machines reached over ssh: one ssh2 connection per machine for the whole
 * pairctl command (a key login costs ~200 ms, a command on an open connection ~8 ms), and one
 * exec request per script, the script fed on stdin of `sh -s` so that argv stays short and no
 * secret appears in `ps`.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, AuthHandlerMiddleware, AuthenticationType, Client, ClientChannel } from 'ssh2';
import { exitCodeOf } from './exit-code.js';
import { decideHostKey, type HostKeyContext } from './host-key-policy.js';
import { checkHostKey, knownHostsName, preferredHostKeyAlgorithms, readKnownHosts } from './known-hosts.js';
import { privilegeFor, privilegeNote, shellCommand, type Privilege } from './run-as-root.js';
import { ConnectError, type ConnectOptions, type ExecOptions, type ExecResult, type MachineTarget, type Runner } from './runner.js';
import { planAuth } from './ssh-auth.js';
import { currentLocalEnv, readSshConfig, resolveSshConfig, type LocalEnv, type SshClientConfig, type SshConfigSource } from './ssh-config.js';
import { formatHostPort, parseSshTarget } from './ssh-target.js';

/** Default for ConnectOptions.timeoutMs when neither it nor the ssh config's ConnectTimeout is set. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
// Key exchange plus login may wait on a slow agent; the TCP connect alone gets the short budget.
const MIN_READY_TIMEOUT_MS = 20_000;
// Like ServerAliveInterval 15 / ServerAliveCountMax 3: a dead link is noticed within a minute.
const KEEPALIVE_INTERVAL_MS = 15_000;
const KEEPALIVE_COUNT_MAX = 3;

/** A Runner over one open ssh connection; `execCount` counts exec requests on it. */
export class SshRunner implements Runner {
  private count = 0;
  private closed = false;
  private lostReason: string | undefined;

  constructor(
    readonly machine: string,
    private readonly client: Client,
    readonly privilege: Privilege,
    /** the login user, for messages */
    readonly user: string,
    /** `user@host[:port]` as dialled, for messages */
    readonly endpoint: string,
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
    this.count += 1;
    return new Promise<ExecResult>((resolve, reject) => {
      this.client.exec(shellCommand(this.privilege), (err: Error | undefined, stream: ClientChannel) => {
        if (err) {
          reject(
            this.lostReason !== undefined
              ? this.lostError()
              : new ConnectError(
                  this.machine,
                  `machine "${this.machine}": ${this.endpoint} refused to start a command: ${err.message}`,
                  'check MaxSessions and any ForceCommand for this user in the machine\'s sshd_config',
                ),
          );
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
      const timer = setTimeout(resolve, 2000);
      this.client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.client.end();
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
      if (code === undefined && signal === undefined && (this.lostReason !== undefined || this.closed)) {
        reject(this.lostError());
        return;
      }
      const exit = exitCodeOf(code, signal);
      if (signal !== undefined) stderr += `pairctl: the script was killed by ${signal}\n`;
      else if (typeof code !== 'number') stderr += 'pairctl: the remote shell ended without an exit status\n';
      stderr += privilegeNote(this.privilege, this.machine, this.user, { code: exit, stderr });
      resolve({ code: exit, stdout, stderr });
    });
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
  const auth = await planAuth(cfg, local.homeDir);
  const sock = await openSocket(cfg, timeoutMs, id, endpoint);

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
      resolve(new SshRunner(id, client, privilegeFor(cfg.user === 'root', target.sudo), cfg.user, endpoint));
    });
    client.on('error', (err: Error & { level?: string }) => {
      if (settled) return;
      // ssh2 reports a broken agent as an error but then moves on to the next method.
      if (err.level === 'agent') {
        agentTrouble.push(err.message);
        return;
      }
      if (hostKeyRefusal !== undefined) return fail(hostKeyRefusal);
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
    } catch (err) {
      fail(new ConnectError(id, `machine "${id}": could not start ssh to ${endpoint}: ${err instanceof Error ? err.message : String(err)}`));
    }
  });
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
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ConnectError(id, `machine "${id}": ${endpoint} is unreachable (${err.code})`, 'check the address, the network and any VPN');
    default:
      return new ConnectError(id, `machine "${id}": cannot connect to ${endpoint}: ${err.message}`, 'check the address, the port and the network');
  }
}
