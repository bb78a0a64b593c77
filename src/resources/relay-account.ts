/**
 * An account pairctl makes on a relay: a host's tunnel account, or a jump guest's account. It
 * only ever forwards ports (sshd's Match block and the key options decide which), so it gets no
 * usable shell (`nologin`: even the forced command runs through it and goes nowhere), password
 * `*` (key login only, yet not "locked"), exactly the wanted groups, and a root-owned home so
 * it cannot plant files sshd would read.
 */
import { sh } from '../transport/shell-quote.js';
import { accountReads, removeLinuxAccountScript, type AccountObserved } from './account.js';
import { defineKind, noop, type AttributeChange } from './kind.js';

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
    const groupsArg = spec.groups.length > 0 ? sh` --groups ${spec.groups.join(',')}` : '';
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
        script:
          sh`useradd --no-create-home --home-dir ${spec.home} --shell ${spec.shell} --comment ${spec.comment} --password '*'` +
          groupsArg +
          sh` ${spec.name}
install -d -m 0755 -o root -g root ${spec.home}`,
      };
    }
    const attributes: AttributeChange[] = [];
    if (observed.shell !== spec.shell) attributes.push({ name: 'shell', before: observed.shell, after: spec.shell });
    if (observed.home !== spec.home) attributes.push({ name: 'home', before: observed.home, after: spec.home });
    if (observed.password !== 'star') attributes.push({ name: 'password', before: observed.password, after: 'star' });
    const have = (observed.groups ?? []).slice(1).sort().join(',');
    const want = [...spec.groups].sort().join(',');
    if (have !== want) attributes.push({ name: 'groups', before: have, after: want });
    if (observed.homeState !== 'root:root:755') attributes.push({ name: 'home owner', before: observed.homeState, after: 'root:root:755' });
    if (attributes.length === 0) return noop();
    return {
      ...noop(),
      action: 'update',
      attributes,
      script: sh`usermod --shell ${spec.shell} --home ${spec.home} --groups ${spec.groups.join(',')} --password '*' ${spec.name}
install -d -m 0755 -o root -g root ${spec.home}
chown root:root ${spec.home}
chmod 0755 ${spec.home}`,
    };
  },
});
