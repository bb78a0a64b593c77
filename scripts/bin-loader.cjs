#!/bin/sh
":" //; if [ -n "${NODE_EXTRA_CA_CERTS-}" ]; then PAIRCTL_NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS; export PAIRCTL_NODE_EXTRA_CA_CERTS; unset NODE_EXTRA_CA_CERTS; else unset PAIRCTL_NODE_EXTRA_CA_CERTS; fi; exec node "$0" "$@"
// pairctl loader (scripts/bundle.mjs copies this file to dist/cli/main.js, the bin): compiles the
// bundle, pairctl.cjs, with the V8 code cache beside it, then runs the command line.
//
// The line above is for /bin/sh (to JavaScript it is a string and a comment): run as a program,
// the bin starts node on this same file, as `#!/usr/bin/env node` would, but with
// NODE_EXTRA_CA_CERTS renamed: node 20 parses the whole file it names at every start (~85 ms of
// CPU for a system's CA bundle), and only a few commands open TLS. The bundle's start puts the
// variable back and adds the file's CAs where pairctl connects (src/transport/extra-ca-env.ts).
// `node main.js` runs this file directly: node loads the file itself and nothing is renamed.
//
// The build writes the cache with its own node. Another node version (or V8 flags, as from
// NODE_OPTIONS) makes V8 reject it, and the bundle is compiled from source. Then, if this
// installation belongs to the user running it (it and each folder above it owned by that user
// or root, none writable by anyone else), a fresh cache is written, atomically, as the process
// exits, so the next run is fast again. An installation anyone else could change is left alone:
// root never writes where another user could redirect the write.
'use strict';
const { lstatSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { dirname } = require('node:path');
const { Script } = require('node:vm');

const bundle = `${__dirname}/pairctl.cjs`;
const cacheFile = `${bundle}.cache`;
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
const script = new Script(Module.wrap(readFileSync(bundle, 'utf8')), { filename: bundle, cachedData });
if (cachedData === undefined || script.cachedDataRejected) refreshCacheOnExit();
const loaded = { exports: {} };
script.runInThisContext()(loaded.exports, Module.createRequire(bundle), loaded, bundle, __dirname);
loaded.exports.start();

/** This folder and every one above it: real folders, owned by us or root, writable by no one else. */
function ownFolder(dir) {
  const uid = process.geteuid ? process.geteuid() : -1;
  for (let d = dir; ; d = dirname(d)) {
    const st = lstatSync(d);
    if (!st.isDirectory() || (st.mode & 0o022) !== 0) return false;
    if (d === dir ? st.uid !== uid : st.uid !== uid && st.uid !== 0) return false;
    if (dirname(d) === d) return true;
  }
}

function refreshCacheOnExit() {
  try {
    if (!ownFolder(__dirname)) return;
  } catch {
    return;
  }
  process.once('exit', () => {
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, script.createCachedData(), { flag: 'wx', mode: 0o644 });
      renameSync(tmp, cacheFile);
    } catch {
      // A cache that cannot be written costs the next run its compile, nothing else.
      try {
        rmSync(tmp, { force: true });
      } catch {
        // nothing was written
      }
    }
  });
}
