/**
 * A launchd daemon on a Mac (the tunnel): its property list in /Library/LaunchDaemons, loaded
 * with `launchctl bootstrap system` and removed with `bootout`. KeepAlive in the plist is what
 * restarts it, as Restart=always does for the systemd unit on Linux.
 */
import { sh } from '../transport/shell-quote.js';
import { parseFile, probeFile, writeFileScript, type FileObserved, type FileSpec } from './file-state.js';
import { diffFile, wholeFile } from './file.js';
import { defineKind, keyValues, noop } from './kind.js';

export interface LaunchdServiceSpec extends FileSpec {
  label: string;
}

export interface LaunchdServiceObserved {
  file: FileObserved;
  loaded: boolean;
  /** `state = …` from launchctl print, e.g. running, waiting, not running */
  state?: string;
}

export const launchdServiceKind = defineKind<LaunchdServiceSpec, LaunchdServiceObserved>({
  kind: 'launchd_service',
  backupFile: wholeFile,
  name: (spec) => spec.label,
  probe: (spec) =>
    probeFile(spec.path) +
    sh`
if out=$(launchctl print ${'system/' + spec.label} 2>&1); then
  echo loaded=yes
  printf '%s\\n' "$out" | sed -n 's/^[[:space:]]*state = \\(.*\\)$/state=\\1/p' | head -n 1
else
  echo loaded=no
fi`,
  parse: (output) => {
    const kv = keyValues(output);
    return { file: parseFile(output), loaded: kv.get('loaded') === 'yes', state: kv.get('state') };
  },
  diff: (spec, observed, ctx) => {
    const target = `system/${spec.label}`;
    if (!ctx.wanted) {
      if (observed.file.type === 'absent' && !observed.loaded) return noop();
      return {
        ...noop(),
        action: 'delete',
        script: sh`launchctl bootout ${target} 2>/dev/null || :
rm -f ${spec.path}`,
      };
    }
    const file = diffFile(spec, observed.file, ctx);
    if (file.action === 'noop' && observed.loaded) return noop();
    // launchd keeps the plist it loaded: a changed file only takes effect after bootout + bootstrap.
    const reload = sh`launchctl bootout ${target} 2>/dev/null || :
launchctl bootstrap system ${spec.path}`;
    if (file.action === 'noop') {
      return { ...noop(), action: 'update', attributes: [{ name: 'loaded', before: 'no', after: 'yes' }], script: reload };
    }
    return { ...file, script: `${writeFileScript(spec)}\n${reload}` };
  },
});
