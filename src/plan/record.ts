/**
 * Each machine's own record of what pairctl manages on it (root-only JSON). Removing something
 * from pair.yaml plans its removal because the record still lists it; the spec stored with each
 * resource is the one last applied, which is how drift (a hand edit) is told apart from a change
 * of pair.yaml; and a file pairctl replaced keeps a pointer to the backup of its original.
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { STATE_DIR } from '../graph/paths.js';
import type { Resource } from '../resources/kind.js';

/** Root-only copies of files pairctl replaced, restored when pairctl lets go of them. */
export const BACKUP_DIR = `${STATE_DIR}/backup`;

/** A resource as the record lists it. */
export interface RecordedResource extends Resource {
  /**
   * `created`: pairctl made it, so removal deletes it. `adopted`: it was there before pairctl
   * first managed it, so removal gives back the original (a backed-up file) or leaves it alone.
   * Records written before this field existed hold only resources pairctl created.
   */
  origin?: 'created' | 'adopted';
  /** where the original of a replaced file was copied, the first time pairctl changed it */
  backup?: string;
  /** listed while an apply runs: its spec may not have been applied (yet) */
  pending?: boolean;
}

/** The record as stored on the machine. */
export interface MachineRecord {
  format: 1;
  resources: RecordedResource[];
}

/** Reads the record text a probe printed; an absent or unreadable record means "nothing yet". */
export function parseRecord(text: string): { record: MachineRecord; error?: string } {
  const empty: MachineRecord = { format: 1, resources: [] };
  if (text.trim() === '') return { record: empty };
  try {
    const data = JSON.parse(text) as Partial<MachineRecord>;
    if (data.format !== 1 || !Array.isArray(data.resources)) {
      return { record: empty, error: 'the record of managed resources has an unknown format (written by another pairctl version?)' };
    }
    return { record: { format: 1, resources: data.resources } };
  } catch {
    return { record: empty, error: 'the record of managed resources is not valid JSON; it was left as is' };
  }
}

/** Serialises a record (stable, so an unchanged record is byte-identical). */
export function recordText(resources: RecordedResource[]): string {
  const record: MachineRecord = { format: 1, resources };
  return `${JSON.stringify(record, null, 1)}\n`;
}

/** Where the original of a file is kept: readable name, made unique by a hash of the full path. */
export function backupPathFor(path: string): string {
  const hash = createHash('sha256').update(path).digest('hex').slice(0, 12);
  return `${BACKUP_DIR}/${hash}-${basename(path)}`;
}

/** JSON with object keys sorted, so two specs compare equal whatever order they were built in. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
