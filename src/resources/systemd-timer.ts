/**
 * A systemd timer and the oneshot service it starts (a guest's cut-off at its expiry): both unit
 * files, the timer enabled and active. An `OnCalendar=` timer whose time has passed stays
 * "active (elapsed)", so a plan after the cut-off still converges. A changed timer is restarted,
 * which makes systemd compute its next elapse from the new file. With `runAfterInstall` the
 * service also runs once when the units are installed or changed: a timer installed after its
 * time never fires, so the program (which checks the clock itself) is what acts on a time that
 * has already passed.
 */
import { sh } from '../transport/shell-quote.js';
import { fileInSync, parseFile, parseFiles, probeFile, probeFiles, writeFileScript, type FileObserved, type FileSpec } from './file-state.js';
import { wholeFile } from './file.js';
import { defineKind, noop, type AttributeChange, type Delta } from './kind.js';

export interface SystemdTimerSpec extends FileSpec {
  /** the timer's unit name, e.g. pairctl-expire-todd.timer (its file is `path`) */
  unit: string;
  /** the service the timer starts */
  service: { unit: string; path: string; content: string };
  /** what the plan says the timer does, e.g. cut-off = 2026-12-31T18:00:01Z */
  shows: Array<{ name: string; value: string }>;
  runAfterInstall: boolean;
}

export interface SystemdTimerObserved {
  /** systemd is PID 1 and systemctl exists */
  systemd: boolean;
  timer: FileObserved;
  service: FileObserved;
  /** UnitFileState of the timer (empty when unknown) */
  enabled: string;
  /** ActiveState of the timer */
  active: string;
}

/** The service file as a FileSpec: root-owned like its timer. */
function serviceFile(spec: SystemdTimerSpec): FileSpec {
  return { path: spec.service.path, content: spec.service.content, mode: spec.mode, owner: spec.owner, group: spec.group };
}

/** Prints a `u<TAB>`-prefixed `systemctl show` block per unit (enabled and active state), or systemd=no. */
function statesSnippet(units: string[]): string {
  return sh`
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  echo systemd=yes
  systemctl show -p Id -p UnitFileState -p ActiveState -- ${units} 2>/dev/null | sed 's/^/u\t/'
else
  echo systemd=no
fi
:`;
}

/** Parses `statesSnippet`: blocks are matched to units by their Id, not by their order. */
function parseStates(output: string): { systemd: boolean; states: Map<string, { enabled: string; active: string }> } {
  const states = new Map<string, { enabled: string; active: string }>();
  let block: Record<string, string> = {};
  const flush = () => {
    if (block.Id) states.set(block.Id, { enabled: block.UnitFileState ?? '', active: block.ActiveState ?? '' });
    block = {};
  };
  for (const line of output.split('\n')) {
    if (!line.startsWith('u\t')) continue;
    const kv = line.slice(2);
    if (kv === '') {
      flush();
      continue;
    }
    const i = kv.indexOf('=');
    if (i > 0) block[kv.slice(0, i)] = kv.slice(i + 1);
  }
  flush();
  return { systemd: output.split('\n').includes('systemd=yes'), states };
}

function observed(spec: SystemdTimerSpec, timer: FileObserved, service: FileObserved, read: ReturnType<typeof parseStates>): SystemdTimerObserved {
  const state = read.states.get(spec.unit);
  return { systemd: read.systemd, timer, service, enabled: state?.enabled ?? '', active: state?.active ?? '' };
}

/** One timer: each file read alone (its lines prefixed), then its state. */
function probeTimer(spec: SystemdTimerSpec): string {
  return `{
${probeFile(spec.path)}
} | sed 's/^/timer./'
{
${probeFile(spec.service.path)}
} | sed 's/^/service./'` + statesSnippet([spec.unit]);
}

function parseTimer(output: string, spec: SystemdTimerSpec): SystemdTimerObserved {
  const part = (prefix: string) =>
    output
      .split('\n')
      .filter((l) => l.startsWith(prefix))
      .map((l) => l.slice(prefix.length))
      .join('\n');
  return observed(spec, parseFile(part('timer.')), parseFile(part('service.')), parseStates(output));
}

