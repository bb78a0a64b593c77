/**
 * Each machine's own record of what pairctl manages on it (root-only JSON). Removing something
 * from pair.yaml plans its removal because the record still lists it.
 */
import type { Resource } from '../resources/kind.js';

/** The record as stored on the machine. */
export interface MachineRecord {
  format: 1;
  resources: Resource[];
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
export function recordText(resources: Resource[]): string {
  const record: MachineRecord = { format: 1, resources };
  return `${JSON.stringify(record, null, 1)}\n`;
}
