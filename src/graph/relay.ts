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
import { SSH_HOST_KEYS_PROBE } from './facts.js';
import { JUMP_GROUP, NOLOGIN_SHELL, NO_COMMAND, RELAY_SSHD_DROPIN, TUNNEL_KEY, guestAccount, relayHome } from './paths.js';
import { GLOBAL_ONLY_SETTINGS, expectations, jumpGuestSettings, tunnelSettings } from './sshd-settings.js';
import { relayExpiryResources } from './guest-expiry.js';
import { address, emptyPart, resource, type MachinePart } from './resource.js';
import { isRelayTunnel, type RelayTunnel, type Tunnel } from './tunnel.js';

/** Every loopback host:port a jump guest may open through this relay. */
function jumpTargets(tunnels: RelayTunnel[]): string[] {
  return tunnels.flatMap((t) => t.ports.map((p) => `127.0.0.1:${p.port}`));
}

/** A jump guest's key lines on the relay: forwarding to the jump hosts' ports, nothing else. */
export function jumpKeyLines(guest: Guest, tunnels: RelayTunnel[]): string[] {
  const options = ['restrict', 'port-forwarding', ...jumpTargets(tunnels).map((t) => `permitopen="${t}"`), `command="${NO_COMMAND}"`];
  if (guest.expires) options.push(`expiry-time="${expiryTime(guest.expires)}"`);
  // The relay is where a jump guest's own address is seen, so `from` is enforced here.
  if (guest.from.length > 0) options.push(`from="${guest.from.join(',')}"`);
  return guest.keys.map((k, i) => `${options.join(',')} ${k.type} ${k.base64} pairctl:${guest.name}:${i + 1}`);
}

/** Hosts whose vps or jump tunnel goes through this relay. */
export function hostsUsing(config: PairConfig, relay: Relay): Host[] {
  return config.hosts.filter((h) => (h.tunnel.provider === 'vps' || h.tunnel.provider === 'jump') && h.tunnel.relay === relay.id);
}

/** Tunnels of hosts whose vps or jump tunnel goes through this relay, in pair.yaml's order. */
function tunnelsUsing(tunnels: Tunnel[], relay: Relay): RelayTunnel[] {
  return tunnels.filter(isRelayTunnel).filter((t) => t.host.tunnel.relay === relay.id);
}

/**
 * Everything pair.yaml wants on one relay, read from the tunnels through it (tunnel.ts); nothing
 * when no host uses it (the record removes the rest).
 */
export function relayPart(config: PairConfig, relay: Relay, allTunnels: Tunnel[]): MachinePart {
  const part = emptyPart();
  part.facts.push(SSH_HOST_KEYS_PROBE);
  const tunnels = tunnelsUsing(allTunnels, relay);
  if (tunnels.length === 0) return part;
  // The config rules refused a non-Linux relay in use (relay-platform-unsupported) and ports used twice (relay-port-conflict).
  if (relay.platform !== 'linux') throw new Error(`internal error: relay ${relay.id} is ${relay.platform}; loadConfig lets only linux relays through`);

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

  for (const t of tunnels) {
    const h = t.host;
    if (t.keyError) part.errors.push(t.keyError);
    const keys = account(
      { name: t.account, home: relayHome(t.account), shell: NOLOGIN_SHELL, groups: [], comment: `pairctl tunnel of host ${h.id}`, purpose: `the tunnel of host ${h.id}` },
      [sshd.address],
      t.keyLines,
    );
    if (!t.keyLines) {
      part.deferred.push({ address: keys.address, waitsFor: t.publicKey, what: `the tunnel public key of host ${h.id} (made there by ${TUNNEL_KEY})` });
    }
    block(`The ${t.provider} tunnel of host ${h.id}: it may listen on its ports, nothing else.`, `User ${t.account}`, tunnelSettings(t));
    if (t.provider === 'vps') {
      for (const p of t.ports) {
        part.resources.push(
          resource<UfwRuleSpec>('ufw_rule', `${p.port}/tcp`, { port: p.port, proto: 'tcp', comment: `pairctl: ${p.what} of host ${h.id}` }),
        );
      }
    }
  }

  const jumps = tunnels.filter((t) => t.provider === 'jump');
  const jumpHosts = jumps.map((t) => t.host);
  if (jumps.length > 0) {
    const group = resource('group', JUMP_GROUP, { name: JUMP_GROUP });
    part.resources.push(group);
    for (const g of config.guests) {
      const name = guestAccount(g.name);
      account(
        { name, home: relayHome(name), shell: NOLOGIN_SHELL, groups: [JUMP_GROUP], comment: `pairctl jump guest ${g.name}`, purpose: `guest ${g.name}, jumping to ${jumpHosts.map((h) => h.id).join(', ')}` },
        [sshd.address, group.address],
        jumpKeyLines(g, jumps),
      );
    }
    part.resources.push(...relayExpiryResources(config.guests, (g) => address('relay_account', guestAccount(g.name))));
    block(`Guests jumping to ${jumpHosts.map((h) => h.id).join(', ')}: they may open those ports on loopback, nothing else.`, `Group ${JUMP_GROUP}`, jumpGuestSettings(jumpTargets(jumps)));
  }

  // Proven for every kind of account made here: each host's tunnel account, and a jump guest.
  const checks = tunnels.map((t) => ({ user: t.account, expect: expectations(tunnelSettings(t)) }));
  const firstGuest = config.guests[0];
  if (jumps.length > 0 && firstGuest) checks.push({ user: guestAccount(firstGuest.name), expect: expectations(jumpGuestSettings(jumpTargets(jumps))) });
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
