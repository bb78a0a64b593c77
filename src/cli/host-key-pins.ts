/**
 * The host keys a guest's ssh will be shown, read from the machines themselves, so `pairctl join`
 * can hand the guest ready `known_hosts` lines and the fingerprints `ssh-keygen -l` prints: the
 * guest never has to trust a key on first use. Each machine is read over its one connection, in
 * one exec, as root, from root-owned files only (sshd's config and its HostKey files).
 */
import type { Host, PairConfig, PublicKey } from '../config/model.js';
import { fingerprint, parsePublicKey } from '../config/public-key.js';
import { hostKeyAlias } from '../graph/paths.js';
import type { Endpoint } from '../graph/relay-endpoint.js';
import { quote } from '../transport/shell-quote.js';
import { guestAddress } from './join.js';

/** The machine's own sshd config: what lan guests and the jump hop on a relay connect to. */
export const HOST_SSHD_CONFIG = '/etc/ssh/sshd_config';
/**
 * The config of a guest-only sshd that tunnels lead to, when the host has one (it serves the
 * tunnel, so its HostKey files are what guests see through it); else the host's own sshd serves.
 */
export const TUNNEL_SSHD_CONFIGS = ['/etc/pairctl/sshd_config', HOST_SSHD_CONFIG];

/**
 * Prints the public half of every host key sshd would offer: the HostKey files `sshd -T` names
 * for the first of `configs` that exists (its defaults when it names none), each `.pub` beside
 * it, else derived from the key. When sshd cannot be asked, the config's HostKey lines, else
 * the usual /etc/ssh/ssh_host_*_key.
 */
export function hostKeysScript(configs: readonly string[] = [HOST_SSHD_CONFIG]): string {
  return `sshd=$(command -v sshd 2>/dev/null || echo /usr/sbin/sshd)
cfg=${quote(HOST_SSHD_CONFIG)}
for c in ${configs.map(quote).join(' ')}; do if [ -f "$c" ]; then cfg=$c; break; fi; done
keys=$("$sshd" -T -f "$cfg" 2>/dev/null | awk 'tolower($1) == "hostkey" { print $2 }')
# sshd -T fails without its privilege separation directory (sshd not running): read the config's own lines.
[ -n "$keys" ] || keys=$(awk 'tolower($1) == "hostkey" { print $2 }' "$cfg" 2>/dev/null)
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
    const key = parsed.ok ? parsed.key : hostOnlyKey(line.trim());
    if (!key) continue;
    const id = `${key.type} ${key.base64}`;
    if (seen.has(id)) continue;
    seen.add(id);
    keys.push({ ...key, comment: '' });
  }
  return keys;
}

/**
 * Host key types sshd serves that guests' keys may not be (public-key.ts accepts those only):
 * OpenSSH 10.4+ makes an ML-DSA-44 + Ed25519 host key with `ssh-keygen -A` (Debian testing has
 * one), and a guest's ssh checks it like any other. Its size is the 256 ssh-mldsa-eddsa.c gives.
 */
const HOST_ONLY_KEY_BITS: Record<string, number> = { 'ssh-mldsa44-ed25519': 256, 'ssh-mldsa44-ed25519@openssh.com': 256 };

/** A host key of a HOST_ONLY type whose blob names that type, as `ssh-keygen -l` reads it; else undefined. */
function hostOnlyKey(line: string): PublicKey | undefined {
  const [type, base64] = line.split(/\s+/);
  if (!type || !base64 || !(type in HOST_ONLY_KEY_BITS) || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return undefined;
  const blob = Buffer.from(base64, 'base64');
  if (blob.length < 4 || blob.readUInt32BE(0) !== type.length || blob.subarray(4, 4 + type.length).toString('latin1') !== type) return undefined;
  return { type, base64, comment: '', fingerprint: fingerprint(blob), bits: HOST_ONLY_KEY_BITS[type]! };
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
  if (type.startsWith('ssh-mldsa44-ed25519')) return 'MLDSA44-ED25519';
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
  /** the sshd configs whose host keys the guest sees, first existing one wins */
  sshdConfigs: readonly string[];
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
    return [{ machine: host.id, what: `host ${host.id}`, name: knownHostsName(address, port), sshdConfigs: [HOST_SSHD_CONFIG] }];
  }
  if (provider === 'ngrok') {
    return [{ machine: host.id, what: `host ${host.id} (through ngrok)`, name: '[N.tcp.ngrok.io]:PORT', placeholder: true, sshdConfigs: TUNNEL_SSHD_CONFIGS }];
  }
  const e = relayAt();
  const port = host.tunnel.port ?? 22;
  if (provider === 'vps') {
    return [{ machine: host.id, what: `host ${host.id} (through relay ${host.tunnel.relay} port ${port})`, name: knownHostsName(e.host, port), sshdConfigs: TUNNEL_SSHD_CONFIGS }];
  }
  const relay = config.relays.find((r) => r.id === host.tunnel.relay);
  return [
    { machine: relay?.id ?? String(host.tunnel.relay), what: `relay ${host.tunnel.relay} (the -J hop)`, name: knownHostsName(e.host, e.port), sshdConfigs: [HOST_SSHD_CONFIG] },
    { machine: host.id, what: `host ${host.id} (HostKeyAlias ${hostKeyAlias(host.id)})`, name: hostKeyAlias(host.id), sshdConfigs: TUNNEL_SSHD_CONFIGS },
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
