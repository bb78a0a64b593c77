/**
 * `pairctl apply [PLANFILE]`: show the plan, ask (unless --yes), then change every machine in
 * parallel. With a saved plan, apply exactly it, without asking, or refuse it as stale.
 */
import { hostname, userInfo } from 'node:os';
import type { PairConfig } from '../config/model.js';
import { DEFAULT_LOCK_TIMEOUT_SECONDS, type MachineApplyResult } from '../plan/apply-machine.js';
import { applyAll } from '../plan/apply-all.js';
import { readKnownMachines, updateKnownMachines, type KnownMachine } from '../plan/known-machines.js';
import { holderName } from '../plan/lock.js';
import { isEmpty } from '../plan/plan-model.js';
import { applyJson, jsonText } from '../plan/render-json.js';
import { createProgress } from '../plan/render-progress.js';
import { renderApplyFailures, renderPlanText } from '../plan/render-text.js';
import { changedGuestKeys, guestKeyDigests, readSavedPlan, savedPlanDifferences } from '../plan/saved-plan.js';
import { parseCommand } from './args.js';
import { UsageError, type CliIO, type Command } from './io.js';
import { listFlag, loadResolvedOrReport, parseDuration, sshConfigFrom, useColor } from './load.js';
import { jsonContext, planScoped, printPlan, redactedIO, reportBlockers, type ScopedPlan } from './plan.js';

/** How the apply of a planned session is carried out and reported. */
export interface ApplyRun {
  command: 'apply' | 'destroy';
  json: boolean;
  color: boolean;
  lockTimeoutSeconds: number;
}

/** The options apply and destroy share (--json, --no-color, --lock-timeout), read the same way. */
export function applyRun(command: ApplyRun['command'], flags: Record<string, unknown>, io: CliIO): ApplyRun {
  return {
    command,
    json: Boolean(flags.json),
    color: useColor(io, flags['no-color']),
    lockTimeoutSeconds: parseDuration('--lock-timeout', flags['lock-timeout'], DEFAULT_LOCK_TIMEOUT_SECONDS),
  };
}

/** Who this pairctl is, for the lock file of every machine it applies to. */
function holder(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = `uid ${process.getuid?.() ?? '?'}`;
  }
  return holderName(process.pid, hostname(), user);
}

/**
 * Remembers the machines this pair.yaml now manages and forgets those torn down, so that a
 * machine later dropped from pair.yaml can still be reached for its removal.
 */
