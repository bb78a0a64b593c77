/** `pairctl plan`: read every machine and show what apply would change; changes nothing. */
import { isEmpty } from '../plan/plan-model.js';
import { planAll, type PlanSession } from '../plan/plan-all.js';
import { renderPlanText } from '../plan/render-text.js';
import { parseCommon } from './args.js';
import type { CliIO, Command } from './io.js';
import { loadOrReport, sshConfigFrom, useColor } from './load.js';

/** Prints unreachable machines and precondition errors; true when the plan may not be applied. */
export function reportBlockers(session: PlanSession, io: CliIO): boolean {
  for (const f of session.failures) io.stderr(`Error: ${f.machine}: ${f.message}${f.hint ? `\n    hint: ${f.hint}` : ''}\n`);
  const errors = session.plan.machines.some((m) => m.errors.length > 0);
  if (errors) io.stderr('Error: some machines are not in a state pairctl can converge (see above); nothing can be applied.\n');
  return session.failures.length > 0 || errors;
}

export const plan: Command = async (args, io) => {
  const f = parseCommon(args, { 'no-color': { type: 'boolean' }, 'detailed-exitcode': { type: 'boolean' } });
  const config = await loadOrReport(f.file, io);
  if (!config) return 1;
  const session = await planAll(config, { sshConfigFile: sshConfigFrom(f.sshConfig, io) });
  try {
    io.stdout(renderPlanText(session.plan, { color: useColor(io, f.flags['no-color']) }));
    if (reportBlockers(session, io)) return 1;
    return f.flags['detailed-exitcode'] && !isEmpty(session.plan) ? 2 : 0;
  } finally {
    await session.close();
  }
};
