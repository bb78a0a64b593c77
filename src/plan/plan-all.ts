/**
 * Plans every machine in parallel, one connection each, and keeps those connections open so an
 * apply in the same command reuses them (one connection per machine per command).
 *
 * Cross-machine facts (graph/facts.ts) are settled here: the graph is built without facts, each
 * machine is observed once (its one exec also answers its fact probes), the graph is rebuilt with
 * what was read, and each machine is compared against its one observation. What still waits for
 * a fact only an apply makes is shown as "(known after apply)" and kept in the Plan with the probe
 * that settles it; apply-all changes that machine after the one it waits for.
 */
import type { PairConfig } from '../config/model.js';
import { buildGraph, targetOf, topoSort, type DesiredMachine } from '../graph/build-graph.js';
import type { Deferred, Facts } from '../graph/facts.js';
import { resolveRelayEndpoint, type Endpoint } from '../graph/relay-endpoint.js';
import { hostsUsing } from '../graph/relay.js';
import { kindOf } from '../resources/registry.js';
import { connect } from '../transport/connect.js';
import type { ConnectOptions, MachineTarget, Runner } from '../transport/runner.js';
import { compare } from './compare.js';
import { takeLock } from './lock.js';
import { firstProbe, observe, type FirstProbe, type Observation } from './observe.js';
import { summarize, type DeferredValue, type MachinePlan, type Plan, type PlannedChange, type UnreadableMachine } from './plan-model.js';
import { resourceProbes } from './resource-probes.js';

/** The desired machines of a plan for the facts known so far (pair.yaml, scoped): what apply compares again with. */
export type DesiredGraph = (facts: Facts) => DesiredMachine[];

/** A plan with the open connections and the desired graph needed to apply it in this process. */
export interface PlanSession {
  plan: Plan;
  runners: Map<string, Runner>;
  desired: DesiredGraph;
  /**
   * machines whose lock this plan took in the shell that read them and still holds there
   * (ConnectOptions.holdLock): nothing changed them since the read, so their apply reads nothing again
   */
  heldLocks?: ReadonlySet<string>;
  close(): Promise<void>;
}

/** Which machines a plan covers, and which of them are torn down (plan/scope.ts). */
export interface PlanSelection {
  select: (machines: DesiredMachine[]) => DesiredMachine[];
  teardown?: ReadonlyMap<string, NonNullable<MachinePlan['teardown']>>;
}

/** What a deferred resource shows instead of its content. */
export const KNOWN_AFTER_APPLY = '(known after apply)';

/** Opens the runner of a machine: transport/connect.ts, or a test's fake. */
export type Dial = (target: MachineTarget, opts: ConnectOptions) => Promise<Runner>;

/**
 * Connects to and observes every machine of the config, then compares. pair.yaml was validated
 * before this is called (cli/load.ts): nothing is contacted for a file with errors.
 *
 * Every connection starts before the desired graph is built: which machines there are and how to
 * reach them is in pair.yaml already, and the graph (~30 ms for a host, more for many) and each
 * machine's probe script are built while the logins wait for their first round trips.
 */
