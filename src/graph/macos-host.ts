/**
 * The desired resources of a Mac host: the same setup as on Linux, carried out with the tools a
 * Mac has (Homebrew's tmux, Directory Services accounts hidden from the login window, launchd's
 * sshd), after the preconditions pairctl only checks (Remote Login on).
 */
import type { Host, PairConfig } from '../config/model.js';
import type { Resource } from '../resources/kind.js';
import type { MacosHostSpec } from '../resources/macos-host.js';
import { hostResources, type PlatformProfile } from './host.js';
import { address } from './resource.js';

export const MACOS: PlatformProfile = {
  rootGroup: 'wheel',
  packageKind: 'brew_package',
  extraPackages: [],
  groupKind: 'macos_group',
  accountKind: 'macos_account',
  homeBase: '/Users',
  sshdReload: 'launchd',
};

/** Every resource pairctl wants on a Mac host, in dependency order. */
export function macosHostResources(config: PairConfig, host: Host): Resource[] {
  const precondition: Resource<MacosHostSpec> = {
    kind: 'macos_host',
    address: address('macos_host', host.id),
    spec: { host: host.id },
    deps: [],
  };
  return [precondition, ...hostResources(config, host, MACOS)];
}
