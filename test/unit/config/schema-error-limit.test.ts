import { describe, expect, it } from 'vitest';
import { MAX_SCHEMA_DIAGNOSTICS } from '../../../src/config/check-schema.js';
import { loadConfigText } from '../../../src/config/load-config.js';

describe('a file too broken to list every problem', () => {
  it('lists the first problems by position and counts the rest in one line', () => {
    const text = `version: 1\nhosts:\n${Array.from({ length: 2000 }, (_, i) => `  h${i}: 1`).join('\n')}\n`;
    const { config, diagnostics } = loadConfigText(text, 'big.yaml');
    expect(config).toBeUndefined();
    const summary = diagnostics.find((d) => /more schema problems are not listed/.test(d.message));
    const listed = diagnostics.filter((d) => d !== summary && d.rule === 'schema');
    expect(listed.length).toBe(MAX_SCHEMA_DIAGNOSTICS);
    expect(listed.filter((d) => d.line >= 3).length).toBeGreaterThan(MAX_SCHEMA_DIAGNOSTICS - 5);
    expect(summary).toMatchObject({ line: 1, column: 1, severity: 'error', rule: 'schema' });
    expect(summary!.message).toMatch(/^\d+ more schema problems are not listed$/);
  });
});
