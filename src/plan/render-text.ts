/** Prints a Plan the way Terraform does: + ~ - per resource, diffs, and one summary line. */
import type { Action } from '../resources/kind.js';
import type { MachineApplyResult } from './apply-machine.js';
import type { MachinePlan, Plan, PlannedChange } from './plan-model.js';

/** Colour codes, or none when the output is not a terminal or NO_COLOR is set. */
export interface Style {
  color: boolean;
}

const SYMBOL: Record<Action, string> = { create: '+', update: '~', delete: '-', noop: ' ' };
const COLOR: Record<Action, string> = { create: '32', update: '33', delete: '31', noop: '0' };

/** Wraps text in an ANSI colour when the style allows it. */
export function paint(style: Style, code: string, text: string): string {
  return style.color ? `\x1b[${code}m${text}\x1b[0m` : text;
}

/** "tmux 3.3a, OpenSSH 9.2p1" as read from the machine; "" when nothing was read. */
export function versionsText(m: MachinePlan): string {
  const v = m.versions ?? {};
  const parts: string[] = [];
  if (v.tmux !== undefined) parts.push(v.tmux === null ? 'tmux not installed' : `tmux ${v.tmux}`);
  if (v.openssh !== undefined) parts.push(v.openssh === null ? 'OpenSSH not found' : `OpenSSH ${v.openssh}`);
  return parts.join(', ');
}

function header(m: MachinePlan): string {
  const where = `${m.role} ${m.machine} (${m.target})`;
  if (m.teardown === 'removed') return `${where}: no longer in pair.yaml; everything pairctl made there is removed:`;
  if (m.teardown === 'destroy') return `${where}: destroy; everything pairctl made there is removed:`;
  return `${where}:`;
}

/** Why a change happens, when it is not simply what pair.yaml now says. */
function causeNote(c: PlannedChange): string {
  if (c.restores) return ' (original put back from before pairctl)';
  if (c.cause !== 'drift') return '';
  return c.action === 'create' ? ' (deleted outside pairctl)' : ' (changed outside pairctl)';
}

/** A machine the plan could not read, and why (Plan.unreadable). */
export interface UnreadMachine {
  machine: string;
  message: string;
  hint?: string;
}

/**
 * Renders the plan's body and its last line ("Plan: …" or "No changes."). Machines that could not
 * be read are listed above that line, which then never says "No changes": nothing is known of them.
 */
export function renderPlanText(plan: Plan, style: Style, unread: UnreadMachine[] = []): string {
  const out: string[] = [];
  // Machines with nothing to do still say what they run: what differs by version is decided from it.
  const unchanged: string[] = [];
  for (const m of plan.machines) {
    const notes = m.notes ?? [];
    const versions = versionsText(m);
    if (m.changes.length === 0 && m.warnings.length === 0 && m.errors.length === 0 && notes.length === 0) {
      if (versions) unchanged.push(`${m.machine}: no changes (${versions})`);
      continue;
    }
    out.push(header(m));
    if (versions) out.push(`  found: ${versions}`);
    for (const c of m.changes) {
      out.push(paint(style, COLOR[c.action], `  ${SYMBOL[c.action]} ${c.kind} ${JSON.stringify(c.name)}${causeNote(c)}`));
      for (const a of c.attributes) {
        const value =
          a.before !== undefined && a.after !== undefined
            ? `${JSON.stringify(a.before)} -> ${JSON.stringify(a.after)}`
            : JSON.stringify(a.after ?? a.before ?? '');
        out.push(`      ${a.name} = ${value}`);
      }
      if (c.restores) out.push(`      from = ${JSON.stringify(c.restores)}`);
      if (c.diff) {
        for (const line of c.diff.split('\n')) {
          const code = line.startsWith('+') ? '32' : line.startsWith('-') ? '31' : line.startsWith('@@') ? '36' : '0';
          out.push(`      ${paint(style, code, line)}`);
        }
      }
    }
    for (const n of notes) out.push(`  Note: ${n}`);
    for (const w of m.warnings) out.push(paint(style, '33', `  Warning: ${w}`));
    for (const e of m.errors) out.push(paint(style, '31', `  Error: ${e}`));
    out.push('');
  }
  if (unchanged.length > 0) out.push(...unchanged, '');
  out.push(...summaryLines(plan, style, unread));
  return `${out.join('\n')}\n`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The last line, preceded by the machines that could not be read; an all-clear only when it is one. */
function summaryLines(plan: Plan, style: Style, unread: UnreadMachine[]): string[] {
  const { add, change, destroy } = plan.summary;
  const counts = `${add} to add, ${change} to change, ${destroy} to destroy`;
  const blocked = plan.machines.filter((m) => m.errors.length > 0).length;
  const out: string[] = [];
  if (unread.length > 0) {
    out.push(paint(style, '31', `Could not read ${plural(unread.length, 'machine')}:`));
    for (const u of unread) {
      out.push(paint(style, '31', `  ${u.machine}: ${u.message}`));
      if (u.hint) out.push(`    hint: ${u.hint}`);
    }
    out.push('');
    const read = plan.machines.length > 0 ? ` For the ${plural(plan.machines.length, 'machine')} read: ${counts}.` : '';
    out.push(`Plan incomplete: ${plural(unread.length, 'machine')} could not be read, so nothing can be applied.${read}`);
    return out;
  }
  if (blocked > 0) {
    out.push(`Plan blocked: ${plural(blocked, 'machine')} ${blocked === 1 ? 'has' : 'have'} errors (above), so nothing can be applied. Otherwise: ${counts}.`);
    return out;
  }
  out.push(add + change + destroy === 0 ? 'No changes. Every machine matches pair.yaml.' : `Plan: ${counts}.`);
  return out;
}

/** What went wrong on machines whose apply did not complete: what was made, what was not, what to do. */
export function renderApplyFailures(results: MachineApplyResult[], opts: { withOutput: boolean }): string {
  const out: string[] = [];
  for (const r of results.filter((x) => !x.ok)) {
    const at = r.failed ? ` at ${r.failed.address}` : r.interrupted ? ` during ${r.interrupted}` : '';
    out.push(`Error: ${r.machine}: apply stopped${at}${r.error ? `: ${r.error}` : ''}`);
    if (opts.withOutput && r.failed?.output) out.push(...r.failed.output.split('\n').map((l) => `    ${l}`));
    if (r.refused) continue;
    out.push(`  made: ${r.done.length ? r.done.join(', ') : 'nothing'}`);
    if (r.interrupted) out.push(`  interrupted, may or may not have taken effect: ${r.interrupted}`);
    if (r.failed) out.push(`  failed: ${r.failed.address}`);
    if (r.notStarted.length) out.push(`  not made: ${r.notStarted.join(', ')}`);
    out.push('  Run pairctl plan to see where the machine stands; apply again once the cause is fixed.');
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
