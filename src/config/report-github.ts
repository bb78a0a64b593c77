/**
 * GitHub Actions workflow commands (`::error file=…,line=…,col=…,title=…::message`), which the
 * runner turns into annotations on the pull request's diff. Escaping follows the runner's own
 * rules (actions/toolkit `command.ts`): in the message `%`, CR and LF; in a property value also
 * `:` and `,`, which would otherwise end the property. A value can then never start a second
 * command or forge another annotation.
 */
import type { LintReport } from './lint-report.js';
import { totals } from './lint-report.js';

/** Escapes the message part of a workflow command. */
export function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escapes a property value (file=, title=) of a workflow command. */
export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** One annotation per diagnostic, then a plain summary line for the log. */
export function renderGithub(report: LintReport): string {
  const out: string[] = [];
  for (const f of report.files) {
    for (const d of f.diagnostics) {
      const props = `file=${escapeProperty(d.file)},line=${d.line},col=${d.column},title=${escapeProperty(d.rule)}`;
      const message = d.hint ? `${d.message}\nhint: ${d.hint}` : d.message;
      out.push(`::${d.severity} ${props}::${escapeData(message)}`);
    }
  }
  const t = totals(report);
  out.push(`pairctl lint: ${report.files.length} file(s), ${t.errors} error(s), ${t.warnings} warning(s)`);
  return `${out.join('\n')}\n`;
}
