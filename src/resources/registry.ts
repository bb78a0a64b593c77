/** Every resource kind by name: adding a kind is one module in resources/ and one line here. */
import { accountKind } from './account.js';
import { brewPackageKind } from './brew-package.js';
import { directoryKind } from './directory.js';
import { fileKind } from './file.js';
import { groupKind } from './group.js';
import type { AnyKind } from './kind.js';
import { launchdServiceKind } from './launchd-service.js';
import { macosAccountKind } from './macos-account.js';
import { macosGroupKind } from './macos-group.js';
import { macosHostKind } from './macos-host.js';
import { ownerKind } from './owner.js';
import { packageKind } from './package.js';
import { relayAccountKind } from './relay-account.js';
import { secretFileKind } from './secret-file.js';
import { sessionAccessKind } from './session-access.js';
import { sshdConfigKind } from './sshd-config.js';
import { sshdDropinKind } from './sshd-dropin.js';
import { systemAccountKind } from './system-account.js';
import { systemdServiceKind } from './systemd-service.js';
import { systemdTimerKind } from './systemd-timer.js';
import { tunnelKeyKind } from './tunnel-key.js';
import { ufwRuleKind } from './ufw-rule.js';

/** Every kind, under the name resources and records carry (`Resource['kind']` is one of these keys). */
export const KINDS = {
  owner: ownerKind,
  package: packageKind,
  group: groupKind,
  account: accountKind,
  directory: directoryKind,
  file: fileKind,
  sshd_dropin: sshdDropinKind,
  session_access: sessionAccessKind,
  macos_host: macosHostKind,
  brew_package: brewPackageKind,
  macos_group: macosGroupKind,
  macos_account: macosAccountKind,
  launchd_service: launchdServiceKind,
  // Tunnels and relays (vps, jump, ngrok).
  tunnel_key: tunnelKeyKind,
  systemd_service: systemdServiceKind,
  secret_file: secretFileKind,
  relay_account: relayAccountKind,
  ufw_rule: ufwRuleKind,
  sshd_config: sshdConfigKind,
  // Guests' expiry (graph/guest-expiry.ts).
  systemd_timer: systemdTimerKind,
  // The session recorder's account (graph/recording.ts).
  system_account: systemAccountKind,
} as const satisfies Record<string, AnyKind>;

/** A kind's name: a misspelt one in a graph builder or a test does not compile. */
export type KindName = keyof typeof KINDS;

/** True when `name` (read from disk: a machine's record, a saved plan) is a kind this pairctl knows. */
export function isKindName(name: string): name is KindName {
  return Object.hasOwn(KINDS, name);
}

/**
 * Looks a kind up by name. Names written in code are checked by the compiler; a name that came
 * from disk is typed only because the JSON was cast, so it is checked here at run time too.
 */
export function kindOf(name: KindName): AnyKind {
  if (!isKindName(name)) throw new Error(`unknown resource kind "${String(name)}" (a record written by a newer pairctl?)`);
  return KINDS[name];
}
