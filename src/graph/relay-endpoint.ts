/**
 * Where a relay's sshd is, as an address anyone can use: hosts' tunnels connect there and guests
 * are told to. pair.yaml's `ssh:` may be an alias of the operator's ssh config, so it is resolved
 * the way OpenSSH would (HostName, Port) — neither the hosts nor the guests have that config.
 */
import type { Relay } from '../config/model.js';
import { currentLocalEnv, readSshConfig, resolveSshConfig } from '../transport/ssh-config.js';
import { parseSshTarget } from '../transport/ssh-target.js';

/** An address and port of a relay's sshd. */
export interface Endpoint {
  host: string;
  port: number;
}

// What may appear in a unit's ExecStart and in a guest's command without any quoting.
const SAFE_HOST = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

/** The relay's sshd address with only pair.yaml to go on (its `ssh:` without the ssh config). */
export function endpointFromTarget(relay: Relay): Endpoint {
  const parsed = parseSshTarget(relay.ssh);
  if (!parsed.ok) throw new Error(`relay ${relay.id}: ${parsed.error}`);
  return checked(relay, { host: parsed.target.host, port: parsed.target.port ?? 22 });
}

/** The relay's sshd address as the operator's ssh config resolves its `ssh:` (like `ssh -G`). */
export function resolveRelayEndpoint(relay: Relay, sshConfigFile: string | undefined): Endpoint {
  if (relay.ssh === 'local') {
    throw new Error(`relay ${relay.id}: "ssh: local" names this machine, which hosts and guests cannot reach by that name; give its public address`);
  }
  const parsed = parseSshTarget(relay.ssh);
  if (!parsed.ok) throw new Error(`relay ${relay.id}: ${parsed.error}`);
  const local = currentLocalEnv();
  const resolved = resolveSshConfig(readSshConfig(sshConfigFile, local), parsed.target, local);
  return checked(relay, { host: resolved.hostName, port: resolved.port });
}

function checked(relay: Relay, e: Endpoint): Endpoint {
  if (!SAFE_HOST.test(e.host)) throw new Error(`relay ${relay.id}: its address ${JSON.stringify(e.host)} is not a host name or IP address`);
  return e;
}

/** `[host]:port` for a user@host:port argument (ProxyJump), bare host when the port is 22. */
export function jumpAddress(e: Endpoint): string {
  const host = e.host.includes(':') ? `[${e.host}]` : e.host;
  return e.port === 22 ? host : `${host}:${e.port}`;
}
