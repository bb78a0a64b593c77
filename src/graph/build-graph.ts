/** config → the machines pairctl acts on, each with its desired resources. */
import type { PairConfig } from '../config/model.js';
import type { Resource } from '../resources/kind.js';
import type { MachineTarget } from '../transport/runner.js';
import { linuxHostResources } from './linux-host.js';
import { macosHostResources } from './macos-host.js';
import type { Deferred, FactProbe, Facts } from './facts.js';
import { relayPart } from './relay.js';
import type { Endpoint } from './relay-endpoint.js';
import { hostTunnelPart } from './tunnel-host.js';
import { tunnelsOf } from './tunnel.js';
import { OPENSSH_VERSION_PROBE, tmuxVersionProbe } from './tool-versions.js';

/** One machine and what pair.yaml wants on it. */
export interface DesiredMachine {
  target: MachineTarget;
  role: 'host' | 'relay';
  resources: Resource[];
  /** facts this machine answers for other machines, read in its probe exec (graph/facts.ts) */
  facts?: FactProbe[];
  /** resources whose content waits for a fact not known yet: "(known after apply)" */
  deferred?: Deferred[];
  /** problems found while building, shown as plan errors of this machine */
  errors?: string[];
}

/** What the graph needs besides pair.yaml; without it, it still has every address and probe. */
export interface GraphInputs {
  /** facts read from the machines so far */
  facts?: Facts;
  /** where each relay's sshd is, as the operator's ssh config resolves it (else from pair.yaml) */
  relayEndpoints?: Record<string, Endpoint>;
  /** the operator's environment, for secrets pair.yaml names by variable (ngrok's authtoken) */
  env?: Record<string, string | undefined>;
}

/** How to reach a host or relay: known from pair.yaml alone, before any graph is built (plan-all.ts connects with it). */
export function targetOf(machine: Pick<MachineTarget, 'id' | 'ssh' | 'sudo'>): MachineTarget {
  return { id: machine.id, ssh: machine.ssh, sudo: machine.sudo };
}

/** Builds the desired state of every machine the config names. */
export function buildGraph(config: PairConfig, inputs: GraphInputs = {}): DesiredMachine[] {
  // Each host's tunnel is worked out once; the host's part and its relay's part both read it.
  const tunnels = tunnelsOf(config, inputs);
  const hosts = config.hosts.map((host, i): DesiredMachine => {
    const hostConfig = host.tunnel.provider === 'jump' ? throughRelayLoopback(config) : config;
    const base = host.platform === 'macos' ? macosHostResources(hostConfig, host) : linuxHostResources(hostConfig, host);
    const tunnel = hostTunnelPart(config, tunnels[i]!, { facts: inputs.facts, env: inputs.env });
    return {
      target: targetOf(host),
      role: 'host',
      resources: [...base, ...tunnel.resources],
      facts: [tmuxVersionProbe(host.platform, host.owner), OPENSSH_VERSION_PROBE, ...tunnel.facts],
      deferred: tunnel.deferred,
      errors: tunnel.errors,
    };
  });
  const relays = config.relays.map((relay): DesiredMachine => {
    const part = relayPart(config, relay, tunnels);
    return {
      target: targetOf(relay),
      role: 'relay',
      resources: part.resources,
      facts: [OPENSSH_VERSION_PROBE, ...part.facts],
      deferred: part.deferred,
      errors: part.errors,
    };
  });
  return [...hosts, ...relays];
}

/**
 * Through a jump relay a guest reaches the host from the host's own loopback (the tunnel's end),
 * so its key lines there also accept 127.0.0.1 and ::1; the relay enforces the guest's `from`.
 */
function throughRelayLoopback(config: PairConfig): PairConfig {
  return { ...config, guests: config.guests.map((g) => (g.from.length > 0 ? { ...g, from: [...g.from, '127.0.0.1', '::1'] } : g)) };
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
