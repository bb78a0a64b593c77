/**
 * `pairctl destroy [--host ID]...`: removes everything pairctl made on the machines (all of
 * pair.yaml's, plus those it applied to that pair.yaml no longer names) and puts back every file
 * it had replaced. Packages stay installed; the plan says so. Asks for "yes" unless --yes.
 */
import { isEmpty } from '../plan/plan-model.js';
import { applyPlanned, applyRun, confirm, nothingToApply } from './apply.js';
import { parseCommand } from './args.js';
import { UsageError, type Command } from './io.js';
import { listFlag, loadOrReport, sshConfigFrom } from './load.js';
import { planScoped, printPlan, redactedIO, reportBlockers } from './plan.js';

export const destroy: Command = async (args, rawIO) => {
  const f = parseCommand('destroy', args);
  if (f.positionals.length > 0) throw new UsageError('usage: pairctl destroy [-f FILE] [--host ID]... [--yes] [--lock-timeout 60s] [--json]');
  const run = applyRun('destroy', f.flags, rawIO);
  if (run.json && !f.flags.yes) throw new UsageError('--json needs --yes: there is no prompt in JSON mode');
  const config = await loadOrReport(f.file, rawIO);
  if (!config) return 1;
  const io = redactedIO(rawIO, config);
  const planned = await planScoped(config, sshConfigFrom(f.sshConfig, io), { destroy: true, limit: listFlag(f.flags.host) }, undefined, { spareExec: true });
  const { session } = planned;
  try {
    if (!run.json) printPlan(planned, io, { json: false, color: run.color, command: 'destroy' });
    if (reportBlockers(session, io, { listed: !run.json })) return await nothingToApply(config, planned, io, run, 1);
    if (isEmpty(session.plan)) return await nothingToApply(config, planned, io, run, 0);
    const names = session.plan.machines.filter((m) => m.changes.length > 0).map((m) => m.machine);
    if (!(await confirm(io, `Do you really want to remove everything pairctl made on ${names.join(', ')}?`, Boolean(f.flags.yes)))) return 1;
    return await applyPlanned(config, planned, io, run);
  } finally {
    await session.close();
  }
};
