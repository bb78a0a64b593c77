/**
 * The CAs of NODE_EXTRA_CA_CERTS when the bin kept the variable from node's start: pairctl's TLS
 * connections trust node's defaults plus that file, exactly as node would have. Real https
 * servers on 127.0.0.1 with certificates of throwaway CAs (test-ca.ts); each refusal comes with
 * the same request succeeding once the CA is given.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { extraCaSecureContext, resetExtraCaForTests } from '../../../src/transport/extra-ca.js';
import { MOVED_EXTRA_CA_VAR, restoreExtraCaVariable } from '../../../src/transport/extra-ca-env.js';
import { httpGet, type HttpGetOptions } from '../../../src/transport/http-get.js';
import { makeTestCa, serveHttps, stopHttps, type TestCa } from './test-ca.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const GET: HttpGetOptions = { timeoutMs: 30_000, maxBytes: 1024, redirects: 'follow' };
let corp: TestCa;
let other: TestCa;
let corpSite: { url: string; server: Server };
let otherSite: { url: string; server: Server };

beforeAll(async () => {
  corp = makeTestCa('corp');
  other = makeTestCa('other');
  corpSite = await serveHttps(corp, (p) => `corp ${p}\n`);
  otherSite = await serveHttps(other, (p) => `other ${p}\n`);
}, 60_000);
afterAll(async () => {
  await stopHttps(corpSite.server);
  await stopHttps(otherSite.server);
});
afterEach(() => resetExtraCaForTests());

/** The error code a GET ends with, or "ok". */
async function outcome(url: string): Promise<string> {
  try {
    const res = await httpGet(`${url}/u.keys`, GET);
    return res.status === 200 ? 'ok' : `HTTP ${res.status}`;
  } catch (err) {
    return String((err as { code?: unknown }).code ?? err);
  }
}

describe('extra CAs for pairctl\'s TLS connections', () => {
  it('trusts a server whose CA is only in the moved file, and refuses it without the file', async () => {
    // refusal: node's defaults do not know the company CA
    expect(extraCaSecureContext(undefined)).toBeUndefined();
    expect(await outcome(corpSite.url)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    // positive control: the same request, with the file the bin moved
    resetExtraCaForTests();
    expect(extraCaSecureContext(corp.caFile)).toBeDefined();
    expect(await outcome(corpSite.url)).toBe('ok');
    // and only that CA was added: another unknown CA is still refused
    expect(await outcome(otherSite.url)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('reads the file once, on the first connection', async () => {
    const file = join(tmpdir(), `pairctl-ca-once-${process.pid}.pem`);
    writeFileSync(file, readFileSync(corp.caFile));
    const first = extraCaSecureContext(file);
    writeFileSync(file, 'replaced\n');
    expect(extraCaSecureContext(file)).toBe(first);
    expect(await outcome(corpSite.url)).toBe('ok');
  });

  it('warns as node does and keeps the defaults when the file cannot be read', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      expect(extraCaSecureContext('/nonexistent/pairctl-ca.pem')).toBeUndefined();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([expect.stringMatching(/^Ignoring extra certs from `\/nonexistent\/pairctl-ca\.pem`, load failed: ENOENT/)]);
    expect(await outcome(corpSite.url)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('keeps node\'s default CAs, whatever node takes them from, and adds the file\'s', async () => {
    // node --use-openssl-ca takes its defaults from OpenSSL's store, here SSL_CERT_FILE = the
    // "other" CA: a copy of the defaults plus the file must trust both servers. (A context made
    // with tls's `ca` option alone would replace the defaults and refuse "other".)
    const probe = join(tmpdir(), `pairctl-ca-probe-${process.pid}.mts`);
    writeFileSync(
      probe,
      `import { httpGet } from ${JSON.stringify(join(ROOT, 'src/transport/http-get.ts'))};
import { restoreExtraCaVariable } from ${JSON.stringify(join(ROOT, 'src/transport/extra-ca-env.ts'))};
restoreExtraCaVariable();
const get = (u) => httpGet(u + '/u.keys', { timeoutMs: 30000, maxBytes: 1024, redirects: 'follow' }).then((r) => String(r.status), (e) => String(e.code ?? e));
console.log(JSON.stringify({ results: await Promise.all(process.argv.slice(2).map(get)), env: process.env.NODE_EXTRA_CA_CERTS ?? null }));
`,
    );
    // Not execFileSync: the servers answer from this process's event loop.
    const run = async (extra: Record<string, string>): Promise<{ results: string[]; env: string | null }> =>
      JSON.parse(
        (
          await promisify(execFile)(join(ROOT, 'node_modules/.bin/tsx'), [probe, corpSite.url, otherSite.url], {
            encoding: 'utf8',
            env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: '--use-openssl-ca', SSL_CERT_FILE: other.caFile, ...extra },
          })
        ).stdout,
      );
    // control of the setup: node's defaults are OpenSSL's store, which is the "other" CA only
    expect(await run({})).toEqual({ results: ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', '200'], env: null });
    // the moved file adds the corp CA to those defaults, and the variable is back for children
    expect(await run({ [MOVED_EXTRA_CA_VAR]: corp.caFile })).toEqual({ results: ['200', '200'], env: corp.caFile });
  }, 60_000);
});

describe('restoreExtraCaVariable', () => {
  it('puts NODE_EXTRA_CA_CERTS back where the bin moved it from, for child processes', () => {
    const env: NodeJS.ProcessEnv = { [MOVED_EXTRA_CA_VAR]: '/etc/ssl/corp.pem', PATH: '/bin' };
    restoreExtraCaVariable(env);
    expect(env).toEqual({ NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem', PATH: '/bin' });
  });

  it('leaves an environment alone that the bin did not touch', () => {
    const env: NodeJS.ProcessEnv = { NODE_EXTRA_CA_CERTS: '/etc/ssl/node-loaded.pem' };
    restoreExtraCaVariable(env);
    expect(env).toEqual({ NODE_EXTRA_CA_CERTS: '/etc/ssl/node-loaded.pem' });
  });
});
