/**
 * Where the round trips go (issue 15): one lab machine behind a delay proxy at BENCH_TRACE_RTT ms
 * (default 50), and for each command the proxy's timeline of flights — consecutive chunks one way
 * — with their sizes. A flight that leaves the client after one arrived from the server is one
 * round trip waited for. Compare pairctl's flights with OpenSSH's floor (`ssh h1 true`).
 *
 *   npm run build && node_modules/.bin/tsx bench/trace.ts          # the checkout's dist/cli/main.js
 *   BENCH_TRACE=plan,floor node_modules/.bin/tsx bench/trace.ts    # only these commands
 *   BENCH_TRACE_OTHER=/tmp/old/dist/cli/main.js ...                 # also plan-other, status-other, apply-other with that build
 *
 * Needs root (the lab). Not part of `npm run bench`: it prints timelines, not figures.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLab, type LabMachine } from '../test/machines/lab.js';
import { prepareHost, writeConfig } from './converged-host.js';
import { startDelayProxy } from './delay-proxy.js';

const RTT = Number(process.env.BENCH_TRACE_RTT ?? 50);
const ONLY = process.env.BENCH_TRACE?.split(',');
const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
/** Another build's main.js (e.g. an older commit's) to trace beside this one, alternating: BENCH_TRACE_OTHER. */
const OTHER = process.env.BENCH_TRACE_OTHER;
/** Runs of each command (default 2; with more, flights are printed only with BENCH_TRACE_FLIGHTS=1). */
const RUNS = Number(process.env.BENCH_TRACE_RUNS ?? 2);
/** The guest `apply` adds (removed first by an untimed apply, as latency.ts does). */
const ADDED = 'kim';

interface Chunk {
  conn: number;
  way: 'up' | 'down';
  bytes: number;
  at: number;
}

/** Flights of one connection: [way, start ms, chunk sizes]. */
export function flights(chunks: Chunk[]): Array<{ way: 'up' | 'down'; at: number; sizes: number[] }> {
  const out: Array<{ way: 'up' | 'down'; at: number; sizes: number[] }> = [];
  const t0 = chunks[0]?.at ?? 0;
  for (const c of chunks) {
    const last = out[out.length - 1];
    if (last && last.way === c.way) last.sizes.push(c.bytes);
    else out.push({ way: c.way, at: c.at - t0, sizes: [c.bytes] });
  }
  return out;
}

function run(cmd: string, args: string[], env: Record<string, string>, cwd?: string): Promise<{ ms: number; code: number | null; out: string; t0: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: { ...process.env, NO_COLOR: '1', ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('close', (code) => resolve({ ms: performance.now() - t0, code, out, t0 }));
  });
}

/**
 * What the guest's forced command (join.sh) does before its attach, timed on the host as the
 * guest (20 runs each, in one shell, so only the command itself is counted).
 */
async function joinParts(h1: LabMachine, env: Record<string, string>, file: string): Promise<void> {
  const up = await run('node', [MAIN, 'up', '-f', file], env, dirname(file));
  if (up.code !== 0) throw new Error(`up failed:\n${up.out}`);
  const loop = (cmd: string) =>
    `t0=$(date +%s%N); i=0; while [ $i -lt 20 ]; do ${cmd} >/dev/null 2>&1; i=$((i+1)); done; t1=$(date +%s%N); echo $(( (t1 - t0) / 20000 ))`;
  const parts: Array<[string, string]> = [
    ['true (the loop itself)', 'true'],
    ['id -un', 'id -un'],
    ['tmux list-clients', 'tmux -S /run/pairctl/pair/tmux.sock list-clients'],
    ['date +%s', 'date +%s'],
  ];
  console.log('\njoin.sh before its attach, on h1 as pair-todd (microseconds per run, mean of 20):');
  for (const [label, cmd] of parts) {
    const r = await h1.run(`runuser -u pair-todd -- sh -c '${loop(cmd).replace(/'/g, "'\\''")}'`);
    console.log(`  ${label}: ${r.stdout.trim()} us (load ${(await h1.run('cut -d" " -f1 /proc/loadavg')).stdout.trim()})`);
  }
}

