/**
 * What the host itself spends (issue 15): on one lab machine, converged for 5 guests and with its
 * session running, the probe script of `plan` (its one exec), the script of `status` (its one
 * exec) and the apply script of adding a sixth guest, run on the host through nsenter (no ssh:
 * only the script's own work is counted).
 * For each: wall time, CPU of the script and its children (bash `times`), and processes forked (the machine's pid namespace's
 * last pid before and after; the machine is otherwise idle). The probe is also timed section by
 * section, and the apply step by step, so the costly ones can be named.
 *
 *   npm run build && node_modules/.bin/tsx bench/host-work.ts
 *   BENCH_HOST_RUNS=20 ...        # runs of the probe (default 10) and of each section
 *   BENCH_HOST_APPLIES=5 ...      # applies adding the guest (default 3), each undone by an apply without it
 *
 * Needs root (the lab). Not part of `npm run bench`: it names costs, it does not judge targets.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load-config.js';
import { buildGraph, topoSort } from '../src/graph/build-graph.js';
import { applyScript } from '../src/plan/apply-machine.js';
import { planAll } from '../src/plan/plan-all.js';
import { resourceProbes } from '../src/plan/resource-probes.js';
import { statusScript } from '../src/session/session-status.js';
import { startLab, type LabMachine } from '../test/machines/lab.js';
import { prepareHost, writeConfig } from './converged-host.js';

const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const RUNS = Number(process.env.BENCH_HOST_RUNS ?? 10);
const APPLIES = Number(process.env.BENCH_HOST_APPLIES ?? 3);

/** Runs `file` (a script on the host) `runs` times under sh; per run: ms, CPU ms, processes. */
async function measure(h: LabMachine, file: string, runs: number): Promise<{ ms: number; cpu: number; procs: number }> {
  // bash for EPOCHREALTIME and `times` (no forks of its own between the two reads of the last pid).
  const harness = `read a < /proc/sys/kernel/ns_last_pid; t0=$EPOCHREALTIME
for ((i = 0; i < ${runs}; i++)); do sh ${file} >/dev/null 2>&1 </dev/null; done
t1=$EPOCHREALTIME; read b < /proc/sys/kernel/ns_last_pid
echo "$t0 $t1 $a $b"; times`;
  const r = await h.run(`bash -c '${harness.replace(/'/g, "'\\''")}'`);
  if (r.code !== 0) throw new Error(`measuring ${file} failed: ${r.stderr}`);
  const [head, , children] = r.stdout.trim().split('\n');
  const [t0, t1, a, b] = head!.split(' ').map(Number);
  const cpu = children!.split(/\s+/).map((t) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t);
    return m ? Number(m[1]) * 60 + Number(m[2]) : 0;
  });
  return { ms: ((t1! - t0!) * 1000) / runs, cpu: ((cpu[0]! + cpu[1]!) * 1000) / runs, procs: (b! - a!) / runs };
}

const fmt = (m: { ms: number; cpu: number; procs: number }) => `${m.ms.toFixed(1)} ms, cpu ${m.cpu.toFixed(1)} ms, ${m.procs.toFixed(1)} processes`;

