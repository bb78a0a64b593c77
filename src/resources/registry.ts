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
import { systemdServiceKind } from './systemd-service.js';
import { systemdTimerKind } from './systemd-timer.js';
import { tunnelKeyKind } from './tunnel-key.js';
import { ufwRuleKind } from './ufw-rule.js';

const kinds: AnyKind[] = [ownerKind, packageKind, groupKind, accountKind, directoryKind, fileKind, sshdDropinKind, sessionAccessKind,
  macosHostKind, brewPackageKind, macosGroupKind, macosAccountKind, launchdServiceKind];
// Tunnels and relays (vps, jump, ngrok).
kinds.push(tunnelKeyKind, systemdServiceKind, secretFileKind, relayAccountKind, ufwRuleKind, sshdConfigKind);
// Guests' expiry (graph/guest-expiry.ts).
kinds.push(systemdTimerKind);

const byName = new Map(kinds.map((k) => [k.kind, k]));

/** Looks a kind up by the name stored in resources and records. */
export function kindOf(name: string): AnyKind {
  const k = byName.get(name);
  if (!k) throw new Error(`unknown resource kind "${name}" (a record written by a newer pairctl?)`);
  return k;
}
