/**
 * What every benchmark here measures a step with: wall time, the CPU the step's own processes
 * spent, the CPU the whole machine spent meanwhile, and the load average when it started (the
 * machine is shared, so a figure is only readable next to the load it was taken under).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const ms = (x: number) => `${x.toFixed(0)} ms`;

/** Clock ticks per second of /proc's CPU counters. */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU time, in ms, every core of this machine spent busy so far: pairctl, the lab machines, everything (/proc/stat). */
export function busyCpuMs(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return ((user! + nice! + system! + irq! + softirq! + (steal ?? 0)) * 1000) / CLK_TCK;
}

/** CPU time, in ms, of this process's children that have ended (each measured command), from /proc/self/stat. */
export function childCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // field 3 onwards
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLK_TCK; // cutime, cstime (fields 16, 17)
}

/**
 * The cgroup (v2: its cpu.stat counts every process in it and below) a lab machine runs in:
 * test/machines/lab.ts boots each in a cgroup named like its rootfs copy, under the unified
 * hierarchy (a hybrid v1/v2 host) or the root (pure v2). Undefined when there is none to read.
 */
export function machineCgroup(rootDir: string): string | undefined {
  for (const root of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    const dir = join(root, basename(rootDir));
    if (existsSync(join(dir, 'cpu.stat'))) return dir;
  }
  return undefined;
}

/** CPU time, in ms, every process of these cgroups has spent so far (usage_usec of cpu.stat). */
export function cgroupCpuMs(dirs: readonly string[]): number {
  let usec = 0;
  for (const d of dirs) usec += Number(/^usage_usec (\d+)$/m.exec(readFileSync(join(d, 'cpu.stat'), 'utf8'))?.[1] ?? NaN);
  return usec / 1000;
}

/**
 * Login sessions (logind's session-N.scope cgroups that hold a process) under these cgroups. A
 * cgroup removed while it is read (a session that just ended) counts as none.
 */
export function loginSessions(dirs: readonly string[]): number {
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  const walk = (dir: string): number => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return 0;
    }
    let n = 0;
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const sub = join(dir, e.name);
      if (!/^session-.+\.scope$/.test(e.name)) n += walk(sub);
      else if (read(join(sub, 'cgroup.procs')).trim() !== '') n += 1;
    }
    return n;
  };
  return dirs.reduce((n, d) => n + walk(d), 0);
}

/** The 1-minute load average, as /proc/loadavg has it now. */
export function loadAvg1(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** Wall time of a measured step, and the CPU the whole machine spent meanwhile (lab machines included). */
export interface Cost {
  ms: number;
  busyMs: number;
}

/** A command's run: its cost, its output, its own CPU and the load it started under. */
export interface Timed extends Cost {
  stdout: string;
  /** the command's own CPU (its process and every descendant it waited for) */
  ownMs: number;
  /** 1-minute load average just before it started */
  load: number;
}

/** Runs a command to completion and returns its wall time and CPU; throws (with its output) on failure. `unset`: variables of this environment the command does not get. */
export function timed(cmd: string, args: string[], opts: { env?: Record<string, string>; cwd?: string; okCodes?: number[]; unset?: string[] } = {}): Timed {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', ...opts.env };
  for (const name of opts.unset ?? []) delete env[name];
  const load = loadAvg1();
  const b0 = busyCpuMs();
  const c0 = childCpuMs();
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, env, maxBuffer: 64 << 20 });
  const took = performance.now() - t0;
  if (!(opts.okCodes ?? [0]).includes(r.status ?? -1)) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return { ms: took, stdout: r.stdout, busyMs: busyCpuMs() - b0, ownMs: childCpuMs() - c0, load };
}
