/** Prints a Plan the way Terraform does: + ~ - per resource, diffs, and one summary line. */
import type { Action } from '../resources/kind.js';
import type { Plan } from './plan-model.js';

/** Colour codes, or none when the output is not a terminal or NO_COLOR is set. */
export interface Style {
  color: boolean;
}

const SYMBOL: Record<Action, string> = { create: '+', update: '~', delete: '-', noop: ' ' };
const COLOR: Record<Action, string> = { create: '32', update: '33', delete: '31', noop: '0' };

function paint(style: Style, code: string, text: string): string {
  return style.color ? `\x1b[${code}m${text}\x1b[0m` : text;
}

/** Renders the plan's body and its last line ("Plan: …" or "No changes."). */
export function renderPlanText(plan: Plan, style: Style): string {
  const out: string[] = [];
  for (const m of plan.machines) {
    if (m.changes.length === 0 && m.warnings.length === 0 && m.errors.length === 0) continue;
    out.push(`${m.role} ${m.machine} (${m.target}):`);
    for (const c of m.changes) {
      out.push(paint(style, COLOR[c.action], `  ${SYMBOL[c.action]} ${c.kind} ${JSON.stringify(c.name)}`));
      for (const a of c.attributes) {
        const value =
          a.before !== undefined && a.after !== undefined
            ? `${JSON.stringify(a.before)} -> ${JSON.stringify(a.after)}`
            : JSON.stringify(a.after ?? a.before ?? '');
        out.push(`      ${a.name} = ${value}`);
      }
      if (c.diff) {
        for (const line of c.diff.split('\n')) {
          const code = line.startsWith('+') ? '32' : line.startsWith('-') ? '31' : line.startsWith('@@') ? '36' : '0';
          out.push(`      ${paint(style, code, line)}`);
        }
      }
    }
    for (const w of m.warnings) out.push(paint(style, '33', `  Warning: ${w}`));
    for (const e of m.errors) out.push(paint(style, '31', `  Error: ${e}`));
    out.push('');
  }
  const { add, change, destroy } = plan.summary;
  out.push(add + change + destroy === 0 ? 'No changes. Every machine matches pair.yaml.' : `Plan: ${add} to add, ${change} to change, ${destroy} to destroy.`);
  return `${out.join('\n')}\n`;
}
