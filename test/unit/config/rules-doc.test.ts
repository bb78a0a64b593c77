/**
 * docs/rules.md is the reference for every rule id: each has a section with an example that
 * breaks it and the example fixed, and both are linted here so the page cannot drift. Every id
 * the code can emit (the catalog types Diagnostic.rule; the source is scanned as well) must be
 * documented and must have a fixture that produces it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load-config.js';
import { RULE_IDS, RULES } from '../../../src/config/rule-catalog.js';

const root = new URL('../../../', import.meta.url);
const doc = readFileSync(new URL('docs/rules.md', root), 'utf8');
const NOW = new Date('2026-06-01T00:00:00Z');

interface Section {
  id: string;
  text: string;
  bad?: { lang: string; code: string };
  good?: { lang: string; code: string };
}

const sections: Section[] = doc
  .split(/^## /m)
  .slice(1)
  .map((chunk) => {
    const id = chunk.slice(0, chunk.indexOf('\n')).trim();
    const block = (label: string) => {
      const m = new RegExp(`^${label}:\\n\\n\`\`\`(\\w+)\\n([\\s\\S]*?)\\n\`\`\`$`, 'm').exec(chunk);
      return m ? { lang: m[1] as string, code: `${m[2] as string}\n` } : undefined;
    };
    return { id, text: chunk, bad: block('Bad'), good: block('Good') };
  });

/** Rules that need something other than a file's text: shown as commands, proven elsewhere. */
const NOT_FROM_TEXT: Record<string, string> = {
  'file-unreadable': 'test/unit/config/cli-validate.test.ts and lint.test.ts (a missing file)',
  'file-too-large': 'test/unit/config/load-config.test.ts (a file over 256 KiB)',
  'internal-error': 'no input may produce it: fuzz.test.ts and hostile-input.test.ts assert it never appears',
};
/** Rules reported only online: their examples are valid offline; github-keys.test.ts serves the pages. */
const ONLINE = new Set(['github-keys-unavailable', 'github-keys-empty']);

function fixtureRules(): Set<string> {
  const ids = new Set<string>();
  const cases = new URL('test/fixtures/config/cases/', root);
  for (const f of readdirSync(cases)) {
    for (const m of readFileSync(new URL(f, cases), 'utf8').matchAll(/^# expect: (\S+) \d+:\d+$/gm)) ids.add(m[1] as string);
  }
  const github = JSON.parse(readFileSync(new URL('test/fixtures/config/github/expect.json', root), 'utf8')) as Record<string, unknown>;
  for (const v of Object.values(github)) if (Array.isArray(v)) v.forEach((id) => ids.add(String(id)));
  return ids;
}

/** Rule ids written in the source next to `rule`, as a second net under the type. */
function sourceRuleIds(): Set<string> {
  const ids = new Set<string>();
  const dir = new URL('src/config/', root);
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && n !== 'rule-catalog.ts')) {
    const text = readFileSync(new URL(f, dir), 'utf8');
    for (const line of text.split('\n')) {
      if (!/\brule\b|\bids:|RuleId/.test(line)) continue;
      for (const m of line.matchAll(/'([a-z]+(?:-[a-z]+)*)'/g)) ids.add(m[1] as string);
    }
  }
  return ids;
}

describe('docs/rules.md', () => {
  it('has one section per rule id, in catalog order, and none for ids that do not exist', () => {
    expect(sections.map((s) => s.id)).toEqual(RULE_IDS);
  });

  it('lists every rule with its severity in the table', () => {
    for (const id of RULE_IDS) expect(doc).toContain(`| [\`${id}\`](#${id}) | ${RULES[id].severity} |`);
  });

  it('every rule id emitted by the code is in the catalog (so documented), and has a fixture or a named test', () => {
    const catalog = new Set<string>(RULE_IDS);
    const KEYWORDS = new Set(['error', 'warning', 'key', 'value', 'rule', 'ok']);
    const stray = [...sourceRuleIds()].filter((id) => !catalog.has(id) && !KEYWORDS.has(id) && !/^(mirror|pair|rogue|lan|vps|jump|ngrok|linux|macos|tunnel|forward)$/.test(id));
    expect(stray).toEqual([]);
    const covered = fixtureRules();
    expect(RULE_IDS.filter((id) => !covered.has(id) && !(id in NOT_FROM_TEXT))).toEqual([]);
  });

  describe.each(sections)('$id', (section) => {
    it('says why, with a bad and a good example', () => {
      expect(section.text.split('\n').filter((l) => l.trim() !== '').length).toBeGreaterThan(8);
      expect(section.bad, 'Bad: block').toBeDefined();
      expect(section.good, 'Good: block').toBeDefined();
      expect(section.bad?.code).not.toBe(section.good?.code);
    });

    if (section.id in NOT_FROM_TEXT) return;
    it('bad example is reported under this rule; good example is clean', () => {
      const bad = loadConfigText(section.bad?.code ?? '', 'bad.yaml', { now: NOW });
      const good = loadConfigText(section.good?.code ?? '', 'good.yaml', { now: NOW });
      expect(good.diagnostics).toEqual([]);
      if (ONLINE.has(section.id)) {
        // reported only after fetching; offline the file is valid
        expect(bad.diagnostics).toEqual([]);
        return;
      }
      expect(bad.diagnostics.map((d) => d.rule)).toContain(section.id);
    });
  });
});
