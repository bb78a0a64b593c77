/**
 * Benchmark (not a test) of pairctl where users are: every figure at 0 and at 50 ms RTT, side by
 * side in one run (issue 15). Each lab machine's sshd sits behind a delay proxy on loopback
 * (bench/delay-proxy.ts); every connection of every column goes through it — pairctl (HostName
 * and Port from ~/.ssh/config), OpenSSH's floor, Ansible and the guest's join — with a one-way
 * delay of 0 ms for the first column and 25 ms for the second. Within a round the two columns
 * alternate, so a change of load on this shared machine hits both.
 *
 * Measured with the installed package's binary (PAIRCTL_BENCH_BIN, set by bench/run.sh):
 * - the floor: OpenSSH's `ssh HOST true` through the same proxy (one login, one command);
 * - `pairctl plan` of a converged host (5 guests) and of 8 such hosts; pairctl's own CPU (rusage);
 * - tuned `ansible-playbook --check --diff` of the same resources (pipelining + warm ControlPersist);
 * - `pairctl apply --yes` adding one guest to a converged host (the guest removed first by an
 *   apply that is not timed), with its connections (counted by the proxy on every run) and exec
 *   requests (sshd's DEBUG1 log, in one counted pass per column);
 * - a guest's join: the real `ssh` client in a pty (`script`), from spawning it to the moment a
 *   unique string the owner printed in the session's pane arrives in the guest's output;
 * - `pairctl status` of 1 and of 8 hosts, each with its session running;
 * - cold start without the network: `node -e 0`, `pairctl --version`, `pairctl lint pair.yaml.example`.
 *
 *   bash bench/run.sh                          # = npm run bench: installs pairctl, runs this
 *   BENCH_ROUNDS=9 BENCH_ANSIBLE_ROUNDS=3 ...
 *   BENCH_ONLY=floor,plan,apply,join ...       # only these rows (bench/README.md lists them)
 *
 * NODE_EXTRA_CA_CERTS stays as the environment has it (targets are judged with it); the rows
 * `plan-no-ca` and the cold start's `node -e 0` without it show what it costs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig } from '../src/config/load-config.js';
import { buildGraph } from '../src/graph/build-graph.js';
import { startLab, type Lab, type LabMachine } from '../test/machines/lab.js';
import { playbookFor } from './ansible-playbook.js';
import { keyPair, OWNER, writeConfig } from './converged-host.js';
import { startProxyProcess } from './delay-proxy-process.js';
import { cgroupCpuMs, loadAvg1, loginSessions, machineCgroup, median, ms, timed, type Timed } from './measure.js';

const INSTALLED = process.env.PAIRCTL_BENCH_BIN;
if (!INSTALLED || !existsSync(INSTALLED)) {
  process.stderr.write('PAIRCTL_BENCH_BIN must name an installed pairctl binary: run bash bench/run.sh, which installs one\n');
  process.exit(2);
}
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ANSIBLE_ROUNDS = Number(process.env.BENCH_ANSIBLE_ROUNDS ?? 3);
const STARTUP_RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 21);
/** Rows a run measures: BENCH_ONLY=floor,plan,join (comma-separated) measures only those; default every row. */
const ROWS = ['direct', 'floor', 'plan', 'plan-no-ca', 'plan8', 'status', 'status8', 'apply', 'join', 'ansible', 'counts', 'startup'] as const;
type Row = (typeof ROWS)[number];
const ONLY = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',').map((s) => s.trim()) : undefined;
for (const r of ONLY ?? []) {
  if (!(ROWS as readonly string[]).includes(r)) {
    process.stderr.write(`BENCH_ONLY: unknown row ${JSON.stringify(r)} (rows: ${ROWS.join(', ')})\n`);
    process.exit(2);
  }
}
const want = (r: Row) => ONLY === undefined || ONLY.includes(r);
/**
 * This machine's environment sets NODE_EXTRA_CA_CERTS, and node then reads and parses that CA
 * bundle at every start (measured: +80 ms CPU per process). pairctl is measured in the
 * environment as given, which is what a user with that variable meets, and the targets are judged
 * on it; the rows "without NODE_EXTRA_CA_CERTS" show what the variable costs.
 */
