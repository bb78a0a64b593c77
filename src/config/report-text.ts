/** The human report: `FILE:LINE:COL: severity: message [rule]` and a hint line, then a summary per file. */
import { formatDiagnostic } from './diagnostic.js';
import type { LintReport } from './lint-report.js';
import { totals } from './lint-report.js';

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Renders the whole report as lines of text. */
export function renderText(report: LintReport): string {
  const out: string[] = [];
  for (const f of report.files) {
    for (const d of f.diagnostics) out.push(formatDiagnostic(d));
    const errors = f.diagnostics.filter((d) => d.severity === 'error').length;
    const warnings = f.diagnostics.length - errors;
    if (errors === 0 && f.counts) {
      const summary = [count(f.counts.hosts, 'host'), count(f.counts.guests, 'guest')];
      if (warnings > 0) summary.push(count(warnings, 'warning'));
      out.push(`${f.file}: ok (${summary.join(', ')})`);
    } else {
      out.push(`${f.file}: ${count(errors, 'error')}${warnings > 0 ? `, ${count(warnings, 'warning')}` : ''}`);
    }
  }
  if (report.files.length > 1) {
    const t = totals(report);
    out.push(`${count(report.files.length, 'file')}: ${count(t.errors, 'error')}, ${count(t.warnings, 'warning')}`);
  }
  return `${out.join('\n')}\n`;
}
