/**
 * Benchmark (not a test) of `pairctl plan` on converged real hosts over ssh, in one run:
 *
 * 1. pairctl plan vs `ansible-playbook --check --diff` on the same converged host and the same
 *    resources (bench/ansible-playbook.ts generates the playbook from pairctl's own graph), with
 *    Ansible's default settings (cold: a fresh ControlPath per run) and tuned (pipelining and a
 *    warm ControlPersist master); medians and the ratio;
 * 2. ssh connections and exec requests per plan, counted in sshd's own log (LogLevel DEBUG1 on
 *    the test machine only);
 * 3. a plan of 8 hosts vs 1 host, and of 500 guests vs 5.
 *
 * Runs alternate between the things compared, so a change of load on the machine hits both.
 *
 *   BENCH_SCALING=1 bash bench/run.sh    # after bench/plan-installed.ts; or, with the checkout's
 *   node_modules/.bin/tsx bench/plan-converged.ts [runs]    # build: npm run build first
 *   BENCH_ANSIBLE_RUNS=5 BENCH_BIG_RUNS=5 ...
 *
 * Every pairctl run here finds the host warm (its ControlPersist master, or a login a few seconds
 * before, keeps root's systemd user manager running): bench/plan-installed.ts measures the cold
 * host, the installed binary and a one-guest host, which this file does not.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load-config.js';
import { buildGraph } from '../src/graph/build-graph.js';
import { connect } from '../src/transport/connect.js';
import { startLab, type Lab, type LabMachine } from '../test/machines/lab.js';
import { playbookFor } from './ansible-playbook.js';
import { keyPair, OWNER, writeConfig } from './converged-host.js';
import { busyCpuMs, median, ms, timed, type Cost, type Timed } from './measure.js';

const RUNS = Number(process.argv[2] ?? process.env.BENCH_RUNS ?? 15);
const ANSIBLE_RUNS = Number(process.env.BENCH_ANSIBLE_RUNS ?? 5);
const BIG_RUNS = Number(process.env.BENCH_BIG_RUNS ?? 5);
// The installed package's `pairctl` when bench/run.sh provides one, else the checkout's build.
const PAIRCTL: [string, ...string[]] = process.env.PAIRCTL_BENCH_BIN
  ? [process.env.PAIRCTL_BENCH_BIN]
  : ['node', fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))];
const pairctl = (args: string[]) => timed(PAIRCTL[0], [...PAIRCTL.slice(1), ...args]);
const CORES = availableParallelism();
const MANY = ['h2', 'h3', 'h4', 'h5', 'h6', 'h7', 'h8'];

/**
 * The floor under any plan: ssh logins alone, through pairctl's own transport in this process (no
 * start-up, no probe), each running `true`, to all the machines at once.
 */
async function loginsAlone(lab: Lab, names: string[]): Promise<Cost> {
  const b0 = busyCpuMs();
  const t0 = performance.now();
  await Promise.all(
    names.map(async (n) => {
      const runner = await connect({ id: n, ssh: n, sudo: false }, { sshConfigFile: lab.sshConfigFile });
      const r = await runner.exec('true');
      await runner.close();
      if (r.code !== 0) throw new Error(`true failed on ${n}: ${r.stderr}`);
    }),
  );
  return { ms: performance.now() - t0, busyMs: busyCpuMs() - b0 };
}

/** Connections and exec requests sshd logged since `since` (needs LogLevel DEBUG1). */
async function sshdCounts(m: LabMachine, since: string): Promise<{ connections: number; execs: number }> {
  await new Promise((r) => setTimeout(r, 300));
  const log = (await m.run(`journalctl -t sshd --no-pager -o cat --since ${JSON.stringify(since)}`)).stdout;
  return { connections: (log.match(/Accepted publickey for root/g) ?? []).length, execs: (log.match(/req exec/g) ?? []).length };
}

async function now(m: LabMachine): Promise<string> {
  const t = (await m.run("date '+%Y-%m-%d %H:%M:%S.%N'")).stdout.trim();
  await new Promise((r) => setTimeout(r, 50));
  return t;
}

