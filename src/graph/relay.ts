/**
 * The desired resources of a relay: for every host tunnelling to it, an account its tunnel logs
 * in as (key from the host, locked to port forwarding on exactly that host's ports), for jump
 * hosts an account per guest that may open only those hosts' loopback ports, one sshd drop-in
 * with a Match block per account kind, and (vps) the public ports opened in ufw.
 *
 * One tunnel account per host rather than one shared: sshd's PermitListen is per Match block,
 * so each host may listen only on its own ports, and a host that leaves takes its account (and
 * its open connection) with it without touching the others.
 */
import type { Guest, Host, PairConfig, Relay } from '../config/model.js';
import type { DirectorySpec } from '../resources/directory.js';
import type { FileSpec } from '../resources/file-state.js';
import type { PackageSpec } from '../resources/package.js';
import type { RelayAccountSpec } from '../resources/relay-account.js';
import type { SshdDropinSpec } from '../resources/sshd-dropin.js';
import type { UfwRuleSpec } from '../resources/ufw-rule.js';
import { render } from '../templates/render.js';
import { expiryTime } from './authorized-keys.js';
import { SSH_HOST_KEYS_PROBE, TUNNEL_PUBLIC_KEY_FACT, factValue, publicKeyLines, type Facts } from './facts.js';
import {
  JUMP_GROUP,
  NOLOGIN_SHELL,
  NO_COMMAND,
  RELAY_SSHD_DROPIN,
  TUNNEL_KEY,
  guestAccount,
  relayHome,
  tunnelAccount,
} from './paths.js';
import { ACCOUNT_KEY_SOURCES, GLOBAL_ONLY_SETTINGS, KEY_ONLY_AUTH, expectations } from './sshd-settings.js';
import { relayExpiryResources } from './guest-expiry.js';
import { address, emptyPart, listenAddress, relayPorts, resource, type MachinePart } from './tunnel-host.js';

/** Settings every account pairctl makes on a relay gets: keys only, nothing but what is granted. */
const LOCKED: ReadonlyArray<[string, string]> = [
  ...KEY_ONLY_AUTH,
  ...ACCOUNT_KEY_SOURCES,
  ['AllowAgentForwarding', 'no'],
  ['AllowStreamLocalForwarding', 'no'],
  ['X11Forwarding', 'no'],
  ['PermitTunnel', 'no'],
  ['PermitTTY', 'no'],
  ['PermitUserRC', 'no'],
  ['ForceCommand', NO_COMMAND],
];

/** sshd settings of a host's tunnel account: remote forwarding on exactly its ports. */
export function tunnelSettings(host: Host): Array<[string, string]> {
  const bind = listenAddress(host);
  return [
    ...LOCKED,
    ['AllowTcpForwarding', 'remote'],
    // clientspecified lets the vps tunnel bind 0.0.0.0; jump binds 127.0.0.1, which `no` allows.
    ['GatewayPorts', host.tunnel.provider === 'vps' ? 'clientspecified' : 'no'],
    ['PermitListen', relayPorts(host).map((p) => `${bind}:${p.port}`).join(' ')],
    ['PermitOpen', 'none'],
    // A dead tunnel's session would keep holding the port; the relay drops it within 45 s.
    ['ClientAliveInterval', '15'],
    ['ClientAliveCountMax', '3'],
  ];
}

/** sshd settings of jump guests: local forwarding to exactly the jump hosts' loopback ports. */
export function jumpGuestSettings(hosts: Host[]): Array<[string, string]> {
  return [
    ...LOCKED,
    ['AllowTcpForwarding', 'local'],
    ['GatewayPorts', 'no'],
    ['PermitListen', 'none'],
    ['PermitOpen', jumpTargets(hosts).join(' ')],
  ];
}

/** Every loopback host:port a jump guest may open through this relay. */
function jumpTargets(hosts: Host[]): string[] {
  return hosts.flatMap((h) => relayPorts(h).map((p) => `127.0.0.1:${p.port}`));
}

/** The tunnel key's line in the tunnel account's authorized_keys. */
export function tunnelKeyLine(host: Host, publicKey: string): string {
  const listen = relayPorts(host).map((p) => `permitlisten="${listenAddress(host)}:${p.port}"`);
  return `restrict,port-forwarding,${listen.join(',')},command="${NO_COMMAND}" ${publicKey} pairctl-tunnel:${host.id}`;
}

/** A jump guest's key lines on the relay: forwarding to the jump hosts' ports, nothing else. */
export function jumpKeyLines(guest: Guest, hosts: Host[]): string[] {
  const options = ['restrict', 'port-forwarding', ...jumpTargets(hosts).map((t) => `permitopen="${t}"`), `command="${NO_COMMAND}"`];
  if (guest.expires) options.push(`expiry-time="${expiryTime(guest.expires)}"`);
  // The relay is where a jump guest's own address is seen, so `from` is enforced here.
  if (guest.from.length > 0) options.push(`from="${guest.from.join(',')}"`);
  return guest.keys.map((k, i) => `${options.join(',')} ${k.type} ${k.base64} pairctl:${guest.name}:${i + 1}`);
}

/** Hosts whose vps or jump tunnel goes through this relay. */
export function hostsUsing(config: PairConfig, relay: Relay): Host[] {
  return config.hosts.filter((h) => (h.tunnel.provider === 'vps' || h.tunnel.provider === 'jump') && h.tunnel.relay === relay.id);
}

