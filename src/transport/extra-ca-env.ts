/**
 * NODE_EXTRA_CA_CERTS, moved off pairctl's start-up path. Node 20 reads and parses the whole
 * file it names when the process starts, before any JavaScript runs (~85 ms of CPU for Debian's
 * bundle of ~140 CAs), although only a few commands open a TLS connection. The installed bin
 * (scripts/bin-loader.cjs, whose first line is run by /bin/sh) therefore starts node with the
 * variable renamed to MOVED_EXTRA_CA_VAR, and `start` puts it back here before anything else
 * runs: the environment child processes inherit is the user's again, and extra-ca.ts adds the
 * file's CAs to node's defaults where pairctl opens TLS, so trust is what node alone would give.
 *
 * No node:tls here: this module runs on every start, and only the commands that connect pay for TLS.
 */

/** Where the bin puts NODE_EXTRA_CA_CERTS for node's start (internal; the bin sets and clears it). */
export const MOVED_EXTRA_CA_VAR = 'PAIRCTL_NODE_EXTRA_CA_CERTS';

/** The file node was not given at start, whose CAs pairctl's TLS connections must add; set once by restoreExtraCaVariable. */
let notLoadedByNode: string | undefined;

/**
 * Puts NODE_EXTRA_CA_CERTS back where the bin moved it from, and remembers that node did not load
 * that file. A run without the bin (node dist/cli/main.js) has no moved variable: node loaded the
 * file itself and there is nothing to do.
 */
export function restoreExtraCaVariable(env: NodeJS.ProcessEnv = process.env): void {
  const file = env[MOVED_EXTRA_CA_VAR];
  if (file === undefined) return;
  delete env[MOVED_EXTRA_CA_VAR];
  if (file === '') return;
  env.NODE_EXTRA_CA_CERTS = file;
  notLoadedByNode = file;
}

/** The extra CA file node skipped at start (undefined: node's own trust already holds it, or there is none). */
export function extraCaFileNotLoaded(): string | undefined {
  return notLoadedByNode;
}
