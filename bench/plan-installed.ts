/**
 * Benchmark (not a test): `pairctl plan` of a converged host the way a user runs it, beside the
 * way the older benchmark ran it, so the difference between the two figures can be taken apart
 * factor by factor in one run:
 *
 * - binary: the installed package's `pairctl` found on PATH, reading ~/.ssh/config, from the
 *   directory holding pair.yaml (a user's command), vs the same binary given `-F` (the bench's ssh
 *   config), vs `node dist/cli/main.js` from the checkout (the older bench's command);
 * - host state: cold (no login for over 10 s, so systemd has stopped root's user manager, and the
 *   next login starts it again), the same command again right after it (paired: seconds apart),
 *   and warm (a ControlPersist master is logged in, as in every run of the older bench);
 * - guests: 1 and 5 (two identical lab machines, one converged for each);
 * - Ansible `--check --diff` of the same resources: tuned (pipelining + a warm ControlPersist
 *   master) on the warm host, default settings (a fresh ControlPath) on the cold host;
 * - OpenSSH's own `ssh HOST true`, cold and warm: the login's share, which no client can avoid;
 * - start-up without the network: `pairctl --help` and loading ssh2, installed vs checkout.
 *
 * The host state is checked (systemctl, through nsenter, which is no login) before every measured
 * run. Rounds alternate the order of variants and hosts, and every run records the 1-minute load
 * average: the machine is shared, absolute numbers move with it, ranges are over runs. Factors are
 * reported as differences between runs of the same round, seconds apart, so that a change of load
 * between rounds (here it swings by 2x within minutes) cancels out of them.
 *
 *   bash bench/run.sh                 # installs, builds, packs, installs pairctl, runs this
 *   BENCH_ROUNDS=9 bash bench/run.sh
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load-config.js';
import { buildGraph } from '../src/graph/build-graph.js';
import { startLab, type Lab, type LabMachine } from '../test/machines/lab.js';
import { playbookFor } from './ansible-playbook.js';
import { keyPair, OWNER, writeConfig } from './converged-host.js';
import { median, ms, timed, type Timed } from './measure.js';

const INSTALLED = process.env.PAIRCTL_BENCH_BIN;
if (!INSTALLED || !existsSync(INSTALLED)) {
  process.stderr.write('PAIRCTL_BENCH_BIN must name an installed pairctl binary: run bash bench/run.sh, which installs one\n');
  process.exit(2);
}
/** The same package installed with --ignore-scripts: ssh2 without its native crypto binding. */
const NOSCRIPTS = process.env.PAIRCTL_BENCH_BIN_NOSCRIPTS;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
/** Rounds that include the Ansible runs (each takes seconds to tens of seconds under load). */
const ANSIBLE_ROUNDS = Number(process.env.BENCH_ANSIBLE_ROUNDS ?? 5);
const STARTUP_RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 15);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHECKOUT = join(ROOT, 'dist/cli/main.js');
/** The installed package's directory (the bin is a symlink into it). */
const INSTALLED_PKG = join(dirname(INSTALLED), '..', 'lib', 'node_modules', 'pairctl');
/** systemd stops a user's manager 10 s after their last session (UserStopDelaySec); allow for load. */
const COLD_DEADLINE_MS = 90_000;

/**
 * cold: no login for over 10 s; next: the same command again right after a cold run (warm since
 * that login, seconds later, so the pair sees the same load); warm: a ControlPersist master is in.
 */
type State = 'cold' | 'next' | 'warm';
const HOSTS = [
  { name: 'h1', guests: 1 },
  { name: 'h5', guests: 5 },
] as const;
type HostName = (typeof HOSTS)[number]['name'];

/** What is measured, and how it is started; `run` gets the host. */
interface Variant {
  id: string;
  label: string;
  states: State[];
  run: (h: HostName, state: State) => Timed;
  /** runs only in the first ANSIBLE_ROUNDS rounds */
  ansible?: boolean;
}

