import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { schema as schemaCommand, schemaText } from '../../../src/cli/schema.js';
import type { CliIO } from '../../../src/cli/io.js';
import { pairSchema } from '../../../src/config/schema.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every object schema in the tree, with its path, found by walking properties and items. */
function objectSchemas(node: Json, path = '#'): { path: string; node: Record<string, Json> }[] {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return [];
  const out: { path: string; node: Record<string, Json> }[] = [];
  if (node.type === 'object') out.push({ path, node });
  const props = node.properties;
  if (props && typeof props === 'object' && !Array.isArray(props)) {
    for (const [k, v] of Object.entries(props)) out.push(...objectSchemas(v, `${path}/properties/${k}`));
  }
  for (const k of ['items', 'additionalProperties', 'propertyNames'] as const) {
    if (node[k] && typeof node[k] === 'object') out.push(...objectSchemas(node[k] as Json, `${path}/${k}`));
  }
  return out;
}

function propertySchemas(node: Json, path = '#'): { path: string; node: Record<string, Json> }[] {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return [];
  const out: { path: string; node: Record<string, Json> }[] = [];
  const props = node.properties;
  if (props && typeof props === 'object' && !Array.isArray(props)) {
    for (const [k, v] of Object.entries(props)) {
      out.push({ path: `${path}/properties/${k}`, node: v as Record<string, Json> });
      out.push(...propertySchemas(v, `${path}/properties/${k}`));
    }
  }
  for (const k of ['items', 'additionalProperties'] as const) {
    const child = node[k];
    if (child && typeof child === 'object') {
      out.push({ path: `${path}/${k}`, node: child as Record<string, Json> });
      out.push(...propertySchemas(child, `${path}/${k}`));
    }
  }
  return out;
}

const schemaJson = JSON.parse(JSON.stringify(pairSchema)) as Json;

describe('the published schema', () => {
  it('schemas/pair.schema.json is exactly what `pairctl schema` prints', () => {
    const file = readFileSync(new URL('../../../schemas/pair.schema.json', import.meta.url), 'utf8');
    expect(file).toBe(schemaText());
    expect(schemaText()).toBe(`${JSON.stringify(pairSchema, null, 2)}\n`);
  });

  it('`pairctl schema` writes it to stdout', async () => {
    let out = '';
    const io: CliIO = { stdout: (t) => (out += t), stderr: () => undefined, interactive: false, prompt: async () => '', env: {} };
    expect(await schemaCommand([], io)).toBe(0);
    expect(out).toBe(schemaText());
  });

  it('is draft 2020-12 with an $id', () => {
    expect(pairSchema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(pairSchema.$id).toMatch(/^https:\/\//);
  });

  it('closes every object with additionalProperties: false (or a schema for map values)', () => {
    for (const { path, node } of objectSchemas(schemaJson)) {
      const extra = node.additionalProperties;
      expect(extra === false || (typeof extra === 'object' && extra !== null), path).toBe(true);
    }
  });

  it('gives every property a description and examples', () => {
    const all = propertySchemas(schemaJson);
    expect(all.length).toBeGreaterThan(15);
    for (const { path, node } of all) {
      expect(typeof node.description, `${path} description`).toBe('string');
      expect(Array.isArray(node.examples) && node.examples.length > 0, `${path} examples`).toBe(true);
    }
  });

  it('names only declared properties in every required list, including inside anyOf and if/then', () => {
    const problems: string[] = [];
    const visit = (node: Json, declared: string[], path: string): void => {
      if (!node || typeof node !== 'object' || Array.isArray(node)) return;
      const own = node.properties && typeof node.properties === 'object' && !Array.isArray(node.properties) ? Object.keys(node.properties) : [];
      const known = [...own, ...declared];
      if (Array.isArray(node.required)) {
        for (const r of node.required) if (!known.includes(String(r))) problems.push(`${path}: ${String(r)}`);
      }
      for (const [k, v] of Object.entries(node)) {
        if (k === 'examples' || k === 'default' || k === 'enum') continue;
        const inherit = k === 'anyOf' || k === 'allOf' || k === 'oneOf' || k === 'then' || k === 'else' || k === 'if' ? known : [];
        if (Array.isArray(v)) v.forEach((item, i) => visit(item, inherit, `${path}/${k}/${i}`));
        else visit(v, k === 'then' || k === 'else' || k === 'if' ? known : inherit, `${path}/${k}`);
      }
    };
    visit(schemaJson, [], '#');
    expect(problems).toEqual([]);
  });

  it('compiles under ajv strict mode, and its own examples of names match its patterns', () => {
    // strictRequired is off: `required` inside anyOf/then names properties declared one level up
    // (the test below checks those names instead).
    const ajv = new Ajv2020.default({ strict: true, strictRequired: false, allErrors: true });
    ajv.addFormat('date-time', () => true);
    expect(() => ajv.compile(pairSchema)).not.toThrow();
    const host = new RegExp(pairSchema.properties.hosts.propertyNames.pattern);
    const guest = new RegExp(pairSchema.properties.guests.propertyNames.pattern);
    expect(pairSchema.properties.hosts.propertyNames.examples.every((e) => host.test(e))).toBe(true);
    expect(pairSchema.properties.guests.propertyNames.examples.every((e) => guest.test(e))).toBe(true);
    expect(guest.test('a'.repeat(24))).toBe(true);
    expect(guest.test('a'.repeat(25))).toBe(false);
    expect(`pair-${'a'.repeat(24)}`.length).toBeLessThanOrEqual(32);
  });
});
