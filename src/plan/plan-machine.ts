/**
 * Plans one machine: reads its record and the state of every desired resource in one exec (a
 * second only when the record lists resources pair.yaml no longer wants), then lets each kind
 * compare. Pure apart from the runner calls.
 */
import { createHash } from 'node:crypto';
import { createTwoFilesPatch } from 'diff';
import type { DesiredMachine } from '../graph/build-graph.js';
import { topoSort } from '../graph/build-graph.js';
import { RECORD_FILE } from '../graph/paths.js';
import type { Delta, Resource } from '../resources/kind.js';
import { kindOf } from '../resources/registry.js';
import type { Runner } from '../transport/runner.js';
import { sh } from '../transport/shell-quote.js';
import type { MachinePlan, PlannedChange } from './plan-model.js';
import { buildProbeScript, parseProbeOutput } from './probe-script.js';
import { parseRecord } from './record.js';

/** A planned change with the commands that make it, kept apart from the printable plan. */
export interface Step {
  address: string;
  action: PlannedChange['action'];
  script: string;
}

/** What applying one machine needs: the printable plan, the steps, and the record to keep. */
export interface MachineWork {
  plan: MachinePlan;
  steps: Step[];
  /** resources to list in the record once apply succeeds */
  record: Resource[];
  /** listed while apply runs, so a failure half-way leaves everything accounted for */
  interimRecord: Resource[];
}

/** Reads a machine in one round trip and compares it with what is desired. */
export async function planMachine(machine: DesiredMachine, runner: Runner): Promise<MachineWork> {
  const desired = topoSort(machine.resources);
  const first = await probe(runner, [sh`cat ${RECORD_FILE} 2>/dev/null || :`, ...desired.map((r) => kindOf(r.kind).probe(r.spec))]);
  const [recordOut, ...desiredOut] = first.results;
  const { record, error } = parseRecord(recordOut?.output ?? '');
  const recorded = new Set(record.resources.map((r) => r.address));
  const wanted = new Set(desired.map((r) => r.address));
  const orphans = topoSort(record.resources.filter((r) => !wanted.has(r.address))).reverse();
  const second = orphans.length > 0 ? await probe(runner, orphans.map((r) => kindOf(r.kind).probe(r.spec))) : undefined;

  const warnings: string[] = error ? [error] : [];
  const errors: string[] = [];
  const changes: PlannedChange[] = [];
  const steps: Step[] = [];
  const consider = (r: Resource, output: string, wantedNow: boolean): void => {
    const kind = kindOf(r.kind);
    const delta = kind.diff(r.spec, kind.parse(output, r.spec), { wanted: wantedNow, recorded: recorded.has(r.address) });
    warnings.push(...delta.warnings);
    errors.push(...delta.errors.map((e) => `${r.address}: ${e}`));
    if (delta.action === 'noop') return;
    changes.push(toChange(r, kind.name(r.spec), delta));
    steps.push({ address: r.address, action: delta.action, script: delta.script });
  };
  // Removals first, dependents before what they depend on (the key goes before the account).
  orphans.forEach((r, i) => consider(r, second?.results[i]?.output ?? '', false));
  desired.forEach((r, i) => consider(r, desiredOut[i]?.output ?? '', true));

  const digest = createHash('sha256').update(first.stdout).update(second?.stdout ?? '').digest('hex');
  return {
    plan: {
      machine: machine.target.id,
      role: machine.role,
      target: machine.target.ssh,
      changes,
      warnings: [...new Set(warnings)],
      errors,
      stateDigest: digest,
    },
    steps,
    record: desired,
    interimRecord: [...desired, ...orphans],
  };
}

async function probe(runner: Runner, snippets: string[]) {
  const { script, nonce } = buildProbeScript(snippets.map((snippet) => ({ snippet })));
  const res = await runner.exec(script);
  if (res.code !== 0) {
    throw new Error(`reading the machine's state failed (exit ${res.code}): ${res.stderr.trim().split('\n').slice(-3).join(' ')}`);
  }
  // Nonce-free marker lines are stripped from the digest input so two reads of the same state match.
  const stdout = res.stdout.replaceAll(nonce, '');
  return { stdout, results: parseProbeOutput(res.stdout, nonce, snippets.length) };
}

function toChange(r: Resource, name: string, delta: Delta): PlannedChange {
  const change: PlannedChange = { address: r.address, kind: r.kind, name, action: delta.action, attributes: delta.attributes };
  if (delta.content && delta.content.before !== delta.content.after) {
    const patch = createTwoFilesPatch(delta.content.path, delta.content.path, delta.content.before, delta.content.after, '', '', {
      context: 3,
    });
    const lines = patch.split('\n');
    const firstHunk = lines.findIndex((l) => l.startsWith('@@'));
    change.diff = lines.slice(firstHunk).join('\n').trimEnd();
  }
  return change;
}
