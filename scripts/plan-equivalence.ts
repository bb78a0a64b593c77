/**
 * Before/after proof for issue 12: two or more pairctl builds print byte-identical `pairctl plan`
 * output (stdout, stderr, exit code) for the same machines, in every state the e2e suites reach.
 *
 * Needs root (it boots one lab of real Debian machines with test/machines/lab.ts: `host`, `two`
 * and `relay`, reused across all scenarios). Per scenario it puts the machines in a state, always
 * with ONE build (the baseline: the first build, or --baseline NAME), then runs every build's
 * `plan` in that same state, in each variant (plain text, --json, --detailed-exitcode, on a real
 * pty in colour and with --no-color), and compares the outputs byte for byte. The baseline runs
 * each case twice (first and last): that is the harness's own positive control and must come out
 * "same". Anything that differs between those two runs of one build is masked for every build,
 * but only with a named pattern (timestamps, durations), and the masking is printed; a control
 * difference no pattern explains fails the run. `plan` never changes anything: each machine's
 * probed state (pairctl's record, managed files and their hashes, accounts, units, the tmux
 * session's clients and ACL as the owner, firewall rules) and the files beside pair.yaml are read
 * through nsenter before and after every build's runs, and any change fails the run.
 *
 *     npm run build   # or pass --ref for the baseline
 *     node_modules/.bin/tsx scripts/plan-equivalence.ts --ref 4d47539 --bin new=dist/cli/main.js \
 *       [--release bookworm] [--out DIR] [--baseline NAME] [--only SCENARIO,...]
 *
 * --ref REF does `git worktree add` of REF into a temp dir, symlinks node_modules, runs
 * `npm run build` there and uses its dist (the worktree is removed at the end). Every output is
 * written to --out (default /tmp/plan-equivalence-<time>) as CASE/BUILD.{stdout,stderr,code}
 * (in the tty variants "stdout" is the terminal's bytes, both streams as a person sees them).
 * Prints a table case × output, a unified diff for every difference; exits 0 when every build
 * matches the baseline, 1 on any difference (or a state plan changed), 2 when the harness
 * itself could not run (usage, lab, an apply that failed).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { quote } from '../src/transport/shell-quote.js';
import { addGuestKeys, writeGuestSshConfig } from '../test/machines/guest-keys.js';
import { openGuestTerminal, type GuestTerminal } from '../test/machines/guest-terminal.js';
import { RELEASES, startLab, type Lab, type LabMachine, type Release } from '../test/machines/lab.js';
import { waitUntil } from '../test/machines/wait.js';

const OWNER = 'bhorseman';
const SOCKET = '/run/pairctl/pair/tmux.sock';
const NGROK_TOKEN = '2xYzAbCdEfGhIjKlMnOpQrStUvW_3aBcDeFgHiJkLmNoPqRsT';
const CLI_TIMEOUT_MS = 180_000;

/** A pairctl build under comparison: a name and its dist/cli/main.js. */
interface Build {
  name: string;
  main: string;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One way of running plan: its extra arguments, and whether it runs on a pty (colour). */
interface Variant {
  name: string;
  args: string[];
  tty?: boolean;
}

const TEXT: Variant = { name: 'text', args: [] };
const JSON_V: Variant = { name: 'json', args: ['--json'] };
const EXITCODE: Variant = { name: 'exitcode', args: ['--detailed-exitcode'] };
const JSON_EXITCODE: Variant = { name: 'json-exitcode', args: ['--json', '--detailed-exitcode'] };
const TTY: Variant = { name: 'tty', args: [], tty: true };
const TTY_NO_COLOR: Variant = { name: 'tty-no-color', args: ['--no-color'], tty: true };
const BASIC = [TEXT, JSON_V, EXITCODE];

/**
 * Values that may legitimately differ between two runs of the same build seconds apart. Used only
 * where the control (the baseline run twice) differs, and only when they explain the difference.
 */
const VOLATILE: Array<{ name: string; re: RegExp }> = [
  { name: 'ISO timestamp', re: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?/g },
  { name: 'duration', re: /\b\d+(?:\.\d+)? ?(?:ms|s)\b/g },
  { name: 'temp path', re: /\/tmp\/[\w.+-]+/g },
];

// ---------------------------------------------------------------------------------------------
// Command line

function usage(msg: string): never {
  console.error(`plan-equivalence: ${msg}`);
  console.error('usage: tsx scripts/plan-equivalence.ts (--bin NAME=DIST_MAIN_JS | --ref GIT_REF)... [--baseline NAME] [--release R] [--out DIR] [--only S,...]');
  process.exit(2);
}

const { values: opt } = parseArgs({
  options: {
    bin: { type: 'string', multiple: true },
    ref: { type: 'string', multiple: true },
    baseline: { type: 'string' },
    release: { type: 'string' },
    out: { type: 'string' },
    only: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (opt.help) usage('help');
if (process.getuid?.() !== 0) usage('needs root (it boots lab machines with systemd-nspawn)');
const release = (opt.release ?? process.env.PAIRCTL_TEST_RELEASE ?? 'bookworm') as Release;
if (!RELEASES.includes(release)) usage(`--release ${release}: want one of ${RELEASES.join(', ')}`);
const only = opt.only ? new Set(opt.only.split(',').map((s) => s.trim())) : undefined;
const outDir = path.resolve(opt.out ?? path.join(os.tmpdir(), `plan-equivalence-${new Date().toISOString().replace(/[:.]/g, '-')}`));
const repoRoot = spawnSync('git', ['rev-parse', '--show-toplevel'], { cwd: path.dirname(new URL(import.meta.url).pathname), encoding: 'utf8' }).stdout.trim();

const builds: Build[] = [];
const refWorktrees: string[] = [];

function addBuild(name: string, main: string): void {
  if (!/^[\w.+-]+$/.test(name)) usage(`build name ${JSON.stringify(name)}: use letters, digits and . _ + -`);
  if (builds.some((b) => b.name === name)) usage(`two builds named ${name}`);
  if (!fs.existsSync(main)) usage(`${name}: ${main} does not exist (npm run build first?)`);
  builds.push({ name, main: path.resolve(main) });
}

/** Builds REF in a temporary git worktree; its dist is used until the end of the run. */
function buildRef(ref: string): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairctl-ref-'));
  refWorktrees.push(dir);
  const log = (what: string, r: ReturnType<typeof spawnSync>): void => {
    if (r.status !== 0) throw new Error(`--ref ${ref}: ${what} failed (exit ${r.status}):\n${String(r.stdout)}${String(r.stderr)}`);
  };
  console.log(`building ${ref} in ${dir} ...`);
  log('git worktree add', spawnSync('git', ['-C', repoRoot, 'worktree', 'add', '--detach', dir, ref], { encoding: 'utf8' }));
  fs.symlinkSync(fs.realpathSync(path.join(repoRoot, 'node_modules')), path.join(dir, 'node_modules'));
  const t0 = Date.now();
  log('npm run build', spawnSync('npm', ['run', 'build'], { cwd: dir, encoding: 'utf8' }));
  const sha = spawnSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  console.log(`built ${ref} (${sha}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  addBuild(ref.replace(/[^\w.+-]/g, '_'), path.join(dir, 'dist', 'cli', 'main.js'));
}

function removeRefWorktrees(): void {
  for (const dir of refWorktrees) {
    spawnSync('git', ['-C', repoRoot, 'worktree', 'remove', '--force', dir], { encoding: 'utf8' });
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (refWorktrees.length > 0) spawnSync('git', ['-C', repoRoot, 'worktree', 'prune'], { encoding: 'utf8' });
}

// ---------------------------------------------------------------------------------------------
// Running pairctl

let lab: Lab;
let workDir: string;
let pairFile: string;

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8', ...extra };
}

/** `node MAIN ARGS -F <lab ssh config>` from pair.yaml's directory, without a terminal. */
function runCli(main: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('node', [main, ...args, '-F', lab.sshConfigFile], { cwd: workDir, env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** The same on a real pty (util-linux `script`): stdin and stdout are TTYs, so colour is on. */
function runCliOnTty(main: string, args: string[], env: Record<string, string> = {}): RunResult {
  const cmd = `stty cols 120 rows 40; ${['node', main, ...args, '-F', lab.sshConfigFile].map(quote).join(' ')}`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: workDir, encoding: 'utf8', env: baseEnv({ TERM: 'xterm-256color', ...env }), timeout: CLI_TIMEOUT_MS });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const baseline = (): Build => builds.find((b) => b.name === opt.baseline) ?? builds[0]!;

/** Runs a command with the baseline build to reach a state; any failure stops the harness. */
async function must(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const r = await runCli(baseline().main, args, env);
  if (r.code !== 0) throw new Error(`pairctl ${args.join(' ')} (baseline ${baseline().name}) exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r;
}

async function onMachine(m: LabMachine, cmd: string): Promise<string> {
  const r = await m.run(cmd);
  if (r.code !== 0) throw new Error(`${m.name}: ${cmd}\nexit ${r.code}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

// ---------------------------------------------------------------------------------------------
// What plan must leave alone

/** Each pairctl unit's state and invocation, one line each (systemctl show separates units by a blank line). */
const UNITS =
  "for u in $(systemctl list-units --all --plain --no-legend --full 'pairctl*' | awk '{print $1}'); do " +
  'echo "$u $(systemctl show --value -p ActiveState,SubState,InvocationID "$u" | tr \'\\n\' \' \')"; done | sort';

/**
 * Waits until no pairctl unit is starting, stopping or waiting to restart: right after an apply
 * the tunnel unit retries until the relay's side is up, which is the apply's doing, not the plan's.
 */
async function settle(machines: LabMachine[]): Promise<void> {
  await Promise.all(
    machines.map((m) =>
      waitUntil(`${m.name}: pairctl units settled`, async () => !/activating|deactivating|auto-restart|reloading/.test((await m.run(UNITS)).stdout), 90_000),
    ),
  );
}

/** Reads, in one exec per machine, everything a plan could touch there. */
function snapshotScript(): string {
  const paths = [
    '/etc/pairctl', '/var/lib/pairctl', '/usr/local/libexec/pairctl', '/etc/ssh/sshd_config', '/etc/ssh/sshd_config.d',
    '/etc/systemd/system', '/run/pairctl', '/etc/passwd', '/etc/group', '/etc/shadow', '/etc/gshadow', '/etc/sudoers.d',
  ].map(quote).join(' ');
  const tmux = `runuser -u ${quote(OWNER)} -- tmux -S ${quote(SOCKET)}`;
  return [
    `P="${paths}"`,
    'for d in /home/pair-* /home/tunnel-*; do [ -e "$d" ] && P="$P $d"; done',
    "echo '== files'; find $P -xdev -printf '%y %m %u:%g %s %p -> %l\\n' 2>/dev/null | sort",
    "echo '== hashes'; find $P -xdev -type f -exec sha256sum {} + 2>/dev/null | sort -k2",
    // InvocationID changes whenever a unit (re)starts: a plan that restarted one would show.
    `echo '== units'; ${UNITS}`,
    `echo '== session'; if id ${quote(OWNER)} >/dev/null 2>&1 && [ -S ${quote(SOCKET)} ]; then ${tmux} list-clients -F '#{client_user} #{client_readonly}' 2>&1 | sort; ${tmux} server-access -l 2>&1 | sort; fi`,
    "echo '== firewall'; iptables-save 2>/dev/null | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'",
    'true',
  ].join('\n');
}

function localSnapshot(): string {
  const lines: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else lines.push(`${createHash('sha256').update(fs.readFileSync(p)).digest('hex')} ${p}`);
    }
  };
  walk(workDir);
  lines.push(`${createHash('sha256').update(fs.readFileSync(lab.knownHostsFile)).digest('hex')} ${lab.knownHostsFile}`);
  return lines.join('\n');
}

async function snapshot(machines: LabMachine[]): Promise<Record<string, string>> {
  const snap: Record<string, string> = { local: localSnapshot() };
  const script = snapshotScript();
  for (const [i, out] of (await Promise.all(machines.map((m) => onMachine(m, script)))).entries()) snap[machines[i]!.name] = out;
  return snap;
}

function unifiedDiff(a: string, b: string, labelA: string, labelB: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-eq-diff-'));
  try {
    fs.writeFileSync(path.join(dir, 'a'), a);
    fs.writeFileSync(path.join(dir, 'b'), b);
    return spawnSync('diff', ['-u', '--label', labelA, '--label', labelB, path.join(dir, 'a'), path.join(dir, 'b')], { encoding: 'utf8' }).stdout;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Comparing

type Stream = 'stdout' | 'stderr' | 'code';
const STREAMS: Stream[] = ['stdout', 'stderr', 'code'];

interface CaseReport {
  id: string;
  /** per compared run (other builds, then "<baseline>#2"): the streams that differ */
  differs: Map<string, Stream[]>;
  masked: string[];
  controlUnexplained: Stream[];
}

const reports: CaseReport[] = [];
const stateChanges: string[] = [];
const diffs: string[] = [];
const maskNotes: string[] = [];

function streamText(r: RunResult, s: Stream): string {
  return s === 'code' ? `${r.code}\n` : r[s];
}

/** The patterns (first k of VOLATILE) that make the two control runs equal, or undefined. */
function explainControl(a: string, b: string): RegExp[] | undefined {
  for (let k = 1; k <= VOLATILE.length; k++) {
    const res = VOLATILE.slice(0, k).map((v) => v.re);
    const mask = (t: string) => res.reduce((acc, re) => acc.replace(re, '<masked>'), t);
    if (mask(a) === mask(b)) return res;
  }
  return undefined;
}

interface Scenario {
  name: string;
  what: string;
  variants: Variant[];
  env?: Record<string, string>;
  machines: () => LabMachine[];
}

/** Runs every build's plan in each variant of one scenario, in the state the machines are in now. */
async function compareScenario(s: Scenario): Promise<void> {
  if (only && !only.has(s.name)) return;
  const machines = s.machines();
  console.log(`  # ${s.name}: ${s.what}`);
  await settle(machines);
  const before = await snapshot(machines);
  const base = baseline();
  const order: Array<{ label: string; build: Build }> = [
    { label: base.name, build: base },
    ...builds.filter((b) => b !== base).map((b) => ({ label: b.name, build: b })),
    { label: `${base.name}#2`, build: base },
  ];
  const results = new Map<string, Map<string, RunResult>>(); // variant -> label -> result
  for (const { label, build } of order) {
    for (const v of s.variants) {
      const args = ['plan', '-f', pairFile, ...v.args];
      const r = v.tty ? runCliOnTty(build.main, args, s.env) : await runCli(build.main, args, s.env);
      if (!results.has(v.name)) results.set(v.name, new Map());
      results.get(v.name)!.set(label, r);
      const dir = path.join(outDir, `${s.name}.${v.name}`);
      fs.mkdirSync(dir, { recursive: true });
      for (const st of STREAMS) fs.writeFileSync(path.join(dir, `${label}.${st}`), streamText(r, st));
    }
    const after = await snapshot(machines);
    for (const k of Object.keys(before)) {
      if (before[k] !== after[k]) {
        stateChanges.push(`${s.name}: plan by ${label} changed ${k}:\n${unifiedDiff(before[k]!, after[k]!, `${k} before`, `${k} after`)}`);
        before[k] = after[k]!;
      }
    }
  }
  for (const v of s.variants) {
    const id = `${s.name}.${v.name}`;
    const byLabel = results.get(v.name)!;
    const first = byLabel.get(base.name)!;
    const control = byLabel.get(`${base.name}#2`)!;
    const report: CaseReport = { id, differs: new Map(), masked: [], controlUnexplained: [] };
    const masks = new Map<Stream, RegExp[]>();
    for (const st of STREAMS) {
      const a = streamText(first, st);
      const b = streamText(control, st);
      if (a === b) continue;
      const res = explainControl(a, b);
      if (res) {
        masks.set(st, res);
        const names = VOLATILE.filter((x) => res.includes(x.re)).map((x) => x.name);
        report.masked.push(`${st}: ${names.join(', ')}`);
        const seen = new Set([...a.matchAll(res.at(-1)!)].map((m) => m[0]));
        const other = [...b.matchAll(res.at(-1)!)].map((m) => m[0]).filter((x) => !seen.has(x));
        maskNotes.push(`${id} ${st}: masked ${names.join(' + ')} (baseline run 2 had e.g. ${other.slice(0, 3).map((x) => JSON.stringify(x)).join(', ') || 'reordered values'})`);
      } else {
        report.controlUnexplained.push(st);
      }
    }
    const masked = (r: RunResult, st: Stream) => (masks.get(st) ?? []).reduce((acc, re) => acc.replace(re, '<masked>'), streamText(r, st));
    for (const { label } of order.slice(1)) {
      const r = byLabel.get(label)!;
      const bad = STREAMS.filter((st) => masked(first, st) !== masked(r, st));
      report.differs.set(label, bad);
      for (const st of bad) diffs.push(unifiedDiff(masked(first, st), masked(r, st), `${id} ${base.name} ${st}`, `${id} ${label} ${st}`));
    }
    reports.push(report);
    const cells = [...report.differs].map(([l, bad]) => `${l}: ${bad.length === 0 ? 'same' : `DIFFERENT (${bad.join(',')})`}`);
    console.log(`  ${id.padEnd(34)} exit ${first.code}  ${cells.join('  ')}${report.masked.length ? `  [masked ${report.masked.join('; ')}]` : ''}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The machines and the states they are put in (taken from the e2e suites named beside each)

interface ConfigSpec {
  hosts?: string[];
  guests?: Record<string, string>;
  tunnel?: string;
  relay?: boolean;
  guestLines?: Record<string, string[]>;
}

const keys: Record<string, string> = {};

function writeConfig(c: ConfigSpec = {}): void {
  const hosts = c.hosts ?? ['box', 'two'];
  const guests = c.guests ?? { todd: 'mirror', ann: 'pair' };
  const lines = ['version: 1'];
  if (c.relay) lines.push('relays:', '  relay:', '    platform: linux', '    ssh: relay');
  lines.push('hosts:');
  for (const h of hosts) {
    lines.push(`  ${h}:`, '    platform: linux', `    ssh: ${h === 'box' ? 'host' : h}`, `    owner: ${OWNER}`);
    if (h === 'box' && c.tunnel) lines.push(`    tunnel: ${c.tunnel}`);
  }
  lines.push('guests:');
  for (const [g, mode] of Object.entries(guests)) {
    lines.push(`  ${g}:`, `    keys: [${JSON.stringify(keys[g])}]`, `    mode: ${mode}`, ...(c.guestLines?.[g] ?? []).map((l) => `    ${l}`));
  }
  fs.writeFileSync(pairFile, `${lines.join('\n')}\n`);
}

async function main(): Promise<number> {
  for (const ref of opt.ref ?? []) buildRef(ref);
  for (const spec of opt.bin ?? []) {
    const eq = spec.indexOf('=');
    if (eq <= 0) usage(`--bin ${spec}: want NAME=PATH`);
    addBuild(spec.slice(0, eq), spec.slice(eq + 1));
  }
  if (builds.length < 2) usage('give at least two builds (--bin NAME=PATH, --ref REF)');
  if (opt.baseline && !builds.some((b) => b.name === opt.baseline)) usage(`--baseline ${opt.baseline}: no such build`);
  fs.mkdirSync(outDir, { recursive: true });
  console.log(`builds: ${builds.map((b) => `${b.name}=${b.main}`).join(', ')}; baseline (applies, control): ${baseline().name}; release ${release}; outputs in ${outDir}`);

  const t0 = Date.now();
  lab = await startLab({ machines: ['host', 'two', 'relay'], release });
  // After the lab's own handlers (which stop the machines): drop the --ref worktrees too.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      removeRefWorktrees();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
  const terminals: GuestTerminal[] = [];
  try {
    const host = lab.machine('host');
    const two = lab.machine('two');
    const relay = lab.machine('relay');
    const hosts = () => [host, two];
    const all = () => [host, two, relay];
    workDir = path.join(lab.dir, 'equiv');
    fs.mkdirSync(workDir, { recursive: true });
    pairFile = path.join(workDir, 'pair.yaml');
    const keyDir = path.join(lab.dir, 'equiv-keys');
    fs.mkdirSync(keyDir, { recursive: true });
    addGuestKeys(keys, keyDir, ['todd', 'ann', 'rita']);
    for (const m of [host, two]) await onMachine(m, `useradd -m -s /bin/bash ${quote(OWNER)}`);
    // plan-lifecycle: a file that existed before pairctl, which it backs up and later puts back.
    await onMachine(two, `mkdir -p /etc/pairctl && printf 'set -g mouse on\\n' > /etc/pairctl/tmux.conf && chown ${quote(`${OWNER}:${OWNER}`)} /etc/pairctl/tmux.conf && chmod 0640 /etc/pairctl/tmux.conf`);
    console.log(`lab up in ${((Date.now() - t0) / 1000).toFixed(1)} s; comparing (case, baseline exit, each run against the baseline's first):`);
    const sc = (name: string, what: string, variants: Variant[], machines = hosts, env?: Record<string, string>) =>
      compareScenario({ name, what, variants, machines, ...(env ? { env } : {}) });

    // core / plan-lifecycle: nothing applied yet (two holds a file pairctl will adopt)
    writeConfig();
    await sc('fresh', 'nothing applied', [TEXT, JSON_V, EXITCODE, TTY, TTY_NO_COLOR]);
    await sc('fresh-limit', '--limit two, nothing applied', [{ name: 'text', args: ['--limit', 'two'] }, { name: 'json', args: ['--json', '--limit', 'two'] }]);
    await sc('fresh-destroy', 'plan --destroy, nothing applied', [{ name: 'text', args: ['--destroy'] }, { name: 'json-exitcode', args: ['--destroy', '--json', '--detailed-exitcode'] }]);
    await must(['apply', '-f', pairFile, '--yes']);
    await sc('converged', 'apply done', [TEXT, JSON_V, EXITCODE, JSON_EXITCODE, TTY]);
    await sc('converged-limit', '--limit box, converged', [{ name: 'text', args: ['--limit', 'box'] }, { name: 'json', args: ['--json', '--limit', 'box'] }, { name: 'limit-unknown', args: ['--limit', 'nope'] }]);
    await sc('destroy', 'plan --destroy, converged (two restores its backed-up tmux.conf)', [
      { name: 'text', args: ['--destroy'] },
      { name: 'json', args: ['--destroy', '--json'] },
      { name: 'exitcode', args: ['--destroy', '--detailed-exitcode'] },
      { name: 'limit', args: ['--destroy', '--limit', 'two'] },
    ]);

    // plan-lifecycle: drift
    await onMachine(host, "sed -i 's/^set -u$/set -u # tweaked/' /usr/local/libexec/pairctl/join && usermod -s /bin/bash pair-todd && sed -i 's/^restrict,pty,/restrict,pty,agent-forwarding,/' /home/pair-todd/.ssh/authorized_keys && rm /home/pair-ann/.ssh/authorized_keys");
    await sc('drift', 'join script, an account, a key line edited by hand; a key file deleted', [TEXT, JSON_V, EXITCODE, TTY]);
    writeConfig({ guests: { todd: 'mirror', ann: 'pair', rita: 'pair' } });
    await sc('drift-and-guest-added', 'drift plus a change of pair.yaml', [TEXT, JSON_V]);
    writeConfig();
    await must(['apply', '-f', pairFile, '--yes']);
    writeConfig({ guests: { todd: 'mirror', ann: 'pair', rita: 'pair' } });
    await sc('guest-added', 'rita added to pair.yaml', BASIC);
    writeConfig({ guests: { todd: 'mirror' } });
    await sc('guest-removed', 'ann removed from pair.yaml', BASIC);
    writeConfig({ guests: { todd: 'rogue', ann: 'pair' } });
    await sc('guest-mode-changed', "todd's mode changed in pair.yaml", [TEXT, JSON_V]);

    // plan-lifecycle: a machine dropped from pair.yaml, and one that cannot be reached
    writeConfig({ hosts: ['box'] });
    await sc('teardown', 'two dropped from pair.yaml (its adopted tmux.conf is put back)', BASIC);
    const block = `iptables -I INPUT -p tcp --dport 22 -s ${quote(lab.sourceIp('operator'))} -j REJECT --reject-with tcp-reset`;
    await onMachine(two, block);
    writeConfig();
    await sc('unreachable', 'two refuses pairctl (connection reset)', [TEXT, JSON_V, EXITCODE, TTY]);
    writeConfig({ hosts: ['box'] });
    await sc('teardown-unreachable', 'two dropped from pair.yaml and unreachable', BASIC);
    await onMachine(two, block.replace('-I INPUT', '-D INPUT'));
    writeConfig();

    // guest-expiry: a fixed cut-off far ahead (the plan shows it), planned then converged
    const expiry = { todd: ['expires: 2030-06-01T12:00:00Z'] };
    writeConfig({ guestLines: expiry });
    await sc('expiry', 'todd gets expires', BASIC);
    await must(['apply', '-f', pairFile, '--yes']);
    await sc('expiry-converged', 'expires applied', BASIC);
    writeConfig();
    await sc('expiry-removed', 'expires removed from pair.yaml', [TEXT, JSON_V]);
    await must(['apply', '-f', pairFile, '--yes']);

    // session-control / hostile-guest: a session with guests attached, and a live mode change
    await must(['up', '-f', pairFile]);
    const guestConfig = writeGuestSshConfig(lab, keyDir, host.ip, { connectTimeout: 10 });
    const asOwner = (tmuxArgs: string) => host.run(`runuser -u ${quote(OWNER)} -- tmux -S ${quote(SOCKET)} ${tmuxArgs}`);
    for (const g of ['todd', 'ann']) {
      const t = await openGuestTerminal({ sshConfigFile: guestConfig, host: 'pairhost', user: `pair-${g}`, sshArgs: ['-i', keys[`${g}_key`]!], cols: 100, rows: 30 });
      terminals.push(t);
      await t.waitFor('[pair]');
      await waitUntil(`${g}'s client`, async () => (await asOwner("list-clients -F '#{client_user}'")).stdout.split('\n').includes(`pair-${g}`));
    }
    await sc('session', 'session up, todd (mirror) and ann (pair) attached', [TEXT, JSON_V, EXITCODE]);
    await must(['mode', '-f', pairFile, 'ann', 'mirror']);
    await sc('session-mode-live', 'ann made mirror live (pair.yaml says pair)', [TEXT, JSON_V, EXITCODE]);
    await must(['mode', '-f', pairFile, 'ann', 'pair']);
    for (const t of terminals.splice(0)) await t.close();
    await must(['down', '-f', pairFile]);

    // tunnel-vps: first setup (values known after apply), then converged
    const vps = { tunnel: '{ provider: vps, relay: relay, port: 2222 }', relay: true };
    writeConfig(vps);
    await sc('vps-first', 'vps tunnel, relay not yet set up', [TEXT, JSON_V, EXITCODE, TTY], all);
    await must(['apply', '-f', pairFile, '--yes']);
    await sc('vps-converged', 'vps tunnel applied', BASIC, all);
    // tunnel-jump: switch to a jump relay, then converged
    writeConfig({ tunnel: '{ provider: jump, relay: relay, port: 2222 }', relay: true });
    await sc('jump-first', 'vps replaced by jump', [TEXT, JSON_V], all);
    await must(['apply', '-f', pairFile, '--yes']);
    await sc('jump-converged', 'jump tunnel applied', BASIC, all);
    await sc('jump-limit-relay', '--limit relay', [{ name: 'text', args: ['--limit', 'relay'] }, { name: 'json', args: ['--json', '--limit', 'relay'] }], all);
    // tunnel-ngrok (stand-in agent; the token comes from the environment and is never printed)
    await onMachine(host, `printf '%s\\n' '#!/bin/sh' 'exec sleep 2147483647' > /usr/local/bin/ngrok && chmod 0755 /usr/local/bin/ngrok`);
    writeConfig({ tunnel: '{ provider: ngrok, authtoken_env: NGROK_AUTHTOKEN }', relay: true });
    const token = { NGROK_AUTHTOKEN: NGROK_TOKEN };
    await sc('ngrok-first', 'jump replaced by ngrok', [TEXT, JSON_V, EXITCODE], all, token);
    await sc('ngrok-no-token', 'ngrok without $NGROK_AUTHTOKEN', [TEXT, JSON_V], all);
    await must(['apply', '-f', pairFile, '--yes'], token);
    await sc('ngrok-converged', 'ngrok applied', BASIC, all, token);
    console.log(`scenarios done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    for (const t of terminals) await t.close();
    await lab.stop();
  }
  return report();
}

function report(): number {
  const compared = builds.filter((b) => b !== baseline()).map((b) => b.name).concat(`${baseline().name}#2`);
  console.log(`\n${'case'.padEnd(34)} ${compared.map((l) => l.padEnd(30)).join(' ')}`);
  for (const r of reports) {
    const cells = compared.map((l) => {
      const bad = r.differs.get(l) ?? [];
      return (bad.length === 0 ? 'same' : `DIFFERENT (${bad.join(',')})`).padEnd(30);
    });
    console.log(`${r.id.padEnd(34)} ${cells.join(' ')}`);
  }
  const control = reports.filter((r) => r.controlUnexplained.length > 0);
  console.log(`\npositive control (baseline ${baseline().name} run twice): ${control.length === 0 ? 'same in every case' : `DIFFERENT in ${control.map((r) => `${r.id} (${r.controlUnexplained.join(',')})`).join(', ')}`}`);
  console.log(maskNotes.length === 0 ? 'masked: nothing (no output differed between two runs of the same build)' : `masked:\n  ${maskNotes.join('\n  ')}`);
  console.log(stateChanges.length === 0 ? 'plan changed nothing on any machine or beside pair.yaml' : `PLAN CHANGED STATE:\n${stateChanges.join('\n')}`);
  if (diffs.length > 0) console.log(`\ndifferences:\n${diffs.join('\n')}`);
  const different = reports.filter((r) => [...r.differs.values()].some((b) => b.length > 0));
  const ok = different.length === 0 && stateChanges.length === 0;
  console.log(`\n${reports.length} cases x ${compared.length} runs compared: ${ok ? 'all same' : `${different.length} case(s) DIFFERENT${stateChanges.length ? `, ${stateChanges.length} state change(s)` : ''}`}; outputs in ${outDir}`);
  return ok ? 0 : 1;
}

main()
  .then((code) => {
    removeRefWorktrees();
    process.exit(code);
  })
  .catch((err: unknown) => {
    removeRefWorktrees();
    console.error(`plan-equivalence: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(2);
  });
