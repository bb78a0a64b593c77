/**
 * What sshd really gives an account, read with `sshd -T -C user=…,addr=…`: a drop-in sorting
 * earlier, a `Match Address` block or a global-only keyword can each beat what pairctl wrote, and
 * only sshd's own evaluation says. Shared by the host's and relay's drop-ins and the guest-only
 * listener: one probe snippet, one parser, one comparison, one post-apply check.
 */
import { sh } from '../transport/shell-quote.js';

export const SSHD = '/usr/sbin/sshd';

/**
 * `sshd -T` keywords read besides the pinned ones: a user CA or principals setting would admit a
 * certificate for a guest account past its authorized_keys line (its expiry, `from`, `restrict`).
 * Fixed, so the probe is the same whatever the graph learns from facts.
 */
export const WATCHED_SSHD_KEYWORDS = ['trustedusercakeys', 'persourcepenalties', 'persourcepenaltyexemptlist'];

/** Source addresses every account's effective settings are proven for: loopback, a LAN, the internet. */
export const VERIFY_ADDRESSES = ['127.0.0.1', '192.168.1.10', '192.0.2.1'];

/** One account whose effective settings must be exactly `expect` (lower-case keywords). */
export interface SshdCheck {
  user: string;
  expect: Record<string, string>;
}

/** Which sshd config and connection `sshd -T` evaluates; nothing is sent anywhere. */
export interface SshdTestConnection {
  /** `-f` config (absent: the machine's sshd_config) */
  config?: string;
  /** source addresses to evaluate each account from */
  addresses: string[];
  /** the local address and port the connection arrives on (a dedicated listener) */
  local?: { address: string; port: number };
}

/** Effective values by `user/address`, then lower-case keyword; repeated keywords joined by spaces. */
export type Effective = Record<string, Record<string, string>>;

function connectionSpec(user: string, address: string, c: SshdTestConnection): string {
  const local = c.local ? `,laddr=${c.local.address},lport=${c.local.port}` : '';
  return `user=${user},host=pairctl.invalid,addr=${address}${local}`;
}

function testCommand(user: string, address: string, c: SshdTestConnection): string {
  return c.config ? sh`${SSHD} -T -f ${c.config} -C ${connectionSpec(user, address, c)}` : sh`${SSHD} -T -C ${connectionSpec(user, address, c)}`;
}

/** Every keyword read: sorted, so the snippet does not change with the order expectations list them. */
function keywords(checks: SshdCheck[], watched: string[]): string[] {
  return [...new Set([...checks.flatMap((c) => Object.keys(c.expect)), ...watched].map((k) => k.toLowerCase()))].sort();
}

/** An extended regular expression matching `word` in any case, for seds without the I flag (BSD's). */
function anyCase(word: string): string {
  return word.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`);
}

/**
 * Probe lines `effective/<user>/<address>/<keyword>=<value>` for every account that exists. One
 * `id` per account and one sed per `sshd -T` (which does grep -i's work): sshd -T itself is most
 * of a plan's work on the host, the processes around it need not add to it.
 */
export function effectiveProbe(checks: SshdCheck[], c: SshdTestConnection, watched: string[]): string {
  if (checks.length === 0 || c.addresses.length === 0) return '';
  // The keyword pattern once per snippet: spelt out in either case it is 1.5 KB.
  const pattern = `^(${keywords(checks, watched).map(anyCase).join('|')}) `;
  return (
    sh`
pairctl_keywords=${pattern}` +
    checks
      .map(
        (check) =>
          sh`
if id ${check.user} >/dev/null 2>&1 && [ -x ${SSHD} ]; then` +
          c.addresses
            .map(
              (address) =>
                `\n  ` + testCommand(check.user, address, c) + sh` 2>/dev/null | sed -n -E "/$pairctl_keywords/"${`{s|^|effective/${check.user}/${address}/|;s/ /=/;p;}`}`,
            )
            .join('') +
          `\nfi`,
      )
      .join('')
  );
}

/** Parses the probe's `effective/…` lines. */
export function parseEffective(output: string): Effective {
  const out: Effective = {};
  for (const line of output.split('\n')) {
    if (!line.startsWith('effective/')) continue;
    const eq = line.indexOf('=');
    const path = line.slice('effective/'.length, eq < 0 ? undefined : eq).split('/');
    if (eq < 0 || path.length < 3) continue;
    const key = path.pop()!.toLowerCase();
    const who = path.join('/');
    const values = (out[who] ??= {});
    values[key] = values[key] === undefined ? line.slice(eq + 1) : `${values[key]} ${line.slice(eq + 1)}`;
  }
  return out;
}

/** Each account and address whose effective settings differ from what it must get. */
export function effectiveMismatches(
  checks: SshdCheck[],
  c: SshdTestConnection,
  effective: Effective,
): Array<{ user: string; address: string; wrong: Array<[string, string | undefined]> }> {
  const out = [];
  for (const check of checks)
    for (const address of c.addresses) {
      const got = effective[`${check.user}/${address}`];
      if (!got) continue; // the account does not exist yet
      const wrong = Object.entries(check.expect)
        .filter(([k, v]) => got[k]?.toLowerCase() !== v.toLowerCase())
        .map(([k]): [string, string | undefined] => [k, got[k]]);
      if (wrong.length > 0) out.push({ user: check.user, address, wrong });
    }
  return out;
}

/** Says what is wrong, in the plan's words. */
export function describeMismatch(m: { user: string; address: string; wrong: Array<[string, string | undefined]> }): string {
  return `sshd gives ${m.user} (from ${m.address}) ${m.wrong.map(([k, v]) => `${k} ${v ?? '(unset)'}`).join(', ')}`;
}

/** A user CA sshd trusts for the account: a certificate it signed would log in past the key line. */
export function trustedCaProblems(checks: SshdCheck[], c: SshdTestConnection, effective: Effective, fix: string): string[] {
  const out: string[] = [];
  for (const check of checks)
    for (const address of c.addresses) {
      const ca = effective[`${check.user}/${address}`]?.trustedusercakeys;
      if (ca !== undefined && ca.toLowerCase() !== 'none') {
        out.push(
          `sshd trusts the user CA keys in ${ca} for ${check.user} (from ${address}): a certificate they sign would log in as that account without its authorized_keys line (no restrict, expiry or from). ${fix}`,
        );
        break;
      }
    }
  return out;
}

/** Post-apply check: fails the step when sshd would not give every account its settings. */
export function verifyEffectiveScript(checks: SshdCheck[], c: SshdTestConnection, what: string): string {
  const parts = checks.flatMap((check) =>
    c.addresses.map((address) => {
      const greps = Object.entries(check.expect).map(
        ([k, v]) => sh`printf '%s\\n' "$eff" | grep -qix ${`${k} ${v}`} || bad="$bad ${`${k}@${address}`}"`,
      );
      return (
        sh`if id ${check.user} >/dev/null 2>&1; then
eff=$(` +
        testCommand(check.user, address, c) +
        `)
` +
        greps.join('\n') +
        `\nfi`
      );
    }),
  );
  if (parts.length === 0) return '';
  return (
    'bad=\n' +
    parts.join('\n') +
    `\nif [ -n "$bad" ]; then echo "pairctl: sshd does not give pairctl's accounts the settings pairctl wrote:$bad (${what})" >&2; exit 1; fi`
  );
}
