/**
 * Plans every machine in parallel, one connection each, and keeps those connections open so an
 * apply in the same command reuses them (one connection per machine per command).
 *
 * Cross-machine facts (graph/facts.ts) are settled here: the graph is built without facts, each
 * machine is read in one exec that also answers its fact probes, the graph is rebuilt with what
 * was read (the same addresses and probes, only contents may differ: the replay proves it), and
 * each machine is compared again against that one read. What still waits for a fact only an
 * apply makes is shown as "(known after apply)", and apply-all changes its machine later.
 */
import type { PairConfig } from '../config/model.js';
import { buildGraph, topoSort, type DesiredMachine } from '../graph/build-graph.js';
import type { Deferred, FactProbe, Facts } from '../graph/facts.js';
import { resolveRelayEndpoint, type Endpoint } from '../graph/relay-endpoint.js';
import { hostsUsing } from '../graph/relay.js';
import { kindOf } from '../resources/registry.js';
import { connect } from '../transport/connect.js';
import type { ConnectOptions, Runner } from '../transport/runner.js';
import { planMachine, type MachineWork } from './plan-machine.js';
import { summarize, type MachinePlan, type Plan, type PlannedChange } from './plan-model.js';
import { RecordingRunner, replayRunner, type ExecRecord } from './replay-runner.js';
import { resourceProbes } from './resource-probes.js';

/** How machines that wait for another machine's facts get applied (apply-all.ts). */
export interface CrossMachine {
  /** machine → the deferred resources it waits with; applied after those machines, re-planned first */
  waits: Map<string, Deferred[]>;
  /** each machine's fact probes, to read again once it was applied */
  factProbes: Map<string, FactProbe[]>;
  /** the facts as read while planning */
  facts: Facts;
  /** the machine's work against the graph rebuilt with `facts`, from its plan-time read (no new exec) */
  replan(machine: string, facts: Facts): Promise<{ work: MachineWork; deferred: Deferred[] }>;
}

/** A plan with what is needed to apply it in this process. */
export interface PlanSession {
  plan: Plan;
  works: MachineWork[];
  runners: Map<string, Runner>;
  /** machines that could not be read, with why */
  failures: Array<{ machine: string; message: string; hint?: string }>;
  /** absent when the session was not made by planAll (e.g. rebuilt from a saved plan): nothing waits */
  crossMachine?: CrossMachine;
  close(): Promise<void>;
}

/** What a deferred resource shows instead of its content. */
export const KNOWN_AFTER_APPLY = '(known after apply)';

/** Connects to and reads every machine of the config, then compares. */
export async function planAll(
  config: PairConfig,
  opts: ConnectOptions = {},
  /** which machines, and what on them (plan/scope.ts: --limit, destroy, machines dropped from pair.yaml) */
  scope: (machines: DesiredMachine[]) => DesiredMachine[] = (m) => m,
  /** the operator's environment: secrets pair.yaml names by variable (ngrok's authtoken) */
  env: Record<string, string | undefined> = process.env,
): Promise<PlanSession> {
  const failures: PlanSession['failures'] = [];
  const relayEndpoints = resolveEndpoints(config, opts.sshConfigFile, failures);
  const graph = (facts?: Facts) => scope(buildGraph(config, { facts, relayEndpoints, env }));
  const machines = graph();
  const runners = new Map<string, Runner>();
  const logs = new Map<string, ExecRecord[]>();
  const firstWorks = new Map<string, MachineWork>();
  await Promise.all(
    machines.map(async (m) => {
      try {
        const runner = await connect(m.target, opts);
        runners.set(m.target.id, runner);
        const recording = new RecordingRunner(runner);
        firstWorks.set(m.target.id, await planMachine(m, recording));
        logs.set(m.target.id, recording.log);
      } catch (err) {
        const hint = err instanceof Error && 'hint' in err && typeof err.hint === 'string' ? err.hint : undefined;
        failures.push({ machine: m.target.id, message: err instanceof Error ? err.message : String(err), hint });
      }
    }),
  );

  const facts: Facts = {};
  for (const [id, w] of firstWorks) facts[id] = w.facts ?? {};
  const factProbes = new Map(machines.map((m) => [m.target.id, m.facts ?? []]));
  const first = new Map(machines.map((m) => [m.target.id, m]));

  /** The machine compared against the graph built with `known`, from its one plan-time read. */
  const replan = async (
    id: string,
    known: Facts,
    /** the graph already built with `known`, when the caller has it */
    built?: Map<string, DesiredMachine>,
  ): Promise<{ work: MachineWork; deferred: Deferred[]; machine: DesiredMachine }> => {
    const before = first.get(id);
    const machine = (built ?? new Map(graph(known).map((m) => [m.target.id, m]))).get(id);
    const log = logs.get(id);
    const read = firstWorks.get(id);
    if (!before || !machine || !log || !read) throw new Error(`internal error: machine ${id} was not planned`);
    if (machine !== before) assertSameShape(before, machine);
    // Facts that change nothing on this machine: the first comparison stands.
    const work = machine === before || sameSpecs(before, machine) ? read : await planMachine(machine, replayRunner(id, log));
    const present = new Set(machine.resources.map((r) => r.address));
    return { work, machine, deferred: (machine.deferred ?? []).filter((d) => present.has(d.address)) };
  };

  // One graph with the facts read, for every machine (500 guests: ~30 ms a build); when no
  // machine reads facts it is the graph already built.
  const settled = machines.some((m) => (m.facts ?? []).length > 0) ? new Map(graph(facts).map((m) => [m.target.id, m])) : first;
  const waits = new Map<string, Deferred[]>();
  const works: MachineWork[] = [];
  for (const m of machines) {
    if (!firstWorks.has(m.target.id)) continue;
    const { work, machine, deferred } = await replan(m.target.id, facts, settled);
    const errors = [...(machine.errors ?? [])];
    const shown: Deferred[] = [];
    for (const d of deferred) {
      const probe = factProbes.get(d.waitsFor.machine)?.find((f) => f.key === d.waitsFor.key);
      const provider = firstWorks.get(d.waitsFor.machine);
      if (!provider || !probe) {
        errors.push(`${d.address}: needs ${d.what}, but ${d.waitsFor.machine} was not read; plan it too`);
      } else if (!probe.madeBy) {
        errors.push(`${d.address}: needs ${d.what}, which could not be read from ${d.waitsFor.machine} and which pairctl does not make`);
      } else if (!provider.plan.changes.some((c) => c.address === probe.madeBy)) {
        errors.push(`${d.address}: needs ${d.what}, which is missing there although ${probe.madeBy} needs no change; see the plan of ${d.waitsFor.machine}`);
      } else {
        shown.push(d);
      }
    }
    if (shown.length > 0) waits.set(m.target.id, shown);
    works.push(annotate(work, machine, shown, errors));
  }

  const machinePlans: MachinePlan[] = works.map((w) => w.plan);
  return {
    plan: {
      formatVersion: 1,
      configFile: config.file,
      configDigest: config.digest,
      machines: machinePlans,
      summary: summarize(machinePlans),
    },
    works,
    runners,
    failures,
    crossMachine: {
      waits,
      factProbes,
      facts,
      replan: async (id, known) => {
        const { work, machine, deferred } = await replan(id, known);
        return { work: annotate(work, machine, [], machine.errors ?? []), deferred };
      },
    },
    close: async () => {
      await Promise.all([...runners.values()].map((r) => r.close().catch(() => undefined)));
    },
  };
}

