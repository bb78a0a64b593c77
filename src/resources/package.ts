/**
 * A system package pairctl needs (tmux, openssh-server), installed with apt or dnf, with a
 * version gate: tmux's server-side ACL (`server-access`) exists only from 3.3. Packages are never
 * removed: they may have been there before pairctl, and other things may use them.
 */
import { sh } from '../transport/shell-quote.js';
import { compareVersions } from './version.js';
import { defineKind, keyValues, noop } from './kind.js';

export interface PackageSpec {
  name: string;
  /** command whose output's first version-like word is the installed version, e.g. "tmux -V" */
  versionCommand?: string[];
  /** refuse to plan below this version */
  minVersion?: string;
  /** why the minimum exists, said with the error */
  minReason?: string;
  /** warn below this version */
  warnBelow?: { version: string; message: string };
  /** warn above this version (newer than what pairctl's guarantees were proven on) */
  warnAbove?: { version: string; message: string };
}

export interface PackageObserved {
  manager: 'apt' | 'dnf' | 'none';
  installed: boolean;
  /** version reported by versionCommand, else by the package manager */
  version?: string;
  /** what the package manager would install */
  candidate?: string;
}

/**
 * What installing a package does beyond adding files, said in the plan: Debian's openssh-server
 * starts sshd on port 22, on every interface, as soon as it is installed, which on a workstation
 * is a new way in that nobody asked for by name.
 */
const INSTALL_EFFECTS: Record<string, { attribute: string; warning: () => string }> = {
  'openssh-server': {
    attribute: 'sshd on port 22, every interface',
    warning: () =>
      'installing openssh-server starts an ssh server (sshd) listening on port 22 on every network interface of this machine, at once and at every boot; ' +
      'anyone who can reach the machine can try to log in. pairctl makes guest accounts key-only, but every other account keeps sshd\'s defaults: firewall port 22 on untrusted networks',
  },
};

export const packageKind = defineKind<PackageSpec, PackageObserved>({
  kind: 'package',
  removalNote: (spec) => `package ${spec.name} stays installed: pairctl never uninstalls packages (they may predate it, and other software may use them)`,
  name: (spec) => spec.name,
  probe: (spec) => {
    const versionProbe = spec.versionCommand
      ? sh`v=$(${spec.versionCommand} 2>/dev/null) && echo "toolversion=\${v%%[![:print:]]*}"`
      : ':';
    return sh`if command -v apt-get >/dev/null 2>&1; then
  echo manager=apt
  s=$(dpkg-query -W -f='\${db:Status-Abbrev} \${Version}' ${spec.name} 2>/dev/null) || s=
  # apt-cache policy reads every package list (~0.6 s): ask it only when there is no version yet.
  case "$s" in
    ii*) echo "installed=\${s##* }" ;;
    *) echo "candidate=$(apt-cache policy ${spec.name} 2>/dev/null | sed -n 's/^ *Candidate: *//p')" ;;
  esac
elif command -v dnf >/dev/null 2>&1; then
  echo manager=dnf
  v=$(rpm -q --qf '%{VERSION}' ${spec.name} 2>/dev/null) && echo "installed=$v"
else
  echo manager=none
fi
` + versionProbe;
  },
  parse: (output) => {
    const kv = keyValues(output);
    const manager = kv.get('manager');
    const installed = kv.get('installed');
    const tool = kv.get('toolversion')?.match(/\d+(?:\.\d+)+[a-z]?/)?.[0];
    const candidate = kv.get('candidate');
    return {
      manager: manager === 'apt' || manager === 'dnf' ? manager : 'none',
      installed: Boolean(installed) || Boolean(tool),
      version: tool ?? installed,
      candidate: candidate && candidate !== '(none)' ? candidate : undefined,
    };
  },
  diff: (spec, observed, ctx) => {
    if (!ctx.wanted) return noop();
    const errors: string[] = [];
    const warnings: string[] = [];
    const version = observed.installed ? observed.version : observed.candidate;
    if (spec.minVersion && version && compareVersions(version, spec.minVersion) < 0) {
      errors.push(
        `${spec.name} ${version} ${observed.installed ? 'is installed' : 'is what the package manager offers'}, but pairctl needs ${spec.minVersion} or newer: ${spec.minReason ?? ''}`.trim(),
      );
    }
    if (spec.warnBelow && version && compareVersions(version, spec.warnBelow.version) < 0) {
      warnings.push(`${spec.name} ${version} is older than ${spec.warnBelow.version}: ${spec.warnBelow.message}`);
    }
    if (spec.warnAbove && version && compareVersions(version, spec.warnAbove.version) > 0) {
      warnings.push(`${spec.name} ${version} is newer than ${spec.warnAbove.version}: ${spec.warnAbove.message}`);
    }
    if (observed.installed) return noop(warnings, errors);
    if (observed.manager === 'none') {
      errors.push(`${spec.name} is not installed and neither apt nor dnf was found; install ${spec.name} by hand`);
      return noop(warnings, errors);
    }
    const script =
      observed.manager === 'apt'
        ? sh`export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends ${spec.name} || { apt-get update -q && apt-get install -y -q --no-install-recommends ${spec.name}; }`
        : sh`dnf install -y -q ${spec.name}`;
    const effect = INSTALL_EFFECTS[spec.name];
    if (effect) warnings.push(effect.warning());
    return {
      action: 'create',
      attributes: [
        { name: 'version', after: observed.candidate ?? '(latest)' },
        { name: 'via', after: observed.manager },
        ...(effect ? [{ name: 'opens', after: effect.attribute }] : []),
      ],
      warnings,
      errors,
      script,
    };
  },
});
