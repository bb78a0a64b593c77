/** config → the machines pairctl acts on, each with its desired resources. */
import type { PairConfig } from '../config/model.js';
import type { Resource } from '../resources/kind.js';
import type { MachineTarget } from '../transport/runner.js';
import { linuxHostResources } from './linux-host.js';
import { macosHostResources } from './macos-host.js';

/** One machine and what pair.yaml wants on it. */
export interface DesiredMachine {
  target: MachineTarget;
  role: 'host' | 'relay';
  resources: Resource[];
}

/** Builds the desired state of every machine the config names. */
export function buildGraph(config: PairConfig): DesiredMachine[] {
  return config.hosts.map((host) => ({
    target: { id: host.id, ssh: host.ssh, sudo: host.sudo },
    role: 'host' as const,
    resources: host.platform === 'macos' ? macosHostResources(config, host) : linuxHostResources(config, host),
  }));
}

/** Orders resources so each comes after its dependencies (stable for independent ones). */
export function topoSort(resources: Resource[]): Resource[] {
  const byAddress = new Map(resources.map((r) => [r.address, r]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: Resource[] = [];
  const visit = (r: Resource): void => {
    if (done.has(r.address)) return;
    if (visiting.has(r.address)) throw new Error(`dependency cycle at ${r.address}`);
    visiting.add(r.address);
    for (const d of r.deps) {
      const dep = byAddress.get(d);
      if (dep) visit(dep);
    }
    visiting.delete(r.address);
    done.add(r.address);
    out.push(r);
  };
  resources.forEach(visit);
  return out;
}