export async function planAll(
  config: PairConfig,
  opts: ConnectOptions = {},
  /** which machines, and what on them (plan/scope.ts: --limit, destroy, machines dropped from pair.yaml) */
  selection: PlanSelection = { select: (m) => m },
  /** the operator's environment: secrets pair.yaml names by variable (ngrok's authtoken) */
  env: Record<string, string | undefined> = process.env,
  dial: Dial = connect,
): Promise<PlanSession> {
  const unreadable: UnreadableMachine[] = [];
  const dials = new Map(selection.select(machineSkeletons(config)).map((m) => [m.target.id, startDial(dial, m.target, opts)]));
  const runners = new Map<string, Runner>();
  const closeAll = async (): Promise<void> => {
    await Promise.all([...dials.values()].map((d) => d.runner.then((r) => r.close(), () => undefined).catch(() => undefined)));
  };
  let machines: DesiredMachine[];
  let desired: DesiredGraph;
  let probes: Map<string, FirstProbe>;
  try {
    // Each login is on its way (or has failed) before the CPU goes to the graph.
    await Promise.all([...dials.values()].map((d) => d.waiting));
    const relayEndpoints = resolveEndpoints(config, opts.sshConfigFile, unreadable);
    desired = (facts) => selection.select(buildGraph(config, { facts, relayEndpoints, env }));
    machines = desired({});
    const missing = machines.filter((m) => !dials.has(m.target.id)).map((m) => m.target.id);
    if (missing.length > 0 || machines.length !== dials.size) {
      throw new Error(`internal error: the graph's machines (${machines.map((m) => m.target.id).join(', ')}) are not the ones connected to (${[...dials.keys()].join(', ')})`);
    }
    probes = new Map(machines.map((m) => [m.target.id, firstProbe(m)]));
  } catch (err) {
    await closeAll();
    throw err;
  }
  const observations = new Map<string, Observation>();
  const heldLocks = new Set<string>();
  await Promise.all(
    machines.map(async (m) => {
      try {
        const runner = await dials.get(m.target.id)!.runner;
        runners.set(m.target.id, runner);
        // apply --yes: the lock first, in the shell that then reads and applies (lock.ts takeLock).
        const held = opts.holdLock && runner.canHold ? takeLock(runner) : undefined;
        held?.catch(() => undefined); // the probe after it in the same shell reports a lost link
        const hold = held !== undefined;
        observations.set(m.target.id, await observe(m, runner, probes.get(m.target.id), { thenAnother: opts.spareExec && !hold, hold }));
        if (held && (await held)) heldLocks.add(m.target.id);
      } catch (err) {
        const hint = err instanceof Error && 'hint' in err && typeof err.hint === 'string' ? err.hint : undefined;
        unreadable.push({ machine: m.target.id, message: err instanceof Error ? err.message : String(err), ...(hint ? { hint } : {}) });
      }
    }),
  );
  const plan = await planFromObservations(config, machines, desired, observations, unreadable, selection.teardown);
  return {
    plan,
    runners,
    desired,
    heldLocks,
    close: async () => {
      await Promise.all([...runners.values()].map((r) => r.close().catch(() => undefined)));
    },
  };
}

/** A connection on its way: `waiting` settles once it waits for the network (or has settled itself). */
interface PendingDial {
  runner: Promise<Runner>;
  waiting: Promise<void>;
}

