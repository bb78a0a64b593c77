/** How the graph names and assembles resources: addresses as the plan shows them, and machine parts. */
import type { Resource } from '../resources/kind.js';
import type { KindName } from '../resources/registry.js';
import type { Deferred, FactProbe } from './facts.js';

/** Builds addresses the way the plan shows them: kind["name"]. */
export function address(kind: string, name: string): string {
  return `${kind}[${JSON.stringify(name)}]`;
}

export function resource<S>(kind: KindName, name: string, spec: S, deps: string[] = []): Resource<S> {
  return { kind, address: address(kind, name), spec, deps };
}

/** What one part of the graph contributes to a machine. */
export interface MachinePart {
  resources: Resource[];
  /** facts this machine answers for others */
  facts: FactProbe[];
  deferred: Deferred[];
  /** problems that block the plan */
  errors: string[];
}

export function emptyPart(): MachinePart {
  return { resources: [], facts: [], deferred: [], errors: [] };
}
