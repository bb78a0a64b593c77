/**
 * The shared head of the session suites (hostile-guest, owner-tmux-config, session-record,
 * session-audit, session-control): one real host with the owner's account, guests with their own
 * keys and ssh config, a pair.yaml that names them, `apply` and `up`, and guests joining in real
 * terminals with the real ssh client. One place, so every suite boots, configures and joins the
 * same way. Plain TS (no vitest): a step that fails throws with what pairctl or the machine printed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addGuestKeys, writeGuestSshConfig } from './guest-keys.js';
import { openTerminal, type GuestTerminal } from './guest-terminal.js';
import { startLab, type Lab, type LabMachine } from './lab.js';
import { pairctl, type CliResult } from './pairctl-cli.js';
import { waitUntil } from './wait.js';

/** The host's own account, whose tmux server holds the shared session. */
export const OWNER = 'bhorseman';
/** The shared session's socket (session name `pair`). */
export const SOCKET = '/run/pairctl/pair/tmux.sock';

export interface SessionLabOptions {
  /** Folder under the lab's dir for keys, ssh config and pair.yaml. */
  name: string;
  /**
   * Guests in pair.yaml order: name → mode, or mode plus extra lines under the guest (`expires: …`);
   * a function of the lab when a line needs one of its addresses (`from: [<lab.sourceIp('guest')>/32]`).
   */
  guests: SessionGuests | ((lab: Lab) => SessionGuests);
  /** Names of further key pairs made beside the guests' but named nowhere in pair.yaml (an attacker's). */
  otherKeys?: string[];
  /** Extra lines under `hosts: box:` (e.g. `tunnel: { provider: lan }`). */
  hostLines?: string[];
  /** Lines under `session:`. */
  session: string[];
  /** The guests' ssh ConnectTimeout, seconds. */
  connectTimeout: number;
}

/** pair.yaml's guests: name → mode, or mode plus extra lines under the guest. */
export type SessionGuests = Record<string, string | { mode: string; lines: string[] }>;

export interface SessionLab {
  lab: Lab;
  host: LabMachine;
  dir: string;
  /** pair.yaml */
  file: string;
  /** the guests' ssh client config (Host pairhost) */
  guestConfig: string;
  /** `keys[name]` the public line, `keys[name + '_key']` the private key's path */
  keys: Record<string, string>;
  /** the host's tmux version, e.g. 3.3 */
  tmuxVersion: number;
  /** every terminal opened here or pushed by the suite; closed by close() */
  terminals: GuestTerminal[];
  /** `pairctl ARGS -f pair.yaml -F <lab ssh config>` */
  cli(...args: string[]): Promise<CliResult>;
  /** apply --yes; throws unless it exits 0 with no error on stderr */
  apply(): Promise<CliResult>;
  /** up; throws unless it exits 0 */
  up(): Promise<CliResult>;
  /** runs a command as the owner on the host */
  asOwner(cmd: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** tmux as the owner against the shared session's socket: how the owner reads their own server */
  ownerTmux(args: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** a guest's `ssh -tt` to the host in a real terminal (100x30), not waited for */
  joinAs(guest: string): Promise<GuestTerminal>;
  /** joinAs, then waits for the session's status line and for the server to list the guest's client */
  joined(guest: string): Promise<GuestTerminal>;
  /** rewrites pair.yaml with these guests (keys made at start: the guests' and otherKeys) */
  writeGuests(guests: SessionGuests): void;
  /** closes every terminal and stops the lab */
  close(): Promise<void>;
}

function pairYaml(o: SessionLabOptions, guests: SessionGuests, keys: Record<string, string>): string {
  const lines = ['version: 1', 'hosts:', '  box:', '    platform: linux', '    ssh: host', `    owner: ${OWNER}`, ...(o.hostLines ?? []).map((l) => `    ${l}`), 'guests:'];
  for (const [n, g] of Object.entries(guests)) {
    const { mode, lines: extra } = typeof g === 'string' ? { mode: g, lines: [] } : g;
    lines.push(`  ${n}:`, `    keys: [${JSON.stringify(keys[n])}]`, `    mode: ${mode}`, ...extra.map((l) => `    ${l}`));
  }
  lines.push('session:', ...o.session.map((l) => `  ${l}`), '');
  return lines.join('\n');
}

const failed = (what: string, r: CliResult): Error => new Error(`${what}: exit ${r.code}\n${r.stdout}${r.stderr}`);

/** Boots one host, makes the owner's account and the guests' keys, and writes pair.yaml (nothing applied yet). */
export async function startSessionLab(o: SessionLabOptions): Promise<SessionLab> {
  const lab = await startLab({ machines: ['host'] });
  try {
    return await prepare(lab, o);
  } catch (err) {
    await lab.stop();
    throw err;
  }
}

async function prepare(lab: Lab, o: SessionLabOptions): Promise<SessionLab> {
  const host = lab.machine('host');
  const dir = join(lab.dir, o.name);
  mkdirSync(dir, { recursive: true });
  const keys: Record<string, string> = {};
  const guests = typeof o.guests === 'function' ? o.guests(lab) : o.guests;
  addGuestKeys(keys, dir, [...Object.keys(guests), ...(o.otherKeys ?? [])]);
  // honest guests connect from the lab's guest address; attacks come from another one
  const guestConfig = writeGuestSshConfig(lab, dir, host.ip, { connectTimeout: o.connectTimeout });
  const file = join(dir, 'pair.yaml');
  writeFileSync(file, pairYaml(o, guests, keys));
  const made = await host.run(`useradd -m -s /bin/bash ${OWNER} && tmux -V`);
  const version = made.stdout.match(/tmux (\d+\.\d+)/);
  if (made.code !== 0 || !version) throw new Error(`host: the owner's account: exit ${made.code}\n${made.stdout}${made.stderr}`);
  const terminals: GuestTerminal[] = [];

  const cli = (...args: string[]) => pairctl([...args, '-f', file, '-F', lab.sshConfigFile]);
  const asOwner = (cmd: string) => host.run(`runuser -u ${OWNER} -- ${cmd}`);
  const ownerTmux = (args: string) => asOwner(`tmux -S ${SOCKET} ${args}`);
  const joinAs = async (guest: string) => {
    const t = await openTerminal(['ssh', '-F', guestConfig, '-i', keys[`${guest}_key`]!, '-tt', '-l', `pair-${guest}`, 'pairhost'], { cols: 100, rows: 30 });
    terminals.push(t);
    return t;
  };
  return {
    lab,
    host,
    dir,
    file,
    guestConfig,
    keys,
    tmuxVersion: Number(version[1]),
    terminals,
    cli,
    async apply() {
      const a = await cli('apply', '--yes');
      if (a.code !== 0 || /error/i.test(a.stderr)) throw failed('apply', a);
      return a;
    },
    async up() {
      const u = await cli('up');
      if (u.code !== 0) throw failed('up', u);
      return u;
    },
    asOwner,
    ownerTmux,
    joinAs,
    async joined(guest) {
      const t = await joinAs(guest);
      await t.waitFor('[pair]');
      await waitUntil(`${guest}'s client`, async () => (await ownerTmux("list-clients -F '#{client_user}'")).stdout.split('\n').includes(`pair-${guest}`));
      return t;
    },
    writeGuests(g) {
      writeFileSync(file, pairYaml(o, g, keys));
    },
    async close() {
      for (const t of terminals) await t.close();
      await lab.stop();
    },
  };
}