const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

/** Whether root's systemd user manager runs on the machine (asked through nsenter: no login). */
async function userManagerActive(m: LabMachine): Promise<boolean> {
  return (await m.run('systemctl is-active --quiet user@0.service')).code === 0;
}

/** Waits, with a deadline, until the machine is as a host nobody logged into for a while is. */
async function waitCold(m: LabMachine): Promise<void> {
  const t0 = Date.now();
  while (await userManagerActive(m)) {
    if (Date.now() - t0 > COLD_DEADLINE_MS) throw new Error(`${m.name}: root's user manager still runs ${COLD_DEADLINE_MS / 1000} s on; is something logged in?`);
    await sleep(250);
  }
}

/** CLOCK_MONOTONIC in µs: the clock of systemd's *TimestampMonotonic (one kernel, no time namespace). */
const monotonicUs = () => process.hrtime.bigint() / 1000n;

/**
 * How long root's user manager took to start after a cold login made since `sinceUs` (systemd's
 * own timestamps, which stay after it stops again): the host's work that a cold login sets off,
 * on the same cores as the plan's probe.
 */
async function userManagerStartMs(m: LabMachine, sinceUs: bigint): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const out = (await m.run('systemctl show user@0.service -p InactiveExitTimestampMonotonic -p ActiveEnterTimestampMonotonic')).stdout;
    const v = (k: string) => BigInt(new RegExp(`${k}=(\\d+)`).exec(out)?.[1] ?? '0');
    const exit = v('InactiveExitTimestampMonotonic');
    const enter = v('ActiveEnterTimestampMonotonic');
    if (exit > sinceUs && enter >= exit) return Number(enter - exit) / 1000;
    if (Date.now() - t0 > COLD_DEADLINE_MS) throw new Error(`${m.name}: root's user manager did not start after the cold login (${out.trim().replace(/\n/g, ' ')}, run began at ${sinceUs})`);
    await sleep(100);
  }
}

async function assertState(m: LabMachine, state: State): Promise<void> {
  const active = await userManagerActive(m);
  if (active !== (state !== 'cold')) throw new Error(`${m.name} should be ${state} but root's user manager is ${active ? 'active' : 'inactive'}`);
}

/** Ends the ControlPersist masters whose sockets are in `dir` (they would keep the host warm). */
function exitMasters(dir: string): void {
  for (const sock of existsSync(dir) ? readdirSync(dir) : []) spawnSync('ssh', ['-o', `ControlPath=${join(dir, sock)}`, '-O', 'exit', 'x'], { stdio: 'ignore' });
}

function assertNoChanges(t: Timed, what: string): Timed {
  if (!t.stdout.includes('No changes.')) throw new Error(`${what}: the host is not converged:\n${t.stdout}`);
  return t;
}

