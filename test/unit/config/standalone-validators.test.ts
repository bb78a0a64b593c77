/**
 * The build replaces run-time ajv compilation with standalone code (scripts/build-validators.mjs).
 * The two must judge every file alike, errors included, or the installed pairctl would report
 * differently from what the tests check.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import * as compiled from '../../../src/config/schema-validators.js';
// @ts-expect-error: a plain .mjs build script, without type declarations
import { standaloneValidatorsModule } from '../../../scripts/build-validators.mjs';

const CASES = join(import.meta.dirname, '../../fixtures/config/cases');

describe('precompiled validators', () => {
  it('give the same verdicts and errors as ajv compiling at run time, on every fixture', async () => {
    const dir = join(import.meta.dirname, '../../.tmp');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `schema-validators-${process.pid}.mjs`);
    writeFileSync(file, (standaloneValidatorsModule as (m: unknown, d: string) => string)(compiled, '../../src/config/date-time.js'));
    const standalone = (await import(file)) as typeof compiled;
    expect(readFileSync(file, 'utf8')).not.toMatch(/from ["']ajv/);
    const a = compiled.schemaValidators();
    const b = standalone.schemaValidators();
    const files = readdirSync(CASES).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(20);
    let invalid = 0;
    for (const f of files) {
      let data: unknown;
      try {
        data = parse(readFileSync(join(CASES, f), 'utf8'));
      } catch {
        continue; // not YAML at all (the hostile fixtures): never reaches the schema
      }
      for (const name of Object.keys(a) as Array<keyof typeof a>) {
        const top = (data ?? {}) as Record<string, Record<string, unknown> | undefined>;
        const part = name === 'file' ? data : name === 'session' ? top.session : Object.values(top[`${name}s`] ?? {})[0];
        if (name !== 'file' && part === undefined) continue;
        const okA = a[name](part);
        const okB = b[name](part);
        expect(okB, `${f} ${name}`).toBe(okA);
        expect(JSON.stringify(b[name].errors ?? null), `${f} ${name}`).toBe(JSON.stringify(a[name].errors ?? null));
        if (!okA) invalid++;
      }
    }
    expect(invalid).toBeGreaterThan(10);
  });
});
