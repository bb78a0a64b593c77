/**
 * Guests' GitHub keys, fetched from a real HTTP server on 127.0.0.1 that serves the *.keys files
 * of test/fixtures/config/github (table: expect.json) plus a 404, a 500, a server that never
 * answers and one that sends megabytes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_GITHUB_URL,
  githubBaseUrl,
  githubKeysUrl,
  guestKeysDigest,
  resolveGithubKeys,
} from '../../../src/config/github-keys.js';
import { loadConfigText } from '../../../src/config/load-config.js';
import type { PairConfig } from '../../../src/config/model.js';
import type { HttpGet } from '../../../src/transport/http-get.js';
import { authorizedKeyEntries } from '../../../src/graph/authorized-keys.js';

const dir = new URL('../../fixtures/config/github/', import.meta.url);
const keysDir = new URL('../../fixtures/config/keys/', import.meta.url);
const pub = (name: string): string => readFileSync(new URL(name, keysDir), 'utf8').trim();
const expected = JSON.parse(readFileSync(new URL('expect.json', dir), 'utf8')) as Record<string, string[] | string>;
const table = Object.entries(expected).filter((e): e is [string, string[]] => Array.isArray(e[1]));
const pages = new Map(
  readdirSync(dir)
    .filter((f) => f.endsWith('.keys'))
    .map((f) => [`/${f}`, readFileSync(new URL(f, dir))]),
);

let baseUrl = '';
/** Shaped like a GitHub token, with characters a URL must percent-encode. */
const GHE_TOKEN = 'ghp_Zq9/x+Y7w@k3Lm2Np5Rs8Tv0Wx4Yz6Ab1Cd';
const requests: string[] = [];
const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  requests.push(path);
  // A GitHub Enterprise behind basic auth: /ghe/USER.keys only with the right credentials.
  if (path.startsWith('/ghe/')) {
    if (req.headers.authorization !== `Basic ${Buffer.from(`ci-bot:${GHE_TOKEN}`).toString('base64')}`) {
      res.writeHead(401);
      res.end('Unauthorized');
      return;
    }
    res.writeHead(200);
    res.end(pages.get(path.slice('/ghe'.length)));
    return;
  }
  // Redirects: /moved/ to plain http elsewhere, /here/ to this same server.
  if (path.startsWith('/moved/') || path.startsWith('/here/')) {
    const rest = path.slice(path.indexOf('/', 1));
    res.writeHead(302, { location: path.startsWith('/moved/') ? `http://mirror.example.com${rest}` : rest });
    res.end();
    return;
  }
  const page = pages.get(path);
  if (page) {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(page);
  } else if (path === '/boom.keys') {
    res.writeHead(500);
    res.end('oops');
  } else if (path === '/slow.keys') {
    // never answers: the client's timeout must end it
  } else if (path === '/huge.keys') {
    res.writeHead(200);
    res.end(`${pub('ed25519-c.pub')}\n`.repeat(20_000));
  } else {
    res.writeHead(404);
    res.end('Not Found');
  }
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A GET that answers every URL with one of jo-codes' keys, and notes the URLs it was asked for. */
function servedBy(seen: string[]): HttpGet {
  return async (url) => {
    seen.push(url);
    return { status: 200, url, redirected: false, body: `${pub('ed25519-b.pub')}\n`, tooLarge: false };
  };
}

/** todd writes his key inline; "gina" is the GitHub guest, with sam's first key also inline. */
function configFor(user: string): PairConfig {
  const text = `version: 1
hosts:
  scotch: { platform: linux, ssh: local, owner: bhorseman }
guests:
  todd:
    keys: ["${pub('ed25519.pub')}"]
  gina:
    keys: ["${pub('ed25519-c.pub')}"]
    github: ${user}
`;
  const { config, diagnostics } = loadConfigText(text, 'pair.yaml');
  expect(diagnostics).toEqual([]);
  return config as PairConfig;
}

