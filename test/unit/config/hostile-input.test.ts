/**
 * Hostile pair.yaml files. Random and hostile values (shell metacharacters, quotes, newlines, NUL,
 * unicode, very long strings, deep nesting, alias bombs) go into every field of a complete file.
 * Lint must end within a second with diagnostics and no stack trace, in every format. Whatever
 * passes validation is then rendered, and the renderings are checked by the programs that will
 * read them: every authorized_keys line by OpenSSH's ssh-keygen, and the join program, every
 * probe snippet and every change script by shellcheck and sh -n.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { CliIO } from '../../../src/cli/io.js';
import { main } from '../../../src/cli/main.js';
import { loadConfigText } from '../../../src/config/load-config.js';
import type { PairConfig } from '../../../src/config/model.js';
import { HOST_ID_PATTERN, OWNER_PATTERN, SSH_TARGET_PATTERN } from '../../../src/config/schema.js';
import { authorizedKeyLines } from '../../../src/graph/authorized-keys.js';
import { buildGraph } from '../../../src/graph/build-graph.js';
import { kindOf } from '../../../src/resources/registry.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHNdfJhzu3dxa1iwaciuGwMJvnOmhb2yQVvTW4IMuQWY';
const ED_B = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPQzh/nUNXBVtgvGKFErrF4jSOHy4osI0+0BF7KYc+3k';
const RSA =
  'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDiDmKqEcdKD6A9WBgh63CVWzpHKw513tTLrxBt5aD7kl7xqg58bOV55t8tVnnWsJPiOkIkwovEeQpNGMyQriQcSVzzj4gdXEDwgWsEXBPjVJ2mE3WiFWD5t/fV3F+r2pJS+7EpwyHo9sMfxFCbczfRJ3aVObpnKDsJOmIuKRtprTQ+25xqGHDwF8voFUJYsEYCB1SGHrxfUjPSwNCJTmHbSGJFIiRrk/5uom2BUooDSpIAhc/rNV/x6MQ3AWWgsCY3r+96zNs9441tBwF9mlldBbySS3j1bXcAb2ZYloJXthaPiVwHsdJG1xm5tTzolLFPClzwxKzXiJceTNu7eVON';

/** A complete, valid file: every field the schema has is present somewhere. */
function baseDoc(): Record<string, unknown> {
  return {
    version: 1,
    github_url: 'https://github.example.com',
    relays: { elefante: { platform: 'linux', ssh: 'bhorseman@elefantebistro.com', sudo: true } },
    hosts: {
      scotch: {
        platform: 'linux',
        ssh: 'local',
        owner: 'bhorseman',
        sudo: true,
        tunnel: { provider: 'vps', relay: 'elefante', port: 2222 },
        forwards: [{ name: 'rails', local: 3000, remote: 8080 }],
      },
      box: { platform: 'linux', ssh: 'root@192.0.2.7:22', owner: 'jo', tunnel: { provider: 'ngrok', authtoken_env: 'NGROK_AUTHTOKEN', region: 'eu' } },
      mini: { platform: 'macos', ssh: 'mini', owner: '_pairhost', tunnel: { provider: 'jump', relay: 'elefante', port: 2223 } },
    },
    guests: {
      // No `from` here: a vps or ngrok tunnel cannot enforce it (from-unenforceable); see `legal`.
      todd: { keys: [`${ED} todd@trees`], mode: 'mirror', expires: '2030-12-31T18:00:00Z' },
      jo: { keys: [`${ED_B} jo@laptop`, `${RSA} jo@old`], mode: 'pair', github: 'jo-codes' },
    },
    session: { name: 'pair', modes: ['mirror', 'pair', 'rogue'], default_mode: 'mirror' },
  };
}

type Path = (string | number)[];

