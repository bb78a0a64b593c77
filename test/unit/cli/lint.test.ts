/** `pairctl lint`: every problem of every file, in four formats, with the exit codes CI relies on. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv04 from 'ajv-draft-04';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { captureIo as io } from '../capture-io.js';
import { UsageError } from '../../../src/cli/io.js';
import { lint } from '../../../src/cli/lint.js';
import { loadResolvedOrReport } from '../../../src/cli/load.js';
import { main } from '../../../src/cli/main.js';
import { escapeData, escapeProperty } from '../../../src/config/report-github.js';
import { RULE_IDS, RULES } from '../../../src/config/rule-catalog.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cases = join(root, 'test/fixtures/config/cases');
const keys = join(root, 'test/fixtures/config/keys');
const ED = readFileSync(join(keys, 'ed25519.pub'), 'utf8').trim();
const ED_C = readFileSync(join(keys, 'ed25519-c.pub'), 'utf8').trim();


function tempFile(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'pairctl-lint-')), name);
  writeFileSync(file, text);
  return file;
}

const valid = join(cases, 'valid-full.yaml');
const twoErrors = join(cases, 'mode-not-allowed.yaml');
const warningOnly = tempFile(
  'warn.yaml',
  `version: 1\nhosts:\n  h: { platform: linux, ssh: local, owner: me }\nguests:\n  todd:\n    keys: ["${ED}"]\n    expires: 2001-01-01T00:00:00Z\n`,
);
const withGithub = tempFile(
  'github.yaml',
  `version: 1\nhosts:\n  h: { platform: linux, ssh: local, owner: me }\nguests:\n  todd:\n    keys: ["${ED}"]\n  gina:\n    github: gina\n`,
);

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('pairctl lint exit codes and text', () => {
  it.each([
    { name: 'clean file', args: [valid], code: 0 },
    { name: 'file with errors', args: [twoErrors], code: 1 },
    { name: 'warnings only', args: [warningOnly], code: 0 },
    { name: 'warnings only, --strict', args: ['--strict', warningOnly], code: 1 },
    { name: 'clean and broken together', args: [valid, twoErrors], code: 1 },
    { name: 'missing file', args: ['/nonexistent/pair.yaml'], code: 1 },
  ])('$name -> exit $code', async ({ args, code }) => {
    const t = io();
    expect(await lint(args, t)).toBe(code);
    expect(t.err).toBe('');
  });

  it('reports every problem of every file, then a summary per file and in total', async () => {
    const t = io();
    await lint([valid, twoErrors, '-f', warningOnly], t);
    const lines = t.out.trimEnd().split('\n');
    expect(lines.filter((l) => /: error: .* \[mode-not-allowed\]$/.test(l))).toHaveLength(2);
    expect(lines.filter((l) => /^ {4}hint: /.test(l)).length).toBe(3);
    expect(lines).toContain(`${valid}: ok (2 hosts, 3 guests)`);
    expect(lines).toContain(`${twoErrors}: 2 errors`);
    expect(lines).toContain(`${warningOnly}: ok (1 host, 1 guest, 1 warning)`);
    expect(lines.at(-1)).toBe('3 files: 2 errors, 1 warning');
    // -f comes first, then the positional files in order
    expect(t.out.indexOf(warningOnly)).toBeLessThan(t.out.indexOf(valid));
  });

  it('suggests the nearest known key for a misspelt one', async () => {
    const t = io();
    await lint([join(cases, 'unknown-key-misspelt-owner.yaml')], t);
    expect(t.out).toMatch(/unknown key "onwer".*\n {4}hint: did you mean "owner"\?/);
  });

  it('is registered in the CLI and reads ./pair.yaml by default', async () => {
    const t = io();
    const cwd = process.cwd();
    process.chdir(join(root, 'examples'));
    try {
      expect(await main(['lint', '--format', 'json'], t)).toBe(1); // examples/ has no pair.yaml
    } finally {
      process.chdir(cwd);
    }
    expect(JSON.parse(t.out).files[0]).toMatchObject({ file: 'pair.yaml', ok: false, diagnostics: [{ rule: 'file-unreadable' }] });
  });

  it('refuses an unknown format as a usage error', async () => {
    await expect(lint(['--format', 'xml', valid], io())).rejects.toBeInstanceOf(UsageError);
    const t = io();
    expect(await main(['lint', '--format', 'xml', valid], t)).toBe(2);
    expect(t.err).toMatch(/--format takes text, json, github, sarif, not "xml"/);
  });
});

describe('pairctl lint --format json', () => {
  it('gives every diagnostic with rule, severity, position, message and hint', async () => {
    const t = io();
    expect(await lint(['--format', 'json', valid, twoErrors, warningOnly], t)).toBe(1);
    const report = JSON.parse(t.out);
    expect(report).toMatchObject({ version: 1, ok: false, errors: 2, warnings: 1 });
    expect(report.files.map((f: { ok: boolean }) => f.ok)).toEqual([true, false, true]);
    expect(report.files[1].diagnostics[0]).toEqual({
      rule: 'mode-not-allowed',
      severity: 'error',
      line: 12,
      column: 11,
      message: expect.stringContaining('guest "todd" has mode "rogue"'),
      hint: expect.any(String),
    });
  });
});

describe('pairctl lint --format github', () => {
  it.each([
    ['plain', 'plain'],
    ['100%', '100%25'],
    ['a\r\nb', 'a%0D%0Ab'],
    ['%0A', '%250A'],
  ])('escapes data %j', (input, out) => expect(escapeData(input)).toBe(out));

  it.each([
    ['dir/pair.yaml', 'dir/pair.yaml'],
    ['a:b,c', 'a%3Ab%2Cc'],
    ['x\ny%', 'x%0Ay%25'],
    ['::error file=x::', '%3A%3Aerror file=x%3A%3A'],
  ])('escapes property %j', (input, out) => expect(escapeProperty(input)).toBe(out));

  it('prints one annotation per diagnostic with file, line, col and the rule as title', async () => {
    const t = io();
    expect(await lint(['--format', 'github', twoErrors, warningOnly], t)).toBe(1);
    const lines = t.out.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe(
      `::error file=${twoErrors},line=12,col=11,title=mode-not-allowed::guest "todd" has mode "rogue", which session.modes does not allow (mirror, pair)%0Ahint: use one of: mirror, pair, or add "rogue" to session.modes`,
    );
    expect(lines[2]).toMatch(new RegExp(`^::warning file=${warningOnly.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')},line=7,col=14,title=expires-past::`));
    expect(lines[3]).toBe('pairctl lint: 2 file(s), 2 error(s), 1 warning(s)');
  });

  it('keeps a hostile file name and message inside one annotation', async () => {
    const file = tempFile('x,y:z%.yaml', 'version: 1\nhosts: {}\nguests:\n  "evil\\n::error::forged": {}\n');
    const t = io();
    expect(await lint(['--format', 'github', file], t)).toBe(1);
    const lines = t.out.trimEnd().split('\n');
    for (const line of lines.slice(0, -1)) {
      expect(line).toMatch(/^::error file=[^:,]*x%2Cy%3Az%25\.yaml,line=\d+,col=\d+,title=[a-z-]+::/);
    }
    expect(lines.filter((l) => l.startsWith('::'))).toHaveLength(lines.length - 1);
  });
});

describe('pairctl lint --format sarif', () => {
  const sarifSchema = JSON.parse(readFileSync(join(root, 'test/fixtures/sarif/sarif-2.1.0-rtm.5.json'), 'utf8'));
  // The schema's own language pattern has a stray "]?" that only non-unicode RegExps accept.
  const ajv = new Ajv04.default({ allErrors: true, strict: false, validateFormats: false, unicodeRegExp: false });
  const validateSarif = ajv.compile(sarifSchema);

  it('is valid SARIF 2.1.0, with every rule and every result located', async () => {
    const rel = `test/fixtures/config/cases/${'mode-not-allowed.yaml'}`;
    const cwd = process.cwd();
    process.chdir(root);
    const t = io();
    try {
      expect(await lint(['--format', 'sarif', rel, warningOnly, join(cases, 'secret-inline.yaml')], t)).toBe(1);
    } finally {
      process.chdir(cwd);
    }
    const log = JSON.parse(t.out);
    expect(validateSarif(log), JSON.stringify(validateSarif.errors, null, 2)).toBe(true);
    expect(log.version).toBe('2.1.0');
    const run = log.runs[0];
    expect(run.tool.driver.name).toBe('pairctl');
    expect(run.tool.driver.version).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
    expect(run.tool.driver.rules.map((r: { id: string }) => r.id)).toEqual(RULE_IDS);
    for (const r of run.tool.driver.rules) expect(r.defaultConfiguration.level).toBe(RULES[r.id as keyof typeof RULES].severity);
    expect(run.results).toHaveLength(2 + 1 + 4);
    for (const result of run.results) {
      expect(run.tool.driver.rules[result.ruleIndex].id).toBe(result.ruleId);
      expect(result.locations[0].physicalLocation.region.startLine).toBeGreaterThan(0);
    }
    expect(run.results[0].locations[0].physicalLocation.artifactLocation).toEqual({ uri: rel, uriBaseId: '%SRCROOT%' });
    expect(run.results[2].locations[0].physicalLocation.artifactLocation.uri).toMatch(/^file:\/\/\//);
    expect(run.results[2].level).toBe('warning');
    // a secret is reported, never echoed
    expect(t.out).not.toContain('2GzsVnAbCdEfGhIjKlMnOpQrStU_5FxYzAbCdEfGhIjKlMn');
    expect(t.out).not.toContain('hunter2');
  });

  it('is valid SARIF for a clean file too (no results)', async () => {
    const t = io();
    expect(await lint(['--format', 'sarif', valid], t)).toBe(0);
    const log = JSON.parse(t.out);
    expect(validateSarif(log), JSON.stringify(validateSarif.errors)).toBe(true);
    expect(log.runs[0].results).toEqual([]);
  });

  it('encodes a file name with spaces and # as a URI', async () => {
    const file = tempFile('my pair#1.yaml', 'version: 2\n');
    const cwd = process.cwd();
    process.chdir(join(file, '..'));
    const t = io();
    try {
      await lint(['--format', 'sarif', 'my pair#1.yaml'], t);
    } finally {
      process.chdir(cwd);
    }
    const log = JSON.parse(t.out);
    expect(validateSarif(log)).toBe(true);
    expect(log.runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri).toBe('my%20pair%231.yaml');
  });
});

/** A GitHub stand-in on 127.0.0.1 publishing todd's key as gina's, noting every path asked for. */
async function keysServer(): Promise<{ served: string[]; server: Server; url: string }> {
  const served: string[] = [];
  const server = createServer((req, res) => {
    served.push(req.url ?? '');
    res.end(req.url === '/gina.keys' ? `${ED}\n` : '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { served, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('pairctl lint and the network', () => {
  it('fetches nothing without --online, even for github guests', async () => {
    const { served, server, url } = await keysServer();
    try {
      const t = io({ PAIRCTL_GITHUB_URL: url });
      expect(await lint([withGithub], t)).toBe(0);
      expect(served).toEqual([]);
      expect(t.out).toBe(`${withGithub}: ok (1 host, 2 guests)\n`);
      // positive control: the same server, asked with --online, is asked
      expect(await lint(['--online', withGithub], io({ PAIRCTL_GITHUB_URL: url }))).toBe(1);
      expect(served).toEqual(['/gina.keys']);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('with --online checks the GitHub keys from $PAIRCTL_GITHUB_URL', async () => {
    const { served, server, url } = await keysServer();
    try {
      const t = io({ PAIRCTL_GITHUB_URL: url });
      // gina's GitHub key is todd's: an error at gina's github: line
      expect(await lint(['--online', withGithub], t)).toBe(1);
      expect(served).toEqual(['/gina.keys']);
      expect(t.out).toContain(`${withGithub}:8:13: error: guest "gina": key SHA256:8i0TCElVfW+mLfXUHjp21e4YEl46gKrPadNqly6Gf7s from ${url}/gina.keys is also guest "todd"'s key [key-duplicate]`);
      const ok = tempFile('ok.yaml', readFileSync(withGithub, 'utf8').replace(ED, ED_C));
      const t2 = io({ PAIRCTL_GITHUB_URL: url });
      expect(await lint(['--online', ok], t2)).toBe(0);

      // What plan and apply load: the config with gina's GitHub key in it, or the error.
      const t3 = io({ PAIRCTL_GITHUB_URL: url });
      const config = await loadResolvedOrReport(ok, t3);
      expect(t3.err).toBe('');
      expect(config?.guests.find((g) => g.name === 'gina')?.keys.map((k) => [k.fingerprint, k.origin])).toEqual([
        ['SHA256:8i0TCElVfW+mLfXUHjp21e4YEl46gKrPadNqly6Gf7s', `${url}/gina.keys`],
      ]);
      const t4 = io({ PAIRCTL_GITHUB_URL: url });
      expect(await loadResolvedOrReport(withGithub, t4)).toBeUndefined();
      expect(t4.err).toMatch(/:8:13: error: .*\[key-duplicate\]\n {4}hint: /);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
