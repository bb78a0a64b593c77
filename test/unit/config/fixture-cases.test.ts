/**
 * Table-driven: every file in test/fixtures/config/cases is one case. A file's `# expect: RULE
 * LINE:COL` header lines are exactly the diagnostics it must produce; a file without them must be
 * valid. Adding a case is adding a file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load-config.js';
import { RULES } from '../../../src/config/rule-catalog.js';
import { rules } from '../../../src/config/rules.js';

const dir = new URL('../../fixtures/config/cases/', import.meta.url);
const NOW = new Date('2026-06-01T00:00:00Z');

interface Case {
  file: string;
  text: string;
  expected: string[];
}

const cases: Case[] = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((file) => {
    const text = readFileSync(new URL(file, dir), 'utf8');
    const expected = [...text.matchAll(/^# expect: (\S+ \d+:\d+)$/gm)].map((m) => m[1] as string);
    return { file, text, expected };
  });

describe('config fixture cases', () => {
  it('has both valid and invalid cases', () => {
    expect(cases.filter((c) => c.expected.length === 0).length).toBeGreaterThanOrEqual(4);
    expect(cases.filter((c) => c.expected.length > 0).length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases)('$file', ({ file, text, expected }) => {
    const { config, diagnostics } = loadConfigText(text, file, { now: NOW });
    expect(diagnostics.map((d) => `${d.rule} ${d.line}:${d.column}`)).toEqual(expected);
    for (const d of diagnostics) {
      expect(d.file).toBe(file);
      expect(d.message.length).toBeGreaterThan(0);
      expect(d.hint, `${d.rule} has a hint`).toBeTruthy();
      // the catalog (docs/rules.md, SARIF's defaultConfiguration) says each rule's severity
      expect(d.severity, d.rule).toBe(RULES[d.rule].severity);
    }
    const hasErrors = diagnostics.some((d) => d.severity === 'error');
    expect(config === undefined).toBe(hasErrors);
  });

  it('covers every rule id at least once, with its position', () => {
    const covered = new Set(cases.flatMap((c) => c.expected.map((e) => e.split(' ')[0])));
    const required = [
      'yaml-syntax', 'duplicate-key', 'alias-limit', 'schema', 'unknown-key', 'name-invalid',
      ...rules.flatMap((r) => r.ids),
    ];
    expect(required.filter((id) => !covered.has(id))).toEqual([]);
  });
});