const EXTRA_CA = process.env.NODE_EXTRA_CA_CERTS;
const NO_CA = { unset: ['NODE_EXTRA_CA_CERTS'] };
/** One-way delays of the two columns: 0 and 50 ms RTT. */
const ONE_WAY = [0, 25] as const;
type Delay = (typeof ONE_WAY)[number];
const HOSTS = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7', 'h8'];
const GUESTS = ['todd', 'ann', 'rita', 'jo', 'kim'];
/** The guest the apply rounds remove (untimed) and add back (timed). */
const ADDED = 'kim';
/** The guest who joins (mirror mode, as writeConfig makes every guest). */
const JOINER = 'todd';
const SOCKET = '/run/pairctl/pair/tmux.sock';
const DEADLINE_MS = 120_000;

/** A measured run: the command's Timed, plus what the proxies and the lab machines spent. */
interface Run extends Timed {
  /** new connections through the operator proxies during the run */
  connections: number;
  /** the delay proxies' CPU during the run (their process) */
  proxyMs: number;
  /** every lab machine's CPU (their cgroups) from the run's start until its logins had ended; undefined without readable cgroups */
  labMs: number | undefined;
}

/** How long a run's logins may take to end after it, before its lab CPU is read anyway. */
const SESSIONS_END_MS = 2000;

