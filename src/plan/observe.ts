/**
 * Reading a machine, apart from comparing it: `observe` runs the machine's probes in one exec (a
 * second only when its record lists resources pair.yaml no longer wants) and returns what it read
 * as plain data. `compare` (compare.ts) then decides what changes without touching the machine, so
 * planning again once cross-machine facts are known is a second compare of the same Observation.
 */
import { createHash } from 'node:crypto';
import type { DesiredMachine } from '../graph/build-graph.js';
import { topoSort } from '../graph/build-graph.js';
import { RECORD_FILE } from '../graph/paths.js';
import { parseFile, probeFile, type FileObserved } from '../resources/file-state.js';
import type { Resource } from '../resources/kind.js';
import { kindOf } from '../resources/registry.js';
import type { ExecOptions, Runner } from '../transport/runner.js';
import { sh } from '../transport/shell-quote.js';
import { HOLDER_PROBE } from './lock.js';
import { buildProbeScript, parseProbeOutput } from './probe-script.js';
import { parseRecord, type RecordedResource } from './record.js';
import { resourceProbes } from './resource-probes.js';

/** The reads a plan was made from, so apply can repeat them under the lock and compare. */
export interface PlanReads {
  /** the probe scripts exactly as run (one, or two when something was removed) */
  scripts: string[];
  /** the nonce of each script, stripped from its output before hashing */
  nonces: string[];
  /** per script, sections left out of the digest (who holds the lock is not the machine's state) */
  unhashed: number[][];
}

/** Everything read from one machine, JSON-serialisable: what a compare starts from. */
export interface Observation {
  machine: string;
  /** the text of the machine's record of what pairctl manages there ('' when it has none) */
  record: string;
  /** the lock file's holder lines (lock.ts), '' when the lock is free */
  holder: string;
  /** each resource's state as its kind parsed it, by address: the desired ones and the record's orphans */
  resources: Record<string, unknown>;
  /** the original of each replaced file a removal may put back, by backup path */
  backups: Record<string, FileObserved>;
  /** what each of the machine's fact probes printed, by fact key (graph/facts.ts) */
  facts: Record<string, string>;
  /** sha256 of everything read but the holder lines, markers stripped (digestInput) */
  stateDigest: string;
  /** the scripts that read it, for apply to read again under the lock */
  reads: PlanReads;
}

/** Section of the first probe that reads the lock's holder line. */
export const HOLDER_SECTION = 1;

/** Resources the record lists that pair.yaml no longer wants, dependents first. */
export function orphansOf(desired: readonly Resource[], recorded: readonly RecordedResource[]): RecordedResource[] {
  const wanted = new Set(desired.map((r) => r.address));
  return topoSort(recorded.filter((r) => !wanted.has(r.address))).reverse() as RecordedResource[];
}

/** The file a removal puts back from its backup, when the resource's kind backs files up. */
export function backedUpFile(r: RecordedResource): { path: string; content: string } | undefined {
  if (r.origin !== 'adopted' || !r.backup) return undefined;
  return kindOf(r.kind).backupFile?.(r.spec);
}

/** A machine's first probe, built before its connection is ready (plan-all.ts builds it while the login is in flight). */
export interface FirstProbe {
  machine: DesiredMachine;
  desired: Resource[];
  desiredReads: ReturnType<typeof resourceProbes>;
  script: PreparedScript;
}

/** The first probe of a machine: its record, the lock's holder, every desired resource, then its facts. */
export function firstProbe(machine: DesiredMachine): FirstProbe {
  const desired = topoSort(machine.resources);
  // Facts other machines need (graph/facts.ts) ride in the same exec, after the resources.
  const facts = machine.facts ?? [];
  const desiredReads = resourceProbes(desired);
  const script = prepareScript(
    [sh`cat ${RECORD_FILE} 2>/dev/null || :`, HOLDER_PROBE, ...desiredReads.snippets, ...facts.map((f) => f.snippet)],
    [HOLDER_SECTION],
  );
  return { machine, desired, desiredReads, script };
}

