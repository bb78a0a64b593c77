/** `pairctl apply`: show the plan, ask (unless --yes), then change every machine in parallel. */
import type { ApplyEvent } from '../plan/apply-machine.js';
import { applyAll } from '../plan/apply-all.js';
import { isEmpty } from '../plan/plan-model.js';
import { planAll } from '../plan/plan-all.js';
import { renderPlanText } from '../plan/render-text.js';
import { parseCommon } from './args.js';
import type { CliIO, Command } from './io.js';
import { loadOrReport, sshConfigFrom, useColor } from './load.js';
import { reportBlockers } from './plan.js';

function progress(io: CliIO): (e: ApplyEvent) => void {
  return (e) => {
    if (e.type === 'start') io.stdout(`${e.machine}: ${e.address}: applying...\n`);
    else if (e.type === 'done') io.stdout(`${e.machine}: ${e.address}: done\n`);
    else io.stdout(`${e.machine}: ${e.address}: FAILED\n${e.output.replace(/^/gm, '    ')}\n`);
  };
}

export const apply: Command = async (args, io) => {
  const f = parseCommon(args, { yes: { type: 'boolean', short: 'y' }, 'no-color': { type: 'boolean' } });
  const config = await loadOrReport(f.file, io);
  if (!config) return 1;
  const session = await planAll(config, { sshConfigFile: sshConfigFrom(f.sshConfig, io) });
  try {
    io.stdout(renderPlanText(session.plan, { color: useColor(io, f.flags['no-color']) }));
    if (reportBlockers(session, io)) return 1;
    if (isEmpty(session.plan)) return 0;
    if (!f.flags.yes) {
      if (!io.interactive) {
        io.stderr('Error: apply needs confirmation, and there is no terminal to ask on; run with --yes to apply this plan.\n');
        return 1;
      }
      const answer = await io.prompt('\nDo you want to perform these actions? Only "yes" will be accepted: ');
      if (answer.trim() !== 'yes') {
        io.stderr('Apply cancelled; nothing was changed.\n');
        return 1;
      }
    }
    const onEvent = progress(io);
    const results = await applyAll(session, onEvent);
    const failed = results.filter((r) => !r.ok);
    for (const r of failed) {
      io.stderr(`Error: ${r.machine}: apply stopped${r.failed ? ` at ${r.failed.address}` : ''}${r.error ? `: ${r.error}` : ''}\n`);
      if (r.done.length) io.stderr(`  made: ${r.done.join(', ')}\n`);
      if (r.notStarted.length) io.stderr(`  not made: ${r.notStarted.join(', ')}\n`);
      io.stderr('  Run pairctl plan to see where the machine stands; apply again once the cause is fixed.\n');
    }
    if (failed.length) return 1;
    const { add, change, destroy } = session.plan.summary;
    io.stdout(`\nApply complete! Resources: ${add} added, ${change} changed, ${destroy} destroyed.\n`);
    return 0;
  } finally {
    await session.close();
  }
};
