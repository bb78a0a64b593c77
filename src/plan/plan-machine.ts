/**
 * Plans one machine: reads its record and the state of every desired resource in one exec (a
 * second only when the record lists resources pair.yaml no longer wants), then lets each kind
 * compare. On top of the kinds' verdicts it adds what only the record knows: whether a change is
 * drift (the machine moved away from what pairctl last applied) or a change of pair.yaml, and
 * whether a file pairctl is about to replace was there before (then its original is backed up,
 * and put back when pairctl lets go of it). Pure apart from the runner calls.
 */
import { createHash } from 'node:crypto';
import type { DesiredMachine } from '../graph/build-graph.js';
import { topoSort } from '../graph/build-graph.js';
import { toolVersions } from '../graph/tool-versions.js';
import { RECORD_FILE, STATE_DIR } from '../graph/paths.js';
import { parseFile, probeFile } from '../resources/file-state.js';
import type { Delta, Resource } from '../resources/kind.js';
import { kindOf } from '../resources/registry.js';
import type { Runner } from '../transport/runner.js';
import { sh } from '../transport/shell-quote.js';
import type { ChangeCause, MachinePlan, PlannedChange } from './plan-model.js';
import { HOLDER_PROBE, LOCK_FILE, holderWarning, parseHolder } from './lock.js';
import { buildProbeScript, parseProbeOutput } from './probe-script.js';
import { resourceProbes } from './resource-probes.js';
import { BACKUP_DIR, backupPathFor, canonicalJson, parseRecord, type RecordedResource } from './record.js';

/** A planned change with the commands that make it, kept apart from the printable plan. */
export interface Step {
  address: string;
  action: PlannedChange['action'];
  script: string;
}

/** The reads a plan was made from, so apply can repeat them under the lock and compare. */
export interface PlanReads {
  /** the probe scripts exactly as run (one, or two when something was removed) */
  scripts: string[];
  /** the nonce of each script, stripped from its output before hashing */
  nonces: string[];
  /** per script, sections left out of the digest (who holds the lock is not the machine's state) */
  unhashed: number[][];
}

/** Section of the first probe that reads the lock's holder line. */
const HOLDER_SECTION = 1;

/** What applying one machine needs: the printable plan, the steps, and the record to keep. */
export interface MachineWork {
  plan: MachinePlan;
  steps: Step[];
  /** resources to list in the record once apply succeeds; empty after a teardown */
  record: RecordedResource[];
  /** listed while apply runs, so a failure half-way leaves everything accounted for */
  interimRecord: RecordedResource[];
  reads: PlanReads;
  /** what the machine's fact probes printed, by fact key (graph/facts.ts) */
  facts?: Record<string, string>;
}

/** Kinds pairctl never removes, and what the plan says about them when they leave the record. */
const KEPT_ON_REMOVAL: Record<string, (name: string) => string> = {
  package: (name) => `package ${name} stays installed: pairctl never uninstalls packages (they may predate it, and other software may use them)`,
};

/** The file fields of a spec, when the resource is a file (the file kind, the sshd drop-in...). */
interface FileLike {
  path: string;
  content: string;
}

function fileLike(spec: unknown): FileLike | undefined {
  if (!spec || typeof spec !== 'object') return undefined;
  const s = spec as Record<string, unknown>;
  return typeof s.path === 'string' && typeof s.content === 'string' && typeof s.mode === 'string' ? { path: s.path, content: s.content } : undefined;
}

/** Copies the original of a file pairctl is about to replace, once: a later apply never overwrites it. */
export function backupScript(path: string, backup: string): string {
  return sh`if [ ! -e ${backup} ] && [ -f ${path} ] && [ ! -L ${path} ]; then
  mkdir -p ${BACKUP_DIR} && chmod 0700 ${BACKUP_DIR}
  cp -p ${path} ${backup + '.tmp'} && mv -f ${backup + '.tmp'} ${backup}
fi`;
}

/** Puts the original back (atomically: a copy in the same directory, then rename) and drops the backup. */
export function restoreScript(path: string, backup: string): string {
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  return sh`if [ -f ${backup} ]; then
  [ -d ${dir} ] || mkdir -p ${dir}
  t=$(mktemp ${dir + '/.pairctl.XXXXXX'})
  trap 'rm -f "$t"' EXIT
  cp -p ${backup} "$t"
  mv -f "$t" ${path}
  trap - EXIT
  rm -f ${backup}
fi`;
}