/** Every value of the base file, by path (maps and lists too, so whole sections get replaced). */
function allPaths(node: unknown, path: Path = []): Path[] {
  const out: Path[] = path.length > 0 ? [path] : [];
  if (Array.isArray(node)) node.forEach((v, i) => out.push(...allPaths(v, [...path, i])));
  else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) out.push(...allPaths(v, [...path, k]));
  return out;
}
const PATHS = allPaths(baseDoc());
/** Maps whose keys are names (ids), so renaming a key is a mutation too. */
const NAMED_MAPS: Path[] = [['relays'], ['hosts'], ['guests']];

const HOSTILE: readonly string[] = [
  '$(id)', '`id`', '${IFS}', "'; rm -rf / #", '"; reboot; "', "it's", 'a"b', 'a\\', '\\"', '$HOME', '$((1+1))',
  'a\nb', 'a\r\nb', 'x\u0000y', '\u0000', '\t', '\u001b[31mred', '\u2028', '\u202eevil', 'zero\u200bwidth', 'é', '🙂', 'İ',
  '%0A', '::error::forged', '-oProxyCommand=sh', '--help', '../../etc/passwd', '/etc/shadow', '*', '?', '[a-z]', '!x', 'a,b',
  'a b', '#x', '&x', '|x', ';x', '>x', '<x', '~', '{a,b}', 'command="sh"', 'restrict', 'pair-todd', 'root', '0', '-1', '',
  ' ', 'NaN', 'null', 'true', 'yes', '2026-02-30T00:00:00Z', '10.0.0.1/8', '*.example.com', 'local', 'mirror', 'elefante',
  '2GzsVnAbCdEfGhIjKlMnOpQrStU_5FxYzAbCdEfGhIjKlMn', '-----BEGIN OPENSSH PRIVATE KEY-----',
];

const long = fc.integer({ min: 300, max: 20_000 }).chain((n) => fc.constantFrom('x'.repeat(n), '$('.repeat(n / 2), 'é'.repeat(n)));
const nested: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, fc.constantFrom(...HOSTILE), fc.integer(), tie('list'), tie('map')),
  list: fc.array(tie('node'), { maxLength: 3 }),
  map: fc.dictionary(fc.constantFrom(...HOSTILE, 'keys', 'ssh', 'port'), tie('node'), { maxKeys: 3 }),
})).node;

/** Values that match a field's pattern: the ones that get past validation and into renderings. */
const patterned = fc.oneof(
  fc.stringMatching(new RegExp(HOST_ID_PATTERN)),
  fc.stringMatching(new RegExp(OWNER_PATTERN)),
  fc.stringMatching(new RegExp(SSH_TARGET_PATTERN)).map((s) => s.slice(0, 60)),
  // GITHUB_USER_PATTERN without its lookahead (fast-check cannot generate those); '--' is then refused
  fc.stringMatching(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$/),
);
/** A real key with a hostile comment: valid, and its comment is free text. */
const keyWithComment = fc.tuple(fc.constantFrom(ED, ED_B, RSA), fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ unit: 'binary', maxLength: 30 }))).map(
  ([key, comment]) => `${key} ${comment}`,
);

const value: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom(...HOSTILE), weight: 4 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
  { arbitrary: patterned, weight: 3 },
  { arbitrary: keyWithComment, weight: 2 },
  { arbitrary: fc.integer({ min: -10, max: 70_000 }), weight: 1 },
  { arbitrary: fc.constantFrom<unknown>(true, false, null, 1.5, 1e308, [], {}), weight: 1 },
  { arbitrary: long, weight: 1 },
  { arbitrary: nested, weight: 1 },
);

type Mutation =
  | { kind: 'set'; path: Path; value: unknown }
  | { kind: 'rename'; map: Path; index: number; name: unknown }
  | { kind: 'all'; steps: Mutation[] };

const set = (path: Path, v: fc.Arbitrary<unknown>): fc.Arbitrary<Mutation> => v.map((value) => ({ kind: 'set', path, value }));
const cidr = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([ip, bits]) => `${ip}/${bits}`),
);
/**
 * Values the schema and rules accept, chosen at the edges of each pattern: these are the ones
 * that reach the renderings, so they are what the second half of the property tests.
 */
