/**
 * Guests' `github: USER` keys: the lines GitHub publishes at <base>/USER.keys, fetched when a
 * plan is made (and by `lint --online`), then checked exactly like keys written in pair.yaml.
 * A key that sshd would refuse, or that would let one person log in as another, stops the plan
 * here with the guest and the URL named, rather than surfacing on the host.
 */
import { createHash } from 'node:crypto';
import type { Diagnostic } from './diagnostic.js';
import type { Guest, PairConfig, PublicKey, SourcePos } from './model.js';
import { parsePublicKey } from './public-key.js';
import type { RuleId } from './rule-catalog.js';
import { insecureKeySource, shown } from './key-source-url.js';
import { httpGet, type HttpGet } from '../transport/http-get.js';

/** github.com itself; GitHub Enterprise users set `github_url` or $PAIRCTL_GITHUB_URL. */
export const DEFAULT_GITHUB_URL = 'https://github.com';
/** A .keys page answers in well under a second; ten seconds means the network is the problem. */
export const GITHUB_TIMEOUT_MS = 10_000;
/** A user with a hundred RSA-4096 keys publishes ~75 KB; more is not a keys page. */
const MAX_BODY_BYTES = 256 * 1024;

export interface ResolveGithubOptions {
  /** e.g. https://github.com or https://github.example.com (see `githubBaseUrl`) */
  baseUrl: string;
  /** injectable for tests; defaults to transport/http-get.ts (https with the extra CAs of NODE_EXTRA_CA_CERTS) */
  get?: HttpGet;
  timeoutMs?: number;
}

export interface ResolveGithubResult {
  /** the config with every guest's GitHub keys added; absent when any diagnostic is an error */
  config?: PairConfig;
  diagnostics: Diagnostic[];
}

/**
 * Where GitHub keys come from: $PAIRCTL_GITHUB_URL (a per-machine override, e.g. a mirror or a
 * test server) wins over `github_url` in pair.yaml, which wins over https://github.com.
 */
export function githubBaseUrl(config: Pick<PairConfig, 'githubUrl'>, env: NodeJS.ProcessEnv): string {
  return env.PAIRCTL_GITHUB_URL || config.githubUrl || DEFAULT_GITHUB_URL;
}

/** The URL of a user's published keys; the user name was validated against GitHub's own rule. */
export function githubKeysUrl(baseUrl: string, user: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(user)}.keys`;
}

type Fetched = { ok: true; body: string } | { ok: false; rule: RuleId; message: string; hint: string };

async function fetchKeys(url: string, user: string, opts: ResolveGithubOptions): Promise<Fetched> {
  const get = opts.get ?? httpGet;
  const timeoutMs = opts.timeoutMs ?? GITHUB_TIMEOUT_MS;
  const where = shown(url);
  const unavailable = (message: string, hint: string): Fetched => ({ ok: false, rule: 'github-keys-unavailable', message, hint });
  try {
    // The URL's credentials (a GitHub Enterprise behind basic auth) go in a header.
    const u = new URL(url);
    const headers: Record<string, string> = {};
    if (u.username || u.password) {
      headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
    }
    // Credentials go to the server named, never to wherever it redirects; and no redirect leads
    // to plain http, where anyone on the path could answer with their own keys.
    const credentials = headers.authorization !== undefined;
    const res = await get(where, {
      headers,
      timeoutMs,
      maxBytes: MAX_BODY_BYTES,
      redirects: credentials ? 'refuse' : 'follow',
      mayFollow: (to) => !insecureKeySource(to),
    });
    if (res.redirectRefused !== undefined) {
      return unavailable(`${where} redirected to plain http:// (${shown(res.redirectRefused)})`, 'point github_url (or $PAIRCTL_GITHUB_URL) at the https:// address');
    }
    if (res.status === 404) {
      return unavailable(
        `GitHub user "${user}" was not found (${where} answered 404)`,
        'check the spelling of github:, or for GitHub Enterprise set github_url (or $PAIRCTL_GITHUB_URL)',
      );
    }
    if (res.status < 200 || res.status > 299) {
      return unavailable(`${where} answered HTTP ${res.status}`, 'try again later; or list the guest\'s keys under keys instead');
    }
    if (res.tooLarge) {
      return unavailable(`${where} sent more than ${MAX_BODY_BYTES} bytes; that is not a keys page`, 'check github_url');
    }
    return { ok: true, body: res.body };
  } catch (err) {
    const name = err instanceof Error ? err.name : '';
    if (name === 'TimeoutError' || name === 'AbortError') {
      return unavailable(
        `no answer from ${where} within ${timeoutMs / 1000} s`,
        'check the network (and a proxy), or list the guest\'s keys under keys instead',
      );
    }
    const code = err instanceof Error && 'code' in err ? (err as { code: unknown }).code : undefined;
    const detail = typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
    return unavailable(`could not fetch ${where}: ${detail.split(url).join(where)}`, 'check the network and github_url, or list the guest\'s keys under keys instead');
  }
}

