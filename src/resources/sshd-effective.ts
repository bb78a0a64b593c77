/**
 * What sshd really gives an account, read with `sshd -T -C user=…,addr=…`: a drop-in sorting
 * earlier, a `Match Address` block or a global-only keyword can each beat what pairctl wrote, and
 * only sshd's own evaluation says. Shared by the host's and relay's drop-ins and the guest-only
 * listener: one probe snippet, one parser, one comparison, one post-apply check.
 */
import { sh } from '../transport/shell-quote.js';
import { SSHD_CONFIG, addressScanScript, anyCase } from './sshd-address-scan.js';

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

/**
 * Probe lines `effective/<user>/<address>/<keyword>=<value>` for every account that exists. One
 * `id` per account and one sed per `sshd -T` (which does grep -i's work): sshd -T itself is most
 * of a plan's work on the host, the processes around it need not add to it. With several
 * addresses, sshd runs once per address only when a Match block could tell them apart
 * (sshd-address-scan.ts); otherwise once, its lines printed for every address, so the probe's
 * output (and what is parsed, compared, hashed and shown) is the same either way.
 */
export function effectiveProbe(checks: SshdCheck[], c: SshdTestConnection, watched: string[]): string {
  if (checks.length === 0 || c.addresses.length === 0) return '';
  // The keyword pattern once per snippet: spelt out in either case it is 1.5 KB.
  const pattern = `^(${keywords(checks, watched).map(anyCase).join('|')}) `;
  // For several addresses from one run: the lines are gathered, then printed once per address,
  // in the order one run per address prints them (the plan's state digest hashes that output).
  const select = (user: string, addresses: string[]) =>
    addresses.length === 1
      ? `{s|^|effective/${user}/${addresses[0]}/|;s/ /=/;p;}`
      : ['{s/ /=/;H;}', '${', 'g', '/./!q', ...addresses.flatMap((a) => ['g', `s|\\n|&effective/${user}/${a}/|g`, 's|^\\n||', 'p']), '}'].join('\n');
  const run = (user: string, address: string, addresses: string[]) =>
    testCommand(user, address, c) + sh` 2>/dev/null | sed -n -E "/$pairctl_keywords/"${select(user, addresses)}`;
  const several = c.addresses.length > 1;
  return (
    sh`
pairctl_keywords=${pattern}` +
    (several ? addressScanScript(c.config ?? SSHD_CONFIG) : '') +
    checks
      .map((check) => {
        const each = c.addresses.map((address) => `\n  ` + run(check.user, address, [address])).join('');
        const body = several ? `\nif pairctl_sshd_by_address; then${each}\nelse\n  ${run(check.user, c.addresses[0]!, c.addresses)}\nfi` : each;
        return (
          sh`
if id ${check.user} >/dev/null 2>&1 && [ -x ${SSHD} ]; then` +
          body +
          `\nfi`
        );
      })
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

/**
 * Post-apply check: fails the step when sshd would not give every account its settings. As in
 * the probe, `sshd -T` runs once per account when no Match block could tell the addresses apart,
 * and what it finds wrong is reported for each address, in the same words either way.
 */
export function verifyEffectiveScript(checks: SshdCheck[], c: SshdTestConnection, what: string): string {
  if (checks.length === 0 || c.addresses.length === 0) return '';
  // Keywords and addresses are plain words (quote() leaves them bare), so they sit inside "…".
  const greps = (check: SshdCheck, address: string, remember: boolean) =>
    Object.entries(check.expect).map(
      ([k, v]) =>
        sh`printf '%s\\n' "$eff" | grep -qix ${`${k} ${v}`} || ` +
        (remember ? sh`{ bad="$bad ${`${k}@${address}`}"; pairctl_missed="$pairctl_missed ${k}"; }` : sh`bad="$bad ${`${k}@${address}`}"`),
    );
  const evaluate = (check: SshdCheck, address: string, remember = false) => [`eff=$(${testCommand(check.user, address, c)})`, ...greps(check, address, remember)];
  const several = c.addresses.length > 1;
  const parts = checks.map((check) => {
    const each = c.addresses.flatMap((address) => evaluate(check, address));
    const body = several
      ? [
          'if pairctl_sshd_by_address; then',
          ...each,
          'else',
          'pairctl_missed=',
          ...evaluate(check, c.addresses[0]!, true),
          ...c.addresses.slice(1).map((address) => sh`for pairctl_k in $pairctl_missed; do bad="$bad $pairctl_k@"${address}; done`),
          'fi',
        ]
      : each;
    return [sh`if id ${check.user} >/dev/null 2>&1; then`, ...body, 'fi'].join('\n');
  });
  return (
    'bad=' +
    (several ? addressScanScript(c.config ?? SSHD_CONFIG) : '') +
    '\n' +
    parts.join('\n') +
    `\nif [ -n "$bad" ]; then echo "pairctl: sshd does not give pairctl's accounts the settings pairctl wrote:$bad (${what})" >&2; exit 1; fi`
  );
}
