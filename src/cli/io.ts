/**
 * What a command may touch of the outside world. Commands write only through this, so tests run
 * them in-process and the engine never prints.
 */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** true when stdin and stdout are terminals (apply may ask for confirmation) */
  interactive: boolean;
  /** reads one line from the terminal; only called when `interactive` */
  prompt: (question: string) => Promise<string>;
  env: NodeJS.ProcessEnv;
  /** the terminal's width now, when stdout is one (live progress lines are cut to it) */
  columns?: () => number | undefined;
}

/** A CLI command: argv after the command name in, exit code out. */
export type Command = (args: string[], io: CliIO) => Promise<number>;

/** A usage mistake: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
