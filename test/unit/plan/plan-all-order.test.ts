/**
 * The order of a plan's work (issue 15): every connection starts before the desired graph is
 * built, the graph is built once each connection waits for the network (or has failed), each
 * machine's probe runs on its own connection once it is ready, and a graph that cannot be built
 * closes the connections already open. The connections are fakes the test settles by hand; the
 * graph is the real one, wrapped to log when it is built.
 */
import { describe, expect, it, vi } from 'vitest';
import type { PairConfig } from '../../../src/config/model.js';
import { planAll, type Dial } from '../../../src/plan/plan-all.js';
import { planScope } from '../../../src/plan/scope.js';
import type { ConnectOptions, ExecResult, MachineTarget, Runner } from '../../../src/transport/runner.js';
import { sampleConfig } from '../fixtures.js';

const graph = vi.hoisted(() => ({ log: [] as string[], fail: false }));
vi.mock('../../../src/graph/build-graph.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../../src/graph/build-graph.js')>();
  return {
    ...actual,
    buildGraph: (...args: Parameters<typeof actual.buildGraph>) => {
      graph.log.push('graph');
      if (graph.fail) throw new Error('graph failed on purpose');
      return actual.buildGraph(...args);
    },
  };
});

/** What a machine where pairctl made nothing prints for a probe: each section empty. */
function emptyAnswer(script: string): string {
  let out = '';
  for (const m of script.matchAll(/@@pairctl-([0-9a-f]+)-begin-(\d+)/g)) out += `\n@@pairctl-${m[1]}-begin-${m[2]}\n\n@@pairctl-${m[1]}-end-${m[2]}-0\n`;
  return out;
}

class FakeRunner implements Runner {
  execCount = 0;
  closed = false;
  constructor(
    readonly machine: string,
    private readonly log: string[],
  ) {}
  async exec(script: string): Promise<ExecResult> {
    this.execCount += 1;
    this.log.push(`exec ${this.machine}`);
    return { code: 0, stdout: emptyAnswer(script), stderr: '' };
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A dial per machine that the test settles: wait() says "waiting for the network", open() and fail() settle it. */
function fakeDials(log: string[]) {
  const pending = new Map<string, { opts: ConnectOptions; resolve: (r: Runner) => void; reject: (e: Error) => void; runner: FakeRunner }>();
  const dial: Dial = (target: MachineTarget, opts: ConnectOptions) => {
    log.push(`dial ${target.id}`);
    return new Promise<Runner>((resolve, reject) => pending.set(target.id, { opts, resolve, reject, runner: new FakeRunner(target.id, log) }));
  };
  const get = (id: string) => {
    const p = pending.get(id);
    if (!p) throw new Error(`${id} was not dialled`);
    return p;
  };
  return {
    dial,
    dialled: () => [...pending.keys()],
    wait: (id: string) => get(id).opts.onWaiting?.(),
    open: (id: string) => {
      const p = get(id);
      p.resolve(p.runner);
      return p.runner;
    },
    fail: (id: string) => get(id).reject(new Error(`machine "${id}": refused`)),
  };
}

/** Lets pending callbacks and I/O run: several turns of the event loop, no timer. */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

function twoHosts(): PairConfig {
  const c = sampleConfig();
  const h = c.hosts[0]!;
  return { ...c, hosts: [h, { ...h, id: 'rye', ssh: 'root@192.0.2.11' }] };
}

describe('planAll: connections before the graph', () => {
  it('dials every machine first, builds the graph once all wait for the network, and probes each on its own connection', async () => {
    graph.log = [];
    graph.fail = false;
    const log = graph.log;
    const d = fakeDials(log);
    const planning = planAll(twoHosts(), {}, undefined, {}, d.dial);
    await turns();
    expect(log).toEqual(['dial scotch', 'dial rye']);
    d.wait('scotch');
    await turns();
    // rye has not sent anything yet: the graph waits for it (its CPU would delay rye's login).
    expect(log).toEqual(['dial scotch', 'dial rye']);
    d.wait('rye');
    await turns();
    expect(log).toEqual(['dial scotch', 'dial rye', 'graph']);
    d.open('rye');
    await turns();
    expect(log).toEqual(['dial scotch', 'dial rye', 'graph', 'exec rye']);
    d.open('scotch');
    const session = await planning;
    expect(log.slice(4)).toEqual(['exec scotch', 'graph']); // the second graph: with the facts read
    expect(session.plan.machines.map((m) => m.machine).sort()).toEqual(['rye', 'scotch']);
    expect(session.plan.unreadable).toEqual([]);
    expect([...session.runners.keys()].sort()).toEqual(['rye', 'scotch']);
  });

  it('a connection that fails before it waits lets the graph go on; that machine is unreadable, the other planned', async () => {
    graph.log = [];
    graph.fail = false;
    const d = fakeDials(graph.log);
    const planning = planAll(twoHosts(), {}, undefined, {}, d.dial);
    await turns();
    d.wait('scotch');
    d.fail('rye');
    await turns();
    expect(graph.log).toEqual(['dial scotch', 'dial rye', 'graph']);
    d.open('scotch');
    const session = await planning;
    expect(session.plan.machines.map((m) => m.machine)).toEqual(['scotch']);
    expect(session.plan.unreadable).toEqual([{ machine: 'rye', message: 'machine "rye": refused' }]);
  });

  it('dials only the machines the selection keeps (--limit)', async () => {
    graph.log = [];
    graph.fail = false;
    const d = fakeDials(graph.log);
    const config = twoHosts();
    const planning = planAll(config, {}, planScope(config, [], { limit: ['rye'] }), {}, d.dial);
    await turns();
    expect(d.dialled()).toEqual(['rye']);
    d.wait('rye');
    d.open('rye');
    const session = await planning;
    expect(session.plan.machines.map((m) => m.machine)).toEqual(['rye']);
  });

  it('a graph that cannot be built closes every connection already made, and the error reaches the caller', async () => {
    graph.log = [];
    graph.fail = true;
    const d = fakeDials(graph.log);
    const planning = planAll(twoHosts(), {}, undefined, {}, d.dial);
    const failed = expect(planning).rejects.toThrow('graph failed on purpose');
    await turns();
    const scotch = d.open('scotch');
    d.wait('rye');
    await turns();
    const rye = d.open('rye');
    await failed;
    expect(scotch.closed).toBe(true);
    expect(rye.closed).toBe(true);
    expect(scotch.execCount + rye.execCount).toBe(0);
    graph.fail = false;
  });
});