const lab = await startLab({ machines: ['h1'] });
try {
  const h1 = lab.machine('h1');
  const dir = join(lab.dir, 'trace');
  const guests = await prepareHost(h1, dir, ['todd', 'ann', 'rita', 'jo', 'kim']);
  let chunks: Chunk[] = [];
  const proxy = await startDelayProxy({
    target: { host: h1.ip, port: 22 },
    bindAddress: lab.sourceIp('operator'),
    onChunk: (conn, way, bytes, at) => chunks.push({ conn, way, bytes, at }),
  });
  const home = join(dir, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  const sshConfig = join(home, '.ssh', 'config');
  writeFileSync(
    sshConfig,
    ['Host h1', '  HostName 127.0.0.1', `  Port ${proxy.port}`, `  HostKeyAlias ${h1.ip}`, `  UserKnownHostsFile ${lab.knownHostsFile}`, '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes', '  IdentitiesOnly yes', '  User root', `  IdentityFile ${lab.adminKeyFile}`, ''].join('\n'),
    { mode: 0o600 },
  );
  const env = { HOME: home };
  const one = writeConfig(join(dir, 'one'), ['h1'], guests);
  // `apply` adds this guest back each run; an untimed apply of without.yaml removes it first.
  const without = join(dirname(one), 'without.yaml');
  writeFileSync(without, readFileSync(writeConfig(join(dir, 'without'), ['h1'], guests.filter(([g]) => g !== ADDED)), 'utf8'));
  const applied = await run('node', [MAIN, 'apply', '--yes', '-f', one], env, dirname(one));
  if (applied.code !== 0) throw new Error(`apply failed:\n${applied.out}`);

  const commands: Array<[string, string, string[]]> = [
    ['floor', 'ssh', ['-F', sshConfig, 'h1', 'true']],
    ['plan', 'node', [MAIN, 'plan', '-f', one]],
    ...(OTHER ? [['plan-other', 'node', [OTHER, 'plan', '-f', one]] as [string, string, string[]]] : []),
    ['status', 'node', [MAIN, 'status', '-f', one]],
    ['apply', 'node', [MAIN, 'apply', '--yes', '-f', one]],
    ...(OTHER ? [['apply-other', 'node', [OTHER, 'apply', '--yes', '-f', one]] as [string, string, string[]]] : []),
    ...(OTHER ? [['status-other', 'node', [OTHER, 'status', '-f', one]] as [string, string, string[]]] : []),
  ];
  if (ONLY?.includes('join-parts')) await joinParts(h1, env, one);
  proxy.oneWayMs = RTT / 2;
  const summary = new Map<string, Array<{ ms: number; span: number; waits: number }>>();
  // Commands alternate within each run, so a change of load hits each of them, and every other
  // run goes backwards, so no command always follows the same one.
  for (let i = 0; i < RUNS; i++) {
    for (const [name, cmd, args] of i % 2 ? [...commands].reverse() : commands) {
      if (ONLY && !ONLY.includes(name)) continue;
      if (name.startsWith('apply')) {
        const removed = await run('node', [MAIN, 'apply', '--yes', '-f', without], env, dirname(without));
        if (removed.code !== 0) throw new Error(`removing ${ADDED} failed:\n${removed.out}`);
      }
      chunks = [];
      const before = proxy.connections;
      const r = await run(cmd, args, env, dirname(one));
      if (r.code !== 0) throw new Error(`${name} exited ${r.code}:\n${r.out}`);
      if (name.startsWith('apply') && !r.out.includes(ADDED)) throw new Error(`apply did not add ${ADDED}:\n${r.out}`);
      // Only the connections this command opened (a previous one's FIN may still arrive).
      const mine = chunks.filter((c) => c.conn > before);
      const fl = flights(mine);
      const waits = fl.filter((f, k) => f.way === 'up' && k > 0).length;
      const first = mine.length > 0 ? mine[0]!.at - r.t0 : NaN;
      const last = mine.length > 0 ? mine[mine.length - 1]!.at - r.t0 : NaN;
      console.log(`\n${name} (run ${i + 1}): ${r.ms.toFixed(0)} ms at ${RTT} ms RTT, first byte at ${first.toFixed(0)} ms, last at ${last.toFixed(0)} ms, ${waits} client flights after a server flight (the proxy answers the TCP connect itself)`);
      summary.set(name, [...(summary.get(name) ?? []), { ms: r.ms, span: last - first, waits }]);
      if (process.env.BENCH_TRACE_OUTPUT === '1') console.log(r.out);
      if (RUNS <= 2 || process.env.BENCH_TRACE_FLIGHTS === '1') for (const f of fl) console.log(`  ${f.at.toFixed(1).padStart(7)} ms ${f.way === 'up' ? 'client ->' : '<- server'} ${f.sizes.join(' ')}`);
    }
  }
  console.log(`\nmedians over ${RUNS} runs at ${RTT} ms RTT (span: the connection's first byte to its last, through the proxy):`);
  for (const [name, rs] of summary) {
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`  ${name.padEnd(14)} wall ${med(rs.map((r) => r.ms)).toFixed(0)} ms, span ${med(rs.map((r) => r.span)).toFixed(0)} ms, client waits ${med(rs.map((r) => r.waits))}`);
  }
  await proxy.close();
} finally {
  await lab.stop();
}
