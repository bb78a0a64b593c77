/**
 * The host keys a guest's ssh will be shown, read from the machines themselves, so `pairctl join`
 * can hand the guest ready `known_hosts` lines and the fingerprints `ssh-keygen -l` prints: the
 * guest never has to trust a key on first use. Each machine is read over its one connection, in
 * one exec, as root, from root-owned files only (sshd's config and its HostKey files).
 */
import type { Host, PairConfig, PublicKey } from '../config/model.js';
import { parsePublicKey } from '../config/public-key.js';
import { hostKeyAlias } from '../graph/paths.js';
import type { Endpoint } from '../graph/relay-endpoint.js';
import { quote } from '../transport/shell-quote.js';
import { guestAddress } from './join.js';

/** The sshd config whose HostKey files the guests' connections are served with. */
export const HOST_SSHD_CONFIG = '/etc/ssh/sshd_config';

/**
 * Prints the public half of every host key sshd would offer: the HostKey files `sshd -T` names
 * (its defaults when the config names none), each `.pub` beside it, else derived from the key.
 * When sshd cannot be asked (not installed here), the usual /etc/ssh/ssh_host_*_key files.
 */
export function hostKeysScript(sshdConfig = HOST_SSHD_CONFIG): string {
  const cfg = quote(sshdConfig);
  return `sshd=$(command -v sshd 2>/dev/null || echo /usr/sbin/sshd)
keys=$("$sshd" -T -f ${cfg} 2>/dev/null | awk 'tolower($1) == "hostkey" { print $2 }')
[ -n "$keys" ] || keys=$(ls /etc/ssh/ssh_host_*_key 2>/dev/null)
for k in $keys; do
  if [ -f "$k.pub" ]; then head -n 1 "$k.pub"; elif [ -f "$k" ]; then ssh-keygen -y -f "$k" 2>/dev/null; fi
done
exit 0`;
}

/** The keys in the script's output, once each, as OpenSSH reads them (unreadable lines are left out). */
export function parseHostKeys(output: string): PublicKey[] {
  const seen = new Set<string>();
  const keys: PublicKey[] = [];
  for (const line of output.split('\n')) {
    if (line.trim() === '') continue;
    const parsed = parsePublicKey(line.trim());
    if (!parsed.ok) continue;
    const id = `${parsed.key.type} ${parsed.key.base64}`;
    if (seen.has(id)) continue;
    seen.add(id);
    keys.push({ ...parsed.key, comment: '' });
  }
  return keys;
}

/** The name ssh looks a host up by in known_hosts: `[host]:port` unless the port is 22 (sshconnect.c put_host_port). */
export function knownHostsName(host: string, port: number): string {
  return port === 22 || port === 0 ? host : `[${host}]:${port}`;
}

/** The key type as `ssh-keygen -l` names it at the end of its line. */
export function keyTypeLabel(type: string): string {
  if (type === 'ssh-ed25519') return 'ED25519';
  if (type === 'ssh-rsa') return 'RSA';
  if (type.startsWith('ecdsa-sha2-')) return 'ECDSA';
  if (type.startsWith('sk-ssh-ed25519')) return 'ED25519-SK';
  if (type.startsWith('sk-ecdsa-sha2-')) return 'ECDSA-SK';
  return type;
}

/** One machine whose keys the guest's ssh checks, under the name it checks them by. */
export interface HostKeyPin {
  /** host or relay id: the machine to read */
  machine: string;
  /** what the guest connects to, for the comment */
  what: string;
  /** the known_hosts host field: address, [address]:port, or a HostKeyAlias */
  name: string;
  /** true when the address is not known before ngrok connects: the name is a placeholder */
  placeholder?: boolean;
}

/**
 * Which machines' keys a guest's ssh checks to join one host, and by what name:
 * lan: the host at its address; vps: the host's keys at [relay]:port (the relay only forwards);
 * jump: the relay itself at its address (the -J hop), then the host under its HostKeyAlias;
 * ngrok: the host's keys, at the address ngrok picks.
 */
export function hostKeyPins(config: PairConfig, host: Host, sshConfigFile: string | undefined, relayAt: () => Endpoint): HostKeyPin[] {
  const { provider } = host.tunnel;
  if (provider === 'lan') {
    const { address, port } = guestAddress(host, sshConfigFile);
    return [{ machine: host.id, what: `host ${host.id}`, name: knownHostsName(address, port) }];
  }
  if (provider === 'ngrok') {
    return [{ machine: host.id, what: `host ${host.id} (through ngrok)`, name: '[N.tcp.ngrok.io]:PORT', placeholder: true }];
  }
  const e = relayAt();
  const port = host.tunnel.port ?? 22;
  if (provider === 'vps') {
    return [{ machine: host.id, what: `host ${host.id} (through relay ${host.tunnel.relay} port ${port})`, name: knownHostsName(e.host, port) }];
  }
  const relay = config.relays.find((r) => r.id === host.tunnel.relay);
  return [
    { machine: relay?.id ?? String(host.tunnel.relay), what: `relay ${host.tunnel.relay} (the -J hop)`, name: knownHostsName(e.host, e.port) },
    { machine: host.id, what: `host ${host.id} (HostKeyAlias ${hostKeyAlias(host.id)})`, name: hostKeyAlias(host.id) },
  ];
}

/** The lines printed for one pin: fingerprints as comments, then the known_hosts lines themselves. */
export function renderPin(pin: HostKeyPin, keys: readonly PublicKey[]): string[] {
  const out = [`# ${pin.what}: its keys, as ssh-keygen -l prints them:`];
  for (const k of keys) out.push(`#   ${k.bits} ${k.fingerprint} (${keyTypeLabel(k.type)})`);
  out.push(
    pin.placeholder
      ? '# known_hosts lines (put the address and port ngrok picked in place of [N.tcp.ngrok.io]:PORT), for ~/.ssh/known_hosts:'
      : '# known_hosts lines: add them to ~/.ssh/known_hosts before connecting, so ssh never asks to trust a key:',
  );
  for (const k of keys) out.push(`${pin.name} ${k.type} ${k.base64}`);
  return out;
}
