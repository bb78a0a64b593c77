/** How a Linux host carries out the pairing setup (host.ts): apt's packages, useradd, systemd's sshd. */
import type { Host, PairConfig } from '../config/model.js';
import type { Resource } from '../resources/kind.js';
import { auditResources } from './audit.js';
import { hostResources, type PlatformProfile } from './host.js';
import { GUEST_GROUP, LIBEXEC_DIR } from './paths.js';
import { recordingResources } from './recording.js';
import { address } from './resource.js';

export const LINUX: PlatformProfile = {
  rootGroup: 'root',
  packageKind: 'package',
  extraPackages: ['openssh-server'],
  groupKind: 'group',
  accountKind: 'account',
  homeBase: '/home',
  sshdReload: 'systemd',
};

/** Every resource pairctl wants on a Linux host, in dependency order. */
export function linuxHostResources(config: PairConfig, host: Host): Resource[] {
  return [
    ...hostResources(config, host, LINUX),
    ...auditResources(config, host),
    ...recordingResources(config, host, { group: address(LINUX.groupKind, GUEST_GROUP), libexec: address('directory', LIBEXEC_DIR) }),
  ];
}
