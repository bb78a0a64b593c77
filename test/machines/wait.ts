/**
 * Waiting for a condition on a shared, busy machine: poll with a deadline, never a fixed sleep.
 * No vitest here, so scripts run with tsx (scripts/plan-equivalence.ts) use it as the e2e tests do.
 */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until fn returns true (checked once more at the deadline); returns the milliseconds it took. */
export async function waitUntil(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 30_000, everyMs = 100): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await fn()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}
