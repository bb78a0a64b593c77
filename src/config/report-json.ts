/** The machine-readable report: one JSON object, stable keys, for scripts and other tools. */
import type { LintReport } from './lint-report.js';
import { passed, totals } from './lint-report.js';

/** Renders the report as pretty-printed JSON (format version 1). */
export function renderJson(report: LintReport): string {
  const t = totals(report);
  const body = {
    version: 1,
    ok: passed(report),
    errors: t.errors,
    warnings: t.warnings,
    files: report.files.map((f) => ({
      file: f.file,
      ok: !f.diagnostics.some((d) => d.severity === 'error'),
      diagnostics: f.diagnostics.map((d) => ({
        rule: d.rule,
        severity: d.severity,
        line: d.line,
        column: d.column,
        message: d.message,
        ...(d.hint ? { hint: d.hint } : {}),
      })),
    })),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}
