/**
 * A Runner for engine tests that answers like a machine would, without one: probe scripts are
 * split back into their snippets and each snippet is answered by a function of its text (so a
 * test says "this file holds X" rather than hand-writing marker lines), and apply scripts are
 * answered by a scenario that emits the progress markers a real run would print.
 */
import { directoryKind } from '../../../src/resources/directory.js';
import { probeFile } from '../../../src/resources/file-state.js';
import { keyValues } from '../../../src/resources/kind.js';
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
      const batch = unbatch(m[2]!);
      const text = batch ? batch.join(batch.singles.map((single) => this.answer(single))) : this.answer(m[2]!);
      out += `\n@@pairctl-${nonce}-begin-${m[1]}\n${text}${text === '' || text.endsWith('\n') ? '' : '\n'}\n@@pairctl-${nonce}-end-${m[1]}-0\n`;
    }
    return out;
  }
}

/** The probe answer of a regular file, as probeFile prints it. */
export function fileAnswer(content: string, mode = '644', owner = 'root', group = 'root'): string {
  return `type=file\nmode=${mode}\nowner=${owner}\ngroup=${group}\ncontent=${Buffer.from(content).toString('base64')}`;
}

/** The words of a `set -- ...` line as `quote` wrote them (bare, or '...' with '\\'' inside). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '\\') {
      word = (word ?? '') + line[++i];
    } else if (c === ' ') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * A batched file or directory probe (file-state.ts `probePaths`) split into the single probes of
 * its paths, and how to join their answers (in the single format) into the batched answer: so a
 * test answers "this file holds X" per path whichever way the engine reads it.
 */
export function unbatch(snippet: string): { singles: string[]; join(outputs: string[]): string } | undefined {
  const keep = /\n {2}elif \[ -[fd] "\$p" \]; then t=(file|directory)\n/.exec(snippet)?.[1];
  if (!snippet.startsWith('set -- ') || !keep) return undefined;
  const paths = shellWords(snippet.slice('set -- '.length, snippet.indexOf('\n')));
  return {
    singles: paths.map((path) => (keep === 'file' ? probeFile(path) : directoryKind.probe({ path }))),
    join(outputs) {
      const types: string[] = [];
      const stats: string[] = [];
      const contents: Buffer[] = [];
      outputs.forEach((out, i) => {
        const kv = keyValues(out);
        const type = kv.get('type') ?? 'absent';
        types.push(`t\t${type}`);
        if (type !== keep) return;
        const content = Buffer.from(kv.get('content') ?? '', 'base64');
        stats.push(`s\t${kv.get('mode')}\t${kv.get('owner')}\t${kv.get('group')}\t${content.length}\t${paths[i]}`);
        contents.push(content);
      });
      const c = keep === 'file' && stats.length > 0 ? [`c\t${Buffer.concat(contents).toString('base64')}`] : [];
      return [...types, ...stats, ...c].join('\n');
    },
  };
}
