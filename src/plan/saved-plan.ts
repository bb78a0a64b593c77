/**
 * `pairctl plan -o FILE` and `pairctl apply FILE`: the plan saved with everything needed to apply
 * exactly it later — the steps, the records to write, which machines and how they are reached,
 * and what the plan was made from (pair.yaml's digest, each machine's state digest, the reads
 * that produced them). Apply refuses the file when any of those changed since ("stale plan").
 *
 * The file holds the commands that will run as root, so it is written owner-only (0600).
 */
import { readFileSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { guestKeysDigest } from '../config/github-keys.js';
import type { PairConfig } from '../config/model.js';
import type { MachineWork } from './plan-machine.js';
import type { Plan } from './plan-model.js';
import type { KnownMachine } from './known-machines.js';
import type { ScopeRequest } from './scope.js';

/** Bumped when a saved plan written by an older pairctl could no longer be applied correctly. */
export const SAVED_PLAN_FORMAT = 1;

/** A saved plan file. */
export interface SavedPlan {
  kind: 'pairctl-saved-plan';
  format: typeof SAVED_PLAN_FORMAT;
  /** the pairctl that made it; another version refuses it (scripts and records may differ) */
  pairctlVersion: string;
  createdAt: string;
  /** absolute path of the pair.yaml it was made from */
  configFile: string;
  configDigest: string;
  /**
   * Digest of each guest's keys as resolved at plan time (keys published on GitHub included):
   * a key that changes between plan and apply makes the plan stale, though pair.yaml did not.
   */
  guestKeys: Record<string, string>;
  scope: ScopeRequest;
  /** machines no longer in pair.yaml that the plan covers, with how they were reached */
  removed: KnownMachine[];
  plan: Plan;
  works: MachineWork[];
}

/** The version in pairctl's package.json. */
export function pairctlVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

/** Builds the saved form of a plan. */
export function toSavedPlan(
  plan: Plan,
  works: MachineWork[],
  scope: ScopeRequest,
  removed: KnownMachine[],
  guestKeys: Record<string, string>,
  now = new Date(),
): SavedPlan {
  return {
    kind: 'pairctl-saved-plan',
    format: SAVED_PLAN_FORMAT,
    pairctlVersion: pairctlVersion(),
    createdAt: now.toISOString(),
    configFile: resolve(plan.configFile),
    configDigest: plan.configDigest,
    guestKeys,
    scope,
    removed,
    plan,
    works,
  };
}

/** Writes the plan owner-only, atomically (a half-written plan file is never left behind). */
export async function writeSavedPlan(file: string, saved: SavedPlan): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(saved)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

/** Reads a saved plan; throws an Error that says what is wrong with the file. */
export async function readSavedPlan(file: string): Promise<SavedPlan> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot read the plan file ${file}: ${code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err)}`);
  }
  let data: Partial<SavedPlan>;
  try {
    data = JSON.parse(text) as Partial<SavedPlan>;
  } catch {
    throw new Error(`${file} is not a saved pairctl plan (not JSON); make one with pairctl plan -o ${file}`);
  }
  if (data.kind !== 'pairctl-saved-plan' || !data.plan || !Array.isArray(data.works) || typeof data.guestKeys !== 'object') {
    throw new Error(`${file} is not a saved pairctl plan; make one with pairctl plan -o ${file}`);
  }
  if (data.format !== SAVED_PLAN_FORMAT || data.pairctlVersion !== pairctlVersion()) {
    throw new Error(
      `${file} was saved by pairctl ${data.pairctlVersion ?? '?'} (plan format ${data.format ?? '?'}); this is pairctl ${pairctlVersion()}: make the plan again with this version`,
    );
  }
  return data as SavedPlan;
}

/** Each guest's key digest, for pinning in a saved plan. */
export function guestKeyDigests(config: Pick<PairConfig, 'guests'>): Record<string, string> {
  return Object.fromEntries(config.guests.map((g) => [g.name, guestKeysDigest({ guests: [g] })]));
}

/** Guests whose keys differ between a saved plan and now (added and removed guests included). */
export function changedGuestKeys(saved: Record<string, string>, now: Record<string, string>): string[] {
  const names = new Set([...Object.keys(saved), ...Object.keys(now)]);
  return [...names].filter((n) => saved[n] !== now[n]).sort();
}
