/**
 * A throwaway certificate authority and an https server on 127.0.0.1 whose certificate it
 * signed, made with openssl for one test run: what a company's own CA in NODE_EXTRA_CA_CERTS
 * looks like to pairctl. Nothing here is trusted by node unless a test gives it the CA.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  /** the CA's certificate (PEM), the file a user would name in NODE_EXTRA_CA_CERTS */
  caFile: string;
  key: string;
  cert: string;
}

/** A CA and a certificate for 127.0.0.1 signed by it, valid for two days. */
export function makeTestCa(name: string): TestCa {
  const dir = mkdtempSync(join(tmpdir(), `pairctl-ca-${name}-`));
  const f = (x: string): string => join(dir, x);
  const ossl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ossl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', `/CN=pairctl test CA ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  ossl('req', ...ec, '-keyout', f('srv.key'), '-out', f('srv.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('ext'), 'subjectAltName=IP:127.0.0.1\n');
  ossl('x509', '-req', '-in', f('srv.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('srv.pem'), '-days', '2', '-extfile', f('ext'));
  return { caFile: f('ca.pem'), key: readFileSync(f('srv.key'), 'utf8'), cert: readFileSync(f('srv.pem'), 'utf8') };
}

/** An https server with the CA's certificate answering every path with `body`; resolves with its base URL. */
export async function serveHttps(ca: TestCa, body: (path: string) => string): Promise<{ url: string; server: Server }> {
  const server = createServer({ key: ca.key, cert: ca.cert }, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(body(req.url ?? '/'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Stops a server from serveHttps, keep-alive connections included. */
export async function stopHttps(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
