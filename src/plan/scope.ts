/**
 * Which machines a plan covers, and whether it converges them or tears them down: every machine
 * pair.yaml names, plus machines pairctl applied to before that pair.yaml no longer names (their
 * removal is planned like a removed guest's), narrowed by --limit, or all torn down for destroy.
 */
import type { PairConfig } from '../config/model.js';
import type { DesiredMachine } from '../graph/build-graph.js';
import type { KnownMachine } from './known-machines.js';
import type { MachinePlan } from './plan-model.js';

/** What the operator asked for. */
export interface ScopeRequest {
  /** machine ids to act on; all when absent */
  limit?: string[];
  /** remove everything pairctl made on the machines instead of converging them */
  destroy?: boolean;
}

/** The chosen machines, as planAll's selector, and how each is treated. */
export interface Scope {
  select: (machines: DesiredMachine[]) => DesiredMachine[];
  /** machine id → why every resource there is removed */
  teardown: Map<string, NonNullable<MachinePlan['teardown']>>;
  /** machines no longer in pair.yaml (reached through the known-machines file) */
  removed: KnownMachine[];
}

/** Ids of the machines pair.yaml names (hosts and relays). */
export function configMachineIds(config: PairConfig): string[] {
  return [...config.hosts.map((h) => h.id), ...(config.relays ?? []).map((r) => r.id)];
}

/**
 * Resolves the request against pair.yaml and the known machines; throws an Error naming the
 * unknown ids when --limit names a machine neither knows.
 */
export function planScope(config: PairConfig, known: KnownMachine[], req: ScopeRequest): Scope {
  const inConfig = new Set(configMachineIds(config));
  const removed = known.filter((k) => !inConfig.has(k.id));
  const all = [...inConfig, ...removed.map((k) => k.id)];
  const limit = req.limit && req.limit.length > 0 ? new Set(req.limit) : undefined;
  if (limit) {
    const unknown = [...limit].filter((id) => !all.includes(id));
    if (unknown.length > 0) {
      throw new Error(
        `no machine ${unknown.map((u) => `"${u}"`).join(', ')} in ${config.file} or among the machines pairctl applied to from it; machines: ${all.join(', ') || '(none)'}`,
      );
    }
  }
  const chosen = (id: string): boolean => !limit || limit.has(id);
  const teardown = new Map<string, NonNullable<MachinePlan['teardown']>>();
  for (const id of inConfig) if (req.destroy && chosen(id)) teardown.set(id, 'destroy');
  for (const k of removed) if (chosen(k.id)) teardown.set(k.id, req.destroy ? 'destroy' : 'removed');
  return {
    teardown,
    removed: removed.filter((k) => chosen(k.id)),
    select: (machines) => [
      ...machines.filter((m) => chosen(m.target.id)).map((m) => (req.destroy ? { ...m, resources: [] } : m)),
      ...removed
        .filter((k) => chosen(k.id))
        .map((k): DesiredMachine => ({ target: { id: k.id, ssh: k.ssh, sudo: k.sudo }, role: k.role, resources: [] })),
    ],
  };
}