describe('resolveGithubKeys', () => {
  it('the table covers every fixture page', () => {
    for (const path of pages.keys()) expect(expected, path).toHaveProperty(path.slice(1, -'.keys'.length));
  });

  it.each(table)('github: %s -> %j', async (user, rules) => {
    // /slow.keys never answers: that this returns at all (before the test's own timeout) is
    // the proof that the 300 ms timeout ends it; a wall-clock bound here only measured load.
    // Pages that do answer get the default timeout: under load (average 20 measured) the local
    // server took over 300 ms to answer, and "sam -> []" failed with a timeout.
    const result = await resolveGithubKeys(configFor(user), { baseUrl, ...(user === 'slow' ? { timeoutMs: 300 } : {}) });
    expect(result.diagnostics.map((d) => d.rule)).toEqual(rules);
    for (const d of result.diagnostics) {
      // Named at the guest's github: line, naming the guest and the URL.
      expect(`${d.line}:${d.column}`).toBe('9:13');
      expect(d.message).toContain('guest "gina"');
      expect(d.message).toContain(`${baseUrl}/${user}.keys`);
      expect(d.hint).toBeTruthy();
      expect(d.severity).toBe('error');
    }
    expect(result.config === undefined).toBe(rules.length > 0);
  });

  it('adds the GitHub keys after the inline ones, once each, with fingerprints and their URL', async () => {
    const result = await resolveGithubKeys(configFor('sam'), { baseUrl });
    const gina = result.config?.guests.find((g) => g.name === 'gina');
    // sam.keys repeats gina's inline key: kept once, as the inline one.
    expect(gina?.keys.map((k) => [k.fingerprint, k.origin])).toEqual([
      ['SHA256:6WyhmFYPCShxQVojh6JtLodNc4TxCTIcD12F3nQb8v4', undefined],
      ['SHA256:N1+UM+aQYdSl4+kSO558doguhUUi77RI+2HLB7XcOCM', `${baseUrl}/sam.keys`],
    ]);
    expect(gina?.keys[1]?.bits).toBe(3072);
    const todd = result.config?.guests.find((g) => g.name === 'todd');
    expect(todd?.keys).toHaveLength(1);
  });

  it('reads CRLF pages', async () => {
    const result = await resolveGithubKeys(configFor('crlf'), { baseUrl });
    expect(result.diagnostics).toEqual([]);
  });

  it('says what went wrong: 404, HTTP status, timeout, size', async () => {
    const messages = new Map<string, string>();
    for (const user of ['missing', 'boom', 'slow', 'huge']) {
      const r = await resolveGithubKeys(configFor(user), { baseUrl, ...(user === 'slow' ? { timeoutMs: 300 } : {}) });
      messages.set(user, r.diagnostics[0]?.message ?? '');
    }
    expect(messages.get('missing')).toMatch(/GitHub user "missing" was not found \(.* answered 404\)/);
    expect(messages.get('boom')).toMatch(/answered HTTP 500/);
    expect(messages.get('slow')).toMatch(/no answer from .* within 0\.3 s/);
    expect(messages.get('huge')).toMatch(/sent more than 262144 bytes/);
  });

  it('reports an unreachable server by its error code', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await resolveGithubKeys(configFor('sam'), { baseUrl: `http://127.0.0.1:${port}` });
    expect(r.diagnostics[0]?.message).toMatch(/could not fetch http:\/\/127\.0\.0\.1:\d+\/sam\.keys: ECONNREFUSED/);
  });

  it('never prints credentials that are part of the base URL', async () => {
    const withCreds = baseUrl.replace('http://', 'http://user:s3cret@');
    const r = await resolveGithubKeys(configFor('missing'), { baseUrl: withCreds });
    expect(r.diagnostics[0]?.message).not.toContain('s3cret');
  });

  it('sends the URL\'s credentials as basic auth, and keeps them out of every key, message and authorized_keys line', async () => {
    const withCreds = baseUrl.replace('http://', `http://ci-bot:${encodeURIComponent(GHE_TOKEN)}@`) + '/ghe';
    const r = await resolveGithubKeys(configFor('sam'), { baseUrl: withCreds });
    expect(r.diagnostics).toEqual([]);
    const gina = r.config?.guests.find((g) => g.name === 'gina');
    // positive control: the server let these credentials in, so the keys are there
    expect(gina?.keys[1]?.origin).toBe(`${baseUrl}/ghe/sam.keys`);
    const everything = JSON.stringify(r.config) + authorizedKeyEntries(gina!).join('\n');
    for (const secret of [GHE_TOKEN, encodeURIComponent(GHE_TOKEN), 'ci-bot']) expect(everything).not.toContain(secret);
    // and without them the server refuses: the credentials were what let the fetch in
    const refused = await resolveGithubKeys(configFor('sam'), { baseUrl: `${baseUrl}/ghe` });
    expect(refused.diagnostics[0]?.message).toMatch(/answered HTTP 401/);
  });

  it('refuses plain http:// to anywhere but this machine, before fetching anything', async () => {
    const seen: string[] = [];
    const fake = servedBy(seen);
    const r = await resolveGithubKeys(configFor('jo-codes'), { baseUrl: 'http://ci-bot:hunter2hunter2@ghe.example.com', get: fake });
    expect(r.config).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.rule, `${d.line}:${d.column}`])).toEqual([['github-url-insecure', '9:13']]);
    expect(r.diagnostics[0]?.message).not.toContain('hunter2');
    expect(seen).toEqual([]);
    // loopback over http, and https anywhere, are fetched
    for (const ok of ['http://localhost:1', 'http://[::1]:1', 'http://127.0.0.2:1', 'https://ghe.example.com']) {
      const fine = await resolveGithubKeys(configFor('jo-codes'), { baseUrl: ok, get: fake });
      expect(fine.diagnostics, ok).toEqual([]);
    }
    expect(seen).toHaveLength(4);
  });

  it('never follows a redirect to plain http://', async () => {
    // The local server sends /moved/USER.keys to http://mirror.example.com: nothing may connect there.
    const r = await resolveGithubKeys(configFor('jo-codes'), { baseUrl: `${baseUrl}/moved` });
    expect(r.diagnostics.map((d) => d.rule)).toEqual(['github-keys-unavailable']);
    expect(r.diagnostics[0]?.message).toMatch(/redirected to plain http:\/\/ \(http:\/\/mirror\.example\.com\/jo-codes\.keys\)/);
    // positive control: a redirect to loopback is followed, and its keys are taken
    const followed = await resolveGithubKeys(configFor('sam'), { baseUrl: `${baseUrl}/here` });
    expect(followed.diagnostics).toEqual([]);
    expect(followed.config?.guests[1]?.keys[1]?.origin).toBe(`${baseUrl}/here/sam.keys`);
  });

  it('never follows a redirect with the URL\'s credentials', async () => {
    const withCreds = baseUrl.replace('http://', `http://ci-bot:${encodeURIComponent(GHE_TOKEN)}@`) + '/here';
    const before = requests.length;
    const r = await resolveGithubKeys(configFor('sam'), { baseUrl: withCreds });
    expect(r.diagnostics[0]?.message).toMatch(/could not fetch .*: redirect refused/);
    expect(requests.slice(before)).toEqual(['/here/sam.keys']);
  });

  it('fetches nothing when no guest names a GitHub account', async () => {
    const before = requests.length;
    const { config } = loadConfigText(
      `version: 1\nhosts:\n  h: { platform: linux, ssh: local, owner: me }\nguests:\n  todd:\n    keys: ["${pub('ed25519.pub')}"]\n`,
      'p.yaml',
    );
    const r = await resolveGithubKeys(config as PairConfig, { baseUrl });
    expect(r.config).toBe(r.config && config ? r.config : undefined);
    expect(r.config?.guests).toEqual(config?.guests);
    expect(requests.length).toBe(before);
  });

  it('uses the GET it is given', async () => {
    const seen: string[] = [];
    const r = await resolveGithubKeys(configFor('jo-codes'), { baseUrl: 'https://ghe.example.com/', get: servedBy(seen) });
    expect(seen).toEqual(['https://ghe.example.com/jo-codes.keys']);
    expect(r.config?.guests[1]?.keys[1]?.fingerprint).toBe('SHA256:6GtXWyavB28OyHtHOJc/Keuw2RrbMN/G5CGDnpLIKDA');
  });
});