/** Reads a machine in one round trip and compares it with what is desired. */
export async function planMachine(machine: DesiredMachine, runner: Runner): Promise<MachineWork> {
  const desired = topoSort(machine.resources);
  // Facts other machines need (graph/facts.ts) ride in the same exec, after the resources.
  const facts = machine.facts ?? [];
  const desiredReads = resourceProbes(desired);
  const first = await probe(
    runner,
    [sh`cat ${RECORD_FILE} 2>/dev/null || :`, HOLDER_PROBE, ...desiredReads.snippets, ...facts.map((f) => f.snippet)],
    [HOLDER_SECTION],
  );
  const [recordOut, holderOut, ...desiredOut] = first.results;
  const desiredObserved = desiredReads.observe(desiredOut.slice(0, desiredReads.snippets.length).map((r) => r.output));
  const factsOut = desiredOut.slice(desiredReads.snippets.length);
  const { record, error } = parseRecord(recordOut?.output ?? '');
  const recorded = new Map(record.resources.map((r) => [r.address, r]));
  const wanted = new Set(desired.map((r) => r.address));
  const orphans = topoSort(record.resources.filter((r) => !wanted.has(r.address))).reverse() as RecordedResource[];
  const backups = orphans.filter((r) => r.origin === 'adopted' && r.backup && fileLike(r.spec));
  const orphanReads = resourceProbes(orphans);
  const second =
    orphans.length > 0
      ? await probe(runner, [...orphanReads.snippets, ...backups.map((r) => probeFile(r.backup!))])
      : undefined;
  const orphanObserved = orphanReads.observe((second?.results ?? []).slice(0, orphanReads.snippets.length).map((r) => r.output));
  const originals = new Map(backups.map((r, i) => [r.address, parseFile(second?.results[orphanReads.snippets.length + i]?.output ?? '')]));

  const warnings: string[] = error ? [error] : [];
  const unfinished = holderWarning(machine.target.id, parseHolder(holderOut?.output ?? ''));
  if (unfinished) warnings.push(unfinished);
  const notes: string[] = [];
  const errors: string[] = [];
  const changes: PlannedChange[] = [];
  const steps: Step[] = [];
  const finalRecord: RecordedResource[] = [];
  const interimRecord: RecordedResource[] = [];

  const contents: Array<[PlannedChange, NonNullable<Delta['content']>]> = [];
  const add = (change: PlannedChange, script: string, content: Delta['content']): void => {
    changes.push(change);
    steps.push({ address: change.address, action: change.action, script });
    if (content && content.before !== content.after) contents.push([change, content]);
  };

  // Removals first, dependents before what they depend on (the key goes before the account).
  orphans.forEach((r, i) => {
    interimRecord.push(r);
    const kind = kindOf(r.kind);
    const delta = kind.diff(r.spec, orphanObserved[i], { wanted: false, recorded: true });
    warnings.push(...delta.warnings);
    errors.push(...delta.errors.map((e) => `${r.address}: ${e}`));
    const keep = KEPT_ON_REMOVAL[r.kind];
    if (keep) notes.push(keep(kind.name(r.spec)));
    const file = fileLike(r.spec);
    const original = originals.get(r.address);
    if (file && r.backup && original?.type === 'file') {
      // It was there before pairctl: put the original back rather than leave nothing.
      const change = toChange(r, kind.name(r.spec), { ...delta, action: 'delete' }, 'removed');
      change.restores = r.backup;
      const content = { path: file.path, before: delta.content?.before ?? '', after: original.content ?? '' };
      add(change, [delta.script, restoreScript(file.path, r.backup)].filter(Boolean).join('\n'), content);
      return;
    }
    if (r.origin === 'adopted') {
      if (delta.action !== 'noop') notes.push(`${r.kind} ${JSON.stringify(kind.name(r.spec))} is left in place: it was there before pairctl managed it`);
      return;
    }
    if (delta.action === 'noop') return;
    // What pairctl wrote needs no diff to be deleted: the line says the file goes.
    add(toChange(r, kind.name(r.spec), delta, 'removed'), delta.script, undefined);
  });

  desired.forEach((r, i) => {
    const kind = kindOf(r.kind);
    const entry = recorded.get(r.address);
    const delta = kind.diff(r.spec, desiredObserved[i], { wanted: true, recorded: entry !== undefined });
    warnings.push(...delta.warnings);
    errors.push(...delta.errors.map((e) => `${r.address}: ${e}`));
    // Whatever was at the address before pairctl first recorded it was not made by pairctl; but
    // what pairctl makes anew (nothing there, and no original kept) is pairctl's to delete later.
    const madeNow = delta.action === 'create' && !entry?.backup;
    const origin = madeNow ? 'created' : entry ? (entry.origin ?? 'created') : 'adopted';
    const file = fileLike(r.spec);
    const backup =
      entry?.backup ?? (origin === 'adopted' && file && delta.action === 'update' ? backupPathFor(file.path) : undefined);
    const final: RecordedResource = { ...r, origin, ...(backup ? { backup } : {}) };
    finalRecord.push(final);
    if (delta.action === 'noop') {
      interimRecord.push(final);
      return;
    }
    // The record keeps the spec last applied: while this step is pending, that is the old one.
    interimRecord.push(entry ? { ...entry, origin, ...(backup ? { backup } : {}) } : { ...final, pending: true });
    const drift = entry !== undefined && !entry.pending && canonicalJson(entry.spec) === canonicalJson(r.spec);
    const script = backup && file && origin === 'adopted' ? `${backupScript(file.path, backup)}\n${delta.script}` : delta.script;
    add(toChange(r, kind.name(r.spec), delta, drift ? 'drift' : 'config'), script, delta.content);
  });

  if (desired.length === 0 && record.resources.length > 0) {
    // Nothing stays managed: pairctl's own record, backups and lock go last (the directory too, if empty).
    const change: PlannedChange = { address: `state[${JSON.stringify(STATE_DIR)}]`, kind: 'state', name: STATE_DIR, action: 'delete', cause: 'removed', attributes: [] };
    add(change, sh`rm -f ${RECORD_FILE} ${LOCK_FILE}
rmdir ${BACKUP_DIR} ${STATE_DIR} 2>/dev/null || :`, undefined);
  }
  await addDiffs(contents);
  const digest = createHash('sha256').update(first.stdout).update(second?.stdout ?? '').digest('hex');
  const printed: Record<string, string> = Object.fromEntries(facts.map((f, i) => [f.key, factsOut[i]?.output ?? '']));
  return {
    plan: {
      machine: machine.target.id,
      role: machine.role,
      target: machine.target.ssh,
      versions: toolVersions(printed),
      changes,
      warnings: [...new Set(warnings)],
      ...(notes.length > 0 ? { notes: [...new Set(notes)] } : {}),
      errors,
      stateDigest: digest,
    },
    steps,
    record: finalRecord,
    interimRecord,
    facts: printed,
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
  const out: string[] = [];
  let skipping = false;
  for (const line of stdout.split('\n')) {
    if (!skipping && unhashed.some((k) => line === `@@pairctl-${nonce}-begin-${k}`)) {
      skipping = true;
      continue;
    }
    if (skipping) {
      if (unhashed.some((k) => line.startsWith(`@@pairctl-${nonce}-end-${k}-`))) skipping = false;
      continue;
    }
    out.push(line);
  }
  return out.join('\n').replaceAll(nonce, '');
}

async function probe(runner: Runner, snippets: string[], unhashed: number[] = []) {
  const { script, nonce } = buildProbeScript(snippets.map((snippet) => ({ snippet })));
  const res = await runner.exec(script);
  if (res.code !== 0) {
    throw new Error(`reading the machine's state failed (exit ${res.code}): ${res.stderr.trim().split('\n').slice(-3).join(' ')}`);
  }
  return { script, nonce, stdout: digestInput(res.stdout, nonce, unhashed), results: parseProbeOutput(res.stdout, nonce, snippets.length) };
}

function toChange(r: Resource, name: string, delta: Delta, cause: ChangeCause): PlannedChange {
  return { address: r.address, kind: r.kind, name, action: delta.action, cause, attributes: delta.attributes };
}

/** Adds the unified diff (hunks only) of each content change; the diff module loads only when there is one. */
async function addDiffs(contents: Array<[PlannedChange, NonNullable<Delta['content']>]>): Promise<void> {
  if (contents.length === 0) return;
  const { createTwoFilesPatch } = await import('diff');
  for (const [change, { path, before, after }] of contents) {
    const lines = createTwoFilesPatch(path, path, before, after, '', '', { context: 3 }).split('\n');
    const firstHunk = lines.findIndex((l) => l.startsWith('@@'));
    change.diff = lines.slice(firstHunk).join('\n').trimEnd();
  }
}