const legal: fc.Arbitrary<Mutation> = fc.oneof(
  set(['guests', 'todd', 'keys', 0], keyWithComment),
  set(['guests', 'jo', 'keys', 1], keyWithComment),
  set(['hosts', 'scotch', 'ssh'], fc.stringMatching(new RegExp(SSH_TARGET_PATTERN)).map((v) => v.slice(0, 60))),
  set(['relays', 'elefante', 'ssh'], fc.stringMatching(new RegExp(SSH_TARGET_PATTERN)).map((v) => v.slice(0, 60))),
  set(['hosts', 'scotch', 'owner'], fc.stringMatching(new RegExp(OWNER_PATTERN)).filter((v) => !v.startsWith('pair-'))),
  set(['hosts', 'mini', 'owner'], fc.stringMatching(new RegExp(OWNER_PATTERN)).filter((v) => !v.startsWith('pair-'))),
  set(['session', 'name'], fc.stringMatching(new RegExp(HOST_ID_PATTERN))),
  set(['hosts', 'scotch', 'forwards', 0, 'name'], fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/)),
  set(['hosts', 'scotch', 'forwards', 0, 'local'], fc.integer({ min: 1, max: 65535 })),
  set(['hosts', 'box', 'tunnel', 'authtoken_env'], fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,30}$/)),
  // `from` is legal only where every tunnel can enforce it: jump and lan, not vps or ngrok.
  set(['guests', 'todd', 'from'], fc.uniqueArray(cidr, { minLength: 1, maxLength: 4 })).map((from) => ({
    kind: 'all' as const,
    steps: [from, { kind: 'set' as const, path: ['hosts', 'scotch', 'tunnel', 'provider'], value: 'jump' }, { kind: 'set' as const, path: ['hosts', 'box', 'tunnel'], value: { provider: 'lan' } }],
  })),
  set(['guests', 'todd', 'expires'], fc.date({ min: new Date('2027-01-01'), max: new Date('2999-12-31'), noInvalidDate: true }).map((d) => d.toISOString())),
  set(['guests', 'jo', 'github'], fc.stringMatching(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$/)),
  fc.record({ kind: fc.constant('rename' as const), map: fc.constant<Path>(['guests']), index: fc.nat(2), name: fc.stringMatching(/^[a-z][a-z0-9-]{0,23}$/) }),
  fc.record({ kind: fc.constant('rename' as const), map: fc.constant<Path>(['hosts']), index: fc.nat(2), name: fc.stringMatching(new RegExp(HOST_ID_PATTERN)) }),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: legal, weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(...PATHS), value }), weight: 5 },
  {
    arbitrary: fc.record({ kind: fc.constant('rename' as const), map: fc.constantFrom(...NAMED_MAPS), index: fc.nat(2), name: fc.oneof(fc.constantFrom(...HOSTILE), patterned) }),
    weight: 1,
  },
);

type Container = Record<string | number, unknown>;
const child = (node: unknown, seg: string | number): unknown =>
  node && typeof node === 'object' ? (node as Container)[seg] : undefined;

function apply(doc: Record<string, unknown>, m: Mutation): void {
  if (m.kind === 'all') {
    for (const step of m.steps) apply(doc, step);
    return;
  }
  if (m.kind === 'set') {
    const parent = m.path.slice(0, -1).reduce<unknown>(child, doc);
    if (parent && typeof parent === 'object') (parent as Container)[m.path[m.path.length - 1] as string | number] = m.value;
    return;
  }
  const map = m.map.reduce<unknown>(child, doc) as Container | undefined;
  if (!map || typeof map !== 'object' || Array.isArray(map)) return;
  const keys = Object.keys(map);
  const old = keys[m.index % Math.max(1, keys.length)];
  if (old === undefined) return;
  const renamed: Record<string, unknown> = {};
  for (const k of keys) renamed[k === old ? String(m.name) : k] = map[k];
  for (const k of keys) delete map[k];
  Object.assign(map, renamed);
}

