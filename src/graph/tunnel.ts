/**
 * Each host's tunnel, worked out once from pair.yaml, where the relays' sshd are and the facts
 * read so far: the data both ends build from. The host's end (tunnel-host.ts) reads its
 * endpoint and ports to hold `ssh -N -R` open; the relay's end (relay.ts) reads the same account,
 * ports and key lines to let exactly that tunnel in. Neither end works any of it out again.
 */
import type { Host, PairConfig, Relay } from '../config/model.js';
import { TUNNEL_PUBLIC_KEY_FACT, factValue, publicKeyLines, type FactRef, type Facts } from './facts.js';
import { NO_COMMAND, tunnelAccount } from './paths.js';
import { endpointFromTarget, type Endpoint } from './relay-endpoint.js';
import { GUEST_SSHD_ADDRESS, GUEST_SSHD_PORT } from './sshd-settings.js';

/** Where the tunnel's ssh port leads on the host: the guest-only listener, never port 22. */
export const GUEST_SSHD_TARGET = `${GUEST_SSHD_ADDRESS}:${GUEST_SSHD_PORT}`;

/** A port a host's tunnel opens on its relay, and where on the host it leads. */
export interface RelayPort {
  port: number;
  /** host:port on the host's side */
  to: string;
  /** "ssh" for the session's own port, else the forward's name */
  what: string;
}

/** A lan host: no tunnel, nothing on either end. */
export interface LanTunnel {
  provider: 'lan';
  host: Host;
}

/** An ngrok agent on the host; no relay of pairctl's. */
export interface NgrokTunnel {
  provider: 'ngrok';
  host: Host;
  /** why the host's end cannot be built; its part is then only these errors */
  errors: string[];
}

/** A reverse ssh tunnel from the host to one of pair.yaml's relays (vps or jump). */
export interface RelayTunnel {
  provider: 'vps' | 'jump';
  host: Host;
  /** the relay pair.yaml's `relay:` names, when it names one of `relays` */
  relay: Relay | undefined;
  /** the session's port on the relay (public for vps, loopback for jump) */
  sshPort: number | undefined;
  /** the relay's sshd, where the tunnel connects; undefined when it could not be worked out */
  endpoint: Endpoint | undefined;
  /** why the host's end cannot be built (its relay's address is unusable); its part is then only these */
  errors: string[];
  /** the account the tunnel logs in as on the relay */
  account: string;
  /** the address its ports listen on at the relay: every address for vps, loopback for jump */
  listen: string;
  /** its ports on the relay: the ssh port (to the guest-only listener), then one per forward */
  ports: RelayPort[];
  /** the host's fact the relay's key lines wait for: the tunnel key's public half */
  publicKey: FactRef;
  /** the lines of the tunnel account's authorized_keys; undefined while the public key is not known */
  keyLines: string[] | undefined;
  /** why the public key read from the host cannot be used (a relay plan error) */
  keyError?: string;
}

export type Tunnel = LanTunnel | NgrokTunnel | RelayTunnel;

/** What a tunnel needs besides pair.yaml (build-graph.ts GraphInputs). */
export interface TunnelInputs {
  facts?: Facts;
  relayEndpoints?: Record<string, Endpoint>;
}

/** Every host's tunnel, in the order of `config.hosts`. */
export function tunnelsOf(config: PairConfig, inputs: TunnelInputs = {}): Tunnel[] {
  return config.hosts.map((h) => tunnelOf(config, h, inputs));
}

/** One host's tunnel; every failure to work out its inputs is an error on it, not a crash. */
export function tunnelOf(config: PairConfig, host: Host, inputs: TunnelInputs = {}): Tunnel {
  const { provider } = host.tunnel;
  if (provider === 'lan') return { provider, host };
  const errors: string[] = [];
  // The config rule ngrok-platform-unsupported refused this before a graph is built.
  if (host.platform === 'macos' && provider === 'ngrok') throw new Error(`internal error: host ${host.id} is macOS with an ngrok tunnel`);
  const relay = config.relays.find((r) => r.id === host.tunnel.relay);
  let endpoint: Endpoint | undefined;
  try {
    if (relay) endpoint = inputs.relayEndpoints?.[relay.id] ?? endpointFromTarget(relay);
  } catch (err) {
    errors.push(err instanceof Error ? err.message : String(err));
  }
  if (provider === 'ngrok') return { provider, host, errors };

  const listen = listenAddress(host);
  const ports = relayPorts(host);
  const publicKey: FactRef = { machine: host.id, key: TUNNEL_PUBLIC_KEY_FACT };
  const tunnel: RelayTunnel = {
    provider,
    host,
    relay,
    sshPort: host.tunnel.port,
    endpoint,
    errors,
    account: tunnelAccount(host.id),
    listen,
    ports,
    publicKey,
    keyLines: undefined,
  };
  const value = factValue(inputs.facts, publicKey);
  if (value) {
    try {
      tunnel.keyLines = publicKeyLines(value, `the tunnel key of host ${host.id}`).map((k) => tunnelKeyLine(tunnel, k));
    } catch (err) {
      tunnel.keyError = err instanceof Error ? err.message : String(err);
    }
  }
  return tunnel;
}

/** Whether the tunnel goes through a relay of pairctl's (vps or jump). */
export function isRelayTunnel(t: Tunnel): t is RelayTunnel {
  return t.provider === 'vps' || t.provider === 'jump';
}

/** What the relay end listens on for a host: vps on every address (public), jump on loopback only. */
function listenAddress(host: Host): string {
  return host.tunnel.provider === 'vps' ? '0.0.0.0' : '127.0.0.1';
}

/** The relay ports a host's tunnel opens: its ssh port (to the guest-only listener), then one per forward. */
function relayPorts(host: Host): RelayPort[] {
  const ports = host.tunnel.port !== undefined ? [{ port: host.tunnel.port, to: GUEST_SSHD_TARGET, what: 'ssh' }] : [];
  for (const f of host.forwards) ports.push({ port: f.remote, to: `localhost:${f.local}`, what: f.name });
  return ports;
}

/** The tunnel key's line in the tunnel account's authorized_keys. */
function tunnelKeyLine(t: RelayTunnel, publicKey: string): string {
  const listen = t.ports.map((p) => `permitlisten="${t.listen}:${p.port}"`);
  return `restrict,port-forwarding,${listen.join(',')},command="${NO_COMMAND}" ${publicKey} pairctl-tunnel:${t.host.id}`;
}
