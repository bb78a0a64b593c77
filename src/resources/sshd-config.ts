/**
 * The complete config of a dedicated sshd (the guest-only listener tunnels lead to): a file
 * checked with `sshd -t -f` before it replaces the previous one (a bad candidate never reaches
 * the path the service reads), the running service reloaded, and what sshd gives a guest on
 * that listener proven with `sshd -T -f … -C …,laddr=…,lport=…`.
 */
import { sh } from '../transport/shell-quote.js';
import { diffFile, wholeFile } from './file.js';
import { parseFile, probeFile, writeFileScript, type FileObserved, type FileSpec } from './file-state.js';
import { defineKind, keyValues, type Delta } from './kind.js';
import {
  SSHD,
  WATCHED_SSHD_KEYWORDS,
  describeMismatch,
  effectiveMismatches,
  effectiveProbe,
  parseEffective,
  verifyEffectiveScript,
  type Effective,
  type SshdCheck,
  type SshdTestConnection,
} from './sshd-effective.js';

export interface SshdConfigSpec extends FileSpec {
  /** the service running `sshd -D -f <path>` (systemd unit, or launchd label on macOS): reloaded after a change */
  unit: string;
  /** how: `systemctl reload` (Linux, default), or SIGHUP through launchctl (macOS), when it runs */
  reload?: 'systemd' | 'launchd';
  /** where the listener listens: the connection `sshd -T` evaluates arrives there */
  listen: { address: string; port: number };
  /** accounts whose effective settings must be these (absent from `sshd -T` until they exist) */
  checks: SshdCheck[];
}

export interface SshdConfigObserved {
  file: FileObserved;
  sshd: boolean;
  effective: Effective;
}

function connection(spec: SshdConfigSpec): SshdTestConnection {
  // Everything this listener sees comes from loopback: the tunnel's end, on this host.
  return { config: spec.path, addresses: [spec.listen.address], local: spec.listen };
}

/**
 * sshd re-executes itself on SIGHUP with the new file, keeping its pid (launchd and systemd see
 * the same process) and its guests' sessions (each in a session of its own).
 */
function reloadScript(spec: SshdConfigSpec): string {
  return spec.reload === 'launchd'
    ? sh`launchctl kill HUP ${`system/${spec.unit}`} 2>/dev/null || :`
    : sh`if systemctl is-active --quiet ${spec.unit} 2>/dev/null; then systemctl reload ${spec.unit}; fi`;
}

/** Writes a candidate beside the file, validates it, then moves it into place and reloads. */
function changeScript(spec: SshdConfigSpec): string {
  const candidate = `${spec.path}.pairctl-new`;
  return (
    writeFileScript({ ...spec, path: candidate }) +
    sh`
if ! out=$(${SSHD} -t -f ${candidate} 2>&1); then
  rm -f ${candidate}
  printf 'pairctl: sshd -t rejected the new configuration of %s, which was left as it was:\\n%s\\n' ${spec.path} "$out" >&2
  exit 1
fi
mv -f ${candidate} ${spec.path}
` +
    reloadScript(spec) +
    '\n' +
    verifyEffectiveScript(spec.checks, connection(spec), `${spec.path} is the whole config of ${spec.unit}`)
  );
}

export const sshdConfigKind = defineKind<SshdConfigSpec, SshdConfigObserved>({
  kind: 'sshd_config',
  backupFile: wholeFile,
  name: (spec) => spec.path,
  probe: (spec) =>
    probeFile(spec.path) +
    sh`
if [ -x ${SSHD} ]; then echo sshd=yes; else echo sshd=no; fi
if [ -f ${spec.path} ]; then :` +
    effectiveProbe(spec.checks, connection(spec), WATCHED_SSHD_KEYWORDS) +
    '\nfi',
  parse: (output) => ({ file: parseFile(output), sshd: keyValues(output).get('sshd') === 'yes', effective: parseEffective(output) }),
  diff: (spec, observed, ctx): Delta => {
    const fileDelta = diffFile(spec, observed.file, ctx);
    if (!ctx.wanted || fileDelta.action === 'noop') {
      // In sync, yet sshd reads it otherwise (a different OpenSSH): say so rather than claim success.
      const errors = ctx.wanted
        ? effectiveMismatches(spec.checks, connection(spec), observed.effective).map((m) => `${describeMismatch(m)} on ${spec.unit} although ${spec.path} says otherwise`)
        : [];
      return { ...fileDelta, errors: [...fileDelta.errors, ...errors] };
    }
    return { ...fileDelta, script: changeScript(spec) };
  },
});
