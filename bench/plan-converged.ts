/**
 * Benchmark (not a test): `pairctl plan` of a converged real host over ssh. Boots a lab machine,
 * applies a setup, then times repeated plans and counts, in sshd's own log (LogLevel DEBUG1 on
 * the test machine only), the connections and exec requests each plan made.
 *
 *   npm run bench            # or: npx tsx bench/plan-converged.ts [runs]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLab } from '../test/machines/lab.js';
import { pairctl } from '../test/e2e/pairctl-cli.js';

const runs = Number(process.argv[2] ?? 15);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function guestKey(dir: string, name: string): string {
  const key = join(dir, name);
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', key]);
  return spawnSync('cat', [`${key}.pub`], { encoding: 'utf8' }).stdout.trim();
}

const lab = await startLab({ machines: ['host'] });
try {
  const host = lab.machine('host');
  const dir = join(lab.dir, 'bench');
  mkdirSync(dir, { recursive: true });
  await host.run('useradd -m -s /bin/bash bhorseman');
  const guests = ['todd', 'ann', 'rita', 'jo', 'kim'];
  const modes = ['mirror', 'pair', 'rogue', 'mirror', 'pair'];
  const file = join(dir, 'pair.yaml');
  writeFileSync(
    file,
    [
      'version: 1',
      'hosts:',
      '  box: { platform: linux, ssh: host, owner: bhorseman }',
      'guests:',
      ...guests.map((g, i) => `  ${g}: { keys: [${JSON.stringify(guestKey(dir, g))}], mode: ${modes[i]} }`),
      '',
    ].join('\n'),
  );
  const F = ['-f', file, '-F', lab.sshConfigFile];
  const applied = await pairctl(['apply', '--yes', ...F]);
  if (applied.code !== 0) throw new Error(`apply failed: ${applied.stderr}`);
  // Debug logging on the test machine's sshd only, so exec requests show in its journal.
  await host.run("echo 'LogLevel DEBUG1' > /etc/ssh/sshd_config.d/99-bench-loglevel.conf && systemctl reload ssh && sleep 0.5");

  const count = async (since: string) => {
    const log = (await host.run(`journalctl -u ssh --no-pager -o cat --since ${JSON.stringify(since)}`)).stdout;
    return {
      connections: (log.match(/Accepted publickey for root/g) ?? []).length,
      execs: (log.match(/req exec/g) ?? []).length,
    };
  };

  const times: number[] = [];
  const perPlan: Array<{ connections: number; execs: number }> = [];
  for (let i = 0; i < runs; i++) {
    const since = (await host.run("date '+%Y-%m-%d %H:%M:%S.%N'")).stdout.trim();
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    const p = await pairctl(['plan', ...F]);
    times.push(performance.now() - t0);
    if (!p.stdout.includes('No changes.')) throw new Error(`not converged:\n${p.stdout}`);
    await new Promise((r) => setTimeout(r, 300));
    perPlan.push(await count(since));
  }
  await host.run('rm -f /etc/ssh/sshd_config.d/99-bench-loglevel.conf && systemctl reload ssh');
  const conns = [...new Set(perPlan.map((p) => p.connections))].join('/');
  const execs = [...new Set(perPlan.map((p) => p.execs))].join('/');
  console.log(`pairctl plan, converged host over ssh (${guests.length} guests), ${runs} runs:`);
  console.log(`  median ${median(times).toFixed(0)} ms   min ${Math.min(...times).toFixed(0)} ms   max ${Math.max(...times).toFixed(0)} ms`);
  console.log(`  per plan, from sshd's log: ${conns} connection(s), ${execs} exec request(s)`);
} finally {
  await lab.stop();
}
