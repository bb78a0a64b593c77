/**
 * `pairctl plan -o FILE` and `pairctl apply FILE`: the Plan saved whole — the steps, the records
 * to write, the values only another machine's apply makes (with the probes that settle them),
 * which machines and how they are reached, and what the plan was made from (pair.yaml's digest,
 * each machine's state digest, the reads that produced them). Apply refuses the file when any of
 * those changed since ("stale plan").
 *
 * The file holds the commands that will run as root, so it is written owner-only (0600), under a
 * temp name nobody can guess (so nobody can plant a file or symlink there first), then renamed.
 * It is never trusted to say what runs: apply plans again and runs the fresh steps, and only when
 * they are exactly the saved ones (`savedPlanDifferences`) — an edited script is refused.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { guestKeysDigest } from '../config/github-keys.js';
import type { PairConfig } from '../config/model.js';
import type { MachinePlan, Plan } from './plan-model.js';
import type { KnownMachine } from './known-machines.js';
import { canonicalJson } from './record.js';
import type { ScopeRequest } from './scope.js';

/**
 * Bumped when a saved plan written by an older pairctl could no longer be applied correctly.
 * 2: the Plan alone holds steps, records and deferred values (format 1 kept them in `works`).
 */
export const SAVED_PLAN_FORMAT = 2;

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
}

/** The version in pairctl's package.json. */
export function pairctlVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

/** Builds the saved form of a plan. */
export function toSavedPlan(
  plan: Plan,
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
  };
}

/**
 * Writes the plan owner-only, atomically (a half-written plan file is never left behind). The
 * temp file is created exclusively (O_EXCL: never through a symlink or over a file someone put
 * there) under a random name, born 0600, flushed, then renamed over FILE.
 */
export async function writeSavedPlan(file: string, saved: SavedPlan): Promise<void> {
  // Imported when a plan is saved (it loads node:fs/promises, ~15 ms): most plans are not.
  const { replaceFileAtomic } = await import('../transport/local-file.js');
  await replaceFileAtomic(file, `${JSON.stringify(saved)}\n`, { mode: 0o600 });
}

/** Reads a saved plan; throws an Error that says what is wrong with the file. */
export async function readSavedPlan(file: string): Promise<SavedPlan> {
  let text: string;
  try {
    // Loaded here, not at start: node:fs/promises costs ~15 ms to load, and plan never reads a saved plan.
    const { readFile } = await import('node:fs/promises');
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
  if (data.kind !== 'pairctl-saved-plan' || !data.plan || typeof data.guestKeys !== 'object') {
    throw new Error(`${file} is not a saved pairctl plan; make one with pairctl plan -o ${file}`);
  }
  if (data.format !== SAVED_PLAN_FORMAT) {
    throw new Error(
      `${file} is a saved plan of format ${data.format ?? '?'}; this pairctl ${pairctlVersion()} reads format ${SAVED_PLAN_FORMAT} only (it keeps what apply runs in another shape): make the plan again with pairctl plan -o ${file}`,
    );
  }
  if (!Array.isArray(data.plan.machines)) throw new Error(`${file} is not a saved pairctl plan; make one with pairctl plan -o ${file}`);
  if (data.pairctlVersion !== pairctlVersion()) {
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

/**
 * What of a machine's plan decides what apply does besides its steps: the records it writes, its
 * changes, and the values it waits for (and the probes that settle them).
 */
function workParts(m: MachinePlan): Array<[string, unknown]> {
  return [
    ['record', m.record],
    ['interim record', m.interimRecord],
    ['changes', m.changes],
    ['errors', m.errors],
    ['list of deferred values', m.deferred ?? []],
  ];
}

/**
 * Where a saved plan's work differs from what planning again now produced, one line each, naming
 * the machine and the step (never printing a script: it may carry a secret's file content). Empty
 * when apply would run exactly the saved steps. Read-only details (warnings, the reads' random
 * markers) are not compared; the state digests are compared separately (a "stale" plan).
 */
export function savedPlanDifferences(saved: readonly MachinePlan[], fresh: readonly MachinePlan[]): string[] {
  const out: string[] = [];
  const now = new Map(fresh.map((w) => [w.machine, w]));
  const then = new Set(saved.map((w) => w.machine));
  for (const w of fresh) if (!then.has(w.machine)) out.push(`machine ${w.machine}: planned now, but not in the saved plan`);
  for (const s of saved) {
    const m = s.machine;
    const f = now.get(m);
    if (!f) {
      out.push(`machine ${m}: in the saved plan, but not planned now`);
      continue;
    }
    const steps = Array.isArray(s.steps) ? s.steps : [];
    const count = Math.max(steps.length, f.steps.length);
    for (let i = 0; i < count; i++) {
      const a = steps[i];
      const b = f.steps[i];
      const name = `machine ${m}: step ${i + 1}`;
      if (!a || !b) {
        out.push(`${name} (${(a ?? b)!.address}): ${a ? 'in the saved plan only' : 'planned now only'}`);
      } else if (a.address !== b.address || a.action !== b.action) {
        out.push(`${name}: the saved plan has ${a.action} ${a.address}, planning now gives ${b.action} ${b.address}`);
      } else if (a.script !== b.script) {
        out.push(`${name} (${b.action} ${b.address}): its script differs from the one planning now gives`);
      }
    }
    for (const [what, value] of workParts(f)) {
      const before = workParts(s).find(([k]) => k === what)?.[1];
      if (canonicalJson(before) !== canonicalJson(value)) out.push(`machine ${m}: the ${what} differs from what planning now gives`);
    }
  }
  return out;
}
