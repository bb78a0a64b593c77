/**
 * Preconditions of a Mac host that pairctl checks but never changes: Remote Login must be on
 * (turning it on is the owner's decision, and needs Full Disk Access), and when Remote Login is
 * limited to some users (the com.apple.access_ssh group exists) guest accounts must be added to
 * that group, which macos_account does.
 */
import { defineKind, keyValues, noop } from './kind.js';

export interface MacosHostSpec {
  host: string;
}

export interface MacosHostObserved {
  version?: string;
  /** from `systemsetup -getremotelogin`; unknown when it needs Full Disk Access it lacks */
  remoteLogin: 'on' | 'off' | 'unknown';
  /** com.openssh.sshd is loaded in launchd (Remote Login's own switch) */
  sshdLoaded: boolean;
  /** Remote Login limited to members of com.apple.access_ssh */
  accessLimited: boolean;
}

export const macosHostKind = defineKind<MacosHostSpec, MacosHostObserved>({
  kind: 'macos_host',
  name: (spec) => spec.host,
  probe: () => `echo "version=$(sw_vers -productVersion 2>/dev/null)"
echo "remotelogin=$(systemsetup -getremotelogin 2>&1 | head -n 1)"
if launchctl print system/com.openssh.sshd >/dev/null 2>&1; then echo sshd=loaded; else echo sshd=unloaded; fi
if dscl . -read /Groups/com.apple.access_ssh RecordName >/dev/null 2>&1; then echo access=limited; else echo access=all; fi`,
  parse: (output) => {
    const kv = keyValues(output);
    const rl = kv.get('remotelogin') ?? '';
    return {
      version: kv.get('version') || undefined,
      remoteLogin: /Remote Login: On/i.test(rl) ? 'on' : /Remote Login: Off/i.test(rl) ? 'off' : 'unknown',
      sshdLoaded: kv.get('sshd') === 'loaded',
      accessLimited: kv.get('access') === 'limited',
    };
  },
  diff: (spec, observed, ctx) => {
    if (!ctx.wanted) return noop();
    const on = observed.remoteLogin === 'on' || (observed.remoteLogin === 'unknown' && observed.sshdLoaded);
    if (on) return noop();
    return noop(
      [],
      [
        `Remote Login is off on ${spec.host}, so guests cannot connect; turn it on with: sudo systemsetup -setremotelogin on (System Settings > General > Sharing > Remote Login)`,
      ],
    );
  },
});
