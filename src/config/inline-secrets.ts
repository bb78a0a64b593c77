/**
 * Secrets written into pair.yaml. The file is meant to be committed, so a token in it is a leak,
 * not a setting: it is reported (never echoed) wherever it appears, even in keys the schema
 * does not know, and the fix is always an environment variable named in the file instead.
 */
import type { Diagnostic } from './diagnostic.js';
import type { Locate, PathSegment } from './load-yaml.js';
import { pathToString } from './load-yaml.js';

/** Key names that only ever hold a secret's value. */
const SECRET_KEY = /^(?:auth_?token|ngrok_?auth_?token|token|secret|password|passwd|api_?key|private_?key|access_?token)$/i;

/** Shapes of well-known credentials; none of them can be an OpenSSH public key line or a name. */
const SECRET_VALUES: readonly { what: string; pattern: RegExp; hint?: string }[] = [
  // ngrok authtokens: a digit, ~26 alphanumerics, "_", ~20 alphanumerics.
  { what: 'an ngrok authtoken', pattern: /(?:^|[^A-Za-z0-9_])[0-9][A-Za-z0-9]{20,40}_[A-Za-z0-9]{15,40}(?:$|[^A-Za-z0-9_])/ },
  { what: 'a private key', pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/ },
  { what: 'a GitHub token', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})/ },
  // A password or token in a URL's userinfo (https://user:TOKEN@ghe.example/, https://TOKEN@ghe/).
  {
    what: 'a URL with credentials',
    pattern: /\bhttps?:\/\/[^/\s@?#]+@/i,
    hint: 'never commit a secret: remove the credentials from the URL (and revoke them, they are in your history now); for GitHub Enterprise behind basic auth, export PAIRCTL_GITHUB_URL=https://user:TOKEN@ghe.example.com where pairctl runs',
  },
  { what: 'an AWS access key', pattern: /\bAKIA[0-9A-Z]{16}\b/ },
  { what: 'a Slack token', pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/ },
];

const HINT =
  'never commit a secret: remove it (and revoke it, it is in your history now), export it as an environment variable where pairctl runs, and name that variable in tunnel.authtoken_env (default NGROK_AUTHTOKEN)';

/** Deeper than any real pair.yaml; keeps a hostile document from exhausting the stack. */
const MAX_DEPTH = 64;

/** Every place in the parsed file that holds a secret, as `secret-inline` errors. */
export function findInlineSecrets(data: unknown, file: string, locate: Locate): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = (path: readonly PathSegment[], target: 'key' | 'value', message: string, hint = HINT): void => {
    const pos = locate(path, target);
    out.push({ file, line: pos.line, column: pos.column, severity: 'error', rule: 'secret-inline', message, hint });
  };
  const walk = (value: unknown, path: PathSegment[], depth: number): void => {
    if (depth > MAX_DEPTH) return;
    if (typeof value === 'string') {
      const found = SECRET_VALUES.find((s) => s.pattern.test(value));
      if (found) report(path, 'value', `${pathToString(path)} looks like ${found.what} written into the file`, found.hint);
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, [...path, i], depth + 1));
      return;
    }
    if (!value || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value)) {
      const childPath = [...path, key];
      if (SECRET_KEY.test(key) && child !== null && child !== '' && typeof child !== 'object') {
        report(childPath, 'key', `${pathToString(childPath)} holds a secret written into the file`);
        continue;
      }
      walk(child, childPath, depth + 1);
    }
  };
  walk(data, [], 0);
  return out;
}
