/**
 * Compares one machine's desired resources with what was read from it (an Observation): each kind
 * gives its verdict, and on top of those the engine adds what only the record knows: whether a
 * change is drift (the machine moved away from what pairctl last applied) or a change of
 * pair.yaml, and whether a file pairctl is about to replace was there before (then its original
 * is backed up, and put back when pairctl lets go of it). Pure: no machine is contacted, so the
 * same observation can be compared again once cross-machine facts are known.
 */
import type { DesiredMachine } from '../graph/build-graph.js';
import { topoSort } from '../graph/build-graph.js';
import { toolVersions } from '../graph/tool-versions.js';
import { RECORD_FILE, STATE_DIR } from '../graph/paths.js';
import type { Delta, Resource } from '../resources/kind.js';
import { kindOf } from '../resources/registry.js';
import { atomicReplaceScript } from '../resources/atomic-replace.js';
import { sh } from '../transport/shell-quote.js';
import type { ChangeCause, MachinePlan, PlannedChange, Step } from './plan-model.js';
import { LOCK_FILE, holderWarning, parseHolder } from './lock.js';
import { backedUpFile, orphansOf, type Observation } from './observe.js';
import { BACKUP_DIR, backupPathFor, canonicalJson, parseRecord, type RecordedResource } from './record.js';

/** Copies the original of a file pairctl is about to replace, once: a later apply never overwrites it. */
export function backupScript(path: string, backup: string): string {
  return sh`if [ ! -e ${backup} ] && [ -f ${path} ] && [ ! -L ${path} ]; then
  mkdir -p ${BACKUP_DIR} && chmod 0700 ${BACKUP_DIR}
  cp -p ${path} ${backup + '.tmp'} && mv -f ${backup + '.tmp'} ${backup}
fi`;
}

/** Puts the original back (atomically: a copy in the same directory, then rename) and drops the backup. */
export function restoreScript(path: string, backup: string): string {
  const replace = atomicReplaceScript({ path, fill: sh`cp -p ${backup} "$t"`, dir: 'mkdir' });
  return `${sh`if [ -f ${backup} ]; then`}
${replace.replace(/^/gm, '  ')}
${sh`  rm -f ${backup}`}
fi`;
}

/**
 * What applying `machine` changes, from what `observation` read there. A resource the
 * observation lacks is a caller's error: the desired machine must be the one it was read for
 * (facts may change contents, never which resources there are).
 */
export async function compare(machine: DesiredMachine, observation: Observation): Promise<MachinePlan> {
  const desired = topoSort(machine.resources);
  const { record, error } = parseRecord(observation.record);
  const recorded = new Map(record.resources.map((r) => [r.address, r]));
  const orphans = orphansOf(desired, record.resources);
  const observed = (r: Resource): unknown => {
    if (!(r.address in observation.resources)) throw new Error(`internal error: ${r.address} was not read on ${machine.target.id}`);
    return observation.resources[r.address];
  };

  const warnings: string[] = error ? [error] : [];
  const unfinished = holderWarning(machine.target.id, parseHolder(observation.holder));
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
  orphans.forEach((r) => {
    interimRecord.push(r);
    const kind = kindOf(r.kind);
    const delta = kind.diff(r.spec, observed(r), { wanted: false, recorded: true });
    warnings.push(...delta.warnings);
    errors.push(...delta.errors.map((e) => `${r.address}: ${e}`));
    const note = kind.removalNote?.(r.spec);
    if (note) notes.push(note);
    const file = backedUpFile(r);
    const original = r.backup ? observation.backups[r.backup] : undefined;
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

  desired.forEach((r) => {
    const kind = kindOf(r.kind);
    const entry = recorded.get(r.address);
    const delta = kind.diff(r.spec, observed(r), { wanted: true, recorded: entry !== undefined });
    warnings.push(...delta.warnings);
    errors.push(...delta.errors.map((e) => `${r.address}: ${e}`));
    // Whatever was at the address before pairctl first recorded it was not made by pairctl; but
    // what pairctl makes anew (nothing there, and no original kept) is pairctl's to delete later.
    const madeNow = delta.action === 'create' && !entry?.backup;
    const origin = madeNow ? 'created' : entry ? (entry.origin ?? 'created') : 'adopted';
    const file = kind.backupFile?.(r.spec);
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
  return {
    machine: machine.target.id,
    role: machine.role,
    target: machine.target.ssh,
    versions: toolVersions(observation.facts),
    changes,
    warnings: [...new Set(warnings)],
    ...(notes.length > 0 ? { notes: [...new Set(notes)] } : {}),
    errors,
    stateDigest: observation.stateDigest,
    steps,
    record: finalRecord,
    interimRecord,
    reads: observation.reads,
  };
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
