/**
 * A Runner for engine tests that answers like a machine would, without one: probe scripts are
 * split back into their snippets and each snippet is answered by a function of its text (so a
 * test says "this file holds X" rather than hand-writing marker lines), and apply scripts are
 * answered by a scenario that emits the progress markers a real run would print.
 */
import type { ExecOptions, ExecResult, Runner } from '../../../src/transport/runner.js';

/** What a scenario sees of an apply script: the nonce of its markers and its text. */
export interface ApplyCall {
  nonce: string;
  script: string;
  /** writes a line to stdout as the script would (a marker body, or plain output) */
  mark(body: string): string;
}

export class ScriptedRunner implements Runner {
  readonly machine = 'box';
  readonly scripts: string[] = [];
  private count = 0;

  constructor(
    private readonly answer: (snippet: string) => string,
    private readonly onApply?: (call: ApplyCall) => { stdout: string; code?: number; stderr?: string; lost?: boolean },
  ) {}

  get execCount(): number {
    return this.count;
  }

  async exec(script: string, options: ExecOptions = {}): Promise<ExecResult> {
    this.count += 1;
    this.scripts.push(script);
    const probeNonce = /@@pairctl-([0-9a-f]{16})-begin-0/.exec(script)?.[1];
    if (probeNonce) return { code: 0, stdout: this.answerProbe(script, probeNonce), stderr: '' };
    const nonce = /@@pairctl-([0-9a-f]{16})-%s/.exec(script)?.[1];
    if (!nonce || !this.onApply) throw new Error('ScriptedRunner: neither a probe nor an apply script');
    const res = this.onApply({ nonce, script, mark: (body) => `@@pairctl-${nonce}-${body}\n` });
    // Delivered in small pieces, as ssh does, so line reassembly is exercised.
    for (let i = 0; i < res.stdout.length; i += 7) options.onStdout?.(res.stdout.slice(i, i + 7));
    if (res.lost) throw new Error('machine "box": lost the ssh connection (test)');
    return { code: res.code ?? 0, stdout: res.stdout, stderr: res.stderr ?? '' };
  }

  async close(): Promise<void> {}

  /** Rebuilds what `sh` would print for a probe script (see probe-script.ts for the format). */
  private answerProbe(script: string, nonce: string): string {
    const section = new RegExp(`printf '\\\\n@@pairctl-${nonce}-begin-(\\d+)\\\\n'\\n\\( ([\\s\\S]*?)\\n\\) 2>&1\\nprintf '\\\\n@@pairctl-${nonce}-end-`, 'g');
    let out = '';
    for (const m of script.matchAll(section)) {
      const text = this.answer(m[2]!);
      out += `\n@@pairctl-${nonce}-begin-${m[1]}\n${text}${text === '' || text.endsWith('\n') ? '' : '\n'}\n@@pairctl-${nonce}-end-${m[1]}-0\n`;
    }
    return out;
  }
}

/** The probe answer of a regular file, as probeFile prints it. */
export function fileAnswer(content: string, mode = '644', owner = 'root', group = 'root'): string {
  return `type=file\nmode=${mode}\nowner=${owner}\ngroup=${group}\ncontent=${Buffer.from(content).toString('base64')}`;
}
