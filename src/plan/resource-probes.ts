/**
 * Which probe sections read a machine's resources: one per kind that reads in batches (all its
 * resources in one snippet: a fixed number of processes, not a few per resource, which at 500
 * guests was most of a plan's time), one per resource otherwise. Pure.
 */
import type { Resource } from '../resources/kind.js';
import { kindOf, type KindName } from '../resources/registry.js';

/** The sections to run, and how to turn their outputs back into each resource's observation. */
export interface ResourceProbes {
  snippets: string[];
  /** each resource's observed state, in the order given, from the sections' outputs in `snippets` order */
  observe(outputs: string[]): unknown[];
}

/** Groups the reads of `resources` into sections, batching kinds that have `probeMany`. */
export function resourceProbes(resources: readonly Resource[]): ResourceProbes {
  // A batch sits where its kind's first resource is; its members keep their positions in `resources`.
  const sections: Array<{ kind: KindName; batched: boolean; members: number[] }> = [];
  const batchOf = new Map<string, { kind: KindName; batched: boolean; members: number[] }>();
  resources.forEach((r, i) => {
    const k = kindOf(r.kind);
    if (!k.probeMany || !k.parseMany) {
      sections.push({ kind: r.kind, batched: false, members: [i] });
      return;
    }
    let batch = batchOf.get(r.kind);
    if (!batch) {
      batch = { kind: r.kind, batched: true, members: [] };
      batchOf.set(r.kind, batch);
      sections.push(batch);
    }
    batch.members.push(i);
  });
  const specsOf = (members: number[]) => members.map((i) => resources[i]!.spec);
  return {
    snippets: sections.map(({ kind, batched, members }) => {
      const k = kindOf(kind);
      return batched ? k.probeMany!(specsOf(members)) : k.probe(resources[members[0]!]!.spec);
    }),
    observe(outputs) {
      const observed: unknown[] = new Array(resources.length);
      sections.forEach(({ kind, batched, members }, s) => {
        const k = kindOf(kind);
        const output = outputs[s] ?? '';
        if (!batched) {
          observed[members[0]!] = k.parse(output, resources[members[0]!]!.spec);
          return;
        }
        const parsed = k.parseMany!(output, specsOf(members));
        members.forEach((i, j) => (observed[i] = parsed[j]));
      });
      return observed;
    },
  };
}
