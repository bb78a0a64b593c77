/**
 * The sshd drop-in that locks guest accounts down. It is a file with three extra rules: the
 * candidate config is checked with `sshd -t` before any reload and the previous file restored
 * if it fails (an apply must never lock the operator out); it only works if sshd_config
 * includes sshd_config.d (checked); and what sshd really gives a guest is proven with
 * `sshd -T -C user=…` — another drop-in sorting earlier would win, since the first value does.
 */
import { sh } from '../transport/shell-quote.js';
import { diffFile } from './file.js';
import { parseFile, probeFile, writeFileScript, type FileObserved, type FileSpec } from './file-state.js';
import { defineKind, keyValues, noop, type Delta } from './kind.js';

export interface SshdDropinSpec extends FileSpec {
  /** a guest account whose effective settings prove the drop-in works (absent before first apply) */
  verifyUser?: string;
  /** lower-case `sshd -T` keywords and the values the guest must get */
  expect: Record<string, string>;
  /** how sshd picks up a new config: systemd reload (Linux, default) or launchd restart (macOS) */
  reload?: 'systemd' | 'launchd';
}

export interface SshdDropinObserved {
  file: FileObserved;
  /** sshd_config includes the drop-in directory; unknown while sshd_config does not exist yet */
  included: boolean | 'unknown';
  sshd: boolean;
  /** effective `sshd -T` values for verifyUser, when it exists */
  effective?: Record<string, string>;
}

const SSHD = '/usr/sbin/sshd';

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

/** The connection `sshd -T` evaluates: a guest from a documentation address (nothing is sent). */
function effectiveArgs(user: string): string {
  return `user=${user},host=pairctl.invalid,addr=192.0.2.1`;
}

/** Writes (or removes) the drop-in, validates, restores the previous file on failure, reloads. */
function changeScript(spec: SshdDropinSpec, remove: boolean): string {
  const prev = `${spec.path}.pairctl-prev`; // not *.conf, so sshd never reads it
  const write = remove ? sh`rm -f ${spec.path}` : writeFileScript(spec);
  const verify = spec.verifyUser && !remove ? verifyScript(spec, spec.verifyUser) : '';
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

/** Fails the step when sshd would not give the guest the wanted settings. */
function verifyScript(spec: SshdDropinSpec, user: string): string {
  const checks = Object.entries(spec.expect).map(
    ([k, v]) => sh`printf '%s\\n' "$eff" | grep -qix ${`${k} ${v}`} || bad="$bad ${k}"`,
  );
  return (
    sh`if id ${user} >/dev/null 2>&1; then
eff=$(${SSHD} -T -C ${effectiveArgs(user)})
bad=
` +
    checks.join('\n') +
    `
if [ -n "$bad" ]; then echo "pairctl: sshd does not give guests the settings pairctl wrote:$bad (another file in sshd_config.d sorting earlier may set them first)" >&2; exit 1; fi
fi`
  );
}

export const sshdDropinKind = defineKind<SshdDropinSpec, SshdDropinObserved>({
  kind: 'sshd_dropin',
  name: (spec) => spec.path,
  probe: (spec) => {
    const keys = Object.keys(spec.expect).join('|');
    const effective = spec.verifyUser
      ? sh`
if id ${spec.verifyUser} >/dev/null 2>&1 && [ -x ${SSHD} ]; then
  ${SSHD} -T -C ${effectiveArgs(spec.verifyUser)} 2>/dev/null | grep -iE ${`^(${keys}) `} | sed 's/^/effective./; s/ /=/'
fi`
      : '';
    return (
      probeFile(spec.path) +
      `
if [ ! -f /etc/ssh/sshd_config ]; then echo included=unknown
elif ${INCLUDE_CHECK}; then echo included=yes; else echo included=no; fi
` +
      sh`if [ -x ${SSHD} ]; then echo sshd=yes; else echo sshd=no; fi` +
      effective
    );
  },
  parse: (output) => {
    const kv = keyValues(output);
    const effective: Record<string, string> = {};
    for (const [k, v] of kv) if (k.startsWith('effective.')) effective[k.slice('effective.'.length).toLowerCase()] = v;
    return {
      file: parseFile(output),
      included: kv.get('included') === 'unknown' ? 'unknown' : kv.get('included') === 'yes',
      sshd: kv.get('sshd') === 'yes',
      effective: Object.keys(effective).length > 0 ? effective : undefined,
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
    if (fileDelta.action === 'noop' && observed.effective) {
      const wrong = Object.entries(spec.expect).filter(([k, v]) => observed.effective?.[k]?.toLowerCase() !== v.toLowerCase());
      if (wrong.length > 0) {
        errors.push(
          `sshd gives ${spec.verifyUser} ${wrong.map(([k]) => `${k} ${observed.effective?.[k] ?? '(unset)'}`).join(', ')} although ${spec.path} says otherwise: another file in /etc/ssh/sshd_config.d sorts earlier and wins; remove those settings from it`,
        );
      }
    }
    if (fileDelta.action === 'noop') return { ...fileDelta, errors: [...fileDelta.errors, ...errors] };
    return { ...fileDelta, errors: [...fileDelta.errors, ...errors], script: changeScript(spec, false) };
  },
});