async function main(lab: Lab): Promise<void> {
  const bench = join(lab.dir, 'bench');
  mkdirSync(bench, { recursive: true });
  const keysDir = join(bench, 'keys');
  mkdirSync(keysDir);
  const guests = ['todd', 'ann', 'rita', 'jo', 'kim'].map((g): [string, string] => [g, keyPair(keysDir, g)]);
  const files = {} as Record<HostName, string>;
  for (const h of HOSTS) files[h.name] = writeConfig(join(bench, h.name), [h.name], guests.slice(0, h.guests));
  await Promise.all(HOSTS.map((h) => lab.machine(h.name).run(`useradd -m -s /bin/bash ${OWNER}`)));

  // The user's side: pairctl on PATH (bin dir of the private prefix first), a home whose
  // ~/.ssh/config reaches the lab machines. Not the real ~/.ssh: this machine is shared.
  const home = join(bench, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  writeFileSync(join(home, '.ssh', 'config'), readFileSync(lab.sshConfigFile, 'utf8'), { mode: 0o600 });
  const userEnv = { HOME: home, PATH: `${dirname(INSTALLED!)}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  const F = ['-F', lab.sshConfigFile];

  // Converge each host with the installed binary, as the user would, and check it says so.
  for (const h of HOSTS) {
    const t = timed('pairctl', ['apply', '--yes', '-f', 'pair.yaml'], { env: userEnv, cwd: dirname(files[h.name]) });
    console.log(`applied ${h.guests} guest(s) on ${h.name} in ${ms(t.ms)}`);
  }

  // Ansible: the same checks as a playbook per host.
  const ans = join(bench, 'ansible');
  mkdirSync(ans);
  const resources = {} as Record<HostName, number>;
  for (const h of HOSTS) {
    const rs = buildGraph((await loadConfig(files[h.name])).config!)[0]!.resources;
    resources[h.name] = rs.length;
    writeFileSync(join(ans, `${h.name}.yml`), playbookFor(h.name, rs));
  }
  writeFileSync(
    join(ans, 'inventory.ini'),
    HOSTS.map(
      (h) =>
        `${h.name} ansible_host=${lab.machine(h.name).ip} ansible_user=root ansible_ssh_private_key_file=${lab.adminKeyFile} ansible_python_interpreter=/usr/bin/python3 ` +
        `ansible_ssh_common_args='-o UserKnownHostsFile=${lab.knownHostsFile} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'\n`,
    ).join(''),
  );
  writeFileSync(join(ans, 'default.cfg'), '[defaults]\ninventory = inventory.ini\n');
  const cpTuned = join(ans, 'cp-tuned');
  writeFileSync(
    join(ans, 'tuned.cfg'),
    // A named ControlPath, so the master can be opened by ssh itself before the measured runs.
    `[defaults]\ninventory = inventory.ini\n[ssh_connection]\npipelining = True\nssh_args = -C -o ControlMaster=auto -o ControlPersist=600s\ncontrol_path_dir = ${cpTuned}\ncontrol_path = %(directory)s/%%h-%%r\n`,
  );
  /** Opens the tuned variant's master to a host the way Ansible's first connection would, and leaves it up. */
  const openTunedMaster = (h: HostName) => {
    mkdirSync(cpTuned, { recursive: true });
    const r = spawnSync('ssh', ['-C', '-o', 'ControlMaster=auto', '-o', 'ControlPersist=600s', '-o', `ControlPath=${cpTuned}/%h-%r`, '-i', lab.adminKeyFile,
      '-o', `UserKnownHostsFile=${lab.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', `root@${lab.machine(h).ip}`, 'true'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`could not open the ControlPersist master to ${h}: ${r.stderr}`);
  };
  let coldDirs = 0;
  const ansible = (variant: 'default' | 'tuned', h: HostName): Timed => {
    const env: Record<string, string> = { ANSIBLE_CONFIG: join(ans, `${variant}.cfg`), ANSIBLE_NOCOLOR: '1', ANSIBLE_DEPRECATION_WARNINGS: 'False' };
    // Default settings as a first run pays them: a fresh ControlPath, so no master is reused.
    const cp = join(ans, `cp-cold-${coldDirs++}`);
    if (variant === 'default') env.ANSIBLE_SSH_CONTROL_PATH_DIR = cp;
    const r = timed('ansible-playbook', ['--check', '--diff', join(ans, `${h}.yml`)], { env });
    // Ansible's default ssh_args keep a master 60 s: end it, or it warms the host for what follows.
    if (variant === 'default') exitMasters(cp);
    const recap = new RegExp(`${h}\\s+: ok=\\d+\\s+changed=(\\d+)\\s+unreachable=(\\d+)\\s+failed=(\\d+)`).exec(r.stdout);
    if (!recap || recap.slice(1).some((n) => n !== '0')) throw new Error(`ansible does not see ${h} converged:\n${r.stdout}`);
    return r;
  };

  const variants: Variant[] = [
    {
      id: 'user',
      label: 'installed `pairctl plan -f pair.yaml` (PATH, ~/.ssh/config)',
      states: ['cold', 'next', 'warm'],
      run: (h) => assertNoChanges(timed('pairctl', ['plan', '-f', 'pair.yaml'], { env: userEnv, cwd: dirname(files[h]) }), h),
    },
    {
      id: 'installed-F',
      label: 'installed binary, -f FILE -F lab ssh config',
      states: ['warm'],
      run: (h) => assertNoChanges(timed(INSTALLED!, ['plan', '-f', files[h], ...F]), h),
    },
    ...(NOSCRIPTS && existsSync(NOSCRIPTS)
      ? [
          {
            id: 'noscripts-F',
            label: 'installed --ignore-scripts (no ssh2 binding), -F',
            states: ['warm'] as State[],
            run: (h: HostName) => assertNoChanges(timed(NOSCRIPTS, ['plan', '-f', files[h], ...F]), h),
          },
        ]
      : []),
    {
      id: 'checkout',
      label: 'checkout `node dist/cli/main.js plan` (older bench)',
      states: ['warm'],
      run: (h) => assertNoChanges(timed('node', [CHECKOUT, 'plan', '-f', files[h], ...F]), h),
    },
    { id: 'ssh', label: 'OpenSSH `ssh HOST true` (the login alone)', states: ['cold', 'next', 'warm'], run: (h) => timed('ssh', [...F, h, 'true']) },
    { id: 'ansible-tuned', label: 'ansible --check --diff, pipelining + warm ControlPersist', states: ['warm'], run: (h) => ansible('tuned', h), ansible: true },
    { id: 'ansible-default', label: 'ansible --check --diff, default settings', states: ['cold'], run: (h) => ansible('default', h), ansible: true },
  ];
  const results = new Map<string, Timed[]>();
  const key = (v: string, s: State, h: HostName) => `${v}|${s}|${h}`;
  const record = (v: Variant, s: State, h: HostName, t: Timed) => {
    const k = key(v.id, s, h);
    results.set(k, [...(results.get(k) ?? []), t]);
  };
  const starts = new Map<string, number[]>();
  const rotate = <T>(xs: readonly T[], by: number): T[] => xs.map((_, i) => xs[(i + by) % xs.length]!);

  for (let round = 0; round < ROUNDS; round++) {
    const hosts = round % 2 ? [...HOSTS].reverse() : [...HOSTS];
    const inRound = variants.filter((v) => !v.ansible || round < ANSIBLE_ROUNDS);
    // Cold: every variant gets each host fresh from a 10 s quiet (one wait covers both hosts).
    for (const v of rotate(inRound.filter((x) => x.states.includes('cold')), round)) {
      await Promise.all(HOSTS.map((h) => waitCold(lab.machine(h.name))));
      for (const h of hosts) {
        await assertState(lab.machine(h.name), 'cold');
        const since = monotonicUs();
        record(v, 'cold', h.name, v.run(h.name, 'cold'));
        if (v.states.includes('next')) record(v, 'next', h.name, v.run(h.name, 'next'));
        starts.set(v.id, [...(starts.get(v.id) ?? []), await userManagerStartMs(lab.machine(h.name), since)]);
      }
    }
    // Warm: the tuned Ansible master logs in first (not measured) and stays, as in the older bench.
    for (const h of hosts) openTunedMaster(h.name);
    for (const v of rotate(inRound.filter((x) => x.states.includes('warm')), round)) {
      for (const h of hosts) {
        await assertState(lab.machine(h.name), 'warm');
        record(v, 'warm', h.name, v.run(h.name, 'warm'));
      }
    }
    // Ansible must have used the masters opened for it, not made its own.
    const masters = readdirSync(cpTuned);
    if (masters.length !== HOSTS.length) throw new Error(`expected one ControlPersist master per host in ${cpTuned}, found ${masters.join(', ')}`);
    exitMasters(cpTuned);
    const loads = [...results.values()].flat().map((t) => t.load);
    console.log(`round ${round + 1}/${ROUNDS} done (load ${Math.min(...loads).toFixed(2)}-${Math.max(...loads).toFixed(2)})`);
  }

  // Start-up alone, no network: alternating, many fresh processes.
  const startup = { userHelp: [] as Timed[], checkoutHelp: [] as Timed[], node: [] as Timed[], ssh2Installed: [] as Timed[], ssh2Checkout: [] as Timed[] };
  const requireSsh2 = ['-e', "require('ssh2')"];
  for (let i = 0; i < STARTUP_RUNS; i++) {
    startup.userHelp.push(timed('pairctl', ['--help'], { env: userEnv }));
    startup.checkoutHelp.push(timed('node', [CHECKOUT, '--help']));
    startup.node.push(timed('node', ['-e', '0']));
    startup.ssh2Installed.push(timed('node', requireSsh2, { cwd: INSTALLED_PKG }));
    startup.ssh2Checkout.push(timed('node', requireSsh2, { cwd: ROOT }));
  }

  report(variants, results, resources, startup, starts);
  const out = process.env.BENCH_OUT ?? join(tmpdir(), `pairctl-bench-plan-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const raw = Object.fromEntries([...results].map(([k, ts]) => [k, ts.map(({ ms: wall, ownMs, busyMs, load }) => ({ wall, ownMs, busyMs, load }))]));
  writeFileSync(out, `${JSON.stringify({ rounds: ROUNDS, userManagerStartMs: Object.fromEntries(starts), node: process.version, installed: INSTALLED, runs: raw }, null, 1)}\n`);
  console.log(`\nevery run (wall, own CPU, machine CPU, load): ${out}`);
}

function report(
  variants: Variant[],
  results: Map<string, Timed[]>,
  resources: Record<HostName, number>,
  startup: Record<string, Timed[]>,
  starts: Map<string, number[]>,
): void {
  const get = (v: string, s: State, h: HostName) => results.get(`${v}|${s}|${h}`) ?? [];
  const med = (ts: Timed[]) => median(ts.map((t) => t.ms));
  const cell = (ts: Timed[]) => {
    if (ts.length === 0) return ''.padEnd(30);
    const w = ts.map((t) => t.ms);
    return `${ms(median(w)).padStart(8)} [${Math.min(...w).toFixed(0)}-${Math.max(...w).toFixed(0)}] cpu ${ms(median(ts.map((t) => t.ownMs)))}`.padEnd(36);
  };
  const all = [...results.values()].flat();
  const loads = all.map((t) => t.load);
  console.log(
    `\npairctl plan of a converged host: median wall [min-max] over ${ROUNDS} rounds, and the command's own CPU (median); ` +
      `1-min load average ${Math.min(...loads).toFixed(2)}-${Math.max(...loads).toFixed(2)} (median ${median(loads).toFixed(2)}) on ${availableParallelism()} cores`,
  );
  console.log(`${''.padEnd(66)}${`1 guest (${resources.h1} resources)`.padEnd(36)}5 guests (${resources.h5} resources)`);
  for (const v of variants) {
    for (const s of v.states) console.log(`${`${v.label}, ${s === 'next' ? 'right after cold' : s}`.padEnd(66)}${cell(get(v.id, s, 'h1'))}${cell(get(v.id, s, 'h5'))}`);
  }

  // Each factor as paired differences: two runs of the same round and host, seconds apart, so a
  // change of load between rounds cancels out; median [min-max] over the rounds.
  type Ref = [string, State];
  const pairs = (a: Ref, b: Ref, h: HostName, f: (x: Timed, y: Timed) => number) => {
    const xs = get(a[0], a[1], h);
    const ys = get(b[0], b[1], h);
    return xs.slice(0, Math.min(xs.length, ys.length)).map((x, i) => f(x, ys[i]!));
  };
  const spread = (xs: number[], fmt: (x: number) => string) =>
    xs.length === 0 ? 'n/a' : `${fmt(median(xs))} [${fmt(Math.min(...xs))} to ${fmt(Math.max(...xs))}]`;
  const diff = (a: Ref, b: Ref) =>
    HOSTS.map((h) => `${spread(pairs(a, b, h.name, (x, y) => x.ms - y.ms), signed).padEnd(32)}`).join('  ');
  console.log(`\nfactors, paired within a round (median [range] of the differences)   ${'1 guest'.padEnd(34)}5 guests`);
  const f = (label: string, a: Ref, b: Ref) => console.log(`  ${label.padEnd(70)}${diff(a, b)}`);
  f("host cold vs right after: user's command", ['user', 'cold'], ['user', 'next']);
  f('host cold vs right after: OpenSSH login alone', ['ssh', 'cold'], ['ssh', 'next']);
  f("user's command (PATH, ~/.ssh/config) vs installed -F", ['user', 'warm'], ['installed-F', 'warm']);
  f('installed -F vs checkout `node dist/cli/main.js` (package vs checkout)', ['installed-F', 'warm'], ['checkout', 'warm']);
  if (results.has('noscripts-F|warm|h1')) f('ssh2 without vs with its native binding (installed -F)', ['noscripts-F', 'warm'], ['installed-F', 'warm']);
  const st = [...starts.values()].flat();
  console.log(`  (root's user manager took ${spread(st, ms)} to start after each cold login, by systemd's timestamps)`);
  const g = (v: string, s: State) => {
    const xs = get(v, s, 'h5');
    return spread(get(v, s, 'h1').slice(0, xs.length).map((x, i) => xs[i]!.ms - x.ms), signed);
  };
  console.log(`  5 guests vs 1 guest: user's command cold ${g('user', 'cold')}, warm ${g('user', 'warm')}; tuned Ansible ${g('ansible-tuned', 'warm')}`);
  console.log('\npairctl vs Ansible: Ansible / pairctl, per round (median [range])');
  const ratio = (a: Ref, b: Ref, h: HostName) => spread(pairs(a, b, h, (x, y) => x.ms / y.ms), (r) => `${r.toFixed(1)}x`);
  for (const h of HOSTS) {
    const tuned: Ref = ['ansible-tuned', 'warm'];
    const dflt: Ref = ['ansible-default', 'cold'];
    console.log(`  ${h.guests} guest(s): tuned Ansible / user's command cold ${ratio(tuned, ['user', 'cold'], h.name)}, warm ${ratio(tuned, ['user', 'warm'], h.name)}, checkout warm (older bench) ${ratio(tuned, ['checkout', 'warm'], h.name)}`);
    console.log(`  ${''.padEnd(h.guests > 1 ? 11 : 10)}default Ansible (cold) / user's command cold ${ratio(dflt, ['user', 'cold'], h.name)}, checkout warm ${ratio(dflt, ['checkout', 'warm'], h.name)}`);
  }
  const line = (label: string, ts: Timed[]) => console.log(`  ${label.padEnd(52)}${ms(med(ts)).padStart(8)}  [${Math.min(...ts.map((t) => t.ms)).toFixed(0)}-${Math.max(...ts.map((t) => t.ms)).toFixed(0)}]`);
  console.log(`\nstart-up, no network (${startup.node!.length} fresh processes each, alternating):`);
  line('node -e 0', startup.node!);
  line('installed `pairctl --help` (PATH, #!/usr/bin/env node)', startup.userHelp!);
  line('checkout `node dist/cli/main.js --help`', startup.checkoutHelp!);
  line("require('ssh2') from the installed package", startup.ssh2Installed!);
  line("require('ssh2') from the checkout", startup.ssh2Checkout!);
}

const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(0)} ms`;

const lab = await startLab({ machines: HOSTS.map((h) => h.name) });
try {
  await main(lab);
} finally {
  await lab.stop();
}
