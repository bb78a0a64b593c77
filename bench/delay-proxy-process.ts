/**
 * The benchmark's delay proxies in a process of their own. The benchmark runs each measured
 * command with spawnSync, which blocks its event loop for the whole run: proxies in that process
 * would stop passing bytes exactly while they are needed. Here they keep their own loop, and the
 * benchmark steers them over stdin/stdout, one JSON line each way:
 *
 *   {"delay": 25}   -> {"ok": true}                  one-way delay of every proxy, from now on
 *   {"counts": true} -> {"counts": {"h1": 3, ...}, "cpuMs": 812.5}
 *                        connections each proxy has accepted so far, and the CPU this process has
 *                        spent so far (user + system): the latency it emulates costs a real
 *                        network no CPU, but here it shares the 2 cores with what is measured
 *
 * Started as `tsx bench/delay-proxy-process.ts SPEC_JSON` (SPEC_JSON: an array of { name, target,
 * bindAddress }); its first line is {"ports": {"h1": 41234, ...}} (all on 127.0.0.1).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startDelayProxy, type DelayProxy, type DelayProxyOptions } from './delay-proxy.js';

export interface ProxySpec {
  name: string;
  target: DelayProxyOptions['target'];
  bindAddress?: string;
}

/** The parent's handle on the proxy process. */
export interface ProxyProcess {
  /** Port on 127.0.0.1 of each proxy, by name. */
  ports: Record<string, number>;
  setDelay(oneWayMs: number): Promise<void>;
  /** Connections each proxy has accepted so far, and this process's CPU so far (ms), in one question. */
  usage(): Promise<{ counts: Record<string, number>; cpuMs: number }>;
  close(): Promise<void>;
}

export async function startProxyProcess(specs: ProxySpec[]): Promise<ProxyProcess> {
  const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
  const child: ChildProcessWithoutNullStreams = spawn(tsx, [fileURLToPath(import.meta.url), JSON.stringify(specs)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const lines = createInterface({ input: child.stdout });
  const waiting: Array<(line: string) => void> = [];
  lines.on('line', (l) => waiting.shift()?.(l));
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const onExit = () => reject(new Error(`the delay proxy process ended: ${stderr}`));
      child.once('exit', onExit);
      waiting.push((l) => {
        child.off('exit', onExit);
        resolve(JSON.parse(l) as Record<string, unknown>);
      });
    });
  const ask = (msg: object) => {
    const reply = next();
    child.stdin.write(`${JSON.stringify(msg)}\n`);
    return reply;
  };
  const first = await next();
  return {
    ports: first.ports as Record<string, number>,
    setDelay: async (oneWayMs) => void (await ask({ delay: oneWayMs })),
    usage: async () => {
      const r = await ask({ counts: true });
      return { counts: r.counts as Record<string, number>, cpuMs: r.cpuMs as number };
    },
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end();
      }),
  };
}

async function serve(specs: ProxySpec[]): Promise<void> {
  const proxies = new Map<string, DelayProxy>();
  for (const s of specs) proxies.set(s.name, await startDelayProxy({ target: s.target, bindAddress: s.bindAddress }));
  const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  say({ ports: Object.fromEntries([...proxies].map(([n, p]) => [n, p.port])) });
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (l) => {
    const msg = JSON.parse(l) as { delay?: number; counts?: boolean };
    if (typeof msg.delay === 'number') {
      for (const p of proxies.values()) p.oneWayMs = msg.delay;
      say({ ok: true });
    } else if (msg.counts) {
      const cpu = process.cpuUsage();
      say({ counts: Object.fromEntries([...proxies].map(([n, p]) => [n, p.connections])), cpuMs: (cpu.user + cpu.system) / 1000 });
    }
  });
  rl.on('close', async () => {
    for (const p of proxies.values()) await p.close();
    process.exit(0);
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await serve(JSON.parse(process.argv[2] ?? '[]') as ProxySpec[]);
