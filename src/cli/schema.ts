/** `pairctl schema`: prints the JSON Schema of pair.yaml, byte for byte what schemas/ publishes. */
import { writeFile } from 'node:fs/promises';
import { pairSchema } from '../config/schema.js';
import { parseCommand } from './args.js';
import type { Command } from './io.js';
import { UsageError } from './io.js';

/** The published text of the schema; schemas/pair.schema.json must equal it. */
export function schemaText(): string {
  return `${JSON.stringify(pairSchema, null, 2)}\n`;
}

/**
 * Lets editors and CI fetch the contract from the installed pairctl itself. `--write PATH` puts
 * it beside pair.yaml, so the file's `$schema=./pair.schema.json` line works wherever the pair
 * lives, without a path into pairctl's install.
 */
export const schema: Command = async (args, io) => {
  const { positionals, flags } = parseCommand('schema', args);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (use --write PATH)`);
  if (typeof flags.write === 'string') {
    await writeFile(flags.write, schemaText());
    io.stdout(`Wrote the schema of pair.yaml to ${flags.write}\n`);
    return 0;
  }
  io.stdout(schemaText());
  return 0;
};
