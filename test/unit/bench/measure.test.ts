/**
 * The benchmark's attribution of CPU (bench/measure.ts, bench/delay-proxy-process.ts): a lab
 * machine's CPU is read from its cgroup's cpu.stat, its logins are logind's session scopes that
 * hold a process, and the proxy process reports its own CPU with its connection counts. The
 * cgroup trees here are plain directories shaped like the kernel's.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startProxyProcess } from '../../../bench/delay-proxy-process.js';
import { cgroupCpuMs, loginSessions } from '../../../bench/measure.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A cgroup directory with these processes and, when given, this CPU usage. */
function cgroup(dir: string, procs: number[], usageUsec?: number): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cgroup.procs'), procs.map((p) => `${p}\n`).join(''));
  if (usageUsec !== undefined) writeFileSync(join(dir, 'cpu.stat'), `usage_usec ${usageUsec}\nuser_usec 1\nsystem_usec 2\n`);
  return dir;
}

describe('lab machines in the benchmark', () => {
  it('sums the usage_usec of each machine cgroup, in ms', () => {
    const root = mkdtempSync(join(tmpdir(), 'pt-cg-'));
    dirs.push(root);
    const a = cgroup(join(root, 'pt-a'), [], 1_500_000);
    const b = cgroup(join(root, 'pt-b'), [], 250_500);
    expect(cgroupCpuMs([a, b])).toBe(1750.5);
    expect(cgroupCpuMs([a])).toBe(1500);
  });

  it('counts session scopes that hold a process, at any depth, and nothing else', () => {
    const root = mkdtempSync(join(tmpdir(), 'pt-cg-'));
    dirs.push(root);
    const m = cgroup(join(root, 'pt-a'), [1], 0);
    cgroup(join(m, 'payload', 'system.slice', 'ssh.service'), [20]);
    cgroup(join(m, 'payload', 'user.slice', 'user-0.slice', 'session-7.scope'), [31, 32]);
    cgroup(join(m, 'payload', 'user.slice', 'user-0.slice', 'session-8.scope'), []); // ended: empty
    cgroup(join(m, 'payload', 'user.slice', 'user-0.slice', 'user@0.service', 'init.scope'), [40]);
    cgroup(join(m, 'payload', 'user.slice', 'user-1000.slice', 'session-c2.scope'), [50]);
    expect(loginSessions([m])).toBe(2);
    expect(loginSessions([m, join(root, 'gone')])).toBe(2);
  });
});

describe('the delay proxy process', () => {
  it('answers its connection counts with the CPU it has spent so far, more at each answer', async () => {
    const proxies = await startProxyProcess([{ name: 'x', target: { host: '127.0.0.1', port: 9 } }]);
    try {
      const u0 = await proxies.usage();
      expect(u0.counts).toEqual({ x: 0 });
      expect(u0.cpuMs).toBeGreaterThan(0); // its start alone (node, tsx) costs CPU
      // A connection it accepts (the target refuses it: port 9 on loopback is not served here).
      const s = connect({ host: '127.0.0.1', port: proxies.ports.x! });
      await new Promise<void>((r) => s.once('close', () => r()).once('error', () => undefined));
      const u1 = await proxies.usage();
      expect(u1.counts).toEqual({ x: 1 });
      expect(u1.cpuMs).toBeGreaterThan(u0.cpuMs);
    } finally {
      await proxies.close();
    }
  });
});
