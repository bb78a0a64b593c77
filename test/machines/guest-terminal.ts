/**
 * A terminal on this machine driven the way a person would drive it: a private tmux server
 * (`tmux -L pt-<random> -f /dev/null`, so neither the user's tmux nor its config is touched)
 * whose only pane runs a command — typically the real `ssh -tt` client joining a test machine.
 * Tests type into it and read the screen exactly as the guest would see it.
 *
 *     const term = await openGuestTerminal({ sshConfigFile: lab.sshConfigFile, host: 'host',
 *       user: 'guest', from: lab.sourceIp('guest') });
 *     await term.waitFor(/\[pair\]/);
 *     await term.sendKeys('C-b', 'd');
 *     expect(await term.exited()).toBe(true);
 *     await term.close();
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { quote } from '../../src/transport/shell-quote.js';

export interface GuestTerminal {
  /** The private tmux socket name (`tmux -L <socketName>`). */
  readonly socketName: string;
  /** The command running in the pane. */
  readonly argv: readonly string[];
  /** Types text literally; each "\n" is pressed as Enter. */
  type(text: string): Promise<void>;
  /** Presses keys by tmux name, e.g. sendKeys('C-b', 'd') or sendKeys('Enter'). */
  sendKeys(...keys: string[]): Promise<void>;
  /** The visible screen (capture-pane -p), one line per row, trailing blanks trimmed. */
  screen(): Promise<string>;
  /** Polls the screen until it contains the text or matches the regex; returns that screen. */
  waitFor(what: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Whether the command in the pane has ended. */
  exited(): Promise<boolean>;
  /** The command's exit status once it has ended, else undefined. */
  exitStatus(): Promise<number | undefined>;
  /** Waits for the command to end; returns its exit status. */
  waitExit(timeoutMs?: number): Promise<number>;
  /** Kills this terminal's tmux server (and only it) and whatever ran in it. Idempotent. */
  close(): Promise<void>;
}

export interface TerminalOptions {
  cols?: number;
  rows?: number;
  /** Extra environment for the command. */
  env?: Record<string, string>;
}

export interface GuestSshOptions extends TerminalOptions {
  /** ssh client config, e.g. lab.sshConfigFile. */
  sshConfigFile: string;
  /** Host alias in that config. */
  host: string;
  /** Login name (`-l`); default: the config's User. */
  user?: string;
  /**
   * Local address to connect from (`ssh -b`), e.g. lab.sourceIp('guest'): honest guests and
   * attackers use different ones, so sshd's per-source penalties for an attacker's failed
   * logins (OpenSSH >= 9.8) never cut an honest guest.
   */
  from?: string;
  /** Extra ssh arguments placed before the host, e.g. ['-i', key, '-p', '2222']. */
  sshArgs?: string[];
  /** Remote command (one string, as ssh sends it); default: none (the account's forced command or shell). */
  command?: string;
}

/** The argv of `ssh -F <config> -tt [-l user] [args…] host [command]`. */
export function guestSshArgv(o: GuestSshOptions): string[] {
  return [
    'ssh',
    '-F',
    o.sshConfigFile,
    '-tt',
    ...(o.user !== undefined ? ['-l', o.user] : []),
    ...(o.from !== undefined ? ['-b', o.from] : []),
    ...(o.sshArgs ?? []),
    '--',
    o.host,
    ...(o.command !== undefined ? [o.command] : []),
  ];
}

/** Opens a terminal running the real ssh client, as a guest joining a machine would. */
export function openGuestTerminal(o: GuestSshOptions): Promise<GuestTerminal> {
  return openTerminal(guestSshArgv(o), o);
}

const SESSION = 'guest';
const EXIT_OPTION = '@pt_exit_status';
const openTerminals = new Set<Terminal>();
let exitHookInstalled = false;

function tmuxEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SHELL: '/bin/sh', ...extra };
  delete env.TMUX;
  delete env.TMUX_PANE;
  env.TERM ??= 'xterm-256color';
  return env;
}

