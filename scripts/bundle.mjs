#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js) with esbuild, in place, so that starting a command
// reads a few files instead of resolving ~150 modules one by one (~90 ms of a converged
// `pairctl plan`). Each command stays its own chunk (code splitting on main.js's dynamic
// imports), so `validate` does not parse the plan engine. ssh2 is left to node_modules: it loads
// its native crypto binding relative to its own files.
//
// The chunks sit next to main.js, at the depth of the modules they came from, so the files code
// finds relative to itself are still there: ../../package.json, and the handlebars templates,
// which are copied beside the chunks.
// Usage (after tsc, copy-templates and build-validators): node scripts/bundle.mjs
import { chmodSync, cpSync, readdirSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const out = 'dist/cli';
for (const f of readdirSync(out)) if (f.startsWith('chunk-')) rmSync(`${out}/${f}`);
await build({
  entryPoints: { main: `${out}/main.js` },
  outdir: out,
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunk-[hash]',
  external: ['ssh2'],
  sourcemap: true,
  // CommonJS dependencies (yaml's peers, handlebars) call require(); give the bundle a real one.
  banner: { js: "import { createRequire as __pairctlCreateRequire } from 'node:module'; const require = __pairctlCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
for (const f of readdirSync('dist/templates')) if (f.endsWith('.hbs')) cpSync(`dist/templates/${f}`, `${out}/${f}`);
// The bin file runs directly too (npm also sets this when it installs or links the package).
chmodSync(`${out}/main.js`, 0o755);
process.stdout.write(`bundled ${out}/main.js\n`);
