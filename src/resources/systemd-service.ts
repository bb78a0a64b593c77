/**
 * A systemd service pairctl runs on a machine (the reverse tunnel, the ngrok agent): its unit
 * file, enabled at boot, and running. A changed unit file is reloaded (`daemon-reload`) and the
 * service restarted, so what runs is always what the file says. A service systemd keeps
 * restarting (`activating`, between `Restart=always` attempts) counts as running: systemd is on
 * it, and starting it again would change nothing.
 *
 * A service whose program pairctl rewrites often (the audit follower: its program holds the
 * guests' keys) keeps its unit file unchanged and runs a copy: the unit's ExecStartPre copies the
 * program into its RuntimeDirectory (root's, under /run, gone when the service stops) and
 * ExecStart runs that copy. The probe hashes the copy, so the plan knows which program really
 * runs, and a service running another one than pairctl wants is restarted — no daemon-reload,
 * which costs 180–380 ms (bench/host-work.ts) — even when an earlier apply wrote the program and
 * was cut off before the restart. Only root can write the copy's directory, so what the probe
 * hashes is what ExecStart runs.
 */
import { sh } from '../transport/shell-quote.js';
import { diffFile, wholeFile } from './file.js';
import { parseFile, probeFile, writeFileScript, type FileObserved, type FileSpec } from './file-state.js';
import { defineKind, keyValues, noop, type AttributeChange, type Delta } from './kind.js';

export interface SystemdServiceSpec extends FileSpec {
  /** the unit's name, e.g. pairctl-tunnel.service (the file is `path`) */
  unit: string;
  /** the program ExecStart runs: planning fails while it is missing */
  executable: string;
  /** what to do when `executable` is missing */
  missingHint: string;
  /** the graph writes `executable` itself, before the unit (a file resource it depends on): not missing at plan time */
  executableManaged?: boolean;
  /** the unit runs a copy of a program pairctl writes (see above): where the copy is, and the sha256 the program should have */
  runsCopy?: { path: string; sha256: string };
}

export interface SystemdServiceObserved {
  /** systemd is PID 1 and systemctl exists */
  systemd: boolean;
  file: FileObserved;
  /** `systemctl is-enabled` (empty when the unit is unknown) */
  enabled: string;
  /** `systemctl is-active` */
  active: string;
  executable: boolean;
  /** sha256 of the copy the running unit started from (`runsCopy`); '' when there is none */
  copy: string;
}

/** States in which systemd runs the service or is about to restart it. */
const RUNNING = new Set(['active', 'activating', 'reloading']);

/** Stops and forgets the unit; every command tolerates a unit that is already gone. */
function removeScript(spec: SystemdServiceSpec): string {
  return sh`systemctl disable --now ${spec.unit} >/dev/null 2>&1 || systemctl stop ${spec.unit} >/dev/null 2>&1 || :
rm -f ${spec.path}
systemctl daemon-reload
systemctl reset-failed ${spec.unit} >/dev/null 2>&1 || :`;
}

export const systemdServiceKind = defineKind<SystemdServiceSpec, SystemdServiceObserved>({
  kind: 'systemd_service',
  backupFile: wholeFile,
  name: (spec) => spec.unit,
  probe: (spec) =>
    probeFile(spec.path) +
    sh`
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  echo systemd=yes
  echo "enabled=$(systemctl is-enabled ${spec.unit} 2>/dev/null)"
  echo "active=$(systemctl is-active ${spec.unit} 2>/dev/null)"
else
  echo systemd=no
fi
if [ -x ${spec.executable} ]; then echo executable=yes; else echo executable=no; fi` +
    (spec.runsCopy ? sh`
if [ -f ${spec.runsCopy.path} ]; then h=$(sha256sum < ${spec.runsCopy.path}); echo "copy=\${h%% *}"; fi` : ''),
  parse: (output) => {
    const kv = keyValues(output);
    return {
      systemd: kv.get('systemd') === 'yes',
      file: parseFile(output),
      enabled: kv.get('enabled') ?? '',
      active: kv.get('active') ?? '',
      executable: kv.get('executable') === 'yes',
      copy: kv.get('copy') ?? '',
    };
  },
  diff: (spec, observed, ctx): Delta => {
    const running = RUNNING.has(observed.active);
    if (!ctx.wanted) {
      if (observed.file.type === 'absent' && !running && observed.enabled !== 'enabled') return noop();
      return {
        ...noop(),
        action: 'delete',
        content: observed.file.content ? { path: spec.path, before: observed.file.content, after: '' } : undefined,
        script: removeScript(spec),
      };
    }
    const errors: string[] = [];
    if (!observed.systemd) errors.push(`systemd is not running on this machine; pairctl runs ${spec.unit} as a systemd service`);
    if (!observed.executable && !spec.executableManaged) errors.push(`${spec.executable} is missing, so ${spec.unit} could not start: ${spec.missingHint}`);
    if (errors.length > 0) return noop([], errors);

    const fileDelta = diffFile(spec, observed.file, ctx);
    const changed = fileDelta.action !== 'noop';
    const enabled = observed.enabled === 'enabled';
    // Running, from a copy of another program than the one wanted (a guest added; or an apply
    // that wrote the program and was cut off before its restart).
    const stale = running && spec.runsCopy !== undefined && observed.copy !== spec.runsCopy.sha256;
    if (!changed && enabled && running && !stale) return noop();

    const attributes: AttributeChange[] = [...fileDelta.attributes];
    const scripts: string[] = [];
    if (changed) scripts.push(writeFileScript(spec), 'systemctl daemon-reload');
    if (!enabled) {
      attributes.push({ name: 'enabled', before: observed.enabled || undefined, after: 'enabled' });
      scripts.push(sh`systemctl enable --quiet ${spec.unit}`);
    }
    if (!running) attributes.push({ name: 'active', before: observed.active || undefined, after: 'active' });
    if (stale) attributes.push({ name: 'program', before: observed.copy ? `sha256:${observed.copy.slice(0, 16)}` : '(no copy)', after: `sha256:${spec.runsCopy!.sha256.slice(0, 16)}` });
    // A changed unit only takes effect on restart; a stopped or failed one is started afresh.
    // reset-failed only for a unit that is not running (failed, or stopped by its start limit): for
    // a running one it changes nothing and costs a systemctl.
    if (!running) scripts.push(sh`systemctl reset-failed ${spec.unit} >/dev/null 2>&1 || :`);
    if (changed || !running || stale) scripts.push(sh`systemctl restart ${spec.unit}`);
    return {
      ...fileDelta,
      action: observed.file.type === 'absent' ? 'create' : 'update',
      attributes,
      script: scripts.join('\n'),
    };
  },
});