describe('github base URL and digest', () => {
  it('takes $PAIRCTL_GITHUB_URL over github_url over github.com', () => {
    expect(githubBaseUrl({}, {})).toBe(DEFAULT_GITHUB_URL);
    expect(githubBaseUrl({ githubUrl: 'https://ghe.corp' }, {})).toBe('https://ghe.corp');
    expect(githubBaseUrl({ githubUrl: 'https://ghe.corp' }, { PAIRCTL_GITHUB_URL: 'http://127.0.0.1:1' })).toBe('http://127.0.0.1:1');
    expect(githubKeysUrl('https://github.com/', 'Todd-1')).toBe('https://github.com/Todd-1.keys');
  });

  it('digests every guest\'s keys independent of order, and changes with them', async () => {
    const a = (await resolveGithubKeys(configFor('sam'), { baseUrl })).config as PairConfig;
    const reordered: PairConfig = { ...a, guests: [...a.guests].reverse().map((g) => ({ ...g, keys: [...g.keys].reverse() })) };
    expect(guestKeysDigest(reordered)).toBe(guestKeysDigest(a));
    expect(guestKeysDigest(a)).toMatch(/^[0-9a-f]{64}$/);
    const fewer: PairConfig = { ...a, guests: a.guests.map((g) => ({ ...g, keys: g.keys.slice(0, 1) })) };
    expect(guestKeysDigest(fewer)).not.toBe(guestKeysDigest(a));
  });
});
