/**
 * The machines pairctl has applied to from this pair.yaml, kept next to it in
 * `.pairctl/machines.json`. pair.yaml says what should be; each machine's own record says what
 * pairctl made there; this file is what lets a machine that was *removed* from pair.yaml still be
 * reached, so that its removal is planned like a removed guest's (and so `destroy --host ID`
 * works after the host left pair.yaml). It holds only ids and ssh targets, nothing secret, and
 * may be committed beside pair.yaml so everyone who applies it knows the same machines.
 */
// Reading is on every plan's path, before any connection: not node:fs/promises (~15 ms to load).
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MachineTarget } from '../transport/runner.js';

/** A machine pairctl applied to, as it was reached then. */
export interface KnownMachine extends MachineTarget {
  role: 'host' | 'relay';
}

interface KnownMachinesFile {
  format: 1;
  /** by machine id */
  machines: Record<string, { role: 'host' | 'relay'; ssh: string; sudo: boolean }>;
}

/** `.pairctl/machines.json` beside the given pair.yaml. */
export function knownMachinesPath(configFile: string): string {
  return join(dirname(configFile), '.pairctl', 'machines.json');
}

/** The machines applied to from this pair.yaml; none when the file does not exist yet. */
export async function readKnownMachines(configFile: string): Promise<KnownMachine[]> {
  const path = knownMachinesPath(configFile);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const data = (() => {
    try {
      return JSON.parse(text) as Partial<KnownMachinesFile>;
    } catch {
      return undefined;
    }
  })();
  if (!data || data.format !== 1 || !data.machines || typeof data.machines !== 'object') {
    throw new Error(`${path} is not a pairctl machines file (format 1); fix or delete it`);
  }
  return Object.entries(data.machines).map(([id, m]) => ({ id, role: m.role === 'relay' ? 'relay' : 'host', ssh: String(m.ssh), sudo: Boolean(m.sudo) }));
}

/** Adds (or updates) machines pairctl just applied to and drops the ones it tore down. */
export async function updateKnownMachines(configFile: string, applied: KnownMachine[], forgotten: string[]): Promise<void> {
  if (applied.length === 0 && forgotten.length === 0) return;
  const current = await readKnownMachines(configFile);
  const byId = new Map(current.map((m) => [m.id, m]));
  for (const m of applied) byId.set(m.id, m);
  for (const id of forgotten) byId.delete(id);
  const file: KnownMachinesFile = {
    format: 1,
    machines: Object.fromEntries([...byId.values()].sort((a, b) => a.id.localeCompare(b.id)).map((m) => [m.id, { role: m.role, ssh: m.ssh, sudo: m.sudo }])),
  };
  const path = knownMachinesPath(configFile);
  mkdirSync(dirname(path), { recursive: true });
  const { replaceFileAtomic } = await import('../transport/local-file.js');
  await replaceFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o644 });
}
