/**
 * Reading a machine once and comparing twice. The engine plans every machine, collects the
 * cross-machine facts, rebuilds the graph with them, and compares again — without reading the
 * machine again: a `RecordingRunner` keeps what each probe exec printed, and a replay runner
 * answers the same probes from that record. The replay proves the rebuilt graph reads exactly
 * what the first one did (same scripts but for their random nonce); anything else is refused,
 * since answers to other questions would be made up.
 */
import type { ExecOptions, ExecResult, Runner } from '../transport/runner.js';

/** One exec as it happened. */
export interface ExecRecord {
  script: string;
  result: ExecResult;
}

/** A Runner that passes everything through and remembers each exec. */
export class RecordingRunner implements Runner {
  readonly log: ExecRecord[] = [];

  constructor(private readonly inner: Runner) {}

  get machine(): string {
    return this.inner.machine;
  }

  get execCount(): number {
    return this.inner.execCount;
  }

  async exec(script: string, options?: ExecOptions): Promise<ExecResult> {
    const result = await this.inner.exec(script, options);
    this.log.push({ script, result });
    return result;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The random nonce of a probe script's section markers (probe-script.ts), if it has any. */
function nonceOf(script: string): string | undefined {
  return /@@pairctl-([0-9a-f]+)-begin-/.exec(script)?.[1];
}

function withoutNonce(text: string, nonce: string | undefined): string {
  return nonce ? text.replaceAll(nonce, '') : text;
}

/** A Runner that answers the recorded execs again, in order, for scripts identical but for the nonce. */
export function replayRunner(machine: string, log: readonly ExecRecord[]): Runner {
  let next = 0;
  return {
    machine,
    get execCount() {
      return 0;
    },
    async exec(script: string): Promise<ExecResult> {
      const rec = log[next++];
      const nonce = nonceOf(script);
      const recNonce = rec ? nonceOf(rec.script) : undefined;
      if (!rec || withoutNonce(rec.script, recNonce) !== withoutNonce(script, nonce)) {
        throw new Error(
          `internal error: the graph rebuilt with cross-machine facts reads ${machine} differently from the first read (exec ${next}); facts may change contents, never addresses or probes`,
        );
      }
      const swap = (s: string) => (recNonce && nonce ? s.replaceAll(recNonce, nonce) : s);
      return { code: rec.result.code, stdout: swap(rec.result.stdout), stderr: swap(rec.result.stderr) };
    },
    async close() {},
  };
}