async function rememberMachines(config: PairConfig, planned: ScopedPlan, results: MachineApplyResult[], io: CliIO): Promise<void> {
  const outcome = new Map(results.map((r) => [r.machine, r.ok]));
  const targets = new Map([...config.hosts, ...(config.relays ?? [])].map((m) => [m.id, m]));
  const applied: KnownMachine[] = [];
  const forgotten: string[] = [];
  for (const m of planned.session.plan.machines) {
    const ok = outcome.get(m.machine) ?? m.changes.length === 0;
    if (m.teardown) {
      if (ok) forgotten.push(m.machine);
      continue;
    }
    const t = targets.get(m.machine);
    if (t) applied.push({ id: m.machine, role: m.role, ssh: t.ssh, sudo: t.sudo });
  }
  try {
    await updateKnownMachines(config.file, applied, forgotten);
  } catch (err) {
    io.stderr(`Warning: could not update the list of machines pairctl manages: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}

/** Applies a plan that was shown (and agreed to, or saved), reports, and returns the exit code. */
export async function applyPlanned(config: PairConfig, planned: ScopedPlan, io: CliIO, run: ApplyRun): Promise<number> {
  const { session } = planned;
  const live = !run.json && io.interactive;
  const progress = createProgress({ live, color: run.color, write: run.json ? io.stderr : io.stdout, columns: io.columns });
  if (!run.json) io.stdout('\n');
  const results = await applyAll(session, (e) => progress.onEvent(e), { lockTimeoutSeconds: run.lockTimeoutSeconds, holder: holder() });
  progress.finish();
  await rememberMachines(config, planned, results, io);
  if (run.json) io.stdout(jsonText(applyJson(session.plan, jsonContext(run.command, planned), results)));
  // Plain progress already showed a failing step's output; the live block and JSON mode did not.
  io.stderr(renderApplyFailures(results, { withOutput: live || run.json }));
  if (results.some((r) => !r.ok)) return 1;
  if (!run.json) {
    const { add, change, destroy } = session.plan.summary;
    io.stdout(
      run.command === 'destroy'
        ? `\nDestroy complete! Resources: ${destroy} destroyed.\n`
        : `\nApply complete! Resources: ${add} added, ${change} changed, ${destroy} destroyed.\n`,
    );
  }
  return 0;
}

/** Asks for "yes" on the terminal; false (after saying why) when not given. */
export async function confirm(io: CliIO, question: string, yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!io.interactive) {
    io.stderr('Error: this needs confirmation, and there is no terminal to ask on; run with --yes to go ahead with this plan.\n');
    return false;
  }
  const answer = await io.prompt(`\n${question} Only "yes" will be accepted: `);
  if (answer.trim() === 'yes') return true;
  io.stderr('Cancelled; nothing was changed.\n');
  return false;
}

/** Prints the outcome when nothing is applied (empty or blocked plan) and keeps the machine list current. */
export async function nothingToApply(config: PairConfig, planned: ScopedPlan, io: CliIO, run: ApplyRun, code: number): Promise<number> {
  if (code === 0) await rememberMachines(config, planned, [], io);
  if (run.json) io.stdout(jsonText(applyJson(planned.session.plan, jsonContext(run.command, planned), undefined)));
  return code;
}

/** Applies a saved plan, after proving pair.yaml and every machine are still as it read them. */
async function applySaved(planFile: string, rawIO: CliIO, sshConfig: string | undefined, run: ApplyRun): Promise<number> {
  let saved;
  try {
    saved = await readSavedPlan(planFile);
  } catch (err) {
    rawIO.stderr(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  // Keys published on GitHub are fetched again: the plan pinned the ones it showed.
  const config = await loadResolvedOrReport(saved.configFile, rawIO);
  if (!config) return 1;
  const io = redactedIO(rawIO, config);
  if (config.digest !== saved.configDigest) {
    io.stderr(`Error: stale plan: ${saved.configFile} changed since ${planFile} was made; nothing was applied. Make a new plan: pairctl plan -o ${planFile}\n`);
    return 1;
  }
  const rekeyed = changedGuestKeys(saved.guestKeys, guestKeyDigests(config));
  if (rekeyed.length > 0) {
    io.stderr(
      `Error: stale plan: the keys of ${rekeyed.map((g) => `guest ${g}`).join(', ')} changed since ${planFile} was made (keys published on GitHub are read again at apply); nothing was applied. Make a new plan: pairctl plan -o ${planFile}\n`,
    );
    return 1;
  }
  // Machines dropped from pair.yaml are reached as the saved plan says only while
  // .pairctl/machines.json still lists them so: the file alone cannot send pairctl elsewhere.
  const known = await readKnownMachines(config.file);
  const moved = (saved.removed ?? []).filter(
    (r) => !known.some((k) => k.id === r.id && k.ssh === r.ssh && k.sudo === r.sudo && k.role === r.role),
  );
  if (moved.length > 0) {
    io.stderr(
      `Error: stale plan: ${moved.map((m) => `machine ${m.id}`).join(', ')} ${moved.length === 1 ? 'is' : 'are'} not listed in .pairctl/machines.json as ${planFile} says; nothing was applied. Make a new plan: pairctl plan -o ${planFile}\n`,
    );
    return 1;
  }
  const planned = await planScoped(config, sshConfig, saved.scope, saved.removed, { spareExec: true });
  try {
    if (reportBlockers(planned.session, io)) return nothingToApply(config, planned, io, run, 1);
    const fresh = new Map(planned.session.plan.machines.map((m) => [m.machine, m.stateDigest]));
    const stale = saved.plan.machines.filter((m) => fresh.get(m.machine) !== m.stateDigest).map((m) => m.machine);
    if (stale.length > 0) {
      io.stderr(
        `Error: stale plan: ${stale.map((m) => `machine ${m}`).join(', ')} changed since ${planFile} was made (another apply, or a change by hand); nothing was applied. Make a new plan: pairctl plan -o ${planFile}\n`,
      );
      return nothingToApply(config, planned, io, run, 1);
    }
    // The file never says what runs: planning again now does, and must give exactly the saved steps.
    const differences = savedPlanDifferences(saved.plan.machines, planned.session.plan.machines);
    if (differences.length > 0) {
      const shown = differences.slice(0, 10).map((d) => `\n    ${d}`).join('');
      const more = differences.length > 10 ? `\n    ...and ${differences.length - 10} more` : '';
      io.stderr(
        `Error: ${planFile} does not match what planning now would run (the file was edited, or pairctl plans differently now); nothing was applied:${shown}${more}\nMake a new plan: pairctl plan -o ${planFile}\n`,
      );
      return nothingToApply(config, planned, io, run, 1);
    }
    // What runs is what was just planned, over the connections just checked: equal to the saved steps.
    if (!run.json) io.stdout(renderPlanText(planned.session.plan, { color: run.color }));
    if (isEmpty(planned.session.plan)) return nothingToApply(config, planned, io, run, 0);
    return await applyPlanned(config, planned, io, run);
  } finally {
    await planned.session.close();
  }
}

export const apply: Command = async (args, rawIO) => {
  const f = parseCommand('apply', args);
  if (f.positionals.length > 1) throw new UsageError('usage: pairctl apply [PLANFILE] [-f FILE] [--yes] [--limit ID] [--lock-timeout 60s] [--json]');
  const run = applyRun('apply', f.flags, rawIO);
  const sshConfig = sshConfigFrom(f.sshConfig, rawIO);
  const planFile = f.positionals[0];
  if (planFile) {
    if (f.flags.limit) throw new UsageError('--limit cannot narrow a saved plan; make the plan with --limit instead');
    return applySaved(planFile, rawIO, sshConfig, run);
  }
  if (run.json && !f.flags.yes) throw new UsageError('--json needs --yes (or a saved plan): there is no prompt in JSON mode');
  const config = await loadResolvedOrReport(f.file, rawIO);
  if (!config) return 1;
  const io = redactedIO(rawIO, config);
  // With --yes nothing waits between the read and the apply: each machine's lock is taken in the
  // shell that reads it and kept for the apply (lock.ts takeLock). A prompt does not hold locks
  // while a person reads the plan; its apply waits for the lock and reads again.
  const yes = Boolean(f.flags.yes);
  const planned = await planScoped(config, sshConfig, { limit: listFlag(f.flags.limit) }, undefined, { spareExec: true, holdLock: yes });
  try {
    if (!run.json) printPlan(planned, io, { json: false, color: run.color, command: 'apply' });
    if (reportBlockers(planned.session, io, { listed: !run.json })) return await nothingToApply(config, planned, io, run, 1);
    if (isEmpty(planned.session.plan)) return await nothingToApply(config, planned, io, run, 0);
    if (!(await confirm(io, 'Do you want to perform these actions?', Boolean(f.flags.yes)))) return 1;
    return await applyPlanned(config, planned, io, run);
  } finally {
    await planned.session.close();
  }
};
