/** `pairctl plan`: read every machine and show what apply would change; changes nothing. */
import type { PairConfig } from '../config/model.js';
import { readKnownMachines, type KnownMachine } from '../plan/known-machines.js';
import { planAll, type PlanSession } from '../plan/plan-all.js';
import { isEmpty } from '../plan/plan-model.js';
import { redacting, secretValues } from '../plan/redact.js';
import { jsonText, planJson, type JsonContext } from '../plan/render-json.js';
import { renderPlanText } from '../plan/render-text.js';
import { guestKeyDigests, pairctlVersion, toSavedPlan, writeSavedPlan } from '../plan/saved-plan.js';
import { planScope, type Scope, type ScopeRequest } from '../plan/scope.js';
import type { ConnectOptions } from '../transport/runner.js';
import { parseCommand } from './args.js';
import { UsageError, type CliIO, type Command } from './io.js';
import { listFlag, loadResolvedOrReport, sshConfigFrom, useColor } from './load.js';

/** A plan made for one command, with the machines it covers. */
export interface ScopedPlan {
  session: PlanSession;
  scope: Scope;
  request: ScopeRequest;
  /** machines dropped from pair.yaml that could not be reached: said, but they block nothing */
  skipped: string[];
}

/** Plans the machines a request covers: pair.yaml's, plus those it no longer names (see known-machines.ts). */
export async function planScoped(
  config: PairConfig,
  sshConfigFile: string | undefined,
  request: ScopeRequest,
  known?: KnownMachine[],
  /** apply and destroy: an exec follows the probe (ConnectOptions.spareExec); apply --yes: holdLock */
  exec: Pick<ConnectOptions, 'spareExec' | 'holdLock'> = {},
): Promise<ScopedPlan> {
  let scope: Scope;
  try {
    scope = planScope(config, known ?? (await readKnownMachines(config.file)), request);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const session = await planAll(config, { sshConfigFile, ...exec }, scope);
  // A machine dropped from pair.yaml is often gone for good: not reaching it must not block the rest.
  const skipped: string[] = [];
  if (!request.destroy) {
    const removed = new Set(scope.removed.map((k) => k.id));
    session.plan.unreadable = session.plan.unreadable.filter((f) => {
      if (!removed.has(f.machine)) return true;
      skipped.push(
        `${f.machine} is no longer in ${config.file} but could not be reached (${f.message}); what pairctl made there stays until "pairctl destroy --host ${f.machine}" reaches it (if the machine is gone, delete it from .pairctl/machines.json)`,
      );
      return false;
    });
  }
  return { session, scope, request, skipped };
}

/**
 * Prints unreachable machines and precondition errors; true when the plan may not be applied.
 * The text plan already listed the unreachable ones on stdout (`listed`): stderr then says only
 * that nothing can be applied, so a terminal does not show each twice.
 */
export function reportBlockers(session: PlanSession, io: CliIO, opts: { listed?: boolean } = {}): boolean {
  const unreadable = session.plan.unreadable;
  if (opts.listed && unreadable.length > 0) {
    io.stderr(`Error: ${unreadable.map((f) => f.machine).join(', ')} could not be read (see above); nothing can be applied.\n`);
  } else {
    for (const f of unreadable) io.stderr(`Error: ${f.machine}: ${f.message}${f.hint ? `\n    hint: ${f.hint}` : ''}\n`);
  }
  const errors = session.plan.machines.some((m) => m.errors.length > 0);
  if (errors) io.stderr('Error: some machines are not in a state pairctl can converge (see above); nothing can be applied.\n');
  return unreadable.length > 0 || errors;
}

/** What the JSON document says besides the plan. */
export function jsonContext(command: JsonContext['command'], planned: ScopedPlan): JsonContext {
  return {
    command,
    pairctlVersion: pairctlVersion(),
    limit: planned.request.limit,
    destroy: planned.request.destroy,
    unreachable: planned.session.plan.unreadable,
    warnings: planned.skipped,
  };
}

/** The same io with every secret pair.yaml points at blanked out of what is printed. */
export function redactedIO(io: CliIO, config: PairConfig): CliIO {
  const secrets = secretValues(config, io.env);
  return { ...io, stdout: redacting(io.stdout, secrets), stderr: redacting(io.stderr, secrets) };
}

/** Prints the plan as text or JSON, then the warnings about skipped machines. */
export function printPlan(planned: ScopedPlan, io: CliIO, opts: { json: boolean; color: boolean; command: JsonContext['command'] }): void {
  if (opts.json) io.stdout(jsonText(planJson(planned.session.plan, jsonContext(opts.command, planned))));
  else io.stdout(renderPlanText(planned.session.plan, { color: opts.color }, planned.session.plan.unreadable));
  for (const s of planned.skipped) io.stderr(`Warning: ${s}\n`);
}

export const plan: Command = async (args, rawIO) => {
  const f = parseCommand('plan', args);
  if (f.positionals.length > 0) throw new UsageError(`unexpected argument "${f.positionals[0]}" (use -f FILE, -o PLANFILE)`);
  const config = await loadResolvedOrReport(f.file, rawIO);
  if (!config) return 1;
  const io = redactedIO(rawIO, config);
  const request: ScopeRequest = { limit: listFlag(f.flags.limit), destroy: Boolean(f.flags.destroy) };
  const planned = await planScoped(config, sshConfigFrom(f.sshConfig, io), request);
  const { session } = planned;
  try {
    const json = Boolean(f.flags.json);
    printPlan(planned, io, { json, color: useColor(io, f.flags['no-color']), command: 'plan' });
    if (reportBlockers(session, io, { listed: !json })) return 1;
    const out = f.flags.out;
    if (typeof out === 'string') {
      await writeSavedPlan(out, toSavedPlan(session.plan, request, planned.scope.removed, guestKeyDigests(config)));
      (json ? io.stderr : io.stdout)(`\nSaved the plan to ${out}. To apply exactly it: pairctl apply ${out}\n`);
    }
    return f.flags['detailed-exitcode'] && !isEmpty(session.plan) ? 2 : 0;
  } finally {
    await session.close();
  }
};
