/**
 * One remote `sh -s` kept for several scripts (ExecOptions.hold): each held script is written
 * to the shell's stdin followed by a line that prints a nonce-marked end and its exit status, and
 * its result is what came before that line; the shell then waits for the next script. The last
 * script is written with end-of-input, and its result is the shell's own exit.
 *
 * What a held shell is for: `pairctl apply --yes` takes the machine's lock in the shell that reads
 * the machine and applies in that same shell, so nothing can change between the read and the
 * apply and the apply need not read the machine again (plan/apply-machine.ts). Scripts queue: a
 * second is written at once, without waiting for the first's result, so two scripts cost one
 * round trip.
 */
import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';

/** The channel a held shell runs on: an ssh2 ClientChannel, or a child process's pipes in tests. */
export interface ShellChannel {
  write(text: string): void;
  end(text: string): void;
  onStdout(listener: (chunk: Buffer) => void): void;
  onStderr(listener: (chunk: Buffer) => void): void;
  onExit(listener: (code: number | null, signal?: string) => void): void;
  onClose(listener: () => void): void;
}

/** What one script of a held shell gave back. */
export interface HeldResult {
  stdout: string;
  stderr: string;
  /** the script's exit status, from its end line; absent when the shell ended first */
  status?: number;
  /** the shell ended before the script's end line: `code`/`signal` are the shell's exit, if it sent one */
  ended?: { code: number | null | undefined; signal: string | undefined };
  /** the shell had ended, or had its last script, before this one: none of it was written */
  notRun?: boolean;
}

interface Pending {
  /** the end line's prefix, or undefined for the last script (its end is the shell's) */
  marker: string | undefined;
  stdout: string;
  onStdout?: (text: string) => void;
  resolve(r: HeldResult): void;
}

export class HeldShell {
  private readonly queue: Pending[] = [];
  private readonly outDecoder = new StringDecoder('utf8');
  private readonly errDecoder = new StringDecoder('utf8');
  private stderr = '';
  private code: number | null | undefined;
  private signal: string | undefined;
  private closedShell = false;
  private inputEnded = false;

  constructor(private readonly channel: ShellChannel) {
    channel.onStdout((chunk) => this.take(this.outDecoder.write(chunk)));
    channel.onStderr((chunk) => {
      this.stderr += this.errDecoder.write(chunk);
    });
    channel.onExit((code, signal) => {
      this.code = code;
      this.signal = signal;
    });
    channel.onClose(() => this.close());
  }

  /** The shell still reads scripts: it has not ended and was not given its last one. */
  get open(): boolean {
    return !this.closedShell && !this.inputEnded;
  }

  /** Writes a script; `hold`: the shell waits for another after it, else this is its last. */
  run(script: string, opts: { hold: boolean; onStdout?: (text: string) => void }): Promise<HeldResult> {
    return new Promise<HeldResult>((resolve) => {
      if (!this.open) {
        resolve({ stdout: '', stderr: this.closedShell ? this.stderr : '', ended: { code: this.code, signal: this.signal }, notRun: true });
        return;
      }
      if (opts.hold) {
        const nonce = randomBytes(8).toString('hex');
        const marker = `\n@@pairctl-held-${nonce}-`;
        this.queue.push({ marker, stdout: '', resolve });
        this.channel.write(`${script}\nprintf '\\n@@pairctl-held-%s-%s\\n' ${nonce} "$?"\n`);
      } else {
        this.queue.push({ marker: undefined, stdout: '', onStdout: opts.onStdout, resolve });
        this.inputEnded = true;
        this.channel.end(script);
      }
    });
  }

  /** Output goes to the oldest unfinished script; its end line finishes it and the rest goes on. */
  private take(text: string): void {
    while (text !== '') {
      const head = this.queue[0];
      if (!head) return; // nothing asked for (the shell's own noise after the last end line)
      if (head.marker === undefined) {
        head.stdout += text;
        head.onStdout?.(text);
        return;
      }
      const from = Math.max(0, head.stdout.length - head.marker.length - 24);
      head.stdout += text;
      text = '';
      const at = head.stdout.indexOf(head.marker, from);
      if (at < 0) return;
      const after = head.stdout.slice(at + head.marker.length);
      const eol = after.indexOf('\n');
      if (eol < 0) return; // the status is not all here yet
      const status = Number(after.slice(0, eol));
      const stdout = head.stdout.slice(0, at);
      this.queue.shift();
      const stderr = this.stderr;
      this.stderr = '';
      head.resolve({ stdout, stderr, status: Number.isInteger(status) ? status : 1 });
      text = after.slice(eol + 1);
    }
  }

  private close(): void {
    if (this.closedShell) return;
    this.closedShell = true;
    this.take(this.outDecoder.end());
    this.stderr += this.errDecoder.end();
    const ended = { code: this.code, signal: this.signal };
    // Every script the shell ended before hears why (sudo's refusal is on stderr, once).
    for (const p of this.queue.splice(0)) p.resolve({ stdout: p.stdout, stderr: this.stderr, ended });
  }
}
