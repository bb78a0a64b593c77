/**
 * A lab of real Linux machines for end-to-end tests: Debian copies of a cached rootfs, each
 * booted with systemd as PID 1 under systemd-nspawn, on a private test bridge
 * (br-pairtest, 10.213.5.0/24), reachable from this machine with the real `ssh` client.
 *
 * The recipe is the one measured in /work/shared/TESTING.md. Everything a lab starts is
 * recorded in a lease file (/run/pairctl-test/leases/<ip>, owner pid + start time) so that a
 * later lab can kill and clean up what a crashed run left behind; `stop()` and a best-effort
 * exit hook clean up by PID. Needs root.
 *
 * The Debian release (bookworm, trixie or forky) is a parameter: `startLab({ machines, release })`,
 * default `$PAIRCTL_TEST_RELEASE`, else bookworm; build-template.sh caches one rootfs per release.
 *
 *     const lab = await startLab({ machines: ['host', 'relay'], release: 'trixie' });
 *     await lab.machine('host').run('systemctl is-active ssh');
 *     // ssh -F lab.sshConfigFile host true
 *     await lab.stop();
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LabMachine {
  /** The alias used in lab.sshConfigFile (and the machine's hostname), e.g. 'host'. */
  name: string;
  /** Its address on the test bridge. */
  ip: string;
  /** PID (on this machine) of systemd, PID 1 inside the machine; for nsenter. */
  leaderPid: number;
  nspawnPid: number;
  /** Its rootfs copy on this machine (/var/lib/pairctl-test/pt-<random>). */
  rootDir: string;
  /** Runs `sh -c cmd` as root inside the machine via `nsenter -t leaderPid -a`. */
  run(cmd: string, opts?: { input?: string }): Promise<{ code: number; stdout: string; stderr: string }>;
}

/** A Debian release the lab can boot: 12, 13 and testing (TESTING.md lists their tmux/OpenSSH). */
export type Release = 'bookworm' | 'trixie' | 'forky';

/** Every release the lab supports, oldest first. */
export const RELEASES: readonly Release[] = ['bookworm', 'trixie', 'forky'];

/** The release a lab boots when none is given: $PAIRCTL_TEST_RELEASE, else bookworm. */
export function defaultRelease(): Release {
  const env = process.env.PAIRCTL_TEST_RELEASE;
  if (env === undefined || env === '') return 'bookworm';
  if (!(RELEASES as readonly string[]).includes(env)) {
    throw new Error(`PAIRCTL_TEST_RELEASE=${JSON.stringify(env)} is not one of ${RELEASES.join(', ')}`);
  }
  return env as Release;
}

/**
 * Who a connection to a lab machine stands for. Each role gets its own address on the bridge's
 * host side, because OpenSSH >= 9.8 (PerSourcePenalties) cuts every connection from an address
 * after a few failed logins from it: attacks must not lock out honest guests or pairctl.
 */
export type SourceRole = 'operator' | 'guest' | 'attacker';

/** Every source role, in the order their addresses are leased. */
export const SOURCE_ROLES: readonly SourceRole[] = ['operator', 'guest', 'attacker'];

/**
 * How many addresses each role gets. sshd blocks an address once its failed logins add up to
 * more than 15 s of penalty (5 s each, decaying in real time): the 5th refused login in a
 * burst is cut before the handshake, so a test that checks why each of many logins was refused
 * spreads them over the attacker's addresses (sourceIp('attacker', i)).
 */
export const SOURCE_ADDRESSES: Readonly<Record<SourceRole, number>> = { operator: 1, guest: 1, attacker: 4 };

export interface Lab {
  /** The Debian release every machine of this lab runs. */
  release: Release;
  /**
   * This lab's own address on the bridge's host side for a role, to bind connections to
   * (`ssh -b`, `-o BindAddress=`). lab.sshConfigFile binds the operator's. `n` picks one of
   * the role's SOURCE_ADDRESSES (modulo their number); default the first.
   */
  sourceIp(role: SourceRole, n?: number): string;
  /** Temp dir holding keys, ssh config, known_hosts and each machine's console log. */
  dir: string;
  /** ssh client config: one `Host <alias>` block per machine, bound to sourceIp('operator'). */
  sshConfigFile: string;
  /** Each machine's real host keys, as plain `<ip> <type> <key>` lines. */
  knownHostsFile: string;
  /** Private ed25519 key authorized for root and for user `admin` on every machine. */
  adminKeyFile: string;
  machine(name: string): LabMachine;
  /** Idempotent: TERM each nspawn by PID (KILL after 10 s), rmdir cgroups, delete copies and the dir. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Constants

const DEFAULT_BRIDGE = 'br-pairtest';
const SUBNET = '10.213.5';
const PREFIX_LEN = 24;
const GATEWAY = `${SUBNET}.1`;
const FIRST_HOST = 10;
const LAST_HOST = 254;
const STATE_DIR = '/run/pairctl-test';
const LEASE_DIR = `${STATE_DIR}/leases`;
const LOCK_FILE = `${STATE_DIR}/lock`;
const MACHINES_DIR = '/var/lib/pairctl-test';
const LAB_DIR_PREFIX = 'pairctl-lab-';
const MACHINE_NAME_RE = /^pt-[0-9a-f]{8}$/;
const ALIAS_RE = /^[a-z][a-z0-9-]{0,30}$/;
const CONTAINER_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  TERM: 'dumb',
};
const STOP_TERM_TIMEOUT_MS = 10_000;
const BOOT_TIMEOUT_MS = 90_000;
const REQUIRED_TOOLS = [
  'systemd-nspawn', 'debootstrap', 'zstd', 'ip', 'nsenter', 'tar', 'chroot', 'ssh', 'ssh-keygen', 'flock', 'bash', 'mount',
];

const verbose = process.env.PAIRCTL_LAB_QUIET !== '1';
const log = (msg: string): void => {
  if (verbose) console.log(`[lab] ${msg}`);
};

// ---------------------------------------------------------------------------------------------
// Availability

/** In CI (CI=true) throws if the lab cannot run; otherwise returns a reason to skip (not root, missing tools) or undefined. */
export function labUnavailableReason(): string | undefined {
  const reason = computeUnavailableReason();
  if (reason !== undefined && process.env.CI === 'true') {
    throw new Error(`the pairctl test lab must run in CI but cannot: ${reason}`);
  }
  return reason;
}

function computeUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root (systemd-nspawn, bridges, cgroups)';
  const missing = REQUIRED_TOOLS.filter((t) => findOnPath(t) === undefined);
  if (missing.length > 0) return `missing tools: ${missing.join(', ')}`;
  if (cgroupRoots() === undefined) return 'no usable cgroup filesystem under /sys/fs/cgroup';
  return undefined;
}

