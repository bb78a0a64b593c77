#!/usr/bin/env node
// Bundles the compiled CLI into one CommonJS file, dist/cli/pairctl.cjs, and replaces
// dist/cli/main.js (the bin) with a small loader that compiles it with V8's code cache.
//
// Why one CommonJS file and a code cache: most of a cold `pairctl lint` was node parsing and
// compiling pairctl's JavaScript (the bundle's chunks, then yaml's and the validators' functions
// on their first call) and resolving ES module chunks one by one. Node 20 has no compile cache
// for ES modules (module.enableCompileCache is node 22), but vm.Script takes V8's cachedData
// for a CommonJS script. The build runs the common commands in-process once (warm-up below),
// so the cache holds the functions they compile, and writes it beside the bundle. At run time a
// cache V8 rejects (another node version or V8 flags) means compiling from source; the loader
// (scripts/bin-loader.cjs) then writes a fresh one if the installation is the user's own. Modules a command does not need are never run (esbuild
// wraps each lazily-imported module in an init function), so `--version` still does not run
// yaml or the plan engine.
//
// ssh2's JavaScript is bundled too (see ssh2NativeParts); it stays the package's dependency.
// The bundle sits in dist/cli/, where the files the code finds relative to itself still are:
// ../../package.json, and the handlebars templates, which are copied beside it.
// Usage (after tsc, copy-templates and build-validators): node scripts/bundle.mjs
import { chmodSync, cpSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { Script } from 'node:vm';
import { build } from 'esbuild';
import { startWarmUpServer } from './warm-up-ssh.mjs';

const out = 'dist/cli';
const bundle = resolve(out, 'pairctl.cjs');
const entry = readFileSync(`${out}/main.js`, 'utf8');
/** Words only the loader (scripts/bin-loader.cjs) has, so a second bundle run without tsc is caught. */
const LOADER_MARK = 'pairctl loader (scripts/bundle.mjs copies this file';
if (entry.includes(LOADER_MARK)) throw new Error(`${out}/main.js is already the loader: run tsc first (npm run build)`);
// tsc's output is ES modules: the package.json that makes the loader CommonJS goes in after the bundle.
for (const f of readdirSync(out)) if (f.startsWith('chunk-') || f.startsWith('pairctl.cjs') || f === 'package.json') rmSync(`${out}/${f}`);
await build({
  entryPoints: [`${out}/main.js`],
  outfile: bundle,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  plugins: [ssh2NativeParts()],
  // import() of node's own modules becomes require(): a vm.Script has no ES module loader.
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': '__pairctlModuleUrl' },
  banner: { js: "const __pairctlModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  sourcemap: true,
  logLevel: 'warning',
});
// The shebang of main.ts is no script syntax inside the function wrapper the loader compiles.
writeFileSync(bundle, readFileSync(bundle, 'utf8').replace(/^#!.*\n/, ''));
for (const f of readdirSync('dist/templates')) if (f.endsWith('.hbs')) cpSync(`dist/templates/${f}`, `${out}/${f}`);

/**
 * ssh2 is bundled (its ~40 files were compiled without the code cache on every plan), but its
 * native parts stay in its package: the crypto binding and cpu-features (which picks the cipher
 * order) are required from where ssh2 is installed, as ssh2 itself would find them.
 */
function ssh2NativeParts() {
  return {
    name: 'ssh2-native-parts',
    setup(b) {
      b.onResolve({ filter: /^cpu-features$|sshcrypto\.node$/ }, (args) => ({ path: args.path, namespace: 'ssh2-native' }));
      b.onLoad({ filter: /.*/, namespace: 'ssh2-native' }, (args) => {
        const from = args.path === 'cpu-features' ? 'cpu-features' : './protocol/crypto/build/Release/sshcrypto.node';
        return { contents: `module.exports = require('node:module').createRequire(require.resolve('ssh2'))(${JSON.stringify(from)});`, loader: 'js' };
      });
    },
  };
}

/** Compiles the bundle exactly as the loader does (same text, same file name) and runs its top level. */
function load(cachedData) {
  const source = readFileSync(bundle, 'utf8');
  const script = new Script(Module.wrap(source), { filename: bundle, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  return { script, exports: module.exports };
}

// Warm-up: the commands run on every machine and in CI hooks, run in-process with their output
// dropped, so their functions are compiled when the cache is taken. Each must succeed: a warm-up
// that fails would cache an error path.
const { script, exports } = load(undefined);
const io = { stdout: () => {}, stderr: () => {}, interactive: false, prompt: async () => '', env: {}, columns: () => undefined };
const examples = readdirSync('examples').filter((f) => f.endsWith('.yaml')).map((f) => `examples/${f}`);
const warmups = [
  ['--version'],
  ['--help'],
  ['help', 'plan'],
  ['validate', '-f', 'pair.yaml.example'],
  ['lint', 'pair.yaml.example'],
  ...['json', 'github', 'sarif'].map((format) => ['lint', '--format', format, 'pair.yaml.example']),
  ['lint', ...examples],
];
for (const argv of warmups) {
  const code = await exports.main(argv, io);
  if (code !== 0) throw new Error(`warm-up \`pairctl ${argv.join(' ')}\` exited ${code}`);
}
// And one plan over ssh, against a server in this process that runs nothing (warm-up-ssh.mjs):
// the ssh client and the plan engine are most of a plan's own CPU when compiled from source.
const warm = await startWarmUpServer();
try {
  const argv = ['plan', '--ssh-config', warm.sshConfig, '-f', warm.pairYaml];
  let printed = '';
  const code = await exports.main(argv, { ...io, stdout: (t) => void (printed += t), stderr: (t) => void (printed += t) });
  // The empty machine lacks what pairctl does not make (the owner's account, systemd, apt), so
  // its plan is blocked (exit 1), with what it would add: proof that it was read and compared.
  if (code !== 1 || warm.execs() !== 1 || !/^Plan blocked: 1 machine has errors .* Otherwise: [1-9]\d* to add/m.test(printed)) {
    throw new Error(`warm-up \`pairctl plan\` over ssh exited ${code} after ${warm.execs()} exec(s):\n${printed}`);
  }
} finally {
  await warm.close();
}
const cache = script.createCachedData();
writeFileSync(`${bundle}.cache.tmp`, cache);
renameSync(`${bundle}.cache.tmp`, `${bundle}.cache`);
if (load(cache).script.cachedDataRejected) throw new Error('V8 rejected the code cache the build just wrote');

// The loader is CommonJS (dist/cli/package.json says so): node starts a CommonJS entry ~15 ms
// sooner than an ES module one, which would set up the ES module loader first.
writeFileSync(`${out}/package.json`, `${JSON.stringify({ type: 'commonjs' })}\n`);
cpSync('scripts/bin-loader.cjs', `${out}/main.js`);
// The bin file runs directly too (npm also sets this when it installs or links the package).
chmodSync(`${out}/main.js`, 0o755);
process.stdout.write(`bundled ${out}/pairctl.cjs (code cache ${cache.length} bytes) behind ${out}/main.js\n`);
