/**
 * Batches every read of a machine into one script (one exec request), and splits its output
 * back per resource. Sections are delimited by lines carrying a random nonce, so no probed value
 * can forge a boundary.
 */
import { randomBytes } from 'node:crypto';
import { STAT_FLAVOR } from '../resources/file-state.js';

/** A named snippet whose output should be returned on its own. */
export interface ProbeSection {
  snippet: string;
}

/** Wraps a script so sh parses all of it before running any (commands then cannot eat stdin). */
export function wholeScript(body: string): string {
  // sudo's secure_path and a bare ssh exec leave out Homebrew's bin directories (macOS tmux).
  return `PATH="$PATH:/usr/local/bin:/opt/homebrew/bin"; export PATH\npairctl_main() {\n${body}\n}\npairctl_main </dev/null\n`;
}

/** The script and the nonce its markers carry. */
export function buildProbeScript(sections: ProbeSection[]): { script: string; nonce: string } {
  const nonce = randomBytes(8).toString('hex');
  const body = sections
    .map(
      (s, i) =>
        `printf '\\n@@pairctl-${nonce}-begin-${i}\\n'\n( ${s.snippet}\n) 2>&1\nprintf '\\n@@pairctl-${nonce}-end-${i}-%s\\n' "$?"`,
    )
    .join('\n');
  // Which stat the machine has, tested once for every section (file-state.ts, GNU_STAT).
  return { script: wholeScript(`LC_ALL=C; export LC_ALL\n${STAT_FLAVOR}\n${body}`), nonce };
}

/** Output and exit status of each section, by index. */
export interface ProbeResult {
  output: string;
  status: number;
}

/** Splits a probe's stdout; a section missing from the output is an error naming its index. */
export function parseProbeOutput(stdout: string, nonce: string, count: number): ProbeResult[] {
  const results: ProbeResult[] = [];
  const lines = stdout.split('\n');
  let current: string[] | null = null;
  let index = -1;
  const begin = `@@pairctl-${nonce}-begin-`;
  const end = `@@pairctl-${nonce}-end-`;
  for (const line of lines) {
    if (line.startsWith(begin)) {
      index = Number(line.slice(begin.length));
      current = [];
    } else if (line.startsWith(end) && current) {
      const [i, status] = line.slice(end.length).split('-');
      if (Number(i) === index) {
        // The begin marker is preceded by a newline and the end marker too: drop the one we added.
        if (current.length > 0 && current[current.length - 1] === '') current.pop();
        results[index] = { output: current.join('\n'), status: Number(status) };
      }
      current = null;
    } else if (current) {
      current.push(line);
    }
  }
  for (let i = 0; i < count; i++) {
    if (!results[i]) throw new Error(`the machine's answer was cut short (no output for probe ${i + 1} of ${count})`);
  }
  return results;
}
