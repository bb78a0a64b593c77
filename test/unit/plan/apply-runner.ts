/**
 * A Runner standing in for a machine's apply: it reads the random nonce of the apply script's
 * progress markers and answers with what a scenario says the script printed, in small pieces as
 * ssh delivers it. It reads no probe: engine tests give observations as data (observations.ts).
 */
import type { ExecOptions, ExecResult, Runner } from '../../../src/transport/runner.js';

/** What a scenario sees of an apply script: the nonce of its markers and its text. */
export interface ApplyCall {
  nonce: string;
  script: string;
  /** a progress line as the script writes it (a marker body, e.g. "start-0") */
  mark(body: string): string;
}

export type ApplyScenario = (call: ApplyCall) => { stdout: string; code?: number; stderr?: string; lost?: boolean };

export class ApplyRunner implements Runner {
  readonly scripts: string[] = [];

  constructor(
    private readonly scenario: ApplyScenario,
    readonly machine = 'box',
  ) {}

  get execCount(): number {
    return this.scripts.length;
  }

  async exec(script: string, options: ExecOptions = {}): Promise<ExecResult> {
    this.scripts.push(script);
    const nonce = /@@pairctl-([0-9a-f]{16})-%s/.exec(script)?.[1];
    if (!nonce) throw new Error('ApplyRunner: not an apply script');
    const res = this.scenario({ nonce, script, mark: (body) => `@@pairctl-${nonce}-${body}\n` });
    for (let i = 0; i < res.stdout.length; i += 7) options.onStdout?.(res.stdout.slice(i, i + 7));
    if (res.lost) throw new Error(`machine "${this.machine}": lost the ssh connection (test)`);
    return { code: res.code ?? 0, stdout: res.stdout, stderr: res.stderr ?? '' };
  }

  async close(): Promise<void> {}
}