const hostileDoc = fc.array(mutation, { minLength: 1, maxLength: 3 }).map((ms) => {
  const doc = baseDoc();
  for (const m of ms) apply(doc, m);
  return stringify(doc, { lineWidth: 0 });
});

/** Every shell text a valid config renders to: the join program, each probe, each change script. */
function shellTexts(config: PairConfig): string[] {
  const out: string[] = [];
  for (const machine of buildGraph(config)) {
    for (const r of machine.resources) {
      const kind = kindOf(r.kind);
      out.push(kind.probe(r.spec));
      out.push(kind.diff(r.spec, kind.parse('', r.spec), { wanted: true, recorded: false }).script);
      if (r.address === 'file["/usr/local/libexec/pairctl/join"]') out.push((r.spec as { content: string }).content);
    }
  }
  return out.filter((s) => s.trim() !== '');
}

/** CPU milliseconds this process spent since `since` (process.cpuUsage()). */
function cpuMsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

/**
 * Lints one text and checks the outcome. "Within a second" is measured as this process's CPU
 * time, which is lint's own work: the wall clock also counts whatever else shares the
 * machine's two cores (other test workers, other engineers' labs) and failed under load. A
 * hang is caught by the test's own timeout.
 */
function checkDiagnostics(text: string): ReturnType<typeof loadConfigText> {
  // The best of up to three runs: noise from a busy machine only ever adds CPU time (cores shared
  // with other labs, cold JIT on the first run; measured 1.0-1.8 s for a ~0.6 s lint at load 10-14),
  // while a slow path in lint shows in every run.
  let best = Infinity;
  let result: ReturnType<typeof loadConfigText> | undefined;
  for (let run = 0; run < 3 && best >= 1000; run++) {
    const cpu = process.cpuUsage();
    result = loadConfigText(text, 'hostile.yaml', { now: NOW });
    best = Math.min(best, cpuMsSince(cpu));
  }
  expect(best, 'lint CPU time (ms), best of up to 3 runs').toBeLessThan(1000);
  if (!result) throw new Error('lint did not run');
  for (const d of result.diagnostics) {
    expect(d.rule, d.message).not.toBe('internal-error');
    expect(d.line).toBeGreaterThanOrEqual(1);
    expect(d.column).toBeGreaterThanOrEqual(1);
    expect(d.message.length).toBeGreaterThan(0);
    expect(d.message).not.toMatch(/\n\s+at /);
  }
  expect(result.config === undefined).toBe(result.diagnostics.some((d) => d.severity === 'error'));
  return result;
}

