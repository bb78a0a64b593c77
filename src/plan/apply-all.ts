/**
 * Applies a planned session across machines, each over the connection its plan was read on. The
 * CLI only reports what this returns.
 *
 * Machines are applied in waves: every machine whose plan waits for nothing, in parallel; then
 * each machine that waits for another's fact (a relay needs the tunnel key its host makes) once
 * that machine succeeded — the fact's probe runs at the end of that machine's apply script,
 * under its lock, and the waiting machine is compared again from the observation its plan kept
 * with the fresh fact (no read of its own). Its apply then re-reads it under its own lock and
 * refuses, as stale, when it moved since the plan.
 *
 * Secrets pair.yaml names by environment variable (ngrok's authtoken) are read here, at apply
 * time, checked before anything changes anywhere, and handed only to the step that needs them.
 */
import type { Facts } from '../graph/facts.js';
import { secretReferences, secretVariable } from '../resources/secret-file.js';
import { sh } from '../transport/shell-quote.js';
import { applyMachine, type ApplyEvent, type ApplyOptions, type FactRead, type MachineApplyResult } from './apply-machine.js';
import { compareAgain, type PlanSession } from './plan-all.js';
import type { MachinePlan } from './plan-model.js';

/** What a secret must look like to be written into a config file without quoting surprises. */
const SECRET_VALUE = /^[A-Za-z0-9_.-]{1,1024}$/;

/** Applies every machine that has changes, the waiting ones after what they wait for; results in plan order. */
export async function applyAll(
  session: Pick<PlanSession, 'plan' | 'runners' | 'desired' | 'heldLocks'>,
  onEvent: (e: ApplyEvent) => void,
  opts: ApplyOptions = {},
  /** the operator's environment, where secrets are read from */
  env: Record<string, string | undefined> = process.env,
): Promise<MachineApplyResult[]> {
  const { plan } = session;
  const waits = (m: MachinePlan) => m.deferred ?? [];
  const todo = plan.machines.filter((m) => m.steps.length > 0 || waits(m).length > 0);
  const results = new Map<string, MachineApplyResult>();
  const notApplied = (m: MachinePlan, error: string): MachineApplyResult => ({
    machine: m.machine,
    ok: false,
    done: [],
    notStarted: m.steps.map((s) => s.address),
    error,
  });

  // Every secret any step needs, checked before anything changes anywhere.
  const secretProblems = todo.flatMap((m) => m.steps.flatMap((s) => secretReferences(s.script))).flatMap((name) => secretProblem(name, env));
  if (secretProblems.length > 0) {
    const why = `${[...new Set(secretProblems)].join('; ')}; nothing was applied on any machine`;
    return todo.map((m) => notApplied(m, why));
  }

  // The facts others wait for, read by each providing machine's apply script under its lock.
  const settles = new Map<string, FactRead[]>();
  for (const m of todo)
    for (const d of waits(m)) {
      const list = settles.get(d.waitsFor.machine) ?? [];
      if (!list.some((f) => f.key === d.waitsFor.key)) list.push({ key: d.waitsFor.key, snippet: d.probe });
      settles.set(d.waitsFor.machine, list);
    }
  const facts: Facts = structuredClone(plan.facts);

  const applyOne = async (planned: MachinePlan): Promise<MachineApplyResult> => {
    const id = planned.machine;
    const runner = session.runners.get(id);
    if (!runner) return notApplied(planned, `no connection to ${id}`);
    let current = planned;
    const waitingFor = waits(planned);
    if (waitingFor.length > 0) {
      for (const d of waitingFor) {
        const provider = results.get(d.waitsFor.machine);
        if (provider && !provider.ok) return notApplied(planned, `not applied: it waits for ${d.what}, and the apply of ${d.waitsFor.machine} failed`);
        if (!provider || provider.facts?.[d.waitsFor.key] === undefined) {
          return notApplied(planned, `not applied: reading ${d.waitsFor.machine} again after its apply failed: its apply did not report ${d.what}`);
        }
      }
      let again: Awaited<ReturnType<typeof compareAgain>>;
      try {
        again = await compareAgain(planned, session.desired, facts);
      } catch (err) {
        return notApplied(planned, `not applied: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (again.deferred.length > 0) {
        return notApplied(planned, `not applied: ${again.deferred.map((d) => d.what).join(', ')} still unknown after ${[...new Set(again.deferred.map((d) => d.waitsFor.machine))].join(', ')} was applied`);
      }
      if (again.plan.errors.length > 0) return notApplied(planned, `not applied: ${again.plan.errors.join('; ')}`);
      current = again.plan;
      if (current.steps.length === 0) return { machine: id, ok: true, done: [], notStarted: [] };
    }
    // Read under a lock its shell still holds: nothing changed it since, so nothing is read again.
    const lockHeld = session.heldLocks?.has(id) === true && runner.holding === true;
    const result = await applyMachine(withSecrets(current, env), runner, onEvent, { ...opts, settle: settles.get(id), lockHeld });
    if (result.ok && result.facts) facts[id] = { ...facts[id], ...result.facts };
    return result;
  };

  // Waves: a machine goes once every machine it waits for has been applied (or has nothing to apply).
  let pending = todo;
  while (pending.length > 0) {
    const inFlight = new Set(pending.map((m) => m.machine));
    const ready = pending.filter((m) => waits(m).every((d) => !inFlight.has(d.waitsFor.machine)));
    if (ready.length === 0) {
      for (const m of pending) results.set(m.machine, notApplied(m, 'not applied: its machines wait for each other'));
      break;
    }
    const done = await Promise.all(ready.map(applyOne));
    for (const r of done) results.set(r.machine, r);
    pending = pending.filter((m) => !ready.includes(m));
  }
  return todo.map((m) => results.get(m.machine)!);
}

/** Why a secret cannot be used, without ever saying its value. */
function secretProblem(name: string, env: Record<string, string | undefined>): string[] {
  const value = env[name];
  if (value === undefined || value === '') return [`$${name} is not set (pair.yaml names it for a secret pairctl writes at apply time)`];
  if (!SECRET_VALUE.test(value)) return [`$${name} holds characters a secret may not have here (letters, digits, "_", "-" and "." only)`];
  return [];
}

/** The machine's plan with each secret a step refers to defined for that step only (never in plan or record). */
function withSecrets(work: MachinePlan, env: Record<string, string | undefined>): MachinePlan {
  if (!work.steps.some((s) => secretReferences(s.script).length > 0)) return work;
  return {
    ...work,
    steps: work.steps.map((s) => {
      const names = secretReferences(s.script);
      if (names.length === 0) return s;
      const defs = names.map((n) => `${secretVariable(n)}=${sh`${env[n] ?? ''}`}`).join('\n');
      return { ...s, script: `${defs}\n${s.script}` };
    }),
  };
}
