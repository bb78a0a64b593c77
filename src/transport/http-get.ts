/**
 * One GET over http or https, for guests' keys from GitHub: node's https module rather than the
 * global fetch, because node 20's fetch takes no CA option, and the bin keeps NODE_EXTRA_CA_CERTS
 * from node's start (extra-ca-env.ts): every https connection here gets extra-ca.ts's trust.
 */
import type { IncomingMessage } from 'node:http';

export interface HttpGetOptions {
  headers?: Record<string, string>;
  /** for the whole request, redirects and body included; then the promise rejects with a TimeoutError */
  timeoutMs: number;
  /** a longer body is not read: the result says tooLarge */
  maxBytes: number;
  /** follow: up to MAX_REDIRECTS (as fetch does); refuse: a redirect rejects the request */
  redirects: 'follow' | 'refuse';
  /** a redirect to a URL this refuses ends the request there, unfetched (`redirectRefused`) */
  mayFollow?: (to: string) => boolean;
}

export interface HttpGetResult {
  status: number;
  /** the URL that answered (the last one, after redirects) */
  url: string;
  redirected: boolean;
  /** a redirect's target that mayFollow refused; status is then the redirect's */
  redirectRefused?: string;
  body: string;
  tooLarge: boolean;
}

export type HttpGet = (url: string, opts: HttpGetOptions) => Promise<HttpGetResult>;

/** fetch's own limit (the Fetch standard's 20). */
const MAX_REDIRECTS = 20;
const REDIRECT = new Set([301, 302, 303, 307, 308]);

function timeoutError(ms: number): Error {
  const err = new Error(`no answer within ${ms} ms`);
  err.name = 'TimeoutError';
  return err;
}

/** GETs url, following (or refusing) redirects, with at most maxBytes of body read. */
export const httpGet: HttpGet = async (url, opts) => {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(timeoutError(opts.timeoutMs)), opts.timeoutMs);
  try {
    let current = new URL(url);
    for (let hops = 0; ; hops++) {
      const res = await request(current, opts.headers ?? {}, deadline.signal);
      const location = res.headers.location;
      if (!REDIRECT.has(res.statusCode ?? 0) || location === undefined) {
        const { body, tooLarge } = await readCapped(res, opts.maxBytes, deadline.signal);
        return { status: res.statusCode ?? 0, url: current.href, redirected: hops > 0, body, tooLarge };
      }
      res.resume();
      const next = new URL(location, current);
      if (opts.redirects === 'refuse') throw new Error(`redirect refused (to ${next.origin})`);
      if (opts.mayFollow && !opts.mayFollow(next.href)) {
        return { status: res.statusCode ?? 0, url: current.href, redirected: hops > 0, redirectRefused: next.href, body: '', tooLarge: false };
      }
      if (hops + 1 > MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
      current = next;
    }
  } finally {
    clearTimeout(timer);
  }
};

async function request(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported protocol ${url.protocol}`);
  // Loaded on the first request: every plan imports this (saved-plan.ts digests guests' keys
  // from github-keys.ts), and most never fetch.
  const https = url.protocol === 'https:';
  const { request: send } = https ? await import('node:https') : await import('node:http');
  const secureContext = https ? (await import('./extra-ca.js')).extraCaSecureContext() : undefined;
  // A URL's userinfo never goes on the wire as such: the caller sends it as a header if at all.
  const target = new URL(url.href);
  target.username = '';
  target.password = '';
  return new Promise((resolve, reject) => {
    // No pooled agent: a pooled connection would keep whatever trust it was opened with.
    const req = send(target, { method: 'GET', headers: { 'user-agent': 'pairctl', ...headers }, signal, agent: false, ...(secureContext ? { secureContext } : {}) }, resolve);
    req.on('error', (err) => reject(signal.aborted ? signal.reason : err));
    req.end();
  });
}

function readCapped(res: IncomingMessage, maxBytes: number, signal: AbortSignal): Promise<{ body: string; tooLarge: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onAbort = (): void => {
      res.destroy();
      reject(signal.reason);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        signal.removeEventListener('abort', onAbort);
        res.destroy();
        resolve({ body: '', tooLarge: true });
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => {
      signal.removeEventListener('abort', onAbort);
      resolve({ body: Buffer.concat(chunks).toString('utf8'), tooLarge: false });
    });
    res.on('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(signal.aborted ? signal.reason : err);
    });
  });
}
