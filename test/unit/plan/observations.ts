/**
 * Observations for engine tests, pyinfra style: a test says what each resource's state is (as its
 * kind parses it, or as its kind's single probe prints it) and compare runs on that data. No
 * probe script is read or answered here, so a probe's wording can change without touching a test.
 */
import { createHash } from 'node:crypto';
import type { DesiredMachine } from '../../../src/graph/build-graph.js';
import { orphansOf, type Observation } from '../../../src/plan/observe.js';
import { buildProbeScript } from '../../../src/plan/probe-script.js';
import { canonicalJson, recordText, type RecordedResource } from '../../../src/plan/record.js';
import type { FileObserved } from '../../../src/resources/file-state.js';
import type { Resource } from '../../../src/resources/kind.js';
import { kindOf } from '../../../src/resources/registry.js';

/** A regular file's observed state. */
export function fileState(content: string, mode = '0644', owner = 'root', group = 'root'): FileObserved {
  return { type: 'file', mode, owner, group, content };
}

export interface ObservationParts {
  /** the record the machine holds (resources, or its raw text) */
  record?: RecordedResource[] | string;
  holder?: string;
  /** a resource's state as its kind parses it; undefined falls back to `output` */
  state?: (r: Resource) => unknown;
  /** what the kind's own probe of one resource prints (parsed with the kind's parse); default "type=absent" */
  output?: (r: Resource) => string;
  backups?: Record<string, FileObserved>;
  facts?: Record<string, string>;
}

/**
 * The observation of `machine` (its desired resources and the record's orphans). Its digest is
 * a hash of the data, so two observations of the same state have the same digest.
 */
export function observationOf(machine: DesiredMachine, parts: ObservationParts = {}): Observation {
  const record = typeof parts.record === 'string' ? parts.record : parts.record ? recordText(parts.record) : '';
  const recorded = typeof parts.record === 'object' ? parts.record : [];
  const resources: Record<string, unknown> = {};
  for (const r of [...machine.resources, ...orphansOf(machine.resources, recorded)]) {
    const given = parts.state?.(r);
    resources[r.address] = given !== undefined ? given : kindOf(r.kind).parse(parts.output?.(r) ?? 'type=absent', r.spec);
  }
  const data = { record, resources, backups: parts.backups ?? {}, facts: parts.facts ?? {} };
  // A read for apply to repeat under the lock; what it prints is not this data (no machine is read here).
  const read = buildProbeScript([{ snippet: ':' }]);
  return {
    machine: machine.target.id,
    holder: parts.holder ?? '',
    ...data,
    stateDigest: createHash('sha256').update(canonicalJson(data)).digest('hex'),
    reads: { scripts: [read.script], nonces: [read.nonce], unhashed: [[]] },
  };
}
