/**
 * Applies a planned session across machines: every machine with steps, in parallel, each over
 * the connection its plan was read on. The CLI only reports what this returns.
 */
import { applyMachine, type ApplyEvent, type ApplyOptions, type MachineApplyResult } from './apply-machine.js';
import type { PlanSession } from './plan-all.js';

/** Applies every machine that has changes; results in plan order. */
export async function applyAll(
  session: PlanSession,
  onEvent: (e: ApplyEvent) => void,
  opts: ApplyOptions = {},
): Promise<MachineApplyResult[]> {
  return Promise.all(
    session.works
      .filter((w) => w.steps.length > 0)
      .map((w) => {
        const runner = session.runners.get(w.plan.machine);
        if (!runner) throw new Error(`no connection to ${w.plan.machine}`);
        return applyMachine(w, runner, onEvent, opts);
      }),
  );
}