function findOnPath(tool: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, tool);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * The cgroup hierarchies a machine gets its own directory in: on a hybrid (v1 + v2) host the
 * named `systemd` hierarchy and `unified` (as TESTING.md measured); on a pure v2 host the root.
 */
function cgroupRoots(): string[] | undefined {
  if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) return ['/sys/fs/cgroup'];
  if (!fs.existsSync('/sys/fs/cgroup/systemd/cgroup.procs')) return undefined;
  return ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'].filter((r) => fs.existsSync(`${r}/cgroup.procs`));
}

// ---------------------------------------------------------------------------------------------
// Processes

interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(
  file: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    // Its own process group: `kill 0` (or `kill -9 $EMPTY_PID`, which systemctl's MainPID=0
    // becomes) run inside a machine signals the caller's process group, and nsenter'd
    // processes share it with this test runner: measured, it killed the whole CI run.
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    }
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const sigNo = signal ? (os.constants.signals[signal] ?? 0) : 0;
      resolve({
        code: code ?? 128 + sigNo,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {
      /* the command may exit without reading its input */
    });
    child.stdin.end(opts.input ?? '');
  });
}

async function mustExec(file: string, args: string[], opts: Parameters<typeof exec>[2] = {}): Promise<string> {
  const r = await exec(file, args, opts);
  if (r.code !== 0) {
    throw new Error(`${file} ${args.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

interface ProcStat {
  state: string;
  ppid: number;
  start: string;
}

function procStat(pid: number): ProcStat | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0] ?? '?', ppid: Number(f[1]), start: f[19] ?? '' };
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie; with `start`, also the same process (not a reused PID). */
function isAlive(pid: number | undefined, start?: string): boolean {
  if (!pid || pid <= 1) return false;
  const st = procStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return start === undefined || st.start === start;
}

function cmdline(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** The nspawn process of `machine`, checked by its command line so a reused PID is never signalled. */
function isNspawnOf(pid: number | undefined, machine: string, start?: string): pid is number {
  if (!isAlive(pid, start)) return false;
  const argv = cmdline(pid!);
  return (argv[0] ?? '').endsWith('systemd-nspawn') && argv.includes(`--machine=${machine}`);
}

// ---------------------------------------------------------------------------------------------
// Cgroups

function cgroupDirs(machine: string): string[] {
  return (cgroupRoots() ?? []).map((r) => path.join(r, machine));
}

function subdirs(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => path.join(dir, e.name));
  } catch {
    return [];
  }
}

/** Every PID in a cgroup tree. */
function cgroupPids(dir: string): number[] {
  const pids: number[] = [];
  const walk = (d: string): void => {
    try {
      for (const line of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n')) {
        const n = Number(line);
        if (n > 0) pids.push(n);
      }
    } catch {
      return;
    }
    for (const s of subdirs(d)) walk(s);
  };
  walk(dir);
  return pids;
}

/** rmdir a cgroup tree bottom-up. True when it is gone. */
function removeCgroupTree(dir: string): boolean {
  if (!fs.existsSync(dir)) return true;
  for (const s of subdirs(dir)) removeCgroupTree(s);
  try {
    fs.rmdirSync(dir);
  } catch {
    /* busy: reported by the caller */
  }
  return !fs.existsSync(dir);
}

// ---------------------------------------------------------------------------------------------
// Leases: one file per address, created with O_EXCL under a kernel lock

interface Lease {
  ownerPid: number;
  ownerStart: string;
  ip: string;
  alias: string;
  machine: string;
  rootDir: string;
  labDir: string;
  nspawnPid?: number;
  nspawnStart?: string;
  /**
   * Set on the lease of a source address (an address this lab added to the bridge's host side,
   * not a machine). Its `machine` is a name no cgroup or copy has, so older lab code that
   * reclaims it touches nothing but the lease.
   */
  source?: { role: SourceRole; n: number; bridge: string };
}

const myStart = procStat(process.pid)?.start ?? '';

function leasePath(ip: string): string {
  return path.join(LEASE_DIR, ip);
}

function readLease(file: string): Lease | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Lease;
  } catch {
    return undefined;
  }
}

function writeLeaseUpdate(lease: Lease): void {
  const tmp = path.join(LEASE_DIR, `.${lease.ip}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(lease) + '\n');
  fs.renameSync(tmp, leasePath(lease.ip));
}

/**
 * Runs fn holding an exclusive flock on LOCK_FILE. The lock is held by a `flock … cat` child
 * that exits when its stdin closes, so the kernel releases it even if this process dies.
 */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(LEASE_DIR, { recursive: true });
  const holder = spawn('flock', ['-x', '-w', '300', LOCK_FILE, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((r) => holder.on('close', () => r()));
  let stderr = '';
  holder.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    holder.stdout.on('data', (b: Buffer) => {
      buf += b.toString();
      if (buf.includes('locked')) resolve();
    });
    holder.on('error', reject);
    holder.on('close', (code) => reject(new Error(`could not lock ${LOCK_FILE} (flock exited ${code}): ${stderr.trim()}`)));
  });
  try {
    return await fn();
  } finally {
    holder.stdin.end();
    await exited;
  }
}