async function cli(args: string[], env: Record<string, string>, cwd: string): Promise<void> {
  const r = spawnSync('node', [MAIN, ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pairctl ${args.join(' ')} exited ${r.status}:\n${r.stdout}${r.stderr}`);
}

const lab = await startLab({ machines: ['h1'] });
try {
  const h1 = lab.machine('h1');
  const dir = join(lab.dir, 'host-work');
  const guests = await prepareHost(h1, dir, ['todd', 'ann', 'rita', 'jo', 'kim', 'lee']);
  const home = join(dir, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  const sshConfig = join(home, '.ssh', 'config');
  copyFileSync(lab.sshConfigFile, sshConfig);
  const env = { HOME: home };
  const five = writeConfig(join(dir, 'five'), ['h1'], guests.slice(0, 5));
  const six = writeConfig(join(dir, 'six'), ['h1'], guests);
  await cli(['apply', '--yes', '-f', five], env, dirname(five));
  // Its session running, as in the latency benchmark's plan: the session's probe then asks tmux.
  await cli(['up', '-f', five], env, dirname(five));
  const load = async () => (await h1.run('cut -d" " -f1 /proc/loadavg')).stdout.trim();

  // (a) plan's one exec.
  const config = (await loadConfig(five)).config!;
  const session = await planAll(config, { sshConfigFile: sshConfig });
  const work = session.plan.machines[0]!;
  await session.close();
  if (work.steps.length !== 0) throw new Error(`h1 is not converged: ${work.steps.map((s) => s.address).join(', ')}`);
  await h1.run('cat > /tmp/probe.sh', { input: work.reads.scripts[0]! });
  console.log(`probe script: ${work.reads.scripts[0]!.length} bytes`);
  console.log(`  whole probe (${RUNS} runs): ${fmt(await measure(h1, '/tmp/probe.sh', RUNS))}, load ${await load()}`);
  const machine = buildGraph(config)[0]!;
  const sections = resourceProbes(topoSort(machine.resources));
  const kinds = new Map<string, number>();
  for (const r of machine.resources) kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
  console.log(`  ${machine.resources.length} resources (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}) in ${sections.snippets.length} sections, + record, holder, ${machine.facts?.length ?? 0} facts`);
  // One snippet on its own, wrapped as the probe wraps each section.
  const alone = async (file: string, snippet: string) => {
    await h1.run(`cat > ${file}`, { input: `LC_ALL=C; export LC_ALL\n( ${snippet}\n) 2>&1\n` });
    return fmt(await measure(h1, file, RUNS));
  };
  for (const [i, snippet] of sections.snippets.entries()) console.log(`  section ${i}: ${await alone(`/tmp/sec-${i}.sh`, snippet)}: ${snippet.split('\n')[0]!.slice(0, 110)}`);
  for (const [i, fact] of (machine.facts ?? []).entries()) console.log(`  fact ${fact.key}: ${await alone(`/tmp/fact-${i}.sh`, fact.snippet)}`);

  // (b) status's one exec, with the session running (no guest attached).
  const status = statusScript(config, config.hosts[0]!);
  await h1.run('cat > /tmp/status.sh', { input: status });
  console.log(`status script: ${status.length} bytes`);
  console.log(`  whole status (${RUNS} runs): ${fmt(await measure(h1, '/tmp/status.sh', RUNS))}, load ${await load()}`);

  // (c) apply adding a sixth guest, step by step: `mark` also prints the time.
  const sixConfig = (await loadConfig(six)).config!;
  for (let n = 0; n < APPLIES; n++) {
    const s = await planAll(sixConfig, { sshConfigFile: sshConfig });
    const w = s.plan.machines[0]!;
    await s.close();
    const nonce = 'feedc0dedeadbeef';
    let script = applyScript(w, nonce, { holder: 'host-work' });
    const markDef = `mark() { printf '@@pairctl-${nonce}-%s\\n' "$1" || exit 74; }`;
    if (!script.includes(markDef)) throw new Error('the apply script no longer defines mark as expected');
    script = script
      .replace(markDef, `mark() { printf '@@T %s %s\\n' "$1" "$(date +%s%N)"; }\nmark begin`)
      .replace('pairctl_reads() {', 'mark digest-begin\npairctl_reads() {')
      .replace(/^(now=\$\(pairctl_reads.*)$/m, '$1\nmark digest-end');
    const t0 = performance.now();
    const r = await h1.run('sh -s', { input: script });
    const wall = performance.now() - t0;
    if (!r.stdout.includes('@@T complete')) throw new Error(`instrumented apply did not complete (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
    const marks = r.stdout.split('\n').filter((l) => l.startsWith('@@T ')).map((l) => l.split(' ').slice(1));
    console.log(`\napply adding guest lee, run ${n + 1}: ${w.steps.length} steps, ${wall.toFixed(0)} ms through nsenter, load ${await load()}`);
    for (let i = 1; i < marks.length; i++) {
      const [name, t] = marks[i]!;
      const [prev, tp] = marks[i - 1]!;
      const step = /^done-(\d+)$/.exec(name!);
      const label = step ? w.steps[Number(step[1])]!.address : `${prev} -> ${name}`;
      const ms = (Number(t) - Number(tp)) / 1e6;
      if (ms >= 1 || step) console.log(`  ${ms.toFixed(1).padStart(7)} ms  ${label}`);
    }
    await cli(['apply', '--yes', '-f', five], env, dirname(five));
  }
  if (APPLIES > 0) {
    const s = await planAll(sixConfig, { sshConfigFile: sshConfig });
    const w = s.plan.machines[0]!;
    await s.close();
    console.log('\nthe steps of adding a guest:');
    for (const st of w.steps) console.log(`--- ${st.address}\n${st.script}`);
  }
} finally {
  await lab.stop();
}