describe('hostile values in every field', () => {
  it('lint ends within a second with diagnostics; whatever passes renders into files OpenSSH and sh read as meant', () => {
    const scripts = new Map<string, string>();
    const keyLines: string[] = [];
    const fingerprints: string[] = [];
    let valid = 0;
    let invalid = 0;
    // A new seed each run (more inputs over time), named in every failure below so that one can be
    // replayed: the checks after the property use what the whole run generated.
    const seed = Math.floor(Math.random() * 2 ** 31);
    const replay = `fast-check seed ${seed} (pass { seed } to fc.assert to replay)`;
    fc.assert(
      fc.property(hostileDoc, (text) => {
        const { config } = checkDiagnostics(text);
        if (!config) {
          invalid++;
          return;
        }
        valid++;
        for (const guest of config.guests) {
          keyLines.push(...authorizedKeyLines(guest));
          fingerprints.push(...guest.keys.map((k) => k.fingerprint));
        }
        for (const s of shellTexts(config)) scripts.set(createHash('sha256').update(s).digest('hex').slice(0, 16), s);
      }),
      { numRuns: 250, seed },
    );
    // Both sides were exercised: hostile values refused, and hostile-but-legal values rendered.
    // About 23% of generated files are valid (8 runs on 2026-12-03: 52-63 of 250; binomial sd ~6.7):
    // the bound of 40 that stood here fails by chance about once in 200 runs; 25 is ~5 sd below.
    expect(invalid, replay).toBeGreaterThan(80);
    expect(valid, replay).toBeGreaterThan(25);

    const dir = mkdtempSync(join(tmpdir(), 'pairctl-hostile-'));
    const keysFile = join(dir, 'authorized_keys');
    writeFileSync(keysFile, `${keyLines.join('\n')}\n`);
    // ssh-keygen prints one line per key it could read; a line it could not read is missing.
    const listed = execFileSync('ssh-keygen', ['-l', '-f', keysFile], { encoding: 'utf8' }).trimEnd().split('\n');
    expect(listed.map((l) => l.split(' ')[1]), replay).toEqual(fingerprints);
    for (const line of listed) expect(line, replay).toMatch(/^\d+ SHA256:\S+ pairctl:[a-z][a-z0-9-]*:\d+ \((ED25519|RSA)\)$/);

    // Each text becomes a function, as the engine's wholeScript wraps what it runs; twenty to a
    // file, because shellcheck's cost is mostly per file.
    const bodies = [...scripts.values()];
    expect(bodies.length, replay).toBeGreaterThan(100);
    const files: string[] = [];
    for (let i = 0; i < bodies.length; i += 20) {
      const file = join(dir, `scripts-${i}.sh`);
      const fns = bodies.slice(i, i + 20).map((body, j) => `pairctl_${i + j}() {\n${body}\n}\n`);
      writeFileSync(file, `#!/bin/sh\nset -eu\n${fns.join('')}`);
      files.push(file);
    }
    const syntax = spawnSync('sh', ['-c', 'for f; do sh -n "$f" || echo "sh -n failed: $f"; done', 'sh', ...files], { encoding: 'utf8' });
    expect(`${syntax.stdout}${syntax.stderr}`, replay).toBe('');
    // SC2100 ("use $((..)) for arithmetics") is excluded: the quoting helper leaves a safe word
    // bare, and shellcheck guesses that SESSION=t-2d5 meant t minus 2d5; sh assigns the string.
    const lint = spawnSync('shellcheck', ['-s', 'sh', '-S', 'warning', '-e', 'SC2100', '-f', 'gcc', ...files], { encoding: 'utf8' });
    expect(lint.stdout, `${replay}\n${lint.stderr}`).toBe('');
    expect(lint.status, replay).toBe(0);
    // The limit only catches a hang (each lint's own CPU time is the assertion above): on a busy
    // 2-core machine (load ~17) the 250 runs took 103 s here, before this change as well (>140 s).
  }, 300_000);
});

