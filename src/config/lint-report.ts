/**
 * The result of linting one or more pair.yaml files, as data: the CLI prints it in one of the
 * report formats (text, json, github, sarif), which only read it.
 */
import type { Diagnostic } from './diagnostic.js';

/** One file's outcome. */
export interface FileReport {
  file: string;
  /** hosts and guests counted when the file is valid, for the text summary */
  counts?: { hosts: number; guests: number };
  diagnostics: Diagnostic[];
}

export interface LintReport {
  files: FileReport[];
  /** with --strict, warnings fail the run too */
  strict: boolean;
}

/** Totals over every file. */
export function totals(report: LintReport): { errors: number; warnings: number } {
  let errors = 0;
  let warnings = 0;
  for (const f of report.files) {
    for (const d of f.diagnostics) {
      if (d.severity === 'error') errors++;
      else warnings++;
    }
  }
  return { errors, warnings };
}

/** Whether the run passes: no errors, and no warnings either under --strict. */
export function passed(report: LintReport): boolean {
  const { errors, warnings } = totals(report);
  return errors === 0 && (!report.strict || warnings === 0);
}
