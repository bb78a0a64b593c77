/** Small argv parser shared by every command, so flags mean the same thing everywhere. */
import { parseArgs } from 'node:util';
import { UsageError } from './io.js';

export interface CommonFlags {
  file: string;
  sshConfig?: string;
  positionals: string[];
  flags: Record<string, string | boolean | string[] | undefined>;
}

type Extra = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

/** Parses the common flags (-f, -F) plus the command's own; unknown flags are usage errors. */
export function parseCommon(args: string[], extra: Extra = {}): CommonFlags {
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        file: { type: 'string', short: 'f' },
        'ssh-config': { type: 'string', short: 'F' },
        ...extra,
      },
    });
    const v = values as Record<string, string | boolean | string[] | undefined>;
    return {
      file: (v.file as string | undefined) ?? 'pair.yaml',
      sshConfig: v['ssh-config'] as string | undefined,
      positionals,
      flags: v,
    };
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}
