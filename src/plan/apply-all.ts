/**
 * Applies a planned session across machines, each over the connection its plan was read on. The
 * CLI only reports what this returns.
 *
 * Machines are applied in waves: every machine whose plan waits for nothing, in parallel; then
 * each machine that waits for another's fact (a relay needs the tunnel key its host makes) once
 * that machine succeeded — the fact is read again there (one small exec), and the waiting
 * machine's steps are computed anew from its plan-time read and the fresh fact.
 *
 * Secrets pair.yaml names by environment variable (ngrok's authtoken) are read here, at apply
 * time, checked before anything changes anywhere, and handed only to the step that needs them.
 */
import type { Deferred, Facts } from '../graph/facts.js';
import { secretReferences, secretVariable } from '../resources/secret-file.js';
import type { Runner } from '../transport/runner.js';
import { sh } from '../transport/shell-quote.js';
import { applyMachine, type ApplyEvent, type ApplyOptions, type MachineApplyResult } from './apply-machine.js';
import { KNOWN_AFTER_APPLY, type PlanSession } from './plan-all.js';
import type { MachineWork } from './plan-machine.js';
import { buildProbeScript, parseProbeOutput } from './probe-script.js';

/** What a secret must look like to be written into a config file without quoting surprises. */
const SECRET_VALUE = /^[A-Za-z0-9_.-]{1,1024}$/;

/** Applies every machine that has changes, the waiting ones after what they wait for; results in plan order. */
export async function applyAll(
  session: PlanSession,
  onEvent: (e: ApplyEvent) => void,
  opts: ApplyOptions = {},
  /** the operator's environment, where secrets are read from */
  env: Record<string, string | undefined> = process.env,
): Promise<MachineApplyResult[]> {
  const cross = session.crossMachine;
  const waits = cross?.waits ?? new Map<string, Deferred[]>();
  const todo = session.works.filter((w) => w.steps.length > 0 || waits.has(w.plan.machine));
  const results = new Map<string, MachineApplyResult>();
  const notApplied = (w: MachineWork, error: string): MachineApplyResult => ({
    machine: w.plan.machine,
    ok: false,
    done: [],
    notStarted: w.steps.map((s) => s.address),
    error,
  });

  // Every secret any step needs, checked before anything changes anywhere.
  const secretProblems = todo.flatMap((w) => w.steps.flatMap((s) => secretReferences(s.script))).flatMap((name) => secretProblem(name, env));
  if (secretProblems.length > 0) {
    const why = `${[...new Set(secretProblems)].join('; ')}; nothing was applied on any machine`;
    return todo.map((w) => notApplied(w, why));
  }

  // Without the engine's cross-machine state (a session not made by planAll) a resource shown as
  // "(known after apply)" has placeholder steps: refuse its machine rather than apply those.
  if (!cross) {
    const blind = todo.filter((w) => w.plan.changes.some((c) => c.attributes.some((a) => a.after === KNOWN_AFTER_APPLY)));
    if (blind.length > 0) {
      const why = `${blind.map((w) => w.plan.machine).join(', ')} wait for values known only after another machine's apply; run pairctl apply from pair.yaml instead`;
      return todo.map((w) => notApplied(w, why));
    }
  }

  const facts: Facts = structuredClone(cross?.facts ?? {});
  const reread = new Map<string, Promise<string | undefined>>();
  /** Reads a machine's facts again after its apply (once); an error message when that fails. */
  const refresh = (id: string): Promise<string | undefined> => {
    let p = reread.get(id);
    if (!p) {
      p = readFacts(session, id).then(
        (read) => {
          facts[id] = { ...facts[id], ...read };
          return undefined;
        },
        (err: unknown) => `reading ${id} again after its apply failed: ${err instanceof Error ? err.message : String(err)}`,
      );
      reread.set(id, p);
    }
    return p;
  };

  const applyOne = async (planned: MachineWork): Promise<MachineApplyResult> => {
    const id = planned.plan.machine;
    const runner = session.runners.get(id);
    if (!runner) return notApplied(planned, `no connection to ${id}`);
    let work = planned;
    const waitingFor = waits.get(id);
    if (waitingFor) {
      for (const d of waitingFor) {
        const provider = results.get(d.waitsFor.machine);
        if (provider && !provider.ok) return notApplied(planned, `not applied: it waits for ${d.what}, and the apply of ${d.waitsFor.machine} failed`);
        const problem = await refresh(d.waitsFor.machine);
        if (problem) return notApplied(planned, `not applied: ${problem}`);
      }
      const again = await cross!.replan(id, facts);
      if (again.deferred.length > 0) {
        return notApplied(planned, `not applied: ${again.deferred.map((d) => d.what).join(', ')} still unknown after ${[...new Set(again.deferred.map((d) => d.waitsFor.machine))].join(', ')} was applied`);
      }
      if (again.work.plan.errors.length > 0) return notApplied(planned, `not applied: ${again.work.plan.errors.join('; ')}`);
      work = again.work;
      if (work.steps.length === 0) return { machine: id, ok: true, done: [], notStarted: [] };
    }
    return applyMachine(withSecrets(work, env), runner, onEvent, opts);
  };

  // Waves: a machine goes once every machine it waits for has been applied (or has nothing to apply).
  let pending = todo;
  while (pending.length > 0) {
    const inFlight = new Set(pending.map((w) => w.plan.machine));
    const ready = pending.filter((w) => (waits.get(w.plan.machine) ?? []).every((d) => !inFlight.has(d.waitsFor.machine)));
    if (ready.length === 0) {
      for (const w of pending) results.set(w.plan.machine, notApplied(w, 'not applied: its machines wait for each other'));
      break;
    }
    const done = await Promise.all(ready.map(applyOne));
    for (const r of done) results.set(r.machine, r);
    pending = pending.filter((w) => !ready.includes(w));
  }
  return todo.map((w) => results.get(w.plan.machine)!);
}

/** Why a secret cannot be used, without ever saying its value. */
function secretProblem(name: string, env: Record<string, string | undefined>): string[] {
  const value = env[name];
  if (value === undefined || value === '') return [`$${name} is not set (pair.yaml names it for a secret pairctl writes at apply time)`];
  if (!SECRET_VALUE.test(value)) return [`$${name} holds characters a secret may not have here (letters, digits, "_", "-" and "." only)`];
  return [];
}

/** The work with each secret a step refers to defined for that step only (never in plan or record). */
function withSecrets(work: MachineWork, env: Record<string, string | undefined>): MachineWork {
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

/** Reads a machine's fact probes in one exec. */
async function readFacts(session: PlanSession, id: string): Promise<Record<string, string>> {
  const runner: Runner | undefined = session.runners.get(id);
  const probes = session.crossMachine?.factProbes.get(id) ?? [];
  if (!runner) throw new Error(`no connection to ${id}`);
  if (probes.length === 0) return {};
  const { script, nonce } = buildProbeScript(probes.map((p) => ({ snippet: p.snippet })));
  const res = await runner.exec(script);
  if (res.code !== 0) throw new Error(`exit ${res.code}: ${res.stderr.trim().split('\n').slice(-2).join(' ')}`);
  const out = parseProbeOutput(res.stdout, nonce, probes.length);
  return Object.fromEntries(probes.map((p, i) => [p.key, out[i]?.output ?? '']));
}
