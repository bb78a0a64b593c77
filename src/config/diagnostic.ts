import type { RuleId } from './rule-catalog.js';

/**
 * A problem found in a config file, pinned to a position. Validation returns these instead of
 * throwing so that every problem is reported at once and renderers decide the format.
 */
export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  severity: 'error' | 'warning';
  /** stable rule id, e.g. "key-invalid"; see docs/rules.md */
  rule: RuleId;
  message: string;
  /** what to do about it */
  hint?: string;
}

/** Renders one diagnostic as `FILE:LINE:COL: severity: message` plus an indented hint line. */
export function formatDiagnostic(d: Diagnostic): string {
  const head = `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message} [${d.rule}]`;
  return d.hint ? `${head}\n    hint: ${d.hint}` : head;
}