/** Reads a machine: one exec, or two when the record lists resources pair.yaml no longer wants. */
export async function observe(
  machine: DesiredMachine,
  runner: Runner,
  prepared: FirstProbe = firstProbe(machine),
  /** options of its execs */
  opts: ProbeExec = {},
): Promise<Observation> {
  if (prepared.machine !== machine) throw new Error(`internal error: the first probe of ${machine.target.id} was built for another graph`);
  const { desired, desiredReads } = prepared;
  const facts = machine.facts ?? [];
  const first = await probe(runner, prepared.script, opts);
  const [recordOut, holderOut, ...rest] = first.results;
  const record = recordOut?.output ?? '';
  const resources: Record<string, unknown> = {};
  desiredReads.observe(rest.slice(0, desiredReads.snippets.length).map((r) => r.output)).forEach((o, i) => (resources[desired[i]!.address] = o));
  const factsOut = rest.slice(desiredReads.snippets.length);

  const orphans = orphansOf(desired, parseRecord(record).record.resources);
  const backups = orphans.filter((r) => backedUpFile(r));
  const orphanReads = resourceProbes(orphans);
  const second =
    orphans.length > 0
      ? await probe(runner, prepareScript([...orphanReads.snippets, ...backups.map((r) => probeFile(r.backup!))]), opts)
      : undefined;
  const secondOut = second?.results ?? [];
  orphanReads.observe(secondOut.slice(0, orphanReads.snippets.length).map((r) => r.output)).forEach((o, i) => (resources[orphans[i]!.address] = o));
  const originals: Record<string, FileObserved> = {};
  backups.forEach((r, i) => (originals[r.backup!] = parseFile(secondOut[orphanReads.snippets.length + i]?.output ?? '')));

  return {
    machine: machine.target.id,
    record,
    holder: holderOut?.output ?? '',
    resources,
    backups: originals,
    facts: Object.fromEntries(facts.map((f, i) => [f.key, factsOut[i]?.output ?? ''])),
    stateDigest: createHash('sha256').update(first.stdout).update(second?.stdout ?? '').digest('hex'),
    reads: {
      scripts: [first.script, ...(second ? [second.script] : [])],
      nonces: [first.nonce, ...(second ? [second.nonce] : [])],
      unhashed: [[HOLDER_SECTION], ...(second ? [[]] : [])],
    },
  };
}

/**
 * What of a probe's output the state digest covers: everything but the `unhashed` sections, with
 * the random markers stripped so two reads of the same state hash alike. The apply script
 * repeats exactly this with sed (apply-machine.ts), line for line.
 */
export function digestInput(stdout: string, nonce: string, unhashed: number[] = []): string {
  if (unhashed.length === 0) return stdout.replaceAll(nonce, '');
  // The markers once, not once per line of output (8 hosts' probes are thousands of lines).
  const begins = new Set(unhashed.map((k) => `@@pairctl-${nonce}-begin-${k}`));
  const ends = unhashed.map((k) => `@@pairctl-${nonce}-end-${k}-`);
  const out: string[] = [];
  let skipping = false;
  for (const line of stdout.split('\n')) {
    if (!skipping && begins.has(line)) {
      skipping = true;
      continue;
    }
    if (skipping) {
      if (ends.some((e) => line.startsWith(e))) skipping = false;
      continue;
    }
    out.push(line);
  }
  return out.join('\n').replaceAll(nonce, '');
}

/** A probe script ready to run, with what splitting its output needs. */
interface PreparedScript {
  script: string;
  nonce: string;
  sections: number;
  unhashed: number[];
}

function prepareScript(snippets: string[], unhashed: number[] = []): PreparedScript {
  const { script, nonce } = buildProbeScript(snippets.map((snippet) => ({ snippet })));
  return { script, nonce, sections: snippets.length, unhashed };
}

/** What a probe may ask of its exec. */
type ProbeExec = Pick<ExecOptions, 'thenAnother' | 'hold'>;

async function probe(runner: Runner, prepared: PreparedScript, opts: ProbeExec) {
  const { script, nonce } = prepared;
  const res = await runner.exec(script, opts);
  if (res.code !== 0) {
    throw new Error(`reading the machine's state failed (exit ${res.code}): ${res.stderr.trim().split('\n').slice(-3).join(' ')}`);
  }
  return { script, nonce, stdout: digestInput(res.stdout, nonce, prepared.unhashed), results: parseProbeOutput(res.stdout, nonce, prepared.sections) };
}
