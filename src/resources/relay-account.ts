/**
 * An account pairctl makes on a relay: a host's tunnel account, or a jump guest's account. It
 * only ever forwards ports (sshd's Match block and the key options decide which), so it gets no
 * usable shell (`nologin`: even the forced command runs through it and goes nowhere), password
 * `*` (key login only, yet not "locked"), exactly the wanted groups, and a root-owned home so
 * it cannot plant files sshd would read.
 */
import { accountReads, createLinuxAccountScript, removeLinuxAccountScript, updateLinuxAccount, type AccountObserved } from './account.js';
import { defineKind, noop } from './kind.js';

export interface RelayAccountSpec {
  name: string;
  home: string;
  shell: string;
  /** supplementary groups, exactly */
  groups: string[];
  comment: string;
  /** who the account is for, said in messages, e.g. "the tunnel of host scotch" */
  purpose: string;
}

/** What is read of a relay account: the same as of a guest's account (account.ts). */
export type RelayAccountObserved = AccountObserved;

export const relayAccountKind = defineKind<RelayAccountSpec, RelayAccountObserved>({
  kind: 'relay_account',
  name: (spec) => spec.name,
  ...accountReads,
  diff: (spec, observed, ctx) => {
    if (!ctx.wanted) {
      if (!observed.exists) return noop();
      // The key goes first, then its open connections (a tunnel or a guest passing through),
      // then the account: userdel refuses while the user has processes.
      return { ...noop(), action: 'delete', script: removeLinuxAccountScript(spec) };
    }
    if (observed.exists && !ctx.recorded) {
      return noop([], [
        `account ${spec.name} (for ${spec.purpose}) already exists and was not made by pairctl; pairctl will not take over an existing account: remove it, or rename the host or guest it is for`,
      ]);
    }
    if (!observed.exists) {
      return {
        ...noop(),
        action: 'create',
        attributes: [
          { name: 'for', after: spec.purpose },
          { name: 'shell', after: spec.shell },
          { name: 'home', after: `${spec.home} (root-owned)` },
          ...(spec.groups.length > 0 ? [{ name: 'groups', after: spec.groups.join(',') }] : []),
          { name: 'password', after: '* (key login only)' },
        ],
        script: createLinuxAccountScript(spec),
      };
    }
    return updateLinuxAccount(spec, observed);
  },
});