async function main(lab: Lab): Promise<void> {
  const bench = join(lab.dir, 'bench');
  const keysDir = join(bench, 'keys');
  mkdirSync(keysDir, { recursive: true });
  const guests = GUESTS.map((g): [string, string] => [g, keyPair(keysDir, g)]);
  await Promise.all(HOSTS.map((h) => lab.machine(h).run(`useradd -m -s /bin/bash ${OWNER}`)));

  // A proxy per machine for pairctl, OpenSSH and Ansible (connecting from the operator's source
  // address), and one for guests (from the guest's address), all at the same delay.
  // They run in a process of their own: every measured command here runs with spawnSync, which
  // blocks this process's event loop.
  const proxies = await startProxyProcess(
    HOSTS.flatMap((h) => [
      { name: h, target: { host: lab.machine(h).ip, port: 22 }, bindAddress: lab.sourceIp('operator') },
      { name: `guest-${h}`, target: { host: lab.machine(h).ip, port: 22 }, bindAddress: lab.sourceIp('guest') },
    ]),
  );
  const setDelay = (d: Delay) => proxies.setDelay(d);
  // Each lab machine's cgroup: the CPU its sshd, PAM, logind and probes spend, which here shares
  // this machine's cores with pairctl (on a user's network each host has its own).
  const labCgroups = HOSTS.map((h) => machineCgroup(lab.machine(h).rootDir));
  const labDirs = labCgroups.every((d) => d !== undefined) ? (labCgroups as string[]) : undefined;
  /** Runs `f`, with the new connections through the proxies of `hosts`, the proxies' CPU and the lab machines' CPU meanwhile. */
  const observed = async (hosts: string[], f: () => Timed | Promise<Timed>): Promise<Run> => {
    const u0 = await proxies.usage();
    const sessions0 = labDirs ? loginSessions(labDirs) : 0;
    const lab0 = labDirs ? cgroupCpuMs(labDirs) : 0;
    const r = await f();
    // sshd and logind close a login after the client has gone: count that too (poll, deadline).
    const end = Date.now() + SESSIONS_END_MS;
    while (labDirs && loginSessions(labDirs) > sessions0 && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
    const labMs = labDirs ? cgroupCpuMs(labDirs) - lab0 : undefined;
    const u1 = await proxies.usage();
    return { ...r, connections: hosts.reduce((n, h) => n + u1.counts[h]! - u0.counts[h]!, 0), proxyMs: u1.cpuMs - u0.cpuMs, labMs };
  };
  const proxy = (name: string) => ({ host: '127.0.0.1', port: proxies.ports[name]! });

  // The user's side: pairctl on PATH, a private HOME whose ~/.ssh/config reaches each machine
  // through its proxy (HostKeyAlias: the machine's real key, pinned under its bridge address).
  const home = join(bench, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  const block = (alias: string, h: string, p: { host: string; port: number }, extra: string[]) =>
    [`Host ${alias}`, `  HostName ${p.host}`, `  Port ${p.port}`, `  HostKeyAlias ${lab.machine(h).ip}`, `  UserKnownHostsFile ${lab.knownHostsFile}`,
      '  GlobalKnownHostsFile /dev/null', '  StrictHostKeyChecking yes', '  IdentitiesOnly yes', '  ConnectTimeout 30', ...extra, ''].join('\n');
  const userSshConfig = join(home, '.ssh', 'config');
  writeFileSync(userSshConfig, HOSTS.map((h) => block(h, h, proxy(h), ['  User root', `  IdentityFile ${lab.adminKeyFile}`])).join('\n'), { mode: 0o600 });
  const guestSshConfig = join(bench, 'guest_ssh_config');
  writeFileSync(guestSshConfig, HOSTS.map((h) => block(`pairhost-${h}`, h, proxy(`guest-${h}`), ['  BatchMode yes'])).join('\n'));
  const userEnv = { HOME: home, PATH: `${dirname(INSTALLED!)}:${process.env.PATH ?? '/usr/bin:/bin'}` };

  const one = writeConfig(join(bench, 'one'), ['h1'], guests);
  const without = join(dirname(one), 'without.yaml');
  writeFileSync(without, readFileSync(writeConfig(join(bench, 'without'), ['h1'], guests.filter(([g]) => g !== ADDED)), 'utf8'));
  const eight = writeConfig(join(bench, 'eight'), HOSTS, guests);
  const pairctl = async (file: string, args: string[], hosts: string[], unset: string[] = []): Promise<Run> => {
    return observed(hosts, () => timed('pairctl', [...args, '-f', file], { env: userEnv, cwd: dirname(file), unset }));
  };
  const plan = async (file: string, hosts: string[], unset: string[] = []) => {
    const r = await pairctl(file, ['plan'], hosts, unset);
    if (!r.stdout.includes('No changes.')) throw new Error(`${file}: not converged:\n${r.stdout}`);
    return r;
  };

  await setDelay(0);
  let t = await pairctl(eight, ['apply', '--yes'], HOSTS);
  console.log(`applied 8 hosts in ${ms(t.ms)}`);
  t = await pairctl(eight, ['up'], HOSTS);
  console.log(`sessions up on 8 hosts in ${ms(t.ms)}`);
  await plan(one, ['h1']);
  await plan(eight, HOSTS);

  // The session's pane, as its owner sees it (the owner types; root only reads through runuser).
  const h1 = lab.machine('h1');
  const asOwner = (m: LabMachine, tmuxArgs: string) => m.run(`runuser -u ${OWNER} -- tmux -S ${SOCKET} ${tmuxArgs}`);
  const ownerPrints = async (marker: string) => {
    await asOwner(h1, `set-buffer -b t 'echo ${marker}\n' \\; paste-buffer -d -b t -t '=pair:'`);
    await until(`${marker} in h1's pane`, async () => (await asOwner(h1, "capture-pane -p -J -t '=pair:'")).stdout.includes(`\n${marker}`));
  };
  await until("the owner's prompt on h1", async () => (await asOwner(h1, "capture-pane -p -J -t '=pair:'")).stdout.includes('$'));
  const join1 = async (): Promise<{ ms: number; load: number }> => {
    const marker = `pt-join-${randomBytes(4).toString('hex')}`;
    await ownerPrints(marker);
    const key = join(keysDir, JOINER);
    return joinUntil(marker, ['ssh', '-F', guestSshConfig, '-i', key, '-tt', '-l', `pair-${JOINER}`, 'pairhost-h1']);
  };

  // Ansible: the same checks as a playbook, through h1's proxy.
  const ans = join(bench, 'ansible');
  mkdirSync(ans);
  const resources = buildGraph((await loadConfig(one)).config!)[0]!.resources;
  writeFileSync(join(ans, 'h1.yml'), playbookFor('h1', resources));
  const p1 = proxy('h1');
  const sshOpts = ['-o', `HostKeyAlias=${h1.ip}`, '-o', `UserKnownHostsFile=${lab.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes'];
  writeFileSync(
    join(ans, 'inventory.ini'),
    `h1 ansible_host=${p1.host} ansible_port=${p1.port} ansible_user=root ansible_ssh_private_key_file=${lab.adminKeyFile} ansible_python_interpreter=/usr/bin/python3 ansible_ssh_common_args='${sshOpts.join(' ')}'\n`,
  );
  const cp = join(ans, 'cp');
  mkdirSync(cp);
  writeFileSync(
    join(ans, 'tuned.cfg'),
    `[defaults]\ninventory = inventory.ini\n[ssh_connection]\npipelining = True\nssh_args = -C -o ControlMaster=auto -o ControlPersist=600s\ncontrol_path_dir = ${cp}\ncontrol_path = %(directory)s/%%h-%%p-%%r\n`,
  );
  // The warm master Ansible's runs reuse, opened the way its first connection would be. Its TCP
  // connection goes through the proxy, so every later run sees the column's delay.
  const master = !want('ansible') ? { status: 0, stderr: '' } : spawnSync('ssh', ['-C', '-o', 'ControlMaster=auto', '-o', 'ControlPersist=600s', '-o', `ControlPath=${cp}/%h-%p-%r`, '-i', lab.adminKeyFile, ...sshOpts,
    '-p', String(p1.port), `root@${p1.host}`, 'true'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (master.status !== 0) throw new Error(`could not open Ansible's ControlPersist master: ${master.stderr}`);
  const ansible = async (): Promise<Run> => {
    const r = await observed(['h1'], () => timed('ansible-playbook', ['--check', '--diff', join(ans, 'h1.yml')], { env: { ANSIBLE_CONFIG: join(ans, 'tuned.cfg'), ANSIBLE_NOCOLOR: '1', ANSIBLE_DEPRECATION_WARNINGS: 'False' } }));
    const recap = /h1\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(r.stdout);
    if (!recap || recap.slice(1).some((n) => n !== '0')) throw new Error(`ansible does not see h1 converged:\n${r.stdout}`);
    return r;
  };

  const floor = () => observed(['h1'], () => timed('ssh', ['-F', userSshConfig, 'h1', 'true']));
  const direct = () => observed([], () => timed('ssh', ['-F', lab.sshConfigFile, 'h1', 'true']));
  const addGuest = async (): Promise<Run> => {
    await pairctl(without, ['apply', '--yes'], ['h1']);
    const r = await pairctl(one, ['apply', '--yes'], ['h1']);
    if (!r.stdout.includes(ADDED)) throw new Error(`the timed apply did not add ${ADDED}:\n${r.stdout}`);
    return r;
  };

  // One counted pass per column: sshd's own count of connections and exec requests (DEBUG1 on h1
  // only, and only here: its logging costs CPU the measured runs should not pay).
  const execCounts = {} as Record<Delay, Record<string, { connections: number; execs: number }>>;
  // A reload re-execs sshd, which stops listening for a moment: wait until it accepts again.
  const reloadSshd = async (cmd: string) => {
    await h1.run(`${cmd} && systemctl reload ssh`);
    await until("h1's sshd to listen again", () => accepts(h1.ip, 22));
  };
  if (want('counts')) await reloadSshd("echo 'LogLevel DEBUG1' > /etc/ssh/sshd_config.d/99-bench-loglevel.conf");
  for (const d of want('counts') ? ONE_WAY : []) {
    await setDelay(d);
    const c: Record<string, { connections: number; execs: number }> = {};
    c.plan = await sshdCounts(h1, () => plan(one, ['h1']));
    await pairctl(without, ['apply', '--yes'], ['h1']);
    c.apply = await sshdCounts(h1, () => pairctl(one, ['apply', '--yes'], ['h1']));
    c.status = await sshdCounts(h1, () => pairctl(one, ['status'], ['h1']));
    execCounts[d] = c;
  }
  if (want('counts')) await reloadSshd('rm -f /etc/ssh/sshd_config.d/99-bench-loglevel.conf');

  type Key = 'direct' | 'floor' | 'plan1' | 'plan1noca' | 'plan8' | 'ansible' | 'apply' | 'join' | 'status1' | 'status8';
  const res = new Map<string, Run[]>();
  const rec = (k: Key, d: Delay, r: Run) => res.set(`${k}|${d}`, [...(res.get(`${k}|${d}`) ?? []), r]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const d of round % 2 ? [...ONE_WAY].reverse() : ONE_WAY) {
      await setDelay(d);
      if (want('direct')) rec('direct', d, await direct());
      if (want('floor')) rec('floor', d, await floor());
      if (want('plan')) rec('plan1', d, await plan(one, ['h1']));
      if (want('plan-no-ca')) rec('plan1noca', d, await plan(one, ['h1'], NO_CA.unset));
      if (want('plan8')) rec('plan8', d, await plan(eight, HOSTS));
      if (want('status')) rec('status1', d, await pairctl(one, ['status'], ['h1']));
      if (want('status8')) rec('status8', d, await pairctl(eight, ['status'], HOSTS));
      if (want('apply')) rec('apply', d, await addGuest());
      if (want('join')) rec('join', d, await observed(['guest-h1'], async () => ({ ...(await join1()), stdout: '', busyMs: 0, ownMs: 0 })));
      if (want('ansible') && round < ANSIBLE_ROUNDS) rec('ansible', d, await ansible());
    }
    console.log(`round ${round + 1}/${ROUNDS} done (load ${loadAvg1().toFixed(2)})`);
  }
  if (want('ansible')) spawnSync('ssh', ['-o', `ControlPath=${cp}/%h-%p-%r`, '-p', String(p1.port), '-O', 'exit', p1.host], { stdio: 'ignore' });
  if (readdirSync(cp).length > 1) throw new Error(`Ansible opened masters of its own: ${readdirSync(cp).join(', ')}`);

  // Cold start, no network: fresh processes, alternating.
  const pkg = join(dirname(INSTALLED!), '..', 'lib', 'node_modules', 'pairctl');
  const start = { node: [] as Timed[], nodeNoCa: [] as Timed[], version: [] as Timed[], lint: [] as Timed[] };
  for (let i = 0; i < (want('startup') ? STARTUP_RUNS : 0); i++) {
    start.node.push(timed('node', ['-e', '0']));
    start.nodeNoCa.push(timed('node', ['-e', '0'], NO_CA));
    start.version.push(timed('pairctl', ['--version'], { env: userEnv }));
    start.lint.push(timed('pairctl', ['lint', 'pair.yaml.example'], { env: userEnv, cwd: pkg }));
  }

  report(res, execCounts, start, resources.length);
  const out = process.env.BENCH_OUT ?? join(tmpdir(), `pairctl-bench-latency-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const raw = Object.fromEntries([...res].map(([k, rs]) => [k, rs.map(({ ms: wall, ownMs, busyMs, labMs, proxyMs, load, connections }) => ({ wall, ownMs, busyMs, labMs, proxyMs, load, connections }))]));
  writeFileSync(out, `${JSON.stringify({ rounds: ROUNDS, node: process.version, installed: INSTALLED, execCounts, runs: raw, startup: Object.fromEntries(Object.entries(start).map(([k, ts]) => [k, ts.map((x) => x.ms)])) }, null, 1)}\n`);
  console.log(`\nevery run (wall, own CPU, the machine's CPU, the lab machines' and the proxies' CPU, load, connections): ${out}`);
  await proxies.close();
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether a TCP connection to host:port is accepted now. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * The guest's join: the real ssh client in a pty (`script` gives it one, 100x30), from spawning it
 * until `marker` arrives in what it writes to the guest's terminal — the host's screen drawn.
 */
function joinUntil(marker: string, argv: string[]): Promise<{ ms: number; load: number }> {
  const load = loadAvg1();
  const cmd = `stty cols 100 rows 30; exec ${argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')}`;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let done = false;
    const timer = setTimeout(() => finish(new Error(`the guest's screen never showed ${marker} in ${DEADLINE_MS / 1000} s; it got:\n${out.slice(-2000)}`)), DEADLINE_MS);
    const finish = (err?: Error, took?: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGTERM');
      child.once('close', () => (err ? reject(err) : resolve({ ms: took!, load })));
    };
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('latin1');
      if (out.includes(marker)) finish(undefined, performance.now() - t0);
    });
    child.stderr.on('data', (b: Buffer) => (out += b.toString('latin1')));
    child.once('exit', (code) => {
      if (!done) finish(new Error(`the guest's ssh ended (${code}) before the screen showed ${marker}:\n${out.slice(-2000)}`));
    });
  });
}

/** sshd's count (DEBUG1 log) of connections and exec requests during `f`. */
async function sshdCounts(m: LabMachine, f: () => Promise<unknown>): Promise<{ connections: number; execs: number }> {
  const since = (await m.run("date '+%Y-%m-%d %H:%M:%S.%N'")).stdout.trim();
  await new Promise((r) => setTimeout(r, 50)); // journalctl's --since has microseconds; the clock must move on
  await f();
  let log = '';
  // Wait (up to 5 s) for the run's last lines to reach the journal: PAM's session close comes last.
  const end = Date.now() + 5000;
  do {
    log = (await m.run(`journalctl -t sshd -t sshd-session --no-pager -o cat --since ${JSON.stringify(since)}`)).stdout;
    if (/session closed/.test(log)) break;
    await new Promise((r) => setTimeout(r, 100));
  } while (Date.now() < end);
  return { connections: (log.match(/Accepted publickey for root/g) ?? []).length, execs: (log.match(/req exec/g) ?? []).length };
}

function report(res: Map<string, Run[]>, execCounts: Record<Delay, Record<string, { connections: number; execs: number }>>, start: Record<string, Timed[]>, resources: number): void {
  const get = (k: string, d: Delay) => res.get(`${k}|${d}`) ?? [];
  const wall = (k: string, d: Delay) => median(get(k, d).map((r) => r.ms));
  const cell = (k: string, d: Delay, cpu = false) => {
    const rs = get(k, d);
    if (rs.length === 0) return 'n/a';
    const w = rs.map((r) => r.ms);
    const loads = rs.map((r) => r.load);
    return `${ms(median(w))} [${Math.min(...w).toFixed(0)}-${Math.max(...w).toFixed(0)}]${cpu ? ` cpu ${ms(median(rs.map((r) => r.ownMs)))}` : ''} L${median(loads).toFixed(1)}`;
  };
  const connsOf = (k: string, d: Delay) => [...new Set(get(k, d).map((r) => r.connections))].join('/');
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const all = [...res.values()].flat().map((r) => r.load);
  console.log(
    `\npairctl at 0 and 50 ms RTT (delay proxy on loopback in front of each machine's sshd; the 0 ms column goes through the same proxy at 0 delay). ` +
      `median [min-max] over ${ROUNDS} rounds (Ansible ${Math.min(ANSIBLE_ROUNDS, ROUNDS)}), cpu = the command's own CPU (rusage), L = 1-min load average (median); ` +
      `load ${Math.min(...all).toFixed(2)}-${Math.max(...all).toFixed(2)} on ${availableParallelism()} cores. Host: ${GUESTS.length} guests, ${resources} resources.`,
  );
  const W = [50, 40, 40];
  const row = (a: string, b: string, c: string, tgt = '') => console.log(`| ${a.padEnd(W[0]!)} | ${b.padEnd(W[1]!)} | ${c.padEnd(W[2]!)} | ${tgt}`);
  row('what', '0 ms RTT', '50 ms RTT', 'target at 50 ms RTT: measured, verdict');
  row('-'.repeat(W[0]!), '-'.repeat(W[1]!), '-'.repeat(W[2]!), '---');
  const [Z, F] = ONE_WAY;
  const x = (k: string, ref: string, d: Delay) => wall(k, d) / wall(ref, d);
  const has = (...ks: string[]) => ks.every((k) => get(k, F).length > 0 && get(k, Z).length > 0);
  if (has('direct')) row('ssh h1 true, direct (no proxy), for reference', cell('direct', Z), cell('direct', F));
  if (has('floor')) row('floor: OpenSSH `ssh h1 true` through the proxy', cell('floor', Z), cell('floor', F));
  const planTarget = (k: string) =>
    has(k, 'floor') ? `<= 1.25x floor: ${x(k, 'floor', F).toFixed(2)}x (0 ms: ${x(k, 'floor', Z).toFixed(2)}x), ${verdict(x(k, 'floor', F) <= 1.25)}` : '';
  if (has('plan1')) row('pairctl plan, converged host', cell('plan1', Z, true), cell('plan1', F, true), planTarget('plan1'));
  if (has('plan1noca')) {
    row(`pairctl plan, converged host, without NODE_EXTRA_CA_CERTS${EXTRA_CA === undefined ? ' (not set here: same as above)' : ''}`, cell('plan1noca', Z, true), cell('plan1noca', F, true), `${planTarget('plan1noca')} (not what targets are judged on)`);
  }
  if (has('ansible', 'plan1')) {
    const r = (d: Delay) => wall('ansible', d) / wall('plan1', d);
    row('tuned ansible --check --diff (pipelining, warm ControlPersist)', cell('ansible', Z), cell('ansible', F), `pairctl >= 25x faster: ${r(F).toFixed(1)}x (0 ms: ${r(Z).toFixed(1)}x), ${verdict(r(F) >= 25)}`);
  }
  if (has('plan8', 'plan1')) row('pairctl plan, 8 hosts', cell('plan8', Z, true), cell('plan8', F, true), `<= 1.5x 1 host: ${x('plan8', 'plan1', F).toFixed(2)}x (0 ms: ${x('plan8', 'plan1', Z).toFixed(2)}x), ${verdict(x('plan8', 'plan1', F) <= 1.5)}`);
  const ac = (d: Delay) => execCounts[d]?.apply;
  if (has('apply', 'floor')) {
    const counted = ac(F);
    row('pairctl apply --yes adding one guest', cell('apply', Z, true), cell('apply', F, true),
      `<= 2x floor: ${x('apply', 'floor', F).toFixed(2)}x (0 ms: ${x('apply', 'floor', Z).toFixed(2)}x), ${verdict(x('apply', 'floor', F) <= 2)}; ` +
        `connections ${connsOf('apply', F)} (proxy, every run)` +
        (counted ? `, sshd: ${counted.connections} connection(s), ${counted.execs} exec(s): ${verdict(counted.connections === 1 && counted.execs <= 2)}` : ''));
  }
  if (has('join', 'floor')) {
    const joinBudget = wall('floor', F) + 50 + 50;
    row("guest's join: ssh spawned to host screen drawn", cell('join', Z), cell('join', F), `<= floor + 1 RTT + 50 ms = ${ms(joinBudget)}: ${ms(wall('join', F))}, ${verdict(wall('join', F) <= joinBudget)}`);
  }
  if (has('status1')) row('pairctl status, 1 host (session running)', cell('status1', Z, true), cell('status1', F, true));
  if (has('status8', 'status1')) row('pairctl status, 8 hosts (sessions running)', cell('status8', Z, true), cell('status8', F, true), `<= 1.5x 1 host: ${x('status8', 'status1', F).toFixed(2)}x (0 ms: ${x('status8', 'status1', Z).toFixed(2)}x), ${verdict(x('status8', 'status1', F) <= 1.5)}`);
  // What the delay adds to each figure, in round trips: (50 ms column - 0 ms column) / 50 ms.
  const rtts = (k: string) => ((wall(k, F) - wall(k, Z)) / (2 * F)).toFixed(1);
  const named: Array<[string, string]> = [['floor', 'floor'], ['plan', 'plan1'], ['plan without NODE_EXTRA_CA_CERTS', 'plan1noca'], ['8-host plan', 'plan8'], ['apply', 'apply'], ['join', 'join'], ['status', 'status1'], ['8-host status', 'status8']];
  console.log(`  added by 50 ms RTT, in round trips ((50 ms - 0 ms) / 50 ms, medians): ${named.filter(([, k]) => has(k)).map(([n, k]) => `${n} ${rtts(k)}`).join(', ')}`);
  // The whole machine's CPU during each run: on this bench the hosts are not other computers, their
  // sshd, PAM and probes run on the same cores as pairctl (and the delay proxies), so a run cannot
  // take less than that CPU divided by the cores.
  const busy = (k: string, d: Delay) => ms(median(get(k, d).map((r) => r.busyMs)));
  const cpuNamed = named.filter(([n, k]) => has(k) && k !== 'join' && !n.includes('without'));
  console.log(
    `  the whole machine's CPU per run (all ${availableParallelism()} cores, /proc/stat: pairctl or ssh, the lab machines' sshd, logins and probes, the delay proxies, and whatever else runs on the machine), medians 0 / 50 ms RTT: ` +
      cpuNamed.map(([n, k]) => `${n} ${busy(k, Z)} / ${busy(k, F)}`).join(', '),
  );
  // Where it went: the command itself (rusage), the lab machines (their cgroups), the delay proxies.
  const at = (k: string, d: Delay, f: (r: Run) => number | undefined) => {
    const xs = get(k, d).map(f).filter((v): v is number => v !== undefined);
    return xs.length > 0 ? median(xs) : undefined;
  };
  if (cpuNamed.some(([, k]) => at(k, F, (r) => r.labMs) !== undefined)) {
    console.log(
      `  of which, medians at 50 ms RTT (the command: its rusage; lab: every lab machine's cgroup, counted until the run's logins had ended; proxies: their process): ` +
        cpuNamed.map(([n, k]) => `${n}: ${k === 'floor' ? 'ssh' : 'pairctl'} ${ms(at(k, F, (r) => r.ownMs)!)}, lab ${ms(at(k, F, (r) => r.labMs)!)}, proxies ${ms(at(k, F, (r) => r.proxyMs)!)}`).join('; '),
    );
  }
  const lab8 = at('plan8', F, (r) => r.labMs);
  if (has('plan8', 'plan1') && lab8 !== undefined) {
    const own8 = at('plan8', F, (r) => r.ownMs)!;
    const px8 = at('plan8', F, (r) => r.proxyMs)!;
    const bound = (own8 + lab8 + px8) / availableParallelism();
    const login = has('floor') ? `; one login alone, the floor's \`ssh h1 true\`: ${ms(at('floor', F, (r) => r.labMs)!)}` : '';
    console.log(
      `  8-host plan: pairctl ${ms(own8)} + the ${HOSTS.length} lab machines ${ms(lab8)} (${ms(lab8 / HOSTS.length)} each${login}) + proxies ${ms(px8)} of CPU on ${availableParallelism()} cores ` +
        `take >= ${ms(bound)} however they are scheduled: ${(bound / wall('plan1', F)).toFixed(2)}x one host's plan before any round trip (target 1.5x). On a network each host spends its share on its own CPU.`,
    );
  }
  for (const d of ONE_WAY) {
    const c = execCounts[d];
    if (!c) continue;
    console.log(`  sshd's log at ${2 * d} ms RTT: plan ${c.plan!.connections} connection(s) / ${c.plan!.execs} exec(s); apply adding a guest ${c.apply!.connections} / ${c.apply!.execs}; status ${c.status!.connections} / ${c.status!.execs}`);
  }
  console.log(`  proxy's count of connections per run (all rounds): plan ${connsOf('plan1', F)}, 8-host plan ${connsOf('plan8', F)}, status ${connsOf('status1', F)}, 8-host status ${connsOf('status8', F)}, tuned Ansible ${connsOf('ansible', F) || 'n/a'} (its warm master)`);

  console.log(
    EXTRA_CA === undefined
      ? '  NODE_EXTRA_CA_CERTS is not set in this environment.'
      : `  This environment sets NODE_EXTRA_CA_CERTS=${EXTRA_CA}: node parses that CA bundle at every start. pairctl is measured with it, as the user's environment is, and the targets are judged on those rows; the "without" rows show what the variable costs.`,
  );
  if (start.node!.length === 0) return;
  const line = (label: string, ts: Timed[], target?: number) => {
    const w = ts.map((t) => t.ms);
    const m = median(w);
    console.log(`| ${label.padEnd(W[0]!)} | ${`${ms(m)} [${Math.min(...w).toFixed(0)}-${Math.max(...w).toFixed(0)}] cpu ${ms(median(ts.map((t) => t.ownMs)))} L${median(ts.map((t) => t.load)).toFixed(1)}`.padEnd(W[1]!)} | ${''.padEnd(W[2]!)} | ${target === undefined ? '' : `<= ${target} ms (at 0 ms): ${verdict(m <= target)}`}`);
  };
  console.log(`\ncold start, installed binary, no network (${start.node!.length} fresh processes each, alternating):`);
  line('node -e 0 (node alone)', start.node!);
  line('node -e 0, without NODE_EXTRA_CA_CERTS', start.nodeNoCa!);
  line('pairctl --version', start.version!, 80);
  line('pairctl lint pair.yaml.example', start.lint!, 120);
  // pairctl's own share: each run minus the same round's `node -e 0` without NODE_EXTRA_CA_CERTS
  // (same load, seconds apart): the installed bin starts node without it (scripts/bin-loader.cjs).
  const over = (ts: Timed[]) => {
    const d = ts.map((t, i) => t.ms - start.nodeNoCa![i]!.ms);
    return `${ms(median(d))} [${Math.min(...d).toFixed(0)} to ${Math.max(...d).toFixed(0)}]`;
  };
  console.log(`  over node's own start (paired with that round's node -e 0 without NODE_EXTRA_CA_CERTS, which is how the bin starts node): --version ${over(start.version!)}, lint ${over(start.lint!)}`);
  const ca = start.node!.map((t, i) => t.ms - start.nodeNoCa![i]!.ms);
  const caCpu = start.node!.map((t, i) => t.ownMs - start.nodeNoCa![i]!.ownMs);
  console.log(`  what NODE_EXTRA_CA_CERTS costs every node process (node -e 0 with it minus without, paired): ${ms(median(ca))} wall [${Math.min(...ca).toFixed(0)} to ${Math.max(...ca).toFixed(0)}], ${ms(median(caCpu))} cpu`);
}

const lab = await startLab({ machines: HOSTS });
try {
  await main(lab);
} finally {
  await lab.stop();
}
