#!/usr/bin/env node
// Writes schemas/pair.schema.json from the compiled schema object, so the published contract can
// never drift from the one ajv and the TypeScript types use. Build first: npx tsc -p tsconfig.json
// Usage: node scripts/write-schema.mjs [--check]   (--check: exit 1 if the file is out of date)
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const target = `${root}schemas/pair.schema.json`;
const { pairSchema } = await import(new URL('../dist/config/schema.js', import.meta.url).href);
const text = `${JSON.stringify(pairSchema, null, 2)}\n`;

if (process.argv.includes('--check')) {
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current !== text) {
    process.stderr.write('schemas/pair.schema.json is out of date: run npx tsc -p tsconfig.json && node scripts/write-schema.mjs\n');
    process.exit(1);
  }
  process.stdout.write('schemas/pair.schema.json is up to date\n');
} else {
  await writeFile(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
