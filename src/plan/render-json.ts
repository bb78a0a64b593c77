/**
 * The machine-readable form of a plan (and of an apply's outcome) that `--json` prints. Its shape
 * is a contract documented in docs/plan-json.md: `format_version` is "MAJOR.MINOR"; a new MINOR
 * only adds fields, a new MAJOR may change or remove them. Renders only what the Plan holds:
 * never scripts (the commands that run as root stay in saved plan files only).
 */
import type { MachineApplyResult } from './apply-machine.js';
import type { Plan } from './plan-model.js';

/** Version of the JSON documents below. */
export const JSON_FORMAT_VERSION = '1.1';

/** A machine that could not be read, as the JSON lists it. */
export interface UnreachableJson {
  machine: string;
  message: string;
  hint: string | null;
}

export interface PlanJson {
  format_version: string;
  pairctl_version: string;
  command: 'plan' | 'apply' | 'destroy';
  config: { file: string; digest: string };
  /** --limit, or null when every machine is covered */
  limit: string[] | null;
  destroy: boolean;
  machines: Array<{
    id: string;
    role: 'host' | 'relay';
    target: string;
    /** what the machine runs, as read by the plan (since 1.1); null when not found or not read */
    versions: { tmux: string | null; openssh: string | null };
    teardown: 'destroy' | 'removed' | null;
    state_digest: string;
    changes: Array<{
      address: string;
      kind: string;
      name: string;
      action: 'create' | 'update' | 'delete';
      cause: 'config' | 'drift' | 'removed';
      attributes: Array<{ name: string; before: string | null; after: string | null }>;
      diff: string | null;
      restores_from: string | null;
    }>;
    notes: string[];
    warnings: string[];
    errors: string[];
  }>;
  unreachable: UnreachableJson[];
  /** said about the run as a whole, e.g. a machine dropped from pair.yaml that could not be reached */
  warnings: string[];
  summary: { add: number; change: number; destroy: number };
  /** true when applying would change something */
  changes_pending: boolean;
  /** true when the plan may be applied: every machine was read and no precondition fails */
  applicable: boolean;
}

export interface ApplyJson extends PlanJson {
  apply: {
    /** every machine that had changes completed them */
    ok: boolean;
    machines: Array<{
      id: string;
      ok: boolean;
      made: string[];
      failed: { address: string; output: string } | null;
      interrupted: string | null;
      not_made: string[];
      refused: 'locked' | 'stale' | null;
      error: string | null;
    }>;
  } | null;
}

/** What the JSON says about the run besides the Plan itself. */
export interface JsonContext {
  command: PlanJson['command'];
  pairctlVersion: string;
  limit?: string[];
  destroy?: boolean;
  unreachable: Array<{ machine: string; message: string; hint?: string }>;
  warnings?: string[];
}

/** The plan as the `--json` document (see docs/plan-json.md). */
export function planJson(plan: Plan, ctx: JsonContext): PlanJson {
  const { add, change, destroy } = plan.summary;
  return {
    format_version: JSON_FORMAT_VERSION,
    pairctl_version: ctx.pairctlVersion,
    command: ctx.command,
    config: { file: plan.configFile, digest: plan.configDigest },
    limit: ctx.limit && ctx.limit.length > 0 ? ctx.limit : null,
    destroy: Boolean(ctx.destroy),
    machines: plan.machines.map((m) => ({
      id: m.machine,
      role: m.role,
      target: m.target,
      versions: { tmux: m.versions?.tmux ?? null, openssh: m.versions?.openssh ?? null },
      teardown: m.teardown ?? null,
      state_digest: m.stateDigest,
      changes: m.changes
        .filter((c): c is typeof c & { action: 'create' | 'update' | 'delete' } => c.action !== 'noop')
        .map((c) => ({
          address: c.address,
          kind: c.kind,
          name: c.name,
          action: c.action,
          cause: c.cause ?? 'config',
          attributes: c.attributes.map((a) => ({ name: a.name, before: a.before ?? null, after: a.after ?? null })),
          diff: c.diff ?? null,
          restores_from: c.restores ?? null,
        })),
      notes: m.notes ?? [],
      warnings: m.warnings,
      errors: m.errors,
    })),
    unreachable: ctx.unreachable.map((u) => ({ machine: u.machine, message: u.message, hint: u.hint ?? null })),
    warnings: ctx.warnings ?? [],
    summary: { add, change, destroy },
    changes_pending: add + change + destroy > 0,
    applicable: ctx.unreachable.length === 0 && plan.machines.every((m) => m.errors.length === 0),
  };
}

/** The plan plus what applying it did (`apply` null when nothing was applied). */
export function applyJson(plan: Plan, ctx: JsonContext, results: MachineApplyResult[] | undefined): ApplyJson {
  return {
    ...planJson(plan, ctx),
    apply: results
      ? {
          ok: results.every((r) => r.ok),
          machines: results.map((r) => ({
            id: r.machine,
            ok: r.ok,
            made: r.done,
            failed: r.failed ?? null,
            interrupted: r.interrupted ?? null,
            not_made: r.notStarted,
            refused: r.refused ?? null,
            error: r.error ?? null,
          })),
        }
      : null,
  };
}

/** Serialises a document the way --json prints it: one JSON value, pretty, newline-terminated. */
export function jsonText(doc: PlanJson | ApplyJson): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
