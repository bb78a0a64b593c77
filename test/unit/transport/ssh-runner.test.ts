import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sshFingerprint } from '../../../src/transport/known-hosts.js';
import { ConnectError } from '../../../src/transport/runner.js';
import type { LocalEnv } from '../../../src/transport/ssh-config.js';
import { connectSsh, type SshRunner } from '../../../src/transport/ssh-runner.js';
import { startFakeSshServer, type FakeSshServer } from './fake-ssh-server.js';

let dir: string;
let home: string;
let server: FakeSshServer;
let local: LocalEnv;
const open: SshRunner[] = [];

function keygen(file: string, passphrase = ''): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'test', '-f', file]);
}

/** Writes an ssh config with one `Host fake` block pointing at the server. */
function config(name: string, extra: string[] = [], knownHosts = join(dir, 'known_hosts')): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    [
      'Host fake',
      '  HostName 127.0.0.1',
      `  Port ${server.port}`,
      '  User tester',
      ...extra,
      `  UserKnownHostsFile ${knownHosts}`,
      '  GlobalKnownHostsFile /dev/null',
      '',
    ].join('\n'),
  );
  return file;
}

const keyed = (key = join(dir, 'good')): string[] => [`  IdentityFile ${key}`, '  IdentitiesOnly yes', '  StrictHostKeyChecking yes'];

async function connected(file: string, sudo = false, env: LocalEnv = local): Promise<SshRunner> {
  const r = await connectSsh({ id: 'm1', ssh: 'fake', sudo }, { sshConfigFile: file }, env);
  open.push(r);
  return r;
}

