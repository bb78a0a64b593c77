/**
 * tmux on a Mac, where Homebrew puts it: /opt/homebrew/bin on Apple silicon, /usr/local/bin on
 * Intel. A missing tmux is installed with brew as the owner (brew refuses to run as root), with
 * the same version gate as on Linux (server-access needs 3.3).
 */
import { ownerOutput, ownerShell } from '../session/owner-shell.js';
import { sh } from '../transport/shell-quote.js';
import { compareVersions } from './version.js';
import { defineKind, keyValues, noop } from './kind.js';
import type { PackageSpec } from './package.js';

export interface BrewPackageSpec extends PackageSpec {
  /** the account brew runs as */
  owner: string;
}

export interface BrewPackageObserved {
  path?: string;
  version?: string;
  brew?: string;
  arch?: string;
}

export const brewPackageKind = defineKind<BrewPackageSpec, BrewPackageObserved>({
  kind: 'brew_package',
  name: (spec) => spec.name,
  // Homebrew's prefix belongs to the owner: root neither tests nor runs anything in it. The
  // owner looks, and only a known path and a version-shaped answer are kept.
  probe: (spec) =>
    ownerOutput(
      ownerShell(
        'macos',
        spec.owner,
        sh`for d in /opt/homebrew/bin /usr/local/bin; do
  if [ -x "$d/"${spec.name} ]; then echo "path=$d/"${spec.name}; echo "toolversion=$("$d/"${spec.name} -V 2>/dev/null | head -n 1)"; break; fi
done
for d in /opt/homebrew/bin /usr/local/bin; do if [ -x "$d/brew" ]; then echo "brew=$d/brew"; break; fi; done`,
      ),
      `^(path=(/opt/homebrew|/usr/local)/bin/${spec.name}|toolversion=[A-Za-z0-9 ._-]*|brew=(/opt/homebrew|/usr/local)/bin/brew)$`,
    ) + `
echo "arch=$(uname -m)"`,
  parse: (output, spec) => {
    const kv = keyValues(output);
    const known = (v: string | undefined, leaf: string) => (v === `/opt/homebrew/bin/${leaf}` || v === `/usr/local/bin/${leaf}` ? v : undefined);
    return {
      path: known(kv.get('path'), spec.name),
      version: kv.get('toolversion')?.match(/\d+(?:\.\d+)+[a-z]?/)?.[0],
      brew: known(kv.get('brew'), 'brew'),
      arch: kv.get('arch'),
    };
  },
  diff: (spec, observed, ctx) => {
    if (!ctx.wanted) return noop();
    const errors: string[] = [];
    const warnings: string[] = [];
    if (observed.version && spec.minVersion && compareVersions(observed.version, spec.minVersion) < 0) {
      errors.push(
        `${spec.name} ${observed.version} at ${observed.path} is older than ${spec.minVersion}: ${spec.minReason ?? ''}; upgrade it with: brew upgrade ${spec.name}`.trim(),
      );
    }
    if (observed.version && spec.warnBelow && compareVersions(observed.version, spec.warnBelow.version) < 0) {
      warnings.push(`${spec.name} ${observed.version} is older than ${spec.warnBelow.version}: ${spec.warnBelow.message}`);
    }
    if (observed.version && spec.warnAbove && compareVersions(observed.version, spec.warnAbove.version) > 0) {
      warnings.push(`${spec.name} ${observed.version} is newer than ${spec.warnAbove.version}: ${spec.warnAbove.message}`);
    }
    if (observed.path) return noop(warnings, errors);
    if (!observed.brew) {
      errors.push(`${spec.name} is not installed and Homebrew was not found in /opt/homebrew or /usr/local; install Homebrew (https://brew.sh), then apply again`);
      return noop(warnings, errors);
    }
    return {
      action: 'create',
      attributes: [
        { name: 'via', after: `${observed.brew} (as ${spec.owner})` },
        { name: 'prefix', after: observed.arch === 'arm64' ? '/opt/homebrew' : '/usr/local' },
      ],
      warnings,
      errors,
      script: sh`sudo -u ${spec.owner} -H ${observed.brew} install ${spec.name}`,
    };
  },
});