/**
 * Kills and removes a machine whose owner is gone (or that nobody owns): TERM its nspawn,
 * KILL whatever is left in its cgroups, rmdir them, delete its copy and its lab dir.
 */
async function reclaim(l: { machine: string; nspawnPid?: number; nspawnStart?: string; rootDir?: string; labDir?: string }): Promise<void> {
  const cgs = cgroupDirs(l.machine);
  const nspawns = new Set<number>();
  if (isNspawnOf(l.nspawnPid, l.machine, l.nspawnStart)) nspawns.add(l.nspawnPid);
  for (const cg of cgs) for (const pid of cgroupPids(cg)) if (isNspawnOf(pid, l.machine)) nspawns.add(pid);
  const busy = nspawns.size > 0 || cgs.some((cg) => cgroupPids(cg).length > 0);
  if (busy) log(`reclaiming ${l.machine} left by a dead run (nspawn ${[...nspawns].join(',') || '-'})`);
  for (const pid of nspawns) signal(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_TERM_TIMEOUT_MS;
  while ([...nspawns].some((p) => isAlive(p)) && Date.now() < deadline) await sleep(50);
  await killCgroups(cgs);
  for (const cg of cgs) removeCgroupTree(cg);
  removeNspawnRuntimeDirs(l.machine);
  if (l.rootDir) removeCopy(l.rootDir);
  if (l.labDir) removeLabDir(l.labDir);
}

/** KILL every process left in the cgroups until they are empty (at most ~5 s). */
async function killCgroups(cgs: string[]): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const pids = cgs.flatMap(cgroupPids).filter((p) => isAlive(p));
    if (pids.length === 0 || Date.now() > deadline) return;
    for (const p of pids) signal(p, 'SIGKILL');
    await sleep(50);
  }
}

function killCgroupsSync(cgs: string[]): void {
  const deadline = Date.now() + 3_000;
  for (;;) {
    const pids = cgs.flatMap(cgroupPids).filter((p) => isAlive(p));
    if (pids.length === 0 || Date.now() > deadline) return;
    for (const p of pids) signal(p, 'SIGKILL');
    sleepSync(50);
  }
}

/** nspawn leaves empty per-machine dirs under /run/systemd/nspawn when /run is not a tmpfs. */
function removeNspawnRuntimeDirs(machine: string): void {
  for (const d of ['/run/systemd/nspawn/propagate', '/run/systemd/nspawn/unix-export', '/run/systemd/nspawn/incoming']) {
    try {
      fs.rmdirSync(path.join(d, machine));
    } catch {
      /* absent or not empty */
    }
  }
}

function mountPoints(): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\040/g, ' '));
}

/** Deletes a rootfs copy (and nspawn's lock file beside it), refusing if anything is still mounted under it. */
function removeCopy(rootDir: string): void {
  const resolved = path.resolve(rootDir);
  const name = path.basename(resolved);
  if (path.dirname(resolved) !== MACHINES_DIR || !MACHINE_NAME_RE.test(name)) {
    throw new Error(`refusing to delete ${rootDir}: not a lab machine copy`);
  }
  const mounts = mountPoints().filter((mp) => mp === resolved || mp.startsWith(resolved + '/'));
  if (mounts.length > 0) throw new Error(`refusing to delete ${rootDir}: still mounted: ${mounts.join(', ')}`);
  try {
    // nspawn's image lock, left behind only when nspawn was killed
    const st = fs.statSync(resolved);
    fs.rmSync(`/run/systemd/nspawn/locks/inode-${st.dev}:${st.ino}`, { force: true });
  } catch {
    /* no copy */
  }
  fs.rmSync(resolved, { recursive: true, force: true });
  fs.rmSync(path.join(MACHINES_DIR, `.#${name}.lck`), { force: true });
}

/**
 * Machine copies live on a tmpfs mounted at MACHINES_DIR: unpacking ~11k files onto this
 * VM's ext4 took 5-27 s per copy (under load), onto tmpfs ~1 s. Mounted once and left in
 * place, like the bridge; only while no lab is using the directory (a mount must not hide
 * live copies). PAIRCTL_LAB_TMPFS=0 keeps copies on disk.
 */
async function ensureMachinesDir(live: Lease[]): Promise<void> {
  fs.mkdirSync(MACHINES_DIR, { recursive: true, mode: 0o755 });
  if (process.env.PAIRCTL_LAB_TMPFS === '0') return;
  if (mountPoints().includes(MACHINES_DIR)) return;
  if (live.length > 0 || fs.readdirSync(MACHINES_DIR).length > 0) return;
  await mustExec('mount', ['-t', 'tmpfs', '-o', 'mode=0755,size=50%', 'pairctl-test', MACHINES_DIR]);
}

function removeLabDir(dir: string): void {
  const resolved = path.resolve(dir);
  if (path.dirname(resolved) !== path.resolve(os.tmpdir()) || !path.basename(resolved).startsWith(LAB_DIR_PREFIX)) return;
  fs.rmSync(resolved, { recursive: true, force: true });
}

