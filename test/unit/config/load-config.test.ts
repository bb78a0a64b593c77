import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig, loadConfigText } from '../../../src/config/load-config.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const keys = new URL('../../fixtures/config/keys/', import.meta.url);
const key = (name: string): string => readFileSync(new URL(name, keys), 'utf8').trim();
const ED = key('ed25519.pub');
const ED_B = key('ed25519-b.pub');
const NOW = new Date('2026-06-01T00:00:00Z');

const minimal = `version: 1
hosts:
  scotch:
    platform: linux
    ssh: local
    owner: bhorseman
guests:
  todd:
    keys: ["${ED}"]
`;

describe('loadConfigText normalises', () => {
  it('fills every default', () => {
    const { config, diagnostics } = loadConfigText(minimal, 'pair.yaml', { now: NOW });
    expect(diagnostics).toEqual([]);
    expect(config).toMatchObject({
      file: 'pair.yaml',
      version: 1,
      hosts: [
        {
          id: 'scotch',
          platform: 'linux',
          ssh: 'local',
          owner: 'bhorseman',
          sudo: false,
          tunnel: { provider: 'lan' },
          forwards: [],
          pos: { file: 'pair.yaml', line: 3, column: 3 },
        },
      ],
      guests: [{ name: 'todd', mode: 'mirror', from: [], pos: { file: 'pair.yaml', line: 8, column: 3 } }],
      session: { name: 'pair', modes: ['mirror', 'pair', 'rogue'], defaultMode: 'mirror', record: false, recordKeep: 20, ownerTmuxConfig: true },
      relays: [],
    });
    expect(config?.githubUrl).toBeUndefined();
    expect(config?.guests[0]?.expires).toBeUndefined();
    expect(config?.guests[0]?.keys).toEqual([
      {
        type: 'ssh-ed25519',
        base64: ED.split(' ')[1],
        comment: 'todd@trees',
        fingerprint: 'SHA256:8i0TCElVfW+mLfXUHjp21e4YEl46gKrPadNqly6Gf7s',
        bits: 256,
      },
    ]);
  });

  it("takes session.owner_tmux_config, and refuses a value that is not a boolean where it is written", () => {
    const off = loadConfigText(`${minimal}session:\n  owner_tmux_config: false\n`, 'pair.yaml', { now: NOW });
    expect(off.diagnostics).toEqual([]);
    expect(off.config?.session.ownerTmuxConfig).toBe(false);
    const bad = loadConfigText(`${minimal}session:\n  owner_tmux_config: "no"\n`, 'pair.yaml', { now: NOW });
    expect(bad.config).toBeUndefined();
    expect(bad.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`).join('\n')).toBe('11:22 session.owner_tmux_config must be true or false, not "no"');
  });

  it('normalises relays, each provider\'s tunnel keys, forwards, github and github_url', async () => {
    const file = join(root, 'test/fixtures/config/cases/valid-tunnels.yaml');
    const { config, diagnostics } = await loadConfig(file, { now: NOW });
    expect(diagnostics).toEqual([]);
    expect(config?.githubUrl).toBe('https://github.example.com');
    expect(config?.relays.map(({ pos, ...r }) => ({ ...r, line: pos.line }))).toEqual([
      { id: 'elefante', platform: 'linux', ssh: 'bhorseman@elefantebistro.com', sudo: false, line: 5 },
      { id: 'tejon', platform: 'linux', ssh: 'relay@203.0.113.9:2200', sudo: false, line: 9 },
    ]);
    const byId = Object.fromEntries((config?.hosts ?? []).map((h) => [h.id, h]));
    expect(byId.scotch?.tunnel).toEqual({ provider: 'vps', relay: 'elefante', port: 2222 });
    expect(byId.scotch?.forwards).toEqual([
      { name: 'rails', local: 3000, remote: 8080 },
      { name: 'vite', local: 5173, remote: 8081 },
    ]);
    expect(byId.mini?.tunnel).toEqual({ provider: 'jump', relay: 'elefante', port: 2223 });
    // ngrok picks the public side; remote mirrors local so the model stays total.
    expect(byId.box?.tunnel).toEqual({ provider: 'ngrok', authtokenEnv: 'PAIRCTL_NGROK_TOKEN', region: 'eu' });
    expect(byId.box?.forwards).toEqual([{ name: 'web', local: 8000, remote: 8000 }]);
    expect(byId.desk?.tunnel).toEqual({ provider: 'ngrok', authtokenEnv: 'NGROK_AUTHTOKEN' });
    expect(byId.desk?.forwards).toEqual([]);
    const guests = Object.fromEntries((config?.guests ?? []).map((g) => [g.name, g]));
    expect(guests.jo).toMatchObject({ github: 'jo-codes', keys: [] });
    expect(guests.sam?.github).toBe('Sam42');
    expect(guests.sam?.keys).toHaveLength(1);
    expect(guests.todd && 'github' in guests.todd).toBe(false);
  });

  it('takes a guest mode from session.default_mode and keeps file order', () => {
    const text = `${minimal}  jo:\n    keys: ["${ED_B}"]\n    mode: rogue\n  amy:\n    keys: ["${key('ed25519-c.pub')}"]\nsession:\n  default_mode: pair\n`;
    const { config } = loadConfigText(text, 'p', { now: NOW });
    expect(config?.guests.map((g) => [g.name, g.mode])).toEqual([
      ['todd', 'pair'],
      ['jo', 'rogue'],
      ['amy', 'pair'],
    ]);
  });

  it('digest is the sha256 of the file bytes', () => {
    const { config } = loadConfigText(minimal, 'p', { now: NOW });
    expect(config?.digest).toBe(createHash('sha256').update(Buffer.from(minimal, 'utf8')).digest('hex'));
  });

  it('reads expires quoted and unquoted as the same Date', () => {
    const unquoted = loadConfigText(`${minimal}    expires: 2026-12-31T18:00:00Z\n`, 'p', { now: NOW });
    const quoted = loadConfigText(`${minimal}    expires: "2026-12-31T19:00:00+01:00"\n`, 'p', { now: NOW });
    expect(unquoted.diagnostics).toEqual([]);
    expect(quoted.diagnostics).toEqual([]);
    expect(unquoted.config?.guests[0]?.expires?.toISOString()).toBe('2026-12-31T18:00:00.000Z');
    expect(quoted.config?.guests[0]?.expires?.getTime()).toBe(unquoted.config?.guests[0]?.expires?.getTime());
  });

  it('keeps the config when the only problems are warnings', () => {
    const r = loadConfigText(`${minimal}    expires: 2026-01-01T00:00:00Z\n`, 'p', { now: NOW });
    expect(r.diagnostics).toMatchObject([{ rule: 'expires-past', severity: 'warning', line: 10, column: 14 }]);
    expect(r.config?.guests[0]?.expires?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('reports every problem of a file at once: schema errors next to rule findings', () => {
    const text = `${minimal}    mode: watch\n  jo:\n    keys: ["ssh-dss AAAA"]\n    from: [10.0.0.1/8]\n`;
    const r = loadConfigText(text, 'p', { now: NOW });
    expect(r.config).toBeUndefined();
    expect(r.diagnostics.map((d) => `${d.rule} ${d.line}:${d.column}`)).toEqual([
      'schema 10:11',
      'key-dsa 12:12',
      'from-invalid 13:12',
    ]);
  });
});

describe('loadConfig reads files', () => {
  it('a missing file is a diagnostic at 1:1, not a throw', async () => {
    const r = await loadConfig('/nonexistent/pair.yaml');
    expect(r.config).toBeUndefined();
    expect(r.diagnostics).toMatchObject([
      { file: '/nonexistent/pair.yaml', line: 1, column: 1, severity: 'error', rule: 'file-unreadable' },
    ]);
  });

  it('a directory is a diagnostic too', async () => {
    const r = await loadConfig(tmpdir());
    expect(r.diagnostics).toMatchObject([{ line: 1, column: 1, rule: 'file-unreadable' }]);
  });

  it('refuses a file far larger than any pair.yaml', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pairctl-')), 'big.yaml');
    writeFileSync(file, `# ${'x'.repeat(1024 * 1024)}\n`);
    const r = await loadConfig(file);
    expect(r.diagnostics).toMatchObject([{ rule: 'file-too-large', line: 1, column: 1 }]);
  });

  it('digest is over the bytes on disk', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pairctl-')), 'pair.yaml');
    writeFileSync(file, minimal);
    const r = await loadConfig(file, { now: NOW });
    expect(r.config?.digest).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
    expect(r.config?.file).toBe(file);
  });

  it.each(['pair.yaml.example', 'examples/lan.yaml'])('%s is valid and clean', async (name) => {
    const pinned = await loadConfig(join(root, name), { now: NOW });
    expect(pinned.diagnostics).toEqual([]);
    expect(pinned.config?.hosts.length).toBeGreaterThan(0);
    expect(pinned.config?.guests.length).toBeGreaterThan(0);
    // and with today's clock it still has no errors (an expiry may pass one day: a warning only)
    const today = await loadConfig(join(root, name));
    expect(today.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  });

  it('examples/lan.yaml keys fingerprint as ssh-keygen says', async () => {
    const r = await loadConfig(join(root, 'examples/lan.yaml'), { now: NOW });
    expect(r.config?.guests.map((g) => g.keys[0]?.fingerprint)).toEqual([
      'SHA256:W0X64tSS1DZCdk7axDG4e1DkjWmMbBPbcUHZTwjsXpI',
      'SHA256:yZa8gKDvjDzbKhWaHCOKToVio7bjhhmBikd46mtgJDo',
    ]);
  });
});
