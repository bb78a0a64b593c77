/**
 * The sshd drop-in that locks guest accounts down. It is a file with three extra rules: the
 * candidate config is checked with `sshd -t` before any reload and the previous file restored
 * if it fails (an apply must never lock the operator out); it only works if sshd_config
 * includes sshd_config.d (checked); and what sshd really gives each kind of account is proven
 * with `sshd -T -C user=…,addr=…` from several source addresses — another drop-in sorting
 * earlier, or a `Match Address` block, would win, since the first value does. Global-only
 * keywords and user CAs, which no Match block of pairctl's can fix, are plan errors with the fix.
 */
import { sh } from '../transport/shell-quote.js';
import { diffFile, wholeFile } from './file.js';
import { parseFile, probeFile, writeFileScript, type FileObserved, type FileSpec } from './file-state.js';
import { defineKind, keyValues, type Delta } from './kind.js';
import {
  SSHD,
  VERIFY_ADDRESSES,
  WATCHED_SSHD_KEYWORDS,
  describeMismatch,
  effectiveMismatches,
  effectiveProbe,
  parseEffective,
  trustedCaProblems,
  verifyEffectiveScript,
  type Effective,
  type SshdCheck,
  type SshdTestConnection,
} from './sshd-effective.js';

export interface SshdDropinSpec extends FileSpec {
  /**
   * Accounts whose effective settings prove the drop-in works, one per kind of account pairctl
   * makes on the machine (absent from `sshd -T` until the account exists)
   */
  checks: SshdCheck[];
  /**
   * Keywords sshd allows only globally (never in a Match block), which pairctl checks and does
   * not set: the machine's other users keep them. Lower-case, as `checks`.
   */
  globalExpect?: Record<string, string>;
  /** how sshd picks up a new config: systemd reload (Linux, default) or launchd restart (macOS) */
  reload?: 'systemd' | 'launchd';
}

export interface SshdDropinObserved {
  file: FileObserved;
  /** sshd_config includes the drop-in directory; unknown while sshd_config does not exist yet */
  included: boolean | 'unknown';
  sshd: boolean;
  /** effective `sshd -T` values of every check account that exists, per source address */
  effective: Effective;
}

/** Every account is proven from loopback, a LAN and the internet: `Match Address` blocks differ. */
const CONNECTION: SshdTestConnection = { addresses: VERIFY_ADDRESSES };

/** Every keyword read: the pinned ones, the global-only ones and the watched ones. */
function watched(spec: SshdDropinSpec): string[] {
  return [...Object.keys(spec.globalExpect ?? {}), ...WATCHED_SSHD_KEYWORDS];
}

/** True (exit 0) when sshd_config reads the drop-in directory (Debian: `*.conf`, macOS: `*`). */
const INCLUDE_CHECK = String.raw`grep -Eiq '^[[:space:]]*Include[[:space:]]+(/etc/ssh/)?sshd_config\.d/\*(\.conf)?([[:space:]]|$)' /etc/ssh/sshd_config`;

/**
 * macOS: launchd starts sshd for each connection, so a new connection already reads the new
 * file; the restart through launchctl makes that explicit and is harmless to open sessions.
 */
const restartLaunchdSshd = `launchctl kickstart -k system/com.openssh.sshd 2>/dev/null || :`;

/** Reloads whichever sshd is running; used after the config changed and validated. */
const reloadSshd = `if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet ssh 2>/dev/null; then systemctl reload ssh
elif command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet sshd 2>/dev/null; then systemctl reload sshd
elif [ -s /run/sshd.pid ]; then kill -HUP "$(cat /run/sshd.pid)"
else echo "pairctl: sshd is not running; the new settings apply when it starts" >&2
fi`;