/** Any number of timers in one snippet: the files in one batched read, the states in one `systemctl show`. */
function probeTimers(specs: SystemdTimerSpec[]): string {
  return probeFiles(specs.flatMap((s) => [s.path, s.service.path])) + statesSnippet(specs.map((s) => s.unit));
}

function parseTimers(output: string, specs: SystemdTimerSpec[]): SystemdTimerObserved[] {
  const files = parseFiles(output, specs.flatMap((s) => [s.path, s.service.path]));
  const read = parseStates(output);
  return specs.map((s, i) => observed(s, files[2 * i]!, files[2 * i + 1]!, read));
}

/** Stops and forgets both units and the timer's Persistent stamp; tolerates units already gone. */
function removeScript(spec: SystemdTimerSpec): string {
  return sh`systemctl disable --now ${spec.unit} >/dev/null 2>&1 || systemctl stop ${spec.unit} >/dev/null 2>&1 || :
systemctl stop ${spec.service.unit} >/dev/null 2>&1 || :
rm -f ${spec.path} ${spec.service.path} ${'/var/lib/systemd/timers/stamp-' + spec.unit}
systemctl daemon-reload
systemctl reset-failed ${spec.unit} ${spec.service.unit} >/dev/null 2>&1 || :`;
}

export const systemdTimerKind = defineKind<SystemdTimerSpec, SystemdTimerObserved>({
  kind: 'systemd_timer',
  backupFile: wholeFile,
  name: (spec) => spec.unit,
  probe: probeTimer,
  parse: parseTimer,
  probeMany: probeTimers,
  parseMany: parseTimers,
  diff: (spec, observed, ctx): Delta => {
    const shows = (side: 'before' | 'after'): AttributeChange[] => spec.shows.map((s) => ({ name: s.name, [side]: s.value }));
    if (!ctx.wanted) {
      if (observed.timer.type === 'absent' && observed.service.type === 'absent' && observed.enabled !== 'enabled' && observed.active !== 'active') return noop();
      return {
        ...noop(),
        action: 'delete',
        attributes: shows('before'),
        content: observed.timer.content ? { path: spec.path, before: observed.timer.content, after: '' } : undefined,
        script: removeScript(spec),
      };
    }
    if (!observed.systemd) return noop([], [`systemd is not running on this machine; pairctl runs ${spec.unit} as a systemd timer`]);

    const service = serviceFile(spec);
    const timerChanged = !fileInSync(spec, observed.timer);
    const serviceChanged = !fileInSync(service, observed.service);
    const enabled = observed.enabled === 'enabled';
    const active = observed.active === 'active';
    if (!timerChanged && !serviceChanged && enabled && active) return noop();

    const attributes: AttributeChange[] = shows('after');
    const scripts: string[] = [];
    if (serviceChanged) {
      if (observed.service.type !== 'absent') attributes.push({ name: spec.service.unit, before: 'changed', after: 'as pair.yaml says' });
      scripts.push(writeFileScript(service));
    }
    if (timerChanged) scripts.push(writeFileScript(spec));
    if (timerChanged || serviceChanged) scripts.push('systemctl daemon-reload');
    if (!enabled) {
      attributes.push({ name: 'enabled', before: observed.enabled || undefined, after: 'enabled' });
      scripts.push(sh`systemctl enable --quiet ${spec.unit}`);
    }
    if (!active) attributes.push({ name: 'active', before: observed.active || undefined, after: 'active' });
    scripts.push(sh`systemctl reset-failed ${spec.unit} >/dev/null 2>&1 || :
systemctl restart ${spec.unit}`);
    if (spec.runAfterInstall) scripts.push(sh`systemctl start ${spec.service.unit}`);
    return {
      ...noop(),
      action: observed.timer.type === 'absent' ? 'create' : 'update',
      attributes,
      content: observed.timer.content === spec.content ? undefined : { path: spec.path, before: observed.timer.content ?? '', after: spec.content },
      script: scripts.join('\n'),
    };
  },
});