/** Where hosts reach each relay that carries a tunnel; a relay that cannot be resolved is a failure. */
function resolveEndpoints(config: PairConfig, sshConfigFile: string | undefined, failures: PlanSession['failures']): Record<string, Endpoint> {
  const out: Record<string, Endpoint> = {};
  for (const relay of config.relays ?? []) {
    if (hostsUsing(config, relay).length === 0) continue;
    try {
      out[relay.id] = resolveRelayEndpoint(relay, sshConfigFile);
    } catch (err) {
      failures.push({ machine: relay.id, message: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}

/** Facts may change what a resource contains, never which resources there are or how they are read. */
function assertSameShape(a: DesiredMachine, b: DesiredMachine): void {
  const shape = (m: DesiredMachine) =>
    JSON.stringify([m.resources.map((r) => r.address), resourceProbes(m.resources).snippets, (m.facts ?? []).map((f) => [f.key, f.snippet])]);
  if (shape(a) !== shape(b)) {
    throw new Error(`internal error: facts changed the addresses or probes of ${a.target.id}'s resources; they may only change contents`);
  }
}

function sameSpecs(a: DesiredMachine, b: DesiredMachine): boolean {
  return JSON.stringify(a.resources) === JSON.stringify(b.resources);
}

/** Adds the graph's errors and shows each deferred resource as "(known after apply)". */
function annotate(work: MachineWork, machine: DesiredMachine, deferred: Deferred[], errors: string[]): MachineWork {
  if (deferred.length === 0 && errors.length === 0) return work;
  const changes = [...work.plan.changes];
  const order = new Map(topoSort(machine.resources).map((r, i) => [r.address, i]));
  for (const d of deferred) {
    const r = machine.resources.find((x) => x.address === d.address)!;
    const at = changes.findIndex((c) => c.address === d.address);
    const existing = at >= 0 ? changes[at] : undefined;
    const change: PlannedChange = {
      ...(existing ?? { address: r.address, kind: r.kind, name: kindOf(r.kind).name(r.spec), action: 'update' }),
      action: existing?.action === 'create' ? 'create' : 'update',
      attributes: [
        { name: 'content', after: KNOWN_AFTER_APPLY },
        { name: 'waits for', after: d.what },
      ],
    };
    delete change.diff;
    if (existing) changes[at] = change;
    else {
      const mine = order.get(d.address) ?? 0;
      const next = changes.findIndex((c) => (order.get(c.address) ?? -1) > mine);
      changes.splice(next < 0 ? changes.length : next, 0, change);
    }
  }
  return { ...work, plan: { ...work.plan, changes, errors: [...work.plan.errors, ...errors] } };
}
