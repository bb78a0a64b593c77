/**
 * The plan as data: the same object is printed as text, printed as JSON, saved, and applied.
 * Renderers only read it; the engine never prints.
 */
import type { FactRef, Facts } from '../graph/facts.js';
import type { ToolVersions } from '../graph/tool-versions.js';
import type { Action, AttributeChange } from '../resources/kind.js';
import type { Observation, PlanReads } from './observe.js';
import type { RecordedResource } from './record.js';

export type { PlanReads } from './observe.js';

/**
 * Why a resource changes: pair.yaml asks for something new (`config`), the machine no longer
 * matches what pairctl last applied although pair.yaml did not change (`drift`: edited by hand),
 * or pair.yaml no longer names it (`removed`).
 */
export type ChangeCause = 'config' | 'drift' | 'removed';

/** One resource's planned change. */
export interface PlannedChange {
  address: string;
  kind: string;
  name: string;
  action: Action;
  /** absent in plans saved before causes were recorded; read as `config` */
  cause?: ChangeCause;
  attributes: AttributeChange[];
  /** unified diff of a file's content, when it changes */
  diff?: string;
  /** the root-only copy of the file pairctl replaced, which this removal puts back */
  restores?: string;
}

/** A planned change with the commands that make it (never printed: it may carry a file's content). */
export interface Step {
  address: string;
  action: PlannedChange['action'];
  script: string;
}

/**
 * A resource whose content waits for a fact only another machine's apply makes: shown as
 * "(known after apply)"; its machine is compared again, from the same observation, once the
 * probe that settles it ran on `waitsFor.machine` under that machine's apply lock.
 */
export interface DeferredValue {
  address: string;
  /** what is not known yet, said in the plan */
  what: string;
  waitsFor: FactRef;
  /** the fact's probe on `waitsFor.machine`, run at the end of its apply */
  probe: string;
}

/** A machine the plan could not read, and why. */
export interface UnreadableMachine {
  machine: string;
  message: string;
  hint?: string;
}

/** Everything planned for one machine: what is printed, and what apply runs. */
export interface MachinePlan {
  machine: string;
  role: 'host' | 'relay';
  /** how it is reached, as written in pair.yaml (or as last applied, for a removed machine) */
  target: string;
  /** what the machine runs, from the plan's read; absent in plans saved before versions were read */
  versions?: ToolVersions;
  /**
   * Set when every resource pairctl made there is to go: `destroy` (pairctl destroy, or plan
   * --destroy) or `removed` (the machine was dropped from pair.yaml).
   */
  teardown?: 'destroy' | 'removed';
  /** changes in the order apply runs them; no-ops left out */
  changes: PlannedChange[];
  warnings: string[];
  /** what the plan leaves alone on purpose, said so nobody expects it (packages stay installed) */
  notes?: string[];
  /** preconditions that are not met: nothing is applied while any machine has one */
  errors: string[];
  /** sha256 of everything read from the machine, so a saved plan can tell it went stale */
  stateDigest: string;
  /** the steps apply runs, in order (one per change) */
  steps: Step[];
  /** resources to list in the machine's record once apply succeeds; empty after a teardown */
  record: RecordedResource[];
  /** listed while apply runs, so a failure half-way leaves everything accounted for */
  interimRecord: RecordedResource[];
  /** the reads the plan was made from, repeated by apply under the lock (the digest's input) */
  reads: PlanReads;
  /** values only another machine's apply makes; the machine is applied after that one */
  deferred?: DeferredValue[];
  /** what was read, kept when something is deferred: apply compares again from it, never reads twice */
  observation?: Observation;
}

export interface PlanSummary {
  add: number;
  change: number;
  destroy: number;
}

/** A whole plan across machines. */
export interface Plan {
  formatVersion: 1;
  configFile: string;
  configDigest: string;
  machines: MachinePlan[];
  summary: PlanSummary;
  /** machines that could not be read: nothing is applied while there are any */
  unreadable: UnreadableMachine[];
  /** the cross-machine facts as read while planning (graph/facts.ts), what deferred values start from */
  facts: Facts;
}

/** Counts changes the way Terraform's last line does. */
export function summarize(machines: MachinePlan[]): PlanSummary {
  const s = { add: 0, change: 0, destroy: 0 };
  for (const m of machines)
    for (const c of m.changes) {
      if (c.action === 'create') s.add++;
      else if (c.action === 'update') s.change++;
      else if (c.action === 'delete') s.destroy++;
    }
  return s;
}

/** True when applying would change nothing anywhere. */
export function isEmpty(plan: Plan): boolean {
  return plan.summary.add + plan.summary.change + plan.summary.destroy === 0;
}