/** Everything pair.yaml wants on one relay; nothing when no host uses it (the record removes the rest). */
export function relayPart(config: PairConfig, relay: Relay, facts: Facts | undefined): MachinePart {
  const part = emptyPart();
  part.facts.push(SSH_HOST_KEYS_PROBE);
  const hosts = hostsUsing(config, relay);
  if (hosts.length === 0) return part;
  if (relay.platform !== 'linux') {
    part.errors.push(`relay ${relay.id}: platform ${relay.platform} is not supported for relays yet (only linux)`);
    return part;
  }
  const taken = new Map<number, string>();
  for (const h of hosts)
    for (const p of relayPorts(h)) {
      const other = taken.get(p.port);
      if (other) part.errors.push(`port ${p.port} on relay ${relay.id} is used twice (${other} and ${h.id} ${p.what}); give each its own`);
      taken.set(p.port, `${h.id} ${p.what}`);
    }

  const root = { owner: 'root', group: 'root' };
  const sshd = resource<PackageSpec>('package', 'openssh-server', { name: 'openssh-server' });
  part.resources.push(sshd);
  const accounts: string[] = [];
  const account = (spec: RelayAccountSpec, deps: string[], keyLines: string[] | undefined) => {
    const acc = resource<RelayAccountSpec>('relay_account', spec.name, spec, deps);
    const sshDir = resource<DirectorySpec>('directory', `${spec.home}/.ssh`, { path: `${spec.home}/.ssh`, mode: '0755', ...root }, [acc.address]);
    const path = `${spec.home}/.ssh/authorized_keys`;
    // The key goes in only once sshd's Match block for the account is live: a tunnel that logged
    // in before that reload keeps the defaults (GatewayPorts no: its port bound to loopback) for
    // as long as it stays connected.
    const keys = resource<FileSpec>(
      'file',
      path,
      { path, content: render('relay-authorized-keys', { purpose: spec.purpose, lines: keyLines ?? [] }), mode: '0644', ...root },
      [sshDir.address, address('sshd_dropin', RELAY_SSHD_DROPIN)],
    );
    accounts.push(acc.address);
    part.resources.push(acc, sshDir, keys);
    return keys;
  };

  const blocks: Array<{ comment: string; match: string; settings: Array<{ key: string; value: string }> }> = [];
  const block = (comment: string, match: string, settings: Array<[string, string]>) =>
    blocks.push({ comment, match, settings: settings.map(([key, value]) => ({ key, value })) });

  for (const h of hosts) {
    const name = tunnelAccount(h.id);
    const publicKey = factValue(facts, { machine: h.id, key: TUNNEL_PUBLIC_KEY_FACT });
    let lines: string[] | undefined;
    if (publicKey) {
      try {
        lines = publicKeyLines(publicKey, `the tunnel key of host ${h.id}`).map((k) => tunnelKeyLine(h, k));
      } catch (err) {
        part.errors.push(err instanceof Error ? err.message : String(err));
      }
    }
    const keys = account(
      { name, home: relayHome(name), shell: NOLOGIN_SHELL, groups: [], comment: `pairctl tunnel of host ${h.id}`, purpose: `the tunnel of host ${h.id}` },
      [sshd.address],
      lines,
    );
    if (!lines) {
      part.deferred.push({ address: keys.address, waitsFor: { machine: h.id, key: TUNNEL_PUBLIC_KEY_FACT }, what: `the tunnel public key of host ${h.id} (made there by ${TUNNEL_KEY})` });
    }
    block(`The ${h.tunnel.provider} tunnel of host ${h.id}: it may listen on its ports, nothing else.`, `User ${name}`, tunnelSettings(h));
    if (h.tunnel.provider === 'vps') {
      for (const p of relayPorts(h)) {
        part.resources.push(
          resource<UfwRuleSpec>('ufw_rule', `${p.port}/tcp`, { port: p.port, proto: 'tcp', comment: `pairctl: ${p.what} of host ${h.id}` }),
        );
      }
    }
  }

  const jumpHosts = hosts.filter((h) => h.tunnel.provider === 'jump');
  if (jumpHosts.length > 0) {
    const group = resource('group', JUMP_GROUP, { name: JUMP_GROUP });
    part.resources.push(group);
    for (const g of config.guests) {
      const name = guestAccount(g.name);
      account(
        { name, home: relayHome(name), shell: NOLOGIN_SHELL, groups: [JUMP_GROUP], comment: `pairctl jump guest ${g.name}`, purpose: `guest ${g.name}, jumping to ${jumpHosts.map((h) => h.id).join(', ')}` },
        [sshd.address, group.address],
        jumpKeyLines(g, jumpHosts),
      );
    }
    part.resources.push(...relayExpiryResources(config.guests, (g) => address('relay_account', guestAccount(g.name))));
    block(`Guests jumping to ${jumpHosts.map((h) => h.id).join(', ')}: they may open those ports on loopback, nothing else.`, `Group ${JUMP_GROUP}`, jumpGuestSettings(jumpHosts));
  }

  // Proven for every kind of account made here: each host's tunnel account, and a jump guest.
  const checks = hosts.map((h) => ({ user: tunnelAccount(h.id), expect: expectations(tunnelSettings(h)) }));
  const firstGuest = config.guests[0];
  if (jumpHosts.length > 0 && firstGuest) checks.push({ user: guestAccount(firstGuest.name), expect: expectations(jumpGuestSettings(jumpHosts)) });
  part.resources.push(
    resource<SshdDropinSpec>(
      'sshd_dropin',
      RELAY_SSHD_DROPIN,
      {
        path: RELAY_SSHD_DROPIN,
        content: render('relay-sshd-dropin.conf', { blocks }),
        mode: '0644',
        ...root,
        checks,
        globalExpect: expectations(GLOBAL_ONLY_SETTINGS),
      },
      [sshd.address, ...accounts],
    ),
  );
  return part;
}
