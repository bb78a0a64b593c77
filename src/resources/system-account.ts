/**
 * An account pairctl makes on a host for one of its own services (the session recorder,
 * graph/recording.ts): never a person's. It is made, read and kept exactly as a relay's
 * forward-only accounts are (relay-account.ts: nologin shell, password `*`, exactly the wanted
 * groups, a root-owned home, never an account someone else made); only the kind's name differs,
 * so a host's plan does not call it a relay account.
 */
import type { AnyKind } from './kind.js';
import { relayAccountKind } from './relay-account.js';

export type { RelayAccountSpec as SystemAccountSpec } from './relay-account.js';

export const systemAccountKind: AnyKind = { ...relayAccountKind, kind: 'system_account' };