async function main(lab: Lab): Promise<void> {
  const host = lab.machine('host');
  const dir = join(lab.dir, 'bench');
  mkdirSync(dir, { recursive: true });
  const all = ['host', 'big', ...MANY];
  await Promise.all(all.map((n) => lab.machine(n).run(`useradd -m -s /bin/bash ${OWNER}`)));
  const five = ['todd', 'ann', 'rita', 'jo', 'kim'].map((g): [string, string] => [g, keyPair(dir, g)]);
  const keysDir = join(dir, 'keys');
  mkdirSync(keysDir, { recursive: true });
  const many = Array.from({ length: 500 }, (_, i): [string, string] => [`g${String(i).padStart(3, '0')}`, keyPair(keysDir, `g${i}`)]);

  const one = writeConfig(join(dir, 'one'), ['host'], five);
  const eight = writeConfig(join(dir, 'eight'), ['host', ...MANY], five);
  const big = writeConfig(join(dir, 'big'), ['big'], many);
  const F = ['-F', lab.sshConfigFile];
  const plan = (file: string) => pairctl(['plan', '-f', file, ...F]);
  for (const file of [eight, one, big]) {
    const t = pairctl(['apply', '--yes', '-f', file, ...F]);
    console.log(`applied ${file} in ${ms(t.ms)}`);
  }
  for (const file of [one, eight, big]) {
    const p = plan(file);
    if (!p.stdout.includes('No changes.')) throw new Error(`not converged (${file}):\n${p.stdout}`);
  }

  // Ansible: the same checks as a playbook, against the same host.
  const resources = buildGraph((await loadConfig(one)).config!)[0]!.resources;
  const ans = join(dir, 'ansible');
  mkdirSync(ans, { recursive: true });
  writeFileSync(join(ans, 'playbook.yml'), playbookFor('host', resources));
  writeFileSync(
    join(ans, 'inventory.ini'),
    `host ansible_host=${host.ip} ansible_user=root ansible_ssh_private_key_file=${lab.adminKeyFile} ansible_python_interpreter=/usr/bin/python3 ` +
      `ansible_ssh_common_args='-o UserKnownHostsFile=${lab.knownHostsFile} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'\n`,
  );
  writeFileSync(join(ans, 'default.cfg'), '[defaults]\ninventory = inventory.ini\n');
  writeFileSync(
    join(ans, 'tuned.cfg'),
    `[defaults]\ninventory = inventory.ini\n[ssh_connection]\npipelining = True\nssh_args = -C -o ControlMaster=auto -o ControlPersist=600s\ncontrol_path_dir = ${join(ans, 'cp-tuned')}\n`,
  );
  let cold = 0;
  const ansible = (variant: 'default' | 'tuned') => {
    const env: Record<string, string> = { ANSIBLE_CONFIG: join(ans, `${variant}.cfg`), ANSIBLE_NOCOLOR: '1', ANSIBLE_DEPRECATION_WARNINGS: 'False' };
    // Default settings, as a first run pays them: a fresh ControlPath, so no master is reused.
    if (variant === 'default') env.ANSIBLE_SSH_CONTROL_PATH_DIR = join(ans, `cp-cold-${cold++}`);
    const r = timed('ansible-playbook', ['--check', '--diff', join(ans, 'playbook.yml')], { env });
    const recap = /host\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(r.stdout);
    if (!recap || recap.slice(1).some((n) => n !== '0')) throw new Error(`ansible does not see the host converged:\n${r.stdout}`);
    return r.ms;
  };
  const cpTuned = join(ans, 'cp-tuned');
  /** Ends the tuned variant's ControlPersist master (it keeps the log level it started with). */
  const exitTunedMaster = () => {
    for (const sock of existsSync(cpTuned) ? readdirSync(cpTuned) : []) spawnSync('ssh', ['-o', `ControlPath=${join(cpTuned, sock)}`, '-O', 'exit', 'host'], { stdio: 'ignore' });
  };

  await host.run("echo 'LogLevel DEBUG1' > /etc/ssh/sshd_config.d/99-bench-loglevel.conf && systemctl reload ssh && sleep 0.5");
  ansible('tuned'); // warm the tuned variant's master, on a connection sshd logs at DEBUG1
  const counted = async (f: () => unknown) => {
    const since = await now(host);
    f();
    return sshdCounts(host, since);
  };
  const pairctlCounts = await counted(() => plan(one));
  const defaultCounts = await counted(() => ansible('default'));
  const tunedCounts = await counted(() => ansible('tuned'));
  await host.run('rm -f /etc/ssh/sshd_config.d/99-bench-loglevel.conf && systemctl reload ssh');
  exitTunedMaster();
  ansible('tuned'); // warm again, without debug logging

  const t = { pairctl: [] as number[], ansibleDefault: [] as number[], ansibleTuned: [] as number[] };
  for (let i = 0; i < Math.max(RUNS, ANSIBLE_RUNS); i++) {
    t.pairctl.push(plan(one).ms);
    if (i < ANSIBLE_RUNS) {
      t.ansibleDefault.push(ansible('default'));
      t.ansibleTuned.push(ansible('tuned'));
    }
  }

  // Scaling, in a loop of its own, so every machine is in the same state when it is read: the
  // tuned Ansible master would keep "host" logged in, and the others would come to each run cold
  // (systemd stops a user's manager 10 s after the last login, and starts it again at the next).
  // Here each machine is logged into every few seconds, for the 1-host and the 8-host plan alike.
  exitTunedMaster();
  const s = { one: [] as Timed[], eight: [] as Timed[], big: [] as Timed[], login1: [] as Cost[], login8: [] as Cost[] };
  await loginsAlone(lab, ['host', ...MANY]); // warm every machine before the first measured run
  for (let i = 0; i < RUNS; i++) {
    s.one.push(plan(one));
    s.eight.push(plan(eight));
    s.login1.push(await loginsAlone(lab, ['host']));
    s.login8.push(await loginsAlone(lab, ['host', ...MANY]));
    if (i < BIG_RUNS) s.big.push(plan(big));
  }

  const p = median(t.pairctl);
  const line = (label: string, xs: number[], extra = '') => console.log(`  ${label.padEnd(44)} median ${ms(median(xs)).padStart(8)}   min ${ms(Math.min(...xs)).padStart(8)}${extra}`);
  const counts = (c: { connections: number; execs: number }) => `   ${c.connections} connection(s), ${c.execs} exec request(s)`;
  console.log(`\npairctl plan vs ansible-playbook --check --diff, same converged host, ${five.length} guests (${resources.length} resources):`);
  line(`pairctl plan (${t.pairctl.length} runs)`, t.pairctl, counts(pairctlCounts));
  line(`ansible default settings, cold (${t.ansibleDefault.length} runs)`, t.ansibleDefault, counts(defaultCounts));
  line(`ansible pipelining + warm ControlPersist (${t.ansibleTuned.length} runs)`, t.ansibleTuned, counts(tunedCounts));
  console.log(`  pairctl is ${(median(t.ansibleDefault) / p).toFixed(1)}x faster than default Ansible, ${(median(t.ansibleTuned) / p).toFixed(1)}x faster than tuned Ansible (target: >= 10x tuned)`);
  console.log(`  per plan: ${pairctlCounts.connections} connection and ${pairctlCounts.execs} exec request(s) (target: 1 connection, <= 2 execs per machine)`);

  const wall = (xs: Cost[]) => median(xs.map((x) => x.ms));
  const cpu = (xs: Timed[]) => `   CPU: ${ms(median(xs.map((x) => x.busyMs)))} in all, ${ms(median(xs.map((x) => x.ownMs)))} of it pairctl's`;
  const one1 = wall(s.one);
  console.log(`\nscaling (${RUNS} runs each, alternating; ${CORES} cores here, shared by pairctl and every lab machine):`);
  line('plan, 1 host, 5 guests', s.one.map((x) => x.ms), cpu(s.one));
  line('plan, 8 hosts', s.eight.map((x) => x.ms), `${cpu(s.eight)}   ${(wall(s.eight) / one1).toFixed(2)}x of 1 host (target: <= 1.5x)`);
  line(`plan, 500 guests (${s.big.length} runs)`, s.big.map((x) => x.ms), `${cpu(s.big)}   ${(wall(s.big) / one1).toFixed(2)}x of 5 guests (target: <= 2x)`);
  const l1 = wall(s.login1);
  const l8 = wall(s.login8);
  const l8cpu = median(s.login8.map((x) => x.busyMs));
  line('ssh logins alone running `true`, 1 machine', s.login1.map((x) => x.ms), `   CPU: ${ms(median(s.login1.map((x) => x.busyMs)))}`);
  line('ssh logins alone running `true`, 8 machines', s.login8.map((x) => x.ms), `   CPU: ${ms(l8cpu)}   ${(l8 / l1).toFixed(2)}x of 1 machine`);
  // What the 1.5x target leaves for the 8-host plan, against what the work costs on these cores.
  const eightCpu = median(s.eight.map((x) => x.busyMs));
  console.log(
    `  budget: 1.5x of 1 host is ${ms(1.5 * one1)}, i.e. at most ${ms(1.5 * one1 * CORES)} of CPU on ${CORES} cores; ` +
      `the 8-host plan used ${ms(eightCpu)} (${ms(eightCpu / CORES)} of wall time at best), ` +
      `and eight bare logins alone take ${ms(l8cpu)}`,
  );
}

const lab = await startLab({ machines: ['host', 'big', ...MANY] });
try {
  await main(lab);
} finally {
  await lab.stop();
}