/**
 * Under the lock: reclaims every lease whose owner is dead, then every machine copy and
 * cgroup dir that no live lease names (e.g. left by a run killed mid-setup).
 */
async function reclaimLeftovers(): Promise<Lease[]> {
  const live: Lease[] = [];
  for (const f of fs.readdirSync(LEASE_DIR)) {
    const file = path.join(LEASE_DIR, f);
    if (f.startsWith('.')) {
      // a temp file of an update; stale if its writer is dead
      const pid = Number(f.split('.')[2]);
      if (!isAlive(pid)) fs.rmSync(file, { force: true });
      continue;
    }
    const lease = readLease(file);
    if (lease && isAlive(lease.ownerPid, lease.ownerStart)) {
      live.push(lease);
      continue;
    }
    try {
      if (lease?.source) await removeSourceAddress(lease.source.bridge, lease.ip);
      else if (lease) await reclaim(lease);
      fs.rmSync(file, { force: true });
    } catch (e) {
      // keep the lease: its address stays reserved until a later run manages the cleanup
      console.warn(`[lab] could not reclaim ${lease?.machine ?? file}: ${String(e)}`);
      if (lease) live.push(lease);
    }
  }
  const owned = new Set(live.map((l) => l.machine));
  const orphans = new Set<string>();
  for (const root of [MACHINES_DIR, ...(cgroupRoots() ?? [])]) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(root);
    } catch {
      /* absent */
    }
    for (const n of names) {
      const m = /^\.#(pt-[0-9a-f]{8})\.lck$/.exec(n)?.[1] ?? n; // nspawn's lock file beside a copy
      if (MACHINE_NAME_RE.test(m) && !owned.has(m)) orphans.add(m);
    }
  }
  for (const machine of orphans) {
    try {
      await reclaim({ machine, rootDir: path.join(MACHINES_DIR, machine) });
    } catch (e) {
      console.warn(`[lab] could not reclaim ${machine}: ${String(e)}`);
    }
  }
  return live;
}

/**
 * Under the lock: removes source addresses (the /32s a lab adds) that no live lease names,
 * e.g. left by a run killed before its lease was written or after it was reclaimed.
 */
