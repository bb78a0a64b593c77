/**
 * Plans every machine in parallel, one connection each, and keeps those connections open so an
 * apply in the same command reuses them (one connection per machine per command).
 */
import type { PairConfig } from '../config/model.js';
import { buildGraph, type DesiredMachine } from '../graph/build-graph.js';
import { connect } from '../transport/connect.js';
import type { ConnectOptions, Runner } from '../transport/runner.js';
import { planMachine, type MachineWork } from './plan-machine.js';
import { summarize, type MachinePlan, type Plan } from './plan-model.js';

/** A plan with what is needed to apply it in this process. */
export interface PlanSession {
  plan: Plan;
  works: MachineWork[];
  runners: Map<string, Runner>;
  /** machines that could not be read, with why */
  failures: Array<{ machine: string; message: string; hint?: string }>;
  close(): Promise<void>;
}

/** Connects to and reads every machine of the config, then compares. */
export async function planAll(
  config: PairConfig,
  opts: ConnectOptions = {},
  /** which machines, and what on them (plan/scope.ts: --limit, destroy, machines dropped from pair.yaml) */
  scope: (machines: DesiredMachine[]) => DesiredMachine[] = (m) => m,
): Promise<PlanSession> {
  const machines = scope(buildGraph(config));
  const runners = new Map<string, Runner>();
  const failures: PlanSession['failures'] = [];
  const works: MachineWork[] = [];
  await Promise.all(
    machines.map(async (m) => {
      try {
        const runner = await connect(m.target, opts);
        runners.set(m.target.id, runner);
        works.push(await planMachine(m, runner));
      } catch (err) {
        const hint = err instanceof Error && 'hint' in err && typeof err.hint === 'string' ? err.hint : undefined;
        failures.push({ machine: m.target.id, message: err instanceof Error ? err.message : String(err), hint });
      }
    }),
  );
  const order = new Map(machines.map((m, i) => [m.target.id, i]));
  works.sort((a, b) => (order.get(a.plan.machine) ?? 0) - (order.get(b.plan.machine) ?? 0));
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
    close: async () => {
      await Promise.all([...runners.values()].map((r) => r.close().catch(() => undefined)));
    },
  };
}
