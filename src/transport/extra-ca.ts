/**
 * The trust of pairctl's TLS connections when the bin kept NODE_EXTRA_CA_CERTS from node's start
 * (extra-ca-env.ts): node's default CAs plus the file's, built on the first connection and reused.
 * Without a moved file every connection keeps node's own defaults, untouched.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { extraCaFileNotLoaded } from './extra-ca-env.js';

/** null: looked at, nothing to add (no moved file, or it could not be read). */
let built: SecureContext | null | undefined;

/**
 * The secure context for a TLS connection: undefined means node's default. The file is read as
 * node reads it at start: its PEM certificates are added to the default store; a file that cannot
 * be read gives node's warning and the defaults.
 */
export function extraCaSecureContext(file: string | undefined = extraCaFileNotLoaded()): SecureContext | undefined {
  if (built !== undefined) return built ?? undefined;
  built = file === undefined ? null : withExtraCas(file);
  return built ?? undefined;
}

function withExtraCas(file: string): SecureContext | null {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    // Node's own words at start, on the channel node gives library warnings.
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }
  // A context made without `ca` uses node's default store (its bundled CAs, or OpenSSL's with
  // --use-openssl-ca or a distribution's build); adding a CA to it copies that store first, the
  // way node adds NODE_EXTRA_CA_CERTS at start. `ca` alone would replace the defaults, so it is
  // the fallback only where the native context is not there to take the file's CAs.
  const context = createSecureContext();
  const native = (context as { context?: { addCACert?: (pem: Buffer) => void } }).context;
  if (typeof native?.addCACert === 'function') {
    native.addCACert(pem);
    return context;
  }
  return createSecureContext({ ca: [...rootCertificates, pem.toString('latin1')] });
}

/** Forgets the context built (tests build it for several files in one process). */
export function resetExtraCaForTests(): void {
  built = undefined;
}
