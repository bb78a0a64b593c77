/** `pairctl schema`: prints the JSON Schema of pair.yaml, byte for byte what schemas/ publishes. */
import { pairSchema } from '../config/schema.js';
import { parseCommon } from './args.js';
import type { Command } from './io.js';
import { UsageError } from './io.js';

/** The published text of the schema; schemas/pair.schema.json must equal it. */
export function schemaText(): string {
  return `${JSON.stringify(pairSchema, null, 2)}\n`;
}

/** Lets editors and CI fetch the contract from the installed pairctl itself. */
export const schema: Command = async (args, io) => {
  const { positionals } = parseCommon(args);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  io.stdout(schemaText());
  return 0;
};