function diagnostic(pos: SourcePos, rule: RuleId, message: string, hint: string): Diagnostic {
  return { file: pos.file, line: pos.line, column: pos.column, severity: 'error', rule, message, hint };
}

const identity = (k: PublicKey): string => `${k.type} ${k.base64}`;

/** Reads a .keys body into keys, or the diagnostics that name each bad line. */
function parseKeysPage(guest: Guest, url: string, body: string, pos: SourcePos): { keys: PublicKey[]; diagnostics: Diagnostic[] } {
  const keys: PublicKey[] = [];
  const diagnostics: Diagnostic[] = [];
  const lines = body.split('\n').map((l) => l.replace(/\r$/, ''));
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const parsed = parsePublicKey(line);
    if (parsed.ok) {
      keys.push({ ...parsed.key, origin: shown(url) });
      return;
    }
    diagnostics.push(
      diagnostic(
        pos,
        parsed.problem.rule,
        `guest "${guest.name}": key on line ${i + 1} of ${shown(url)}: ${parsed.problem.message}`,
        `${parsed.problem.hint}; or ask them to remove that key from their GitHub account`,
      ),
    );
  });
  if (keys.length === 0 && diagnostics.length === 0) {
    diagnostics.push(
      diagnostic(
        pos,
        'github-keys-empty',
        `guest "${guest.name}": ${shown(url)} lists no keys`,
        'ask them to add an ssh key to their GitHub account, or list their keys under keys',
      ),
    );
  }
  return { keys, diagnostics };
}

/**
 * Adds each guest's GitHub keys to the config, checked like keys written in the file: bad,
 * weak or DSA keys, a key that is also another guest's, an unknown user, an HTTP error or a
 * timeout are errors at the guest's `github:`. A key the guest also lists under keys is kept
 * once. Guests without `github` are untouched and nothing is fetched when no guest has one.
 */
export async function resolveGithubKeys(config: PairConfig, opts: ResolveGithubOptions): Promise<ResolveGithubResult> {
  const diagnostics: Diagnostic[] = [];
  // $PAIRCTL_GITHUB_URL is not in the file, so its rule is reported where the keys are asked for.
  if (insecureKeySource(opts.baseUrl)) {
    for (const guest of config.guests) {
      if (guest.github === undefined) continue;
      diagnostics.push(
        diagnostic(
          guest.githubPos ?? guest.pos,
          'github-url-insecure',
          `guest "${guest.name}": keys would be fetched over plain http:// from ${shown(opts.baseUrl)}, where whoever is on the network path could replace them`,
          'use an https:// github_url (or $PAIRCTL_GITHUB_URL); plain http is accepted only for a server on this machine (127.0.0.1, ::1, localhost)',
        ),
      );
    }
    return { diagnostics };
  }
  const guests = await Promise.all(
    config.guests.map(async (guest): Promise<Guest> => {
      if (guest.github === undefined) return guest;
      const pos = guest.githubPos ?? guest.pos;
      const url = githubKeysUrl(opts.baseUrl, guest.github);
      const fetched = await fetchKeys(url, guest.github, opts);
      if (!fetched.ok) {
        diagnostics.push(diagnostic(pos, fetched.rule, `guest "${guest.name}": ${fetched.message}`, fetched.hint));
        return guest;
      }
      const page = parseKeysPage(guest, url, fetched.body, pos);
      diagnostics.push(...page.diagnostics);
      const have = new Set(guest.keys.map(identity));
      const added = page.keys.filter((k) => {
        const id = identity(k);
        if (have.has(id)) return false;
        have.add(id);
        return true;
      });
      return { ...guest, keys: [...guest.keys, ...added] };
    }),
  );
  // A key must identify one person: a GitHub key that is another guest's key is refused.
  // (Two guests sharing a key written in the file is already a key-duplicate error of the file.)
  const owner = new Map<string, { guest: Guest; key: PublicKey }>();
  for (const guest of guests) {
    for (const key of guest.keys) {
      const first = owner.get(identity(key));
      if (first === undefined) {
        owner.set(identity(key), { guest, key });
        continue;
      }
      if (first.guest.name === guest.name || (key.origin === undefined && first.key.origin === undefined)) continue;
      const fetched = key.origin !== undefined ? { guest, key } : first;
      const other = fetched === first ? guest : first.guest;
      diagnostics.push(
        diagnostic(
          fetched.guest.githubPos ?? fetched.guest.pos,
          'key-duplicate',
          `guest "${fetched.guest.name}": key ${key.fingerprint} from ${shown(fetched.key.origin ?? '')} is also guest "${other.name}"'s key`,
          'a key must identify one person: each guest needs their own key pair',
        ),
      );
    }
  }
  diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  return { config: { ...config, guests }, diagnostics };
}

/**
 * A digest of every guest's keys (GitHub keys included), stable across runs and key order: a
 * saved plan stores it, and applying that plan refuses when GitHub now publishes other keys.
 */
export function guestKeysDigest(config: Pick<PairConfig, 'guests'>): string {
  const lines = config.guests
    .map((g) => `${g.name}\t${g.keys.map(identity).sort().join('\t')}`)
    .sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}