describe('hostile documents', () => {
  const deep = (n: number, open: string, close: string, inner = '1'): string => `${open.repeat(n)}${inner}${close.repeat(n)}`;
  const laughs = (levels: number): string => {
    const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i < levels; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
    return `${lines.join('\n')}\n`;
  };
  const base = stringify(baseDoc());
  const cases: [string, string][] = [
    ['nested flow lists, 100 deep', `version: 1\nhosts: ${deep(100, '[', ']')}\n`],
    ['nested flow lists, 50 000 deep', `version: 1\nhosts: ${deep(50_000, '[', ']')}\n`],
    ['nested flow maps, 20 000 deep', `version: 1\nguests: ${deep(20_000, '{a: ', '}')}\n`],
    ['nested block maps, 300 deep', `version: 1\nhosts:\n${Array.from({ length: 300 }, (_, i) => `${' '.repeat(i + 1)}k${i}:`).join('\n')} x\n`],
    ['billion laughs at the top', laughs(9)],
    ['billion laughs inside guests', `${base}x: 1\n`.replace('guests:', `${laughs(6).replace(/^/gm, '  ')}guests:`)],
    ['alias of an alias chain in keys', `version: 1\nk: &k ["${ED} x"]\nhosts: {h: {platform: linux, ssh: local, owner: me}}\nguests: {a: {keys: *k}, b: {keys: *k}}\n`],
    ['merge bomb', `version: 1\nb0: &b0 {x: 1}\n${Array.from({ length: 30 }, (_, i) => `b${i + 1}: &b${i + 1} {<<: [*b${i}, *b${i}, *b${i}]}`).join('\n')}\n`],
    ['recursive-looking anchor', 'version: 1\nhosts: &h {a: *h}\n'],
    ['a 250 KB value', `version: 1\nhosts: {h: {platform: linux, ssh: local, owner: ${'a'.repeat(250_000)}}}\n`],
    ['a 1.1 MB file', `# ${'x'.repeat(1_200_000)}\n`],
    ['NUL and BOM', `\ufeffversion: 1\u0000\nhosts: {}\n`],
    ['lone surrogates', `version: 1\nhosts: {"\ud800": {}}\nguests: {"\udfff": {keys: ["\ud800"]}}\n`],
    // as many entries as fit under the size limit, each a duplicate of the first
    ['2 500 guests', `version: 1\nhosts: {h: {platform: linux, ssh: local, owner: me}}\nguests:\n${Array.from({ length: 2_500 }, (_, i) => `  g${i}: {keys: ["${ED} g"]}`).join('\n')}\n`],
    ['2 500 keys', `version: 1\nhosts: {h: {platform: linux, ssh: local, owner: me}}\nguests:\n  g:\n    keys:\n${Array.from({ length: 2_500 }, () => `      - ${ED} x`).join('\n')}\n`],
    ['20 000 tiny keys in one map', `version: 1\nhosts:\n${Array.from({ length: 20_000 }, (_, i) => `  h${i}: 1`).join('\n')}\n`],
  ];

  it.each(cases)('%s: diagnostics within a second, no internal error', (_name, text) => {
    const { config, diagnostics } = checkDiagnostics(text);
    expect(config === undefined || diagnostics.length === 0 || diagnostics.every((d) => d.severity === 'warning')).toBe(true);
  });

  it('the CLI reports hostile files in every format without a stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-hostile-cli-'));
    const samples = fc.sample(hostileDoc, { numRuns: 25, seed: 42 });
    const files = [...samples, ...cases.slice(0, 9).map(([, t]) => t)].map((text, i) => {
      const file = join(dir, `h${i}.yaml`);
      writeFileSync(file, text);
      return file;
    });
    for (const format of ['text', 'json', 'github', 'sarif']) {
      let out = '';
      let err = '';
      const io: CliIO = { stdout: (t) => void (out += t), stderr: (t) => void (err += t), interactive: false, prompt: async () => '', env: {} };
      // CPU time, not wall time: this failed when a busy machine stretched the wall clock.
      const cpu = process.cpuUsage();
      const code = await main(['lint', '--format', format, ...files], io);
      expect(cpuMsSince(cpu), 'lint CPU time (ms)').toBeLessThan(files.length * 1000);
      expect([0, 1]).toContain(code);
      expect(err).toBe('');
      expect(out).not.toMatch(/\n\s+at .*:\d+:\d+\)?\n/);
      if (format === 'json' || format === 'sarif') expect(() => JSON.parse(out)).not.toThrow();
      if (format === 'github') {
        const lines = out.trimEnd().split('\n');
        // every line is one annotation (nothing in a value can start a line) or the summary
        expect(lines.slice(0, -1).every((l) => /^::(error|warning) file=[^,:]+,line=\d+,col=\d+,title=[a-z-]+::/.test(l))).toBe(true);
        expect(lines.at(-1)).toMatch(/^pairctl lint: \d+ file\(s\)/);
      }
    }
    // Bounded by the per-file budget above, not by vitest's 5 s default: on a loaded machine
    // (measured: load 17 on 2 cores) the four runs alone take over 5 s, on main as well.
  }, 4 * 40 * 1000);
});