async function refusal(file: string, ssh = 'fake', env: LocalEnv = local): Promise<ConnectError> {
  try {
    const r = await connectSsh({ id: 'm1', ssh, sudo: false }, { sshConfigFile: file, timeoutMs: 3000 }, env);
    open.push(r);
  } catch (err) {
    if (err instanceof ConnectError) return err;
    throw err;
  }
  throw new Error('connected, but a refusal was expected');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pairctl-sshrun-'));
  home = join(dir, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  keygen(join(dir, 'good'));
  keygen(join(dir, 'stranger'));
  keygen(join(dir, 'locked'), 'correct horse');
  server = await startFakeSshServer(readFileSync(join(dir, 'good.pub'), 'utf8'));
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${server.port} ${server.hostPublicKey}\n`);
  local = { homeDir: home, localUser: 'operator', localHostName: 'test', uid: 1000, env: {} };
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Polls `ok` until it holds, failing after 10 s. */
async function waitFor(ok: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 10_000; !ok(); ) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ssh runner against an in-process ssh2 server', () => {
  it('connects by alias, feeds scripts on stdin of sh -s, and uses one connection for every exec', async () => {
    const before = server.connections;
    const commandsBefore = server.commands.length;
    const runner = await connected(config('basic', keyed()));
    const a = await runner.exec('echo "hello $((6*7))"\necho oops >&2\nexit 4\n');
    expect(a).toEqual({ code: 4, stdout: 'hello 42\n', stderr: expect.stringContaining('oops\n') as string });
    const [b, c] = await Promise.all([runner.exec('printf one'), runner.exec('printf two')]);
    expect([b?.stdout, c?.stdout]).toEqual(['one', 'two']);
    expect(runner.execCount).toBe(3);
    expect(server.connections - before).toBe(1);
    // The script never travels in the command line.
    expect(server.commands.slice(commandsBefore)).toEqual(['sh -s', 'sh -s', 'sh -s']);
    expect(runner.endpoint).toBe(`tester@[127.0.0.1]:${server.port} (Host fake)`);
  });

  it('passes a 1 MB script and keeps utf8 split across chunks whole', async () => {
    const runner = await connected(config('big', keyed()));
    const lines = Array.from({ length: 25_000 }, (_, i) => `: guest-${i} "some padding text"`);
    const chunks: string[] = [];
    const r = await runner.exec(`${lines.join('\n')}\nprintf 'h\\303'; sleep 0.1; printf '\\251\\n'\n`, { onStdout: (s) => chunks.push(s) });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('h\u00e9\n');
    expect(chunks.join('')).toBe('h\u00e9\n');
  });

  it('connects from the BindAddress the ssh config names, as OpenSSH does', async () => {
    // any 127/8 address is this machine's loopback on Linux; the server sees which one we used
    const bound = await connected(config('bind', [...keyed(), '  BindAddress 127.0.0.2']));
    expect((await bound.exec('true')).code).toBe(0);
    expect(server.remoteAddresses.at(-1)).toBe('127.0.0.2');
    // positive control: without it the kernel picks the source (127.0.0.1 towards 127.0.0.1)
    const plain = await connected(config('nobind', keyed()));
    expect((await plain.exec('true')).code).toBe(0);
    expect(server.remoteAddresses.at(-1)).toBe('127.0.0.1');
  });

  it('reports death by a signal as 128+n', async () => {
    const runner = await connected(config('signal', keyed()));
    const r = await runner.exec('kill -9 $$');
    expect(r.code).toBe(137);
    expect(r.stderr).toContain('SIGKILL');
  });

  it('uses sudo -n sh -s for a non-root user with sudo: true', async () => {
    const runner = await connected(config('sudo', keyed()), true);
    expect(runner.privilege).toBe('sudo');
    await runner.exec('true');
    expect(server.commands.at(-1)).toBe('sudo -n sh -s');
  });

  it('runs as the login user when sudo is false, and says root is needed when the script fails', async () => {
    const runner = await connected(config('nosudo', keyed()), false);
    expect(runner.privilege).toBe('user');
    const ok = await runner.exec('true');
    expect(ok.stderr).toBe('');
    const r = await runner.exec('echo "permission denied" >&2; exit 1');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/logged in as "tester", not root, and sudo is false/);
    expect(r.stderr).toMatch(/sudo: true/);
  });

  it('refuses an unknown host key with its type and SHA256 fingerprint', async () => {
    writeFileSync(join(dir, 'empty_known_hosts'), '');
    const err = await refusal(config('unknown', keyed(), join(dir, 'empty_known_hosts')));
    const blob = Buffer.from(server.hostPublicKey.split(' ')[1] ?? '', 'base64');
    expect(err.machine).toBe('m1');
    expect(err.message).toContain(`ssh-ed25519 ${sshFingerprint(blob)}`);
    expect(err.message).toContain('is not known');
    expect(err.hint).toContain(`ssh-keyscan -p ${server.port} 127.0.0.1 >> ${join(dir, 'empty_known_hosts')}`);
  });

  it('refuses a changed host key loudly, with both fingerprints', async () => {
    const other = readFileSync(join(dir, 'stranger.pub'), 'utf8').trim().split(' ');
    writeFileSync(join(dir, 'changed_known_hosts'), `[127.0.0.1]:${server.port} ${other[0]} ${other[1]}\n`);
    const err = await refusal(config('changed', keyed(), join(dir, 'changed_known_hosts')));
    expect(err.message).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');
    expect(err.message).toContain(sshFingerprint(Buffer.from(other[1] ?? '', 'base64')));
    expect(err.message).toContain(sshFingerprint(Buffer.from(server.hostPublicKey.split(' ')[1] ?? '', 'base64')));
  });

  it('accepts an unknown host key when the config says StrictHostKeyChecking no, without writing known_hosts', async () => {
    const kh = join(dir, 'untouched_known_hosts');
    writeFileSync(kh, '');
    const runner = await connected(config('nocheck', [`  IdentityFile ${join(dir, 'good')}`, '  IdentitiesOnly yes', '  StrictHostKeyChecking no'], kh));
    expect((await runner.exec('printf ok')).stdout).toBe('ok');
    expect(readFileSync(kh, 'utf8')).toBe('');
  });

  it('names the machine, the endpoint, what was tried and what was skipped when login fails', async () => {
    const file = config('badauth', [
      `  IdentityFile ${join(dir, 'stranger')}`,
      `  IdentityFile ${join(dir, 'locked')}`,
      `  IdentityFile ${join(dir, 'absent')}`,
      '  IdentitiesOnly yes',
    ]);
    const err = await refusal(file);
    expect(err.message).toContain('machine "m1"');
    expect(err.message).toContain(`tester@[127.0.0.1]:${server.port}`);
    expect(err.message).toContain(`key ${join(dir, 'stranger')} (ssh-ed25519 SHA256:`);
    expect(err.message).toContain(`${join(dir, 'locked')} (encrypted`);
    expect(err.message).toContain(`${join(dir, 'absent')} (no such file)`);
    expect(err.message).toContain('the server accepts: publickey');
    expect(err.message).not.toContain('correct horse');
    expect(err.message).not.toMatch(/PRIVATE KEY/);
    expect(err.hint).toMatch(/authorized_keys/);
  });

  it('signs with a key file at once, without asking first, and logs in (one USERAUTH_REQUEST)', async () => {
    const before = server.auths.length;
    const runner = await connected(config('signed', keyed()));
    expect((await runner.exec('printf signed')).stdout).toBe('signed');
    expect(server.auths.slice(before)).toEqual(['publickey+signature']);
  });

  it('moves on to the next key when the server refuses a signed request, and logs in with it', async () => {
    const before = server.auths.length;
    const runner = await connected(config('second', [`  IdentityFile ${join(dir, 'stranger')}`, `  IdentityFile ${join(dir, 'good')}`, '  IdentitiesOnly yes', '  StrictHostKeyChecking yes']));
    expect((await runner.exec('printf second')).stdout).toBe('second');
    expect(server.auths.slice(before)).toEqual(['publickey+signature', 'publickey+signature']);
  });

  it('sends no auth request at all to a server whose host key it refuses', async () => {
    // The positive control is the test above: the same key logs in when the host key is known.
    writeFileSync(join(dir, 'nokey_known_hosts'), '');
    const before = server.auths.length;
    const connectionsBefore = server.connections;
    const err = await refusal(config('nokey', keyed(), join(dir, 'nokey_known_hosts')));
    expect(err.message).toContain('is not known');
    expect(server.connections).toBe(connectionsBefore + 1);
    expect(server.auths.slice(before)).toEqual([]);
  });

  it('tries the default key files of the home directory', async () => {
    const env: LocalEnv = { ...local, homeDir: join(dir, 'home2') };
    mkdirSync(join(env.homeDir, '.ssh'), { recursive: true });
    copyFileSync(join(dir, 'good'), join(env.homeDir, '.ssh', 'id_ed25519'));
    const runner = await connected(config('defaults', ['  StrictHostKeyChecking yes']), false, env);
    expect((await runner.exec('printf via-default')).stdout).toBe('via-default');
  });

  it('reports a refused TCP connection', async () => {
    const file = join(dir, 'refused');
    writeFileSync(file, `Host fake\n  HostName 127.0.0.1\n  Port 1\n  UserKnownHostsFile ${join(dir, 'known_hosts')}\n`);
    const err = await refusal(file);
    expect(err.message).toMatch(/refused the connection: nothing listens on port 1/);
  });

  it('reports a target it cannot parse and an ssh config it cannot use', async () => {
    expect((await refusal(config('any', keyed()), 'bad host')).message).toMatch(/whitespace/);
    const jump = join(dir, 'jump');
    writeFileSync(jump, 'Host fake\n  ProxyJump bastion\n');
    expect((await refusal(jump)).message).toMatch(/ProxyJump bastion/);
    expect((await refusal(join(dir, 'no-such-config'))).message).toMatch(/cannot read ssh config/);
  });

  it('fails pending and later execs with a ConnectError when the link drops', async () => {
    const runner = await connected(config('drop', keyed()));
    const asked = server.commands.length;
    const pending = runner.exec('sleep 5; echo never');
    // drop it mid-exec: once the server has the exec request, not after a guessed delay
    for (const deadline = Date.now() + 30_000; server.commands.length === asked && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(server.commands.length).toBe(asked + 1);
    server.dropAll();
    await expect(pending).rejects.toThrow(/lost the ssh connection/);
    await expect(runner.exec('true')).rejects.toBeInstanceOf(ConnectError);
  });

  it('thenAnother starts the next shell while this exec runs; the next exec runs in it, later ones in their own', async () => {
    const runner = await connected(config('spare', keyed()));
    const asked = server.commands.length;
    // The probe-like exec holds on until both exec requests reached the server: the second went
    // out while the first ran, before its script existed.
    const gate = join(dir, 'spare-gate');
    const first = runner.exec(`while [ ! -e ${gate} ]; do sleep 0.01; done; printf first`, { thenAnother: true });
    await waitFor(() => server.commands.length === asked + 2);
    expect(runner.execCount).toBe(2);
    writeFileSync(gate, '');
    expect((await first).stdout).toBe('first');
    const a = await runner.exec('echo "in the spare $((6*7))"; exit 3');
    expect(a).toMatchObject({ code: 3, stdout: 'in the spare 42\n' });
    expect(runner.execCount).toBe(2);
    expect(server.commands.length).toBe(asked + 2);
    // Used once: the next exec opens its own channel.
    expect((await runner.exec('printf three')).stdout).toBe('three');
    expect(runner.execCount).toBe(3);
    expect(server.commands.slice(asked)).toEqual(['sh -s', 'sh -s', 'sh -s']);
  });

  it('does not run a script in a prepared shell that already ended: a fresh exec runs it', async () => {
    const runner = await connected(config('spare-ended', keyed()));
    const asked = server.commands.length;
    // The spare (the second exec request) ends at once, as a sudo that refuses would.
    server.exitAtOnce.add(asked + 1);
    expect((await runner.exec('printf probe', { thenAnother: true })).stdout).toBe('probe');
    // Until the client has seen the spare's exit status (the runner's own view, read from its internals).
    const spare = await (runner as unknown as { spare: Promise<{ ended(): boolean } | undefined> }).spare;
    await waitFor(() => spare?.ended() === true);
    const r = await runner.exec('printf fresh');
    expect(r).toMatchObject({ code: 0, stdout: 'fresh' });
    expect(r.stderr).not.toContain('refused at once');
    // Positive control: the spare was asked for and ended; the script had a third exec of its own.
    expect(server.commands.length).toBe(asked + 3);
    expect(runner.execCount).toBe(3);
  });

  it('hold keeps one shell: scripts written at once answer in order with their statuses, share its state (an open lock fd), and the last one ends it', async () => {
    const runner = await connected(config('held', keyed()));
    const asked = server.commands.length;
    const lock = join(dir, 'held-lock');
    const other = `if flock -n ${lock} true; then echo free; else echo busy; fi`;
    // Both go out before either answers: one exec request, one round trip.
    const [a, b] = await Promise.all([
      runner.exec(`exec 9>>${lock}\nflock -n 9 && echo held\nx=42`, { hold: true }),
      runner.exec(`echo "x=$x"\n${other}\nfalse`, { hold: true }),
    ]);
    expect(a).toMatchObject({ code: 0, stdout: 'held\n' });
    expect(b).toMatchObject({ code: 1, stdout: 'x=42\nbusy\n' });
    expect(runner.holding).toBe(true);
    const chunks: string[] = [];
    const last = await runner.exec(`${other}\necho last; exit 3`, { onStdout: (t) => chunks.push(t) });
    expect(last).toMatchObject({ code: 3, stdout: 'busy\nlast\n' });
    expect(chunks.join('')).toBe('busy\nlast\n');
    expect(runner.execCount).toBe(1);
    expect(server.commands.length).toBe(asked + 1);
    // The shell ended with its last script, and with it the lock (positive control: now free).
    expect(runner.holding).toBe(false);
    await expect(runner.exec('true')).rejects.toThrow(/ended \(exit 3\) before the next script; none of that script ran/);
    expect(execFileSync('sh', ['-c', other]).toString()).toBe('free\n');
  });

  it('a held shell that ended is reported, and the next script runs nowhere', async () => {
    const runner = await connected(config('held-ended', keyed()));
    const marker = join(dir, 'held-ended-ran');
    expect(await runner.exec('echo bye; exit 5', { hold: true })).toMatchObject({ code: 5, stdout: 'bye\n' });
    await expect(runner.exec(`touch ${marker}`)).rejects.toThrow(/machine "m1": the shell this command kept there ended \(exit 5\)/);
    expect(existsSync(marker)).toBe(false);
    expect(runner.execCount).toBe(1);
  });

  it('closes with a prepared shell never used', async () => {
    const runner = await connected(config('spare-unused', keyed()));
    const asked = server.commands.length;
    expect((await runner.exec('printf probe', { thenAnother: true })).stdout).toBe('probe');
    await waitFor(() => server.commands.length === asked + 2);
    await runner.close();
    await expect(runner.exec('true')).rejects.toThrow(/closed/);
  });

  it('refuses execs after close', async () => {
    const runner = await connected(config('closed', keyed()));
    await runner.close();
    await expect(runner.exec('true')).rejects.toThrow(/closed/);
  });
});

/** A TCP server that treats each connection the way `handle` says, like an sshd that turns an address away. */
async function refusingServer(handle: (sock: Socket) => void): Promise<{ port: number; stop: () => Promise<void> }> {
  const socks = new Set<Socket>();
  const tcp = createServer((sock) => {
    socks.add(sock);
    sock.on('error', () => undefined);
    handle(sock);
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const address = tcp.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    stop: () => {
      for (const sock of socks) sock.destroy();
      return new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

describe('a connection refused before the ssh handshake (PerSourcePenalties, MaxStartups)', () => {
  const stops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    await Promise.all(stops.map((stop) => stop()));
  });

  async function refusedBy(handle: (sock: Socket) => void): Promise<ConnectError> {
    const { port, stop } = await refusingServer(handle);
    stops.push(stop);
    const file = join(dir, `refusing-${port}`);
    writeFileSync(file, `Host fake\n  HostName 127.0.0.1\n  Port ${port}\n  User tester\n  IdentityFile ${join(dir, 'good')}\n  UserKnownHostsFile ${join(dir, 'known_hosts')}\n`);
    return refusal(file);
  }

  it('says what sshd >= 9.8 likely did, for how long, and what to do, when it writes its refusal and closes', async () => {
    // sshd.c drop_connection() in 9.8 and later: one line, then close, before any version line.
    const err = await refusedBy((sock) => sock.end('Not allowed at this time\r\n'));
    expect(err.machine).toBe('m1');
    expect(err.message).toContain('machine "m1": tester@[127.0.0.1]:');
    expect(err.message).toContain('closed the connection before the ssh handshake; it said "Not allowed at this time"');
    expect(err.message).toContain('most likely OpenSSH 9.8 or newer refusing this address (127.0.0.1) for a while after failed logins from it (PerSourcePenalties');
    expect(err.message).toContain('MaxStartups');
    expect(err.hint).toContain('up to 10 minutes');
    expect(err.hint).toContain('authfail:5s min:15s max:10m');
    expect(err.hint).toContain('PerSourcePenaltyExemptList 127.0.0.1');
    expect(err.message).not.toMatch(/certain|definitely/i);
  });

  it('says the same when the connection is closed or reset without a word', async () => {
    for (const handle of [(sock: Socket) => sock.destroy(), (sock: Socket) => sock.resetAndDestroy()]) {
      const err = await refusedBy(handle);
      // A reset can come before the connect completes; then the local address is not known.
      expect(err.message).toMatch(/closed the connection before the ssh handshake: this is most likely OpenSSH 9\.8 or newer refusing this address( \(127\.0\.0\.1\))? for a while/);
      expect(err.message).toContain('a firewall can look the same');
      expect(err.hint).toMatch(/PerSourcePenaltyExemptList (127\.0\.0\.1|<the address pairctl connects from>)/);
    }
  });

  it('names MaxStartups when an older sshd says so, and a port that is not ssh for what is not', async () => {
    expect((await refusedBy((sock) => sock.end('Exceeded MaxStartups\r\n'))).message).toContain('too many connections still logging in (MaxStartups)');
    const web = await refusedBy((sock) => sock.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    expect(web.message).toContain('it said "HTTP/1.1 400 Bad Request": what answers on that port does not look like an ssh server');
    expect(web.message).not.toContain('PerSourcePenalties');
  });

  it('still logs in where sshd greets normally (positive control, same client code)', async () => {
    const runner = await connected(config('greets', keyed()));
    expect((await runner.exec('printf ok')).stdout).toBe('ok');
  });
});

describe('ssh-agent', () => {
  let agent: ChildProcess | undefined;
  let sock: string;

  beforeAll(async () => {
    sock = join(dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    for (const deadline = Date.now() + 30_000; !existsSync(sock) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    execFileSync('ssh-add', ['-q', join(dir, 'good')], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
  });

  afterAll(() => {
    if (agent?.pid !== undefined) process.kill(agent.pid, 'SIGTERM');
  });

  it('logs in with a key that only the agent holds', async () => {
    const env: LocalEnv = { ...local, homeDir: join(dir, 'emptyhome'), env: { SSH_AUTH_SOCK: sock } };
    const runner = await connected(config('agent', ['  StrictHostKeyChecking yes']), false, env);
    expect((await runner.exec('printf agent')).stdout).toBe('agent');
  });

  it('with IdentitiesOnly, lets the agent sign for an encrypted IdentityFile it holds', async () => {
    // Same key as "good", but the file is encrypted: only the agent can use it.
    copyFileSync(join(dir, 'good'), join(dir, 'good-enc'));
    copyFileSync(join(dir, 'good.pub'), join(dir, 'good-enc.pub'));
    execFileSync('ssh-keygen', ['-q', '-p', '-N', 'pw', '-P', '', '-f', join(dir, 'good-enc')]);
    const env: LocalEnv = { ...local, env: { SSH_AUTH_SOCK: sock } };
    const runner = await connected(config('agent-only', keyed(join(dir, 'good-enc'))), false, env);
    expect((await runner.exec('printf filtered')).stdout).toBe('filtered');
  });

  it('with IdentitiesOnly, does not offer agent keys that are not configured', async () => {
    const env: LocalEnv = { ...local, env: { SSH_AUTH_SOCK: sock } };
    const err = await refusal(config('agent-filtered', keyed(join(dir, 'stranger'))), 'fake', env);
    expect(err.message).toMatch(/IdentitiesOnly: none of them is a configured IdentityFile/);
    expect(err.message).not.toMatch(/the server refused: ssh-agent/);
  });
});