async function reclaimOrphanSources(bridge: string, live: Lease[]): Promise<void> {
  const leased = new Set(live.filter((l) => l.source).map((l) => l.ip));
  for (const ip of await bridgeAddresses(bridge, true)) {
    if (ip !== GATEWAY && !leased.has(ip)) {
      log(`removing source address ${ip} left on ${bridge} by a dead run`);
      await removeSourceAddress(bridge, ip);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Host network

async function ensureBridge(bridge: string): Promise<void> {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(bridge)) throw new Error(`bad bridge name ${JSON.stringify(bridge)}`);
  // The subnet may live on one bridge only, or routing to the machines breaks.
  const elsewhere = (await mustExec('ip', ['-4', '-o', 'addr', 'show', 'to', `${SUBNET}.0/${PREFIX_LEN}`]))
    .split('\n')
    .map((l) => l.split(/\s+/)[1] ?? '')
    .filter((dev) => dev && dev !== bridge);
  if (elsewhere.length > 0) {
    throw new Error(`the test subnet ${SUBNET}.0/${PREFIX_LEN} is already on ${elsewhere.join(', ')}; a lab cannot also use bridge ${bridge}`);
  }
  if ((await exec('ip', ['link', 'show', 'dev', bridge])).code !== 0) {
    await mustExec('ip', ['link', 'add', bridge, 'type', 'bridge']);
  }
  const addrs = await mustExec('ip', ['-4', '-o', 'addr', 'show', 'dev', bridge]);
  if (!addrs.includes(` ${GATEWAY}/${PREFIX_LEN} `)) {
    await mustExec('ip', ['addr', 'add', `${GATEWAY}/${PREFIX_LEN}`, 'dev', bridge]);
  }
  await pinBridgeMac(bridge);
  await mustExec('ip', ['link', 'set', bridge, 'up']);
}

/**
 * A Linux bridge whose MAC was never set takes the lowest MAC of its ports, so it changes as
 * machines (veths) come and go, and machines that cached the old one for the bridge's
 * addresses send into the void: measured here, a lab's connections from its source
 * addresses timed out mid-file when another lab started. Setting the MAC once (to the
 * current one, so nothing cached now goes stale) freezes it (addr_assign_type 3).
 */
async function pinBridgeMac(bridge: string): Promise<void> {
  const sys = `/sys/class/net/${bridge}`;
  if (fs.readFileSync(`${sys}/addr_assign_type`, 'utf8').trim() === '3') return;
  const mac = fs.readFileSync(`${sys}/address`, 'utf8').trim();
  await mustExec('ip', ['link', 'set', 'dev', bridge, 'address', mac]);
}

/** The test subnet's IPv4 addresses on the bridge; with onlyHost, just the /32s labs add as source addresses. */
async function bridgeAddresses(bridge: string, onlyHost = false): Promise<string[]> {
  const r = await exec('ip', ['-4', '-o', 'addr', 'show', 'dev', bridge]);
  if (r.code !== 0) return [];
  const out: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = / inet ([0-9.]+)\/([0-9]+) /.exec(line);
    if (!m || !m[1]!.startsWith(`${SUBNET}.`)) continue;
    if (!onlyHost || m[2] === '32') out.push(m[1]!);
  }
  return out;
}

/**
 * A /32 adds no route: the machines still reach this side through the gateway's /24, and
 * answer the extra address on the shared link (ARP), so a connection bound to it just works.
 */
async function addSourceAddress(bridge: string, ip: string): Promise<void> {
  await mustExec('ip', ['addr', 'add', `${ip}/32`, 'dev', bridge]);
}

async function removeSourceAddress(bridge: string, ip: string): Promise<void> {
  const r = await exec('ip', ['addr', 'del', `${ip}/32`, 'dev', bridge]);
  // gone already (or the bridge is) is fine; anything else keeps the lease
  if (r.code !== 0 && (await bridgeAddresses(bridge, true)).includes(ip)) {
    throw new Error(`ip addr del ${ip}/32 dev ${bridge} exited ${r.code}: ${r.stderr.trim()}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Template

async function templateTarball(release: Release): Promise<string> {
  const script = fileURLToPath(new URL('./build-template.sh', import.meta.url));
  const out = await mustExec('bash', [script, release], { timeoutMs: 15 * 60_000 });
  const tarball = out.trim().split('\n').pop() ?? '';
  if (!tarball || !fs.existsSync(tarball)) throw new Error(`build-template.sh printed no tarball: ${out}`);
  return tarball;
}

// ---------------------------------------------------------------------------------------------
// Machines

interface Timings {
  unpackMs: number;
  setupMs: number;
  bootMs: number;
  sshMs: number;
}

class Machine implements LabMachine {
  leaderPid = 0;
  nspawnPid = 0;
  readonly rootDir: string;
  readonly timings: Timings = { unpackMs: 0, setupMs: 0, bootMs: 0, sshMs: 0 };
  hostKeys: string[] = [];
  private exitPromise: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly ip: string,
    readonly machineName: string,
    readonly lease: Lease,
    private readonly bridge: string,
    private readonly labDir: string,
    private readonly release: Release,
  ) {
    this.rootDir = lease.rootDir;
  }

  get logFile(): string {
    return path.join(this.labDir, `${this.name}.console.log`);
  }

  async run(cmd: string, opts: { input?: string } = {}): Promise<ExecResult> {
    if (!isAlive(this.leaderPid)) throw new Error(`machine ${this.name} is not running`);
    return exec('nsenter', ['-t', String(this.leaderPid), '-a', '/bin/sh', '-c', cmd], {
      input: opts.input,
      env: CONTAINER_ENV,
    });
  }

  /** Unpacks the template and makes the copy this machine: keys, machine id, network, accounts. */
  async prepare(tarball: string, adminPub: string, hosts: string): Promise<void> {
    const t0 = Date.now();
    await fsp.mkdir(this.rootDir); // fails if it exists: names are unique and leftovers reclaimed
    await mustExec('tar', ['--numeric-owner', '--xattrs', '--acls', '-I', 'zstd', '-xf', tarball, '-C', this.rootDir]);
    this.timings.unpackMs = Date.now() - t0;

    const t1 = Date.now();
    const r = (p: string): string => path.join(this.rootDir, p);
    for (const f of await fsp.readdir(r('etc/ssh'))) {
      if (f.startsWith('ssh_host_')) await fsp.rm(r(`etc/ssh/${f}`));
    }
    await fsp.rm(r('etc/machine-id'), { force: true });
    await fsp.writeFile(r('etc/hostname'), `${this.name}\n`);
    await fsp.writeFile(r('etc/hosts'), hosts);
    await fsp.mkdir(r('etc/systemd/network'), { recursive: true });
    await fsp.writeFile(
      r('etc/systemd/network/10-host0.network'),
      `[Match]\nName=host0\n\n[Network]\nAddress=${this.ip}/${PREFIX_LEN}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n`,
    );
    await fsp.mkdir(r('root/.ssh'), { recursive: true, mode: 0o700 });
    await fsp.writeFile(r('root/.ssh/authorized_keys'), adminPub, { mode: 0o600 });
    await fsp.mkdir(r('etc/sudoers.d'), { recursive: true });
    await fsp.writeFile(r('etc/sudoers.d/admin'), 'admin ALL=(ALL:ALL) NOPASSWD: ALL\n', { mode: 0o440 });
    const script = [
      'set -e',
      'chmod 700 /root/.ssh; chmod 600 /root/.ssh/authorized_keys',
      'ssh-keygen -A >/dev/null',
      'systemd-machine-id-setup >/dev/null 2>&1',
      'useradd -m -s /bin/bash -G sudo admin',
      // '*' not '!': a '!' password refuses key logins too when sshd runs with UsePAM no.
      "usermod -p '*' admin",
      'install -d -m 700 -o admin -g admin /home/admin/.ssh',
      'install -m 600 -o admin -g admin /root/.ssh/authorized_keys /home/admin/.ssh/authorized_keys',
    ].join('\n');
    await mustExec('chroot', [this.rootDir, '/bin/sh', '-c', script], { env: CONTAINER_ENV });
    // Every key the machine serves: OpenSSH 10.6 (forky) adds ssh-mldsa44-ed25519, which older
    // clients skip in known_hosts and newer ones may prefer.
    for (const f of (await fsp.readdir(r('etc/ssh'))).filter((n) => /^ssh_host_\w+_key\.pub$/.test(n)).sort()) {
      const pub = (await fsp.readFile(r(`etc/ssh/${f}`), 'utf8')).trim().split(/\s+/);
      this.hostKeys.push(`${this.ip} ${pub[0]} ${pub[1]}`);
    }
    this.timings.setupMs = Date.now() - t1;
  }

  /** Boots the copy in its own cgroup and waits for systemd to be running and sshd to answer. */
  async boot(): Promise<void> {
    const t0 = Date.now();
    const cgs = cgroupDirs(this.machineName);
    const script = [
      'root=$1 machine=$2 bridge=$3; shift 3',
      'for d in "$@"; do mkdir -p "$d" && echo $$ > "$d/cgroup.procs" || exit 97; done',
      'exec systemd-nspawn -D "$root" -b --machine="$machine" --network-bridge="$bridge" --register=no --keep-unit --console=passive',
    ].join('\n');
    const logFd = fs.openSync(this.logFile, 'a');
    let child;
    try {
      child = spawn('sh', ['-c', script, 'sh', this.rootDir, this.machineName, this.bridge, ...cgs], {
        stdio: ['ignore', logFd, logFd],
        detached: false,
        env: { ...process.env, SYSTEMD_COLORS: '0', ...nspawnEnv(this.release) },
      });
    } finally {
      fs.closeSync(logFd);
    }
    child.on('error', (e) => console.warn(`[lab] ${this.name}: spawning systemd-nspawn: ${String(e)}`));
    if (!child.pid) throw new Error(`could not spawn systemd-nspawn for ${this.name}`);
    this.nspawnPid = child.pid;
    let exitCode: number | null | undefined;
    this.exitPromise = new Promise((resolve) =>
      child.on('exit', (code, sig) => {
        exitCode = code ?? (sig ? 128 + (os.constants.signals[sig] ?? 0) : -1);
        resolve();
      }),
    );
    Object.assign(this.lease, { nspawnPid: child.pid, nspawnStart: procStat(child.pid)?.start });
    writeLeaseUpdate(this.lease);

    const deadline = t0 + BOOT_TIMEOUT_MS;
    const fail = (what: string): Error =>
      new Error(`machine ${this.name} (${this.machineName}): ${what}\n--- ${this.logFile} (tail) ---\n${this.logTail()}`);
    const ensureRunning = (): void => {
      if (exitCode !== undefined) throw fail(`systemd-nspawn exited with ${exitCode}`);
      if (Date.now() > deadline) throw fail('timed out booting');
    };

    // The leader: nspawn's child that is PID 1 in its namespace and has exec'd systemd.
    while (!this.leaderPid) {
      ensureRunning();
      for (const c of childrenOf(this.nspawnPid)) {
        if (nsPidInner(c) === 1 && readComm(c) === 'systemd') this.leaderPid = c;
      }
      if (!this.leaderPid) await sleep(20);
    }

    // systemd inside: running (or degraded).
    for (;;) {
      ensureRunning();
      const r = await exec('nsenter', ['-t', String(this.leaderPid), '-a', 'systemctl', 'is-system-running', '--wait'], {
        env: CONTAINER_ENV,
        timeoutMs: Math.max(1_000, deadline - Date.now()),
      });
      const state = r.stdout.trim();
      if (state === 'running') break;
      if (state === 'degraded') {
        const failed = await this.run('systemctl --failed --no-legend --plain');
        console.warn(`[lab] ${this.name} booted degraded; failed units:\n${failed.stdout.trim()}`);
        break;
      }
      await sleep(100); // the bus is not up yet, or it is still starting
    }
    this.timings.bootMs = Date.now() - t0;

    // sshd answers on the bridge. The address may have been an earlier machine's: this host's
    // neighbour entry for it then still names that machine's MAC, and the kernel sends there
    // until the entry fails (STALE → DELAY 5 s → 3 probes → FAILED; measured: +8.4 s for every
    // reused address, 25–50 s under load). Forget it first, so the first ARP finds this one.
    await exec('ip', ['neigh', 'flush', 'to', this.ip, 'dev', this.bridge]);
    const t1 = Date.now();
    while (!(await sshBanner(this.ip))) {
      ensureRunning();
      await sleep(50);
    }
    this.timings.sshMs = Date.now() - t1;
  }

  logTail(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-30).join('\n');
    } catch {
      return '(no log)';
    }
  }

  async stop(): Promise<void> {
    const cgs = cgroupDirs(this.machineName);
    if (isAlive(this.nspawnPid)) {
      signal(this.nspawnPid, 'SIGTERM');
      const deadline = Date.now() + STOP_TERM_TIMEOUT_MS;
      while (isAlive(this.nspawnPid) && Date.now() < deadline) await sleep(50);
      if (isAlive(this.nspawnPid)) {
        console.warn(`[lab] ${this.name}: nspawn ${this.nspawnPid} ignored SIGTERM for 10 s; killing`);
        signal(this.nspawnPid, 'SIGKILL');
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.exitPromise, new Promise<void>((r) => (timer = setTimeout(r, 5_000)))]);
      clearTimeout(timer);
    }
    await killCgroups(cgs);
    this.cleanupFiles(cgs);
  }

  /** exit-hook variant: no event loop, so poll synchronously. */
  stopSync(): void {
    const cgs = cgroupDirs(this.machineName);
    if (isAlive(this.nspawnPid)) {
      signal(this.nspawnPid, 'SIGTERM');
      const deadline = Date.now() + STOP_TERM_TIMEOUT_MS;
      while (isAlive(this.nspawnPid) && Date.now() < deadline) sleepSync(50);
      signal(this.nspawnPid, 'SIGKILL');
    }
    killCgroupsSync(cgs);
    this.cleanupFiles(cgs);
  }

  private cleanupFiles(cgs: string[]): void {
    const problems: string[] = [];
    for (const cg of cgs) {
      let gone = removeCgroupTree(cg);
      for (let i = 0; !gone && i < 40; i++) {
        sleepSync(50); // a cgroup may stay busy for a moment after its last process exits
        gone = removeCgroupTree(cg);
      }
      if (!gone) problems.push(`cgroup ${cg} still busy (pids ${cgroupPids(cg).join(',')})`);
    }
    removeNspawnRuntimeDirs(this.machineName);
    try {
      removeCopy(this.rootDir);
    } catch (e) {
      problems.push(String(e));
    }
    // The lease goes last: while it exists, nobody else takes this address or sweeps this machine.
    if (problems.length === 0) fs.rmSync(leasePath(this.ip), { force: true });
    if (problems.length > 0) throw new Error(`stopping ${this.name}: ${problems.join('; ')}`);
  }
}

/**
 * systemd >= 258 (forky ships 262) refuses this VM's hybrid cgroup hierarchy ("Detected
 * unsupported legacy cgroup hierarchy"); nspawn then has to give it a unified one (TESTING.md).
 * Older releases boot as measured, on the hybrid hierarchy.
 */
function nspawnEnv(release: Release): Record<string, string> {
  return release === 'forky' ? { SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1' } : {};
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      const s = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8');
      for (const c of s.trim().split(/\s+/)) if (c) out.push(Number(c));
    }
  } catch {
    /* gone */
  }
  return out;
}

function nsPidInner(pid: number): number | undefined {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:'));
    const ids = (line ?? '').split(/\s+/).slice(1).filter(Boolean);
    return ids.length > 1 ? Number(ids[ids.length - 1]) : undefined;
  } catch {
    return undefined;
  }
}

function readComm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** True when something on ip:22 sends an SSH banner. */
function sshBanner(ip: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: ip, port: 22 });
    let buf = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1_000, () => done(false));
    sock.on('data', (b: Buffer) => {
      buf += b.toString('latin1');
      if (buf.includes('\n')) done(buf.startsWith('SSH-'));
    });
    sock.on('error', () => done(false));
    sock.on('close', () => done(buf.startsWith('SSH-')));
  });
}

// ---------------------------------------------------------------------------------------------
// Lab

const liveLabs = new Set<LabImpl>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const cleanupSync = (): void => {
    for (const lab of liveLabs) lab.stopSync();
  };
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      cleanupSync();
      if (process.listenerCount(sig) === 1) {
        // We were the only handler: restore the default action (die by the signal).
        process.removeListener(sig, handler);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, handler);
  }
}

class LabImpl implements Lab {
  readonly sshConfigFile: string;
  readonly knownHostsFile: string;
  readonly adminKeyFile: string;
  readonly machines: Machine[] = [];
  /** Source address leases, by role, once taken. */
  readonly sources = new Map<SourceRole, Lease[]>();
  private stopping: Promise<void> | undefined;
  private stopped = false;

  constructor(
    readonly dir: string,
    readonly release: Release,
    private readonly bridge: string,
  ) {
    this.sshConfigFile = path.join(dir, 'ssh_config');
    this.knownHostsFile = path.join(dir, 'known_hosts');
    this.adminKeyFile = path.join(dir, 'admin_ed25519');
  }

  sourceIp(role: SourceRole, n = 0): string {
    const ls = this.sources.get(role) ?? [];
    if (ls.length === 0) throw new Error(`no source address for ${JSON.stringify(role)} (roles: ${SOURCE_ROLES.join(', ')})`);
    if (!Number.isInteger(n) || n < 0) throw new Error(`sourceIp: bad index ${n}`);
    return ls[n % ls.length]!.ip;
  }

  machine(name: string): LabMachine {
    const m = this.machines.find((x) => x.name === name);
    if (!m) throw new Error(`no machine ${JSON.stringify(name)} in this lab (have: ${this.machines.map((x) => x.name).join(', ')})`);
    return m;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const t0 = Date.now();
      const results = await Promise.allSettled(this.machines.map((m) => m.stop()));
      // Addresses after machines: nothing may still be connected from them.
      for (const l of [...this.sources.values()].flat()) {
        try {
          await removeSourceAddress(this.bridge, l.ip);
          fs.rmSync(leasePath(l.ip), { force: true });
        } catch (e) {
          results.push({ status: 'rejected', reason: e });
        }
      }
      liveLabs.delete(this);
      this.stopped = true;
      const errors = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
      if (errors.length === 0) removeLabDir(this.dir);
      if (this.machines.length > 0) log(`stopped ${this.machines.map((m) => m.name).join(', ')} in ${secs(Date.now() - t0)}`);
      if (errors.length > 0) throw new Error(`lab stop left things behind:\n${errors.join('\n')}`);
    })();
    return this.stopping;
  }

  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    liveLabs.delete(this);
    for (const m of this.machines) if (isAlive(m.nspawnPid)) signal(m.nspawnPid, 'SIGTERM'); // all at once
    for (const m of this.machines) {
      try {
        m.stopSync();
      } catch {
        /* best effort; the next startLab reclaims what is left */
      }
    }
    for (const l of [...this.sources.values()].flat()) {
      const r = spawnSync('ip', ['addr', 'del', `${l.ip}/32`, 'dev', this.bridge], { stdio: 'ignore' });
      if (r.status === 0) fs.rmSync(leasePath(l.ip), { force: true }); // else the next startLab reclaims it
    }
    removeLabDir(this.dir);
  }
}

/** Like Promise.all, but settles only when every promise has (so a cleanup never races a step still running). */
async function allOrFirstError(ps: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(ps);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

function sshConfigValue(v: string): string {
  if (/["\n]/.test(v)) throw new Error(`cannot put ${JSON.stringify(v)} in an ssh config`);
  return /[\s#]/.test(v) ? `"${v}"` : v;
}

export async function startLab(opts: { machines: string[]; bridge?: string; release?: Release }): Promise<Lab> {
  const reason = labUnavailableReason();
  if (reason !== undefined) throw new Error(`the pairctl test lab cannot run here: ${reason}`);
  const aliases = opts.machines;
  if (aliases.length === 0) throw new Error('startLab: no machines');
  for (const a of aliases) {
    if (!ALIAS_RE.test(a)) throw new Error(`startLab: bad machine name ${JSON.stringify(a)} (want ${ALIAS_RE})`);
  }
  if (new Set(aliases).size !== aliases.length) throw new Error(`startLab: duplicate machine names in ${aliases.join(', ')}`);
  const bridge = opts.bridge ?? DEFAULT_BRIDGE;
  const release = opts.release ?? defaultRelease();
  if (!RELEASES.includes(release)) throw new Error(`startLab: unknown release ${JSON.stringify(release)} (want ${RELEASES.join(', ')})`);
  const t0 = Date.now();

  const tarball = await templateTarball(release);
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), LAB_DIR_PREFIX));
  const lab = new LabImpl(dir, release, bridge);
  installExitHook();
  liveLabs.add(lab);
  try {
    await mustExec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'pairctl-lab-admin', '-f', lab.adminKeyFile]);
    const adminPub = await fsp.readFile(`${lab.adminKeyFile}.pub`, 'utf8');

    // Allocate addresses and names under the lock, reclaiming what dead runs left.
    await withLock(async () => {
      await ensureBridge(bridge);
      const live = await reclaimLeftovers();
      await reclaimOrphanSources(bridge, live);
      await ensureMachinesDir(live);
      const taken = new Set([...live.map((l) => l.ip), ...(await bridgeAddresses(bridge))]);
      const names = new Set(live.map((l) => l.machine));
      const free = (h: number): boolean => !taken.has(`${SUBNET}.${h}`) && !fs.existsSync(leasePath(`${SUBNET}.${h}`));
      // Source addresses from the top of the range, machines from the bottom.
      let top = LAST_HOST;
      for (const [role, n] of SOURCE_ROLES.flatMap((r) => Array.from({ length: SOURCE_ADDRESSES[r] }, (_, i) => [r, i] as const))) {
        while (top >= FIRST_HOST && !free(top)) top--;
        if (top < FIRST_HOST) throw new Error(`no free address on ${bridge} (${SUBNET}.${FIRST_HOST}-${LAST_HOST})`);
        const ip = `${SUBNET}.${top--}`;
        taken.add(ip);
        const lease: Lease = {
          ownerPid: process.pid,
          ownerStart: myStart,
          ip,
          alias: `source-${role}-${n}`,
          machine: `source-${ip}`,
          rootDir: '',
          labDir: dir,
          source: { role, n, bridge },
        };
        // lease first: a concurrent sweep removes any source address no live lease names
        fs.writeFileSync(leasePath(ip), JSON.stringify(lease) + '\n', { flag: 'wx' });
        lab.sources.set(role, [...(lab.sources.get(role) ?? []), lease]);
        await addSourceAddress(bridge, ip);
      }
      let host = FIRST_HOST;
      for (const alias of aliases) {
        while (host <= LAST_HOST && !free(host)) host++;
        if (host > LAST_HOST) throw new Error(`no free address on ${bridge} (${SUBNET}.${FIRST_HOST}-${LAST_HOST})`);
        const ip = `${SUBNET}.${host++}`;
        let machineName: string;
        do machineName = `pt-${randomBytes(4).toString('hex')}`;
        while (names.has(machineName) || fs.existsSync(path.join(MACHINES_DIR, machineName)));
        names.add(machineName);
        const lease: Lease = {
          ownerPid: process.pid,
          ownerStart: myStart,
          ip,
          alias,
          machine: machineName,
          rootDir: path.join(MACHINES_DIR, machineName),
          labDir: dir,
        };
        fs.writeFileSync(leasePath(ip), JSON.stringify(lease) + '\n', { flag: 'wx' });
        lab.machines.push(new Machine(alias, ip, machineName, lease, bridge, dir, release));
      }
    });

    const hosts =
      `127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n` +
      lab.machines.map((m) => `${m.ip}\t${m.name}\n`).join('');
    const tPrep = Date.now();
    await allOrFirstError(lab.machines.map((m) => m.prepare(tarball, adminPub, hosts)));
    const prepMs = Date.now() - tPrep;

    await fsp.writeFile(lab.knownHostsFile, lab.machines.flatMap((m) => m.hostKeys).join('\n') + '\n');
    const cfg = lab.machines
      .map((m) =>
        [
          `Host ${m.name}`,
          `  HostName ${m.ip}`,
          `  User root`,
          `  IdentityFile ${sshConfigValue(lab.adminKeyFile)}`,
          `  IdentitiesOnly yes`,
          `  UserKnownHostsFile ${sshConfigValue(lab.knownHostsFile)}`,
          `  GlobalKnownHostsFile /dev/null`,
          `  StrictHostKeyChecking yes`,
          `  ConnectTimeout 5`,
          `  BindAddress ${lab.sourceIp('operator')}`,
          '',
        ].join('\n'),
      )
      .join('\n');
    await fsp.writeFile(lab.sshConfigFile, cfg);

    const tBoot = Date.now();
    await allOrFirstError(lab.machines.map((m) => m.boot()));
    const bootMs = Date.now() - tBoot;

    const detail = lab.machines
      .map((m) => `${m.name}=${m.ip} unpack ${secs(m.timings.unpackMs)} setup ${secs(m.timings.setupMs)} running ${secs(m.timings.bootMs)} +sshd ${secs(m.timings.sshMs)}`)
      .join('; ');
    log(`${lab.machines.length} ${release} machine(s) up in ${secs(Date.now() - t0)} (prepare ${secs(prepMs)}, boot ${secs(bootMs)}): ${detail}`);
    return lab;
  } catch (e) {
    try {
      await lab.stop();
    } catch (stopErr) {
      console.warn(`[lab] cleanup after a failed start: ${String(stopErr)}`);
    }
    throw e;
  }
}