function startDial(dial: Dial, target: MachineTarget, opts: ConnectOptions): PendingDial {
  let signal!: () => void;
  const waiting = new Promise<void>((resolve) => (signal = resolve));
  let runner: Promise<Runner>;
  try {
    runner = dial(target, { ...opts, onWaiting: () => signal() });
  } catch (err) {
    runner = Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  runner.then(signal, signal);
  return { runner, waiting };
}

/** The machines pair.yaml names, without resources: what the selection picks connections from. */
function machineSkeletons(config: PairConfig): DesiredMachine[] {
  return [
    ...config.hosts.map((h): DesiredMachine => ({ target: targetOf(h), role: 'host', resources: [] })),
    ...config.relays.map((r): DesiredMachine => ({ target: targetOf(r), role: 'relay', resources: [] })),
  ];
}

/**
 * The Plan from what was observed, without contacting any machine: `machines` as built without
 * facts (what was read), `desired` to build them again with the facts the observations answered.
 */
export async function planFromObservations(
  config: Pick<PairConfig, 'file' | 'digest'>,
  machines: DesiredMachine[],
  desired: DesiredGraph,
  observations: ReadonlyMap<string, Observation>,
  unreadable: UnreadableMachine[] = [],
  teardown?: ReadonlyMap<string, NonNullable<MachinePlan['teardown']>>,
): Promise<Plan> {
  const facts: Facts = {};
  for (const [id, o] of observations) facts[id] = o.facts;
  const first = new Map(machines.map((m) => [m.target.id, m]));
  // One graph with the facts read, for every machine (500 guests: ~30 ms a build); when no
  // machine reads facts it is the graph already built.
  const settled = machines.some((m) => (m.facts ?? []).length > 0) ? new Map(desired(facts).map((m) => [m.target.id, m])) : first;
  const plans: MachinePlan[] = [];
  // A waiting machine may ask for its provider's changes before the loop reaches the provider
  // (a host waits for its relay's host keys): each machine is compared once, whoever asks first.
  const compared = new Map<string, Promise<MachinePlan>>();
  const compareOnce = (machine: DesiredMachine, observation: Observation): Promise<MachinePlan> => {
    const id = machine.target.id;
    if (!compared.has(id)) compared.set(id, compare(machine, observation));
    return compared.get(id)!;
  };
  for (const before of machines) {
    const id = before.target.id;
    const observation = observations.get(id);
    if (!observation) continue;
    const machine = settled.get(id);
    if (!machine) throw new Error(`internal error: machine ${id} is missing from the graph built with facts`);
    if (machine !== before) assertSameShape(before, machine);
    const own = await compareOnce(machine, observation);
    const errors = [...(machine.errors ?? [])];
    const shown: DeferredValue[] = [];
    for (const d of present(machine)) {
      const probe = first.get(d.waitsFor.machine)?.facts?.find((f) => f.key === d.waitsFor.key);
      const provider = observations.has(d.waitsFor.machine) ? await providerChanges(d.waitsFor.machine, plans, machines, settled, observations, compareOnce) : undefined;
      if (!provider || !probe) {
        errors.push(`${d.address}: needs ${d.what}, but ${d.waitsFor.machine} was not read; plan it too`);
      } else if (!probe.madeBy) {
        errors.push(`${d.address}: needs ${d.what}, which could not be read from ${d.waitsFor.machine} and which pairctl does not make`);
      } else if (!provider.some((c) => c.address === probe.madeBy)) {
        errors.push(`${d.address}: needs ${d.what}, which is missing there although ${probe.madeBy} needs no change; see the plan of ${d.waitsFor.machine}`);
      } else {
        shown.push({ address: d.address, what: d.what, waitsFor: d.waitsFor, probe: probe.snippet });
      }
    }
    const annotated = annotate(own, machine, shown, errors);
    const t = teardown?.get(id);
    plans.push({ ...annotated, ...(t ? { teardown: t } : {}), ...(shown.length > 0 ? { deferred: shown, observation } : {}) });
  }
  return {
    formatVersion: 1,
    configFile: config.file,
    configDigest: config.digest,
    machines: plans,
    summary: summarize(plans),
    unreadable,
    facts,
  };
}

/** Deferred resources the machine still has (a destroy or removal leaves none). */
function present(machine: DesiredMachine): Deferred[] {
  const addresses = new Set(machine.resources.map((r) => r.address));
  return (machine.deferred ?? []).filter((d) => addresses.has(d.address));
}

/** The changes planned for a providing machine (compared already, or now when it comes later in the list). */
async function providerChanges(
  id: string,
  plans: MachinePlan[],
  machines: DesiredMachine[],
  settled: ReadonlyMap<string, DesiredMachine>,
  observations: ReadonlyMap<string, Observation>,
  compareOnce: (machine: DesiredMachine, observation: Observation) => Promise<MachinePlan>,
): Promise<PlannedChange[] | undefined> {
  const done = plans.find((p) => p.machine === id);
  if (done) return done.changes;
  const machine = settled.get(id) ?? machines.find((m) => m.target.id === id);
  const observation = observations.get(id);
  return machine && observation ? (await compareOnce(machine, observation)).changes : undefined;
}

/**
 * The machine compared again from the observation its plan kept, against the graph built with
 * `facts` (apply-all.ts, once the facts it waited for are settled): no machine is read again.
 */
export async function compareAgain(planned: MachinePlan, desired: DesiredGraph, facts: Facts): Promise<{ plan: MachinePlan; deferred: Deferred[] }> {
  const observation = planned.observation;
  const machine = desired(facts).find((m) => m.target.id === planned.machine);
  if (!observation || !machine) throw new Error(`internal error: ${planned.machine} cannot be compared again (no observation or no longer in the graph)`);
  const compared = await compare(machine, observation);
  const plan = annotate(compared, machine, [], machine.errors ?? []);
  return { plan: planned.teardown ? { ...plan, teardown: planned.teardown } : plan, deferred: present(machine) };
}

/** Where hosts reach each relay that carries a tunnel; a relay that cannot be resolved is unreadable. */
function resolveEndpoints(config: PairConfig, sshConfigFile: string | undefined, unreadable: UnreadableMachine[]): Record<string, Endpoint> {
  const out: Record<string, Endpoint> = {};
  for (const relay of config.relays ?? []) {
    if (hostsUsing(config, relay).length === 0) continue;
    try {
      out[relay.id] = resolveRelayEndpoint(relay, sshConfigFile);
    } catch (err) {
      unreadable.push({ machine: relay.id, message: err instanceof Error ? err.message : String(err) });
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

/** Adds the graph's errors and shows each deferred resource as "(known after apply)". */
function annotate(plan: MachinePlan, machine: DesiredMachine, deferred: DeferredValue[], errors: string[]): MachinePlan {
  if (deferred.length === 0 && errors.length === 0) return plan;
  const changes = [...plan.changes];
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
  return { ...plan, changes, errors: [...plan.errors, ...errors] };
}
