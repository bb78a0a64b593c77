/**
 * The contract every resource kind fulfils: how to read it (a shell snippet and a pure parser),
 * how to compare it with what pair.yaml wants, and which commands close the gap. All pure: the
 * engine in plan/ batches the snippets of a machine into one exec and runs the steps.
 */
import type { KindName } from './registry.js';

/** What applying a resource does, in Terraform's vocabulary. */
export type Action = 'create' | 'update' | 'delete' | 'noop';

/** One attribute shown in the plan, before and after. */
export interface AttributeChange {
  name: string;
  before?: string;
  after?: string;
}

/** A kind's verdict for one resource: what changes, and the commands that make it so. */
export interface Delta {
  action: Action;
  attributes: AttributeChange[];
  /** file contents, for a unified diff in the plan */
  content?: { path: string; before: string; after: string };
  /** said in the plan, never block it (e.g. a weak tmux version) */
  warnings: string[];
  /** block the plan: the machine is not in a state pairctl can converge */
  errors: string[];
  /** POSIX shell run as root, under `set -eu`, in a subshell; empty when noop */
  script: string;
}

/** A desired (or recorded) resource: its kind, a unique address, and its settings. */
export interface Resource<S = unknown> {
  /** a name in the registry (registry.ts), so a misspelt kind does not compile */
  kind: KindName;
  /** unique on its machine, e.g. account["pair-todd"] */
  address: string;
  spec: S;
  /** addresses this one needs to exist first */
  deps: string[];
}

/** Why a resource is being compared: still wanted, and already in the machine's record. */
export interface DiffContext {
  /** false when the record has it but pair.yaml no longer does: plan its removal */
  wanted: boolean;
  /** true when pairctl made it (it is in the machine's record) */
  recorded: boolean;
}

/** One resource kind. */
export interface ResourceKind<S, O> {
  kind: string;
  /** the name shown after the kind in the plan, e.g. "pair-todd" */
  name(spec: S): string;
  probe(spec: S): string;
  parse(output: string, spec: S): O;
  /**
   * Reads many resources of this kind in one snippet (a few processes in all, not a few each):
   * at 500 guests the per-resource forks were most of a plan's time. Must read exactly what
   * `probe` reads, and must not depend on anything cross-machine facts may change (a file's
   * content): the plan is compared again against the same observation (plan/observe.ts).
   */
  probeMany?(specs: S[]): string;
  /** Parses the output of `probeMany`, one observation per spec, in the same order. */
  parseMany?(output: string, specs: S[]): O[];
  diff(spec: S, observed: O, ctx: DiffContext): Delta;
  /**
   * The file a resource of this kind writes, for kinds that replace whole files: the engine keeps
   * the original of a file that was there before pairctl (a backup, once) and puts it back when
   * pairctl lets go of it. Kinds without it are never backed up.
   */
  backupFile?(spec: S): { path: string; content: string };
  /** What the plan says when such a resource leaves the record and is left alone on purpose (packages stay installed). */
  removalNote?(spec: S): string;
}

/** A kind with its types erased, for the registry; the casts are confined to `defineKind`. */
export interface AnyKind {
  kind: string;
  name(spec: unknown): string;
  probe(spec: unknown): string;
  parse(output: string, spec: unknown): unknown;
  probeMany?(specs: unknown[]): string;
  parseMany?(output: string, specs: unknown[]): unknown[];
  diff(spec: unknown, observed: unknown, ctx: DiffContext): Delta;
  backupFile?(spec: unknown): { path: string; content: string };
  removalNote?(spec: unknown): string;
}

/** Erases a kind's types once, where the registry lists it. */
export function defineKind<S, O>(k: ResourceKind<S, O>): AnyKind {
  return k as unknown as AnyKind;
}

/** A Delta that changes nothing. */
export function noop(warnings: string[] = [], errors: string[] = []): Delta {
  return { action: 'noop', attributes: [], warnings, errors, script: '' };
}

/** Parses `key=value` lines, the format every probe snippet prints. Later keys win. */
export function keyValues(output: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of output.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}