function runTmux(socketName: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('tmux', ['-L', socketName, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? tmuxEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

function isAlive(pid: number): boolean {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = s.slice(s.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** pid and all its descendants (while they are still parented). */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i]!;
    try {
      for (const t of fs.readdirSync(`/proc/${p}/task`)) {
        for (const c of fs.readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/)) {
          if (c) out.push(Number(c));
        }
      }
    } catch {
      /* gone */
    }
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class Terminal implements GuestTerminal {
  private closed = false;

  constructor(
    readonly socketName: string,
    readonly argv: readonly string[],
    private readonly serverPid: number,
    private readonly panePid: number,
    private readonly socketPath: string,
  ) {}

  private async tmux(args: string[]): Promise<string> {
    const r = await runTmux(this.socketName, args);
    if (r.code !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
    return r.stdout;
  }

  async type(text: string): Promise<void> {
    const parts = text.split('\n');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part) await this.tmux(['send-keys', '-t', SESSION, '-l', '--', part]);
      if (i < parts.length - 1) await this.tmux(['send-keys', '-t', SESSION, 'Enter']);
    }
  }

  async sendKeys(...keys: string[]): Promise<void> {
    if (keys.length > 0) await this.tmux(['send-keys', '-t', SESSION, '--', ...keys]);
  }

  async screen(): Promise<string> {
    const out = await this.tmux(['capture-pane', '-p', '-t', SESSION]);
    return out.replace(/\n+$/, '');
  }

  async waitFor(what: string | RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      last = await this.screen();
      if (typeof what === 'string' ? last.includes(what) : what.test(last)) return last;
      if (Date.now() > deadline) {
        throw new Error(`terminal (${this.argv.join(' ')}): ${String(what)} not seen within ${timeoutMs} ms; screen:\n${last}`);
      }
      await sleep(50);
    }
  }

  async exitStatus(): Promise<number | undefined> {
    const r = await runTmux(this.socketName, ['show-options', '-gqv', EXIT_OPTION]);
    if (r.code !== 0) return isAlive(this.serverPid) ? undefined : -1;
    const v = r.stdout.trim();
    return v === '' ? undefined : Number(v);
  }

  async exited(): Promise<boolean> {
    return (await this.exitStatus()) !== undefined;
  }

  async waitExit(timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.exitStatus();
      if (s !== undefined) return s;
      if (Date.now() > deadline) throw new Error(`terminal (${this.argv.join(' ')}) still running after ${timeoutMs} ms; screen:\n${await this.screen()}`);
      await sleep(50);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    openTerminals.delete(this);
    const tree = processTree(this.panePid);
    await runTmux(this.socketName, ['kill-server']);
    const deadline = Date.now() + 3_000;
    while ([this.serverPid, ...tree].some(isAlive) && Date.now() < deadline) await sleep(25);
    for (const p of [this.serverPid, ...tree]) {
      if (isAlive(p)) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    fs.rmSync(this.socketPath, { force: true });
  }

  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    const tree = processTree(this.panePid);
    spawnSync('tmux', ['-L', this.socketName, 'kill-server'], { env: tmuxEnv(), stdio: 'ignore' });
    for (const p of [this.serverPid, ...tree]) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    fs.rmSync(this.socketPath, { force: true });
  }
}

/**
 * Opens a private tmux server on this machine whose one pane (cols x rows, no status line)
 * runs argv. argv is quoted word by word; nothing is interpreted by a shell. When the
 * command ends the pane stays (its last screen readable) and exited() turns true.
 */
export async function openTerminal(argv: string[], opts: TerminalOptions = {}): Promise<GuestTerminal> {
  if (argv.length === 0) throw new Error('openTerminal: empty argv');
  const cols = opts.cols ?? 120;
  const rows = opts.rows ?? 40;
  const socketName = `pt-${randomBytes(6).toString('hex')}`;
  // The pane's shell runs the command, records its status in a server option, and then keeps
  // the pane open silently (remain-on-exit would add a "Pane is dead" line and scroll).
  const paneCmd = `${argv.map(quote).join(' ')}; tmux set-option -g ${EXIT_OPTION} "$?"; exec sleep 2147483647`;
  const r = await runTmux(
    socketName,
    [
      '-f', '/dev/null',
      'start-server', ';',
      'set-option', '-g', 'status', 'off', ';',
      'new-session', '-d', '-s', SESSION, '-x', String(cols), '-y', String(rows), paneCmd, ';',
      'display-message', '-p', '-t', SESSION, '#{pid} #{pane_pid} #{socket_path}',
    ],
    tmuxEnv(opts.env),
  );
  const [serverPid, panePid, ...rest] = r.stdout.trim().split(' ');
  if (r.code !== 0 || !serverPid || !panePid) {
    spawnSync('tmux', ['-L', socketName, 'kill-server'], { env: tmuxEnv(), stdio: 'ignore' });
    throw new Error(`could not start a tmux server for ${argv.join(' ')}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  const term = new Terminal(socketName, [...argv], Number(serverPid), Number(panePid), rest.join(' '));
  openTerminals.add(term);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const t of openTerminals) t.closeSync();
    });
  }
  return term;
}
