/**
 * `pairctl show PLANFILE [--json]`: prints a saved plan the way `plan` printed it, so the file can
 * be reviewed (in a pull request, or before `apply PLANFILE`) without contacting any machine.
 * The JSON form is plan --json's document; like it, it never holds the scripts that run as root.
 */
import { jsonText, planJson } from '../plan/render-json.js';
import { renderPlanText } from '../plan/render-text.js';
import { readSavedPlan } from '../plan/saved-plan.js';
import { parseCommand } from './args.js';
import { UsageError, type Command } from './io.js';
import { useColor } from './load.js';

export const show: Command = async (args, io) => {
  const f = parseCommand('show', args);
  const file = f.positionals[0];
  if (!file || f.positionals.length > 1) throw new UsageError('usage: pairctl show PLANFILE [--json]');
  let saved;
  try {
    saved = await readSavedPlan(file);
  } catch (err) {
    io.stderr(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  if (f.flags.json) {
    const doc = planJson(saved.plan, {
      command: saved.scope.destroy ? 'destroy' : 'plan',
      pairctlVersion: saved.pairctlVersion,
      limit: saved.scope.limit,
      destroy: saved.scope.destroy,
      unreachable: [],
    });
    io.stdout(jsonText(doc));
    return 0;
  }
  const scope = [saved.scope.destroy ? 'destroy' : '', saved.scope.limit?.length ? `--limit ${saved.scope.limit.join(',')}` : ''].filter(Boolean).join(', ');
  io.stdout(`Saved plan ${file}: made ${saved.createdAt} by pairctl ${saved.pairctlVersion} from ${saved.configFile}${scope ? ` (${scope})` : ''}\n\n`);
  io.stdout(renderPlanText(saved.plan, { color: useColor(io, f.flags['no-color']) }));
  io.stdout(`\nTo apply exactly it: pairctl apply ${file}\n`);
  return 0;
};