/** Writes (or removes) the drop-in, validates, restores the previous file on failure, reloads. */
function changeScript(spec: SshdDropinSpec, remove: boolean): string {
  const prev = `${spec.path}.pairctl-prev`; // not *.conf, so sshd never reads it
  const write = remove ? sh`rm -f ${spec.path}` : writeFileScript(spec);
  const verify = remove ? '' : verifyEffectiveScript(spec.checks, CONNECTION, 'another file in sshd_config.d sorting earlier, or a Match block, may set them first');
  // Checked again here: before the package was installed the plan could not know.
  const included = remove
    ? ''
    : `if ! ${INCLUDE_CHECK}; then echo "pairctl: /etc/ssh/sshd_config does not include sshd_config.d/*.conf; add 'Include /etc/ssh/sshd_config.d/*.conf' as its first line" >&2; exit 1; fi\n`;
  return (
    included +
    sh`rm -f ${prev}
if [ -e ${spec.path} ]; then cp -p ${spec.path} ${prev}; fi
` +
    write +
    sh`
if ! out=$(${SSHD} -t 2>&1); then
  if [ -e ${prev} ]; then mv -f ${prev} ${spec.path}; else rm -f ${spec.path}; fi
  printf 'pairctl: sshd -t rejected the new configuration, previous files restored, sshd not reloaded:\\n%s\\n' "$out" >&2
  exit 1
fi
rm -f ${prev}
` +
    (spec.reload === 'launchd' ? restartLaunchdSshd : reloadSshd) +
    (verify ? `\n${verify}` : '')
  );
}

/** Global-only keywords sshd gives an account otherwise than pairctl needs, with the fix. */
function globalProblems(spec: SshdDropinSpec, effective: Effective): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(spec.globalExpect ?? {})) {
    const seen = new Set<string>();
    for (const check of spec.checks)
      for (const address of CONNECTION.addresses) {
        const got = effective[`${check.user}/${address}`]?.[k];
        if (got !== undefined && got.toLowerCase() !== v.toLowerCase()) seen.add(got);
      }
    if (seen.size > 0) {
      out.push(
        `sshd has ${k} ${[...seen].join(', ')}, which would let pairctl's accounts set their own environment; it is allowed only at the top of sshd_config (not in a Match block, so pairctl cannot pin it for its accounts alone): set "${k} ${v}" in /etc/ssh/sshd_config and remove other values`,
      );
    }
  }
  return out;
}

export const sshdDropinKind = defineKind<SshdDropinSpec, SshdDropinObserved>({
  kind: 'sshd_dropin',
  backupFile: wholeFile,
  name: (spec) => spec.path,
  probe: (spec) =>
    probeFile(spec.path) +
    `
if [ ! -f /etc/ssh/sshd_config ]; then echo included=unknown
elif ${INCLUDE_CHECK}; then echo included=yes; else echo included=no; fi
` +
    sh`if [ -x ${SSHD} ]; then echo sshd=yes; else echo sshd=no; fi` +
    effectiveProbe(spec.checks, CONNECTION, watched(spec)),
  parse: (output) => {
    const kv = keyValues(output);
    return {
      file: parseFile(output),
      included: kv.get('included') === 'unknown' ? 'unknown' : kv.get('included') === 'yes',
      sshd: kv.get('sshd') === 'yes',
      effective: parseEffective(output),
    };
  },
  diff: (spec, observed, ctx): Delta => {
    const fileDelta = diffFile(spec, observed.file, ctx);
    if (!ctx.wanted) return fileDelta.action === 'noop' ? fileDelta : { ...fileDelta, script: changeScript(spec, true) };
    const errors: string[] = [];
    if (observed.included === false) {
      errors.push(
        `/etc/ssh/sshd_config does not include /etc/ssh/sshd_config.d/*.conf, so the guest lockdown would be ignored; add "Include /etc/ssh/sshd_config.d/*.conf" as its first line`,
      );
    }
    // Global-only keywords and user CAs: no drop-in of pairctl's can fix them, so they are checked always.
    errors.push(...globalProblems(spec, observed.effective));
    errors.push(
      ...trustedCaProblems(
        spec.checks,
        CONNECTION,
        observed.effective,
        // Every account pairctl makes is pair-<guest> or tunnel-<host> (graph/paths.ts).
        `Move TrustedUserCAKeys into a Match block that leaves pairctl's accounts out (e.g. "Match User *,!pair-*,!tunnel-*"), or remove it`,
      ),
    );
    if (fileDelta.action === 'noop') {
      const wrong = effectiveMismatches(spec.checks, CONNECTION, observed.effective);
      for (const m of wrong) {
        errors.push(
          `${describeMismatch(m)} although ${spec.path} says otherwise: another file in /etc/ssh/sshd_config.d sorts earlier and wins, or a Match block does; remove those settings from it`,
        );
      }
    }
    if (fileDelta.action === 'noop') return { ...fileDelta, errors: [...fileDelta.errors, ...errors] };
    return { ...fileDelta, errors: [...fileDelta.errors, ...errors], script: changeScript(spec, false) };
  },
});
