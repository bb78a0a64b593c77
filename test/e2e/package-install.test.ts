/**
 * The package as a new user gets it: `npm pack`, then `npm install -g ./pairctl-*.tgz` into a
 * fresh prefix, then pairctl run from other directories. Then examples/ci as written: the
 * workflow's `run:` steps in a repository holding pair.yaml and the packed file, and the
 * pre-commit hook's entry on the files its pattern picks. Needs `npm run build` first (as every
 * e2e file does) and the npm registry (or npm's cache) for ssh2, the one runtime dependency.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { makeTestCa, serveHttps, stopHttps } from '../unit/transport/test-ca.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'pairctl-package-'));
const prefix = join(work, 'prefix');
const env = { ...process.env, npm_config_prefix: prefix, PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}`, NO_COLOR: '1', npm_config_fund: 'false', npm_config_audit: 'false' };

function run(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  // The bundle is bigger than spawnSync's default 1 MiB of output.
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
}
/** As run() but leaving this process's event loop free (for servers the command talks to). */
function runAsync(cmd: string, args: string[], cwd: string, extraEnv: Record<string, string | undefined>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
/** A command line exactly as a workflow or hook file holds it, run by bash as GitHub's runner does. */
function bash(line: string, cwd: string): SpawnSyncReturns<string> {
  return run('bash', ['-e', '-o', 'pipefail', '-c', line], cwd);
}

let tarball: string;
let repo: string;
const lan = readFileSync(join(ROOT, 'examples/lan.yaml'), 'utf8');

describe('the npm package', () => {
  beforeAll(() => {
    const packed = run('npm', ['pack', '--pack-destination', work], ROOT);
    expect(packed.status, packed.stderr).toBe(0);
    tarball = join(work, readdirSync(work).find((f) => /^pairctl-.*\.tgz$/.test(f))!);
    // The user's repository: pair.yaml, and the packed file where examples/ci expects it.
    repo = join(work, 'repo');
    mkdirSync(join(repo, 'tools'), { recursive: true });
    copyFileSync(tarball, join(repo, 'tools', tarball.split('/').at(-1)!));
    writeFileSync(join(repo, 'pair.yaml'), lan);
  }, 300_000);

  it('holds the bundle, LICENSE, README, schema and examples; no source maps; ssh2 is its only dependency', () => {
    const list = run('tar', ['tzf', tarball], work);
    expect(list.status).toBe(0);
    const files = list.stdout.split('\n').filter(Boolean);
    for (const f of ['LICENSE', 'README.md', 'package.json', 'schemas/pair.schema.json', 'pair.yaml.example', 'examples/lan.yaml', 'examples/ci/pairctl-lint.yml', 'dist/cli/main.js'])
      expect(files).toContain(`package/${f}`);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    const pkg = JSON.parse(run('tar', ['xzOf', tarball, 'package/package.json'], work).stdout) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies)).toEqual(['ssh2']);
    // What the bundle and its loader import: node's modules and ssh2; nothing else.
    expect(files).toContain('package/dist/cli/pairctl.cjs');
    const imported = new Set<string>();
    for (const f of files.filter((x) => x.startsWith('package/dist/cli/') && /\.c?js$/.test(x))) {
      const extracted = run('tar', ['xzOf', tarball, f], work);
      expect(extracted.status, extracted.error?.message).toBe(0);
      const text = extracted.stdout;
      // require.resolve: the bundle finds ssh2's native parts where ssh2 is installed.
      for (const m of text.matchAll(/(?:\bfrom|\bimport\s*\(|\brequire(?:\.resolve)?\s*\()\s*["']((?:node:)?(?:@[a-z0-9_.-]+\/)?[a-z0-9_.-]+(?:\/[a-z0-9_.-]+)*)["']/g)) imported.add(m[1]!);
    }
    // CommonJS dependencies in the bundle (yaml, handlebars) name node's modules without node:.
    expect([...imported].filter((m) => !m.startsWith('node:') && !builtinModules.includes(m))).toEqual(['ssh2']);
    expect([...imported]).toContain('node:fs');
  });

  it('npm install -g ./pairctl-*.tgz gives a pairctl that works in any directory', async () => {
    const install = bash(`npm install -g ${tarball}`, work);
    expect(install.status, install.stderr).toBe(0);
    const elsewhere = mkdtempSync(join(tmpdir(), 'pairctl-anywhere-'));
    const version = run('pairctl', ['--version'], '/');
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^pairctl 0\.\d+\.\d+ /);
    const init = run('pairctl', ['init', '--github', 'toddtrees', '--owner', 'pairhost'], elsewhere);
    expect(init.status, init.stderr).toBe(0);
    expect(readFileSync(join(elsewhere, 'pair.yaml'), 'utf8')).toContain('$schema=./pair.schema.json');
    expect(JSON.parse(readFileSync(join(elsewhere, 'pair.schema.json'), 'utf8'))).toEqual(JSON.parse(readFileSync(join(ROOT, 'schemas/pair.schema.json'), 'utf8')));
    const validate = run('pairctl', ['validate'], elsewhere);
    expect(validate.stdout).toBe('pair.yaml: ok (1 host, 1 guest)\n');
    expect(run('pairctl', ['lint', '--strict', join(elsewhere, 'pair.yaml')], '/').status).toBe(0);
    // ssh2 loads from the installed package: a plan reaches for a real (closed) port and says why it could not.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r()));
    writeFileSync(join(elsewhere, 'far.yaml'), lan.replace('ssh: local', `ssh: "root@127.0.0.1:${port}"`));
    const plan = run('pairctl', ['plan', '-f', 'far.yaml', '-F', '/dev/null'], elsewhere);
    expect(plan.status).toBe(1);
    expect(plan.stdout).toMatch(/Could not read 1 machine:\n {2}scotch: .*refused the connection/);
    expect(run('pairctl', ['completion', 'bash'], '/').stdout).toContain('complete -o filenames -F _pairctl pairctl');
    expect(run('pairctl', ['help', 'init'], '/').stdout).toContain('pairctl init: ');
  }, 600_000);

  it('starts node without NODE_EXTRA_CA_CERTS, gives it back to child processes, and still trusts its CAs for GitHub keys', async () => {
    // npm's bin symlink, found on PATH, as a user runs it; and the file it points to, run by node itself.
    const bin = realpathSync(join(prefix, 'bin', 'pairctl'));
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-ca-'));
    const missing = join(dir, 'no-such-ca.pem');
    // Node parses NODE_EXTRA_CA_CERTS before any JavaScript runs and warns when the file is not
    // there: no warning means node was not given the variable. Control: node itself, same env.
    expect((await runAsync('node', ['-e', '0'], dir, { NODE_EXTRA_CA_CERTS: missing })).stderr).toContain(`Ignoring extra certs from \`${missing}\``);
    expect((await runAsync('node', [bin, '--version'], dir, { NODE_EXTRA_CA_CERTS: missing })).stderr).toContain(`Ignoring extra certs from \`${missing}\``);
    const version = await runAsync('pairctl', ['--version'], dir, { NODE_EXTRA_CA_CERTS: missing });
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^pairctl 0\.\d+\.\d+ /);
    expect(version.stderr).toBe('');

    // What the process and its children see: a preload (run by node before the bin's code)
    // reads the environment at start, and at exit starts a child.
    const probe = join(dir, 'probe.cjs');
    const out = join(dir, 'probe.json');
    writeFileSync(
      probe,
      `const atStart = process.env.NODE_EXTRA_CA_CERTS ?? null;
process.on('exit', () => {
  const child = require('node:child_process').execFileSync('sh', ['-c', 'printf %s "\${NODE_EXTRA_CA_CERTS-unset}"'], { encoding: 'utf8' });
  require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({ atStart, child, moved: process.env.PAIRCTL_NODE_EXTRA_CA_CERTS ?? null }));
});
`,
    );
    const corp = makeTestCa('corp');
    const probed = await runAsync('pairctl', ['--version'], dir, { NODE_EXTRA_CA_CERTS: corp.caFile, NODE_OPTIONS: `--require ${probe}` });
    expect(probed.status, probed.stderr).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({ atStart: null, child: corp.caFile, moved: null });

    // GitHub keys from an https server whose certificate only the company CA in the file signed.
    const key = readFileSync(join(ROOT, 'test/fixtures/config/keys/ed25519-b.pub'), 'utf8');
    const site = await serveHttps(corp, (path) => (path === '/gina.keys' ? key : ''));
    try {
      writeFileSync(join(dir, 'pair.yaml'), 'version: 1\nhosts:\n  h: { platform: linux, ssh: local, owner: me }\nguests:\n  gina:\n    github: gina\n');
      const lint = (extra: Record<string, string | undefined>, cmd = 'pairctl', pre: string[] = []) =>
        runAsync(cmd, [...pre, 'lint', '--online', 'pair.yaml'], dir, { PAIRCTL_GITHUB_URL: site.url, ...extra });
      // refusal: without the file the server is unknown
      const refused = await lint({ NODE_EXTRA_CA_CERTS: undefined });
      expect(refused.status).toBe(1);
      expect(refused.stdout + refused.stderr).toContain('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      // the installed pairctl with the variable trusts it, as node started on the bin does
      for (const [cmd, pre] of [['pairctl', []], ['node', [bin]]] as const) {
        const trusted = await lint({ NODE_EXTRA_CA_CERTS: corp.caFile }, cmd, [...pre]);
        expect(trusted.stdout + trusted.stderr, cmd).toBe('pair.yaml: ok (1 host, 1 guest)\n');
        expect(trusted.status).toBe(0);
      }
    } finally {
      await stopHttps(site.server);
    }
  }, 600_000);

  it("examples/ci: the workflow's run steps, as written, install pairctl and lint pair.yaml", () => {
    const wf = parse(readFileSync(join(ROOT, 'examples/ci/pairctl-lint.yml'), 'utf8')) as { jobs: Record<string, { steps: Array<{ run?: string }> }> };
    const steps = Object.values(wf.jobs).flatMap((j) => j.steps).filter((s) => s.run).map((s) => s.run!);
    expect(steps.length).toBeGreaterThanOrEqual(2);
    for (const step of steps) {
      const r = bash(step, repo);
      expect(r.status, `${step}\n${r.stdout}${r.stderr}`).toBe(0);
    }
    // The control: the same lint step on a broken pair.yaml fails and annotates the line.
    const lint = steps.find((s) => s.startsWith('pairctl lint'))!;
    writeFileSync(join(repo, 'pair.yaml'), lan.replace('mode: pair', 'mode: hover'));
    const broken = bash(lint, repo);
    expect(broken.status).toBe(1);
    expect(broken.stdout).toMatch(/^::error file=pair\.yaml,line=\d+/m);
    writeFileSync(join(repo, 'pair.yaml'), lan);
  }, 600_000);

  it("examples/ci: the pre-commit hook's entry, on the files its pattern picks", () => {
    const cfg = parse(readFileSync(join(ROOT, 'examples/ci/pre-commit-config.yaml'), 'utf8')) as { repos: Array<{ hooks: Array<{ entry: string; files: string }> }> };
    const hook = cfg.repos[0]!.hooks[0]!;
    mkdirSync(join(repo, 'deploy'), { recursive: true });
    writeFileSync(join(repo, 'deploy', 'pair.yaml'), lan);
    writeFileSync(join(repo, 'repair.yaml'), 'not: pairctl\n');
    const picked = ['pair.yaml', 'deploy/pair.yaml', 'repair.yaml', 'README.md'].filter((f) => new RegExp(hook.files).test(f));
    expect(picked).toEqual(['pair.yaml', 'deploy/pair.yaml']);
    // pre-commit runs the entry with the staged files that match appended.
    const ok = bash(`${hook.entry} ${picked.join(' ')}`, repo);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    writeFileSync(join(repo, 'deploy', 'pair.yaml'), lan.replace('version: 1', 'version: 7'));
    const bad = bash(`${hook.entry} ${picked.join(' ')}`, repo);
    expect(bad.status).toBe(1);
    expect(bad.stdout + bad.stderr).toContain('deploy/pair.yaml');
  }, 600_000);
});
