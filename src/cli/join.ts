/**
 * `pairctl join GUEST`: prints the exact ssh command the guest runs, per host, for the host's
 * tunnel provider. Guests do not have the operator's ssh config, so aliases are resolved to the
 * real address and port here.
 *
 * - lan: `ssh pair-todd@ADDRESS` — the address the operator's ssh reaches the host at (an IP or a
 *   DNS name, from the ssh config); for `ssh: local` (or a loopback address) the operator is on the
 *   host itself, and guests on the LAN use its mDNS name, `<hostname>.local`.
 * - vps: `ssh -p PORT pair-todd@RELAY` — the relay's public port is the host's sshd.
 * - jump: `ssh -J pair-todd@RELAY -p PORT -o HostKeyAlias=pairctl-HOST pair-todd@127.0.0.1`, and the
 *   same as a ~/.ssh/config block. The alias keeps known_hosts sane: every jump host is
 *   127.0.0.1 on its relay, so without it two hosts would share (and fight over) one entry.
 * - ngrok: the address is chosen by ngrok when the agent connects; the command is printed with the
 *   place to read it.
 *
 * After the command come the host keys the guest's ssh will check, read from the machines (one
 * connection and one exec each): fingerprints, and ready known_hosts lines under the exact name
 * ssh looks up (host-key-pins.ts), so a guest never trusts a key on first use.
 */
import { hostname } from 'node:os';
import type { Host, PairConfig } from '../config/model.js';
import { guestAccount, hostKeyAlias } from '../graph/paths.js';
import { jumpAddress, resolveRelayEndpoint, type Endpoint } from '../graph/relay-endpoint.js';
import { quote } from '../transport/shell-quote.js';
import { currentLocalEnv, readSshConfig, resolveSshConfig } from '../transport/ssh-config.js';
import { parseSshTarget } from '../transport/ssh-target.js';
import { parseCommand } from './args.js';
import { UsageError, type Command } from './io.js';
import { loadOrReport, sshConfigFrom } from './load.js';
import { connect } from '../transport/connect.js';
import { hostKeyPins, hostKeysScript, parseHostKeys, renderPin, type HostKeyPin } from './host-key-pins.js';
import type { PublicKey } from '../config/model.js';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i;

/** This machine's mDNS name, which is what LAN guests resolve (avahi publishes the short hostname). */
export function mdnsName(name = hostname()): string {
  return `${name.split('.')[0]}.local`;
}

/** Address and port guests use to reach a lan host. */
export function guestAddress(host: Host, sshConfigFile: string | undefined): { address: string; port: number } {
  if (host.ssh === 'local') return { address: mdnsName(), port: 22 };
  const parsed = parseSshTarget(host.ssh);
  if (!parsed.ok) throw new Error(`host ${host.id}: ${parsed.error}`);
  const local = currentLocalEnv();
  const resolved = resolveSshConfig(readSshConfig(sshConfigFile, local), parsed.target, local);
  if (LOOPBACK.test(resolved.hostName)) return { address: mdnsName(), port: resolved.port };
  return { address: resolved.hostName, port: resolved.port };
}

const at = (user: string, address: string) => `${user}@${address.includes(':') ? `[${address}]` : address}`;
const cmd = (argv: string[]) => argv.map(quote).join(' ');

/** What a guest is told for one host: the command first, then comments and config they may want. */
export interface JoinInstructions {
  command: string;
  /** printed after the command: each is a shell comment or a ~/.ssh/config block */
  more: string[];
}

/** The guest's instructions for one host, by its tunnel provider. */
export function joinInstructions(config: PairConfig, guest: string, host: Host, sshConfigFile?: string, relayAt?: Endpoint): JoinInstructions {
  const account = guestAccount(guest);
  const { provider } = host.tunnel;
  if (provider === 'lan') {
    const { address, port } = guestAddress(host, sshConfigFile);
    return { command: cmd(['ssh', ...(port !== 22 ? ['-p', String(port)] : []), at(account, address)]), more: [] };
  }
  if (provider === 'ngrok') {
    return {
      command: cmd(['ssh', '-p', 'PORT', `${account}@N.tcp.ngrok.io`]),
      more: [
        `# ngrok picks the address (N and PORT) when its agent connects: see the "ssh" tunnel in the ngrok dashboard,`,
        // The agent's local API (127.0.0.1:4040) is off (web_addr: false); its log names each tunnel's url.
        `# or run on ${host.id}: journalctl -u pairctl-ngrok.service | grep -o 'url=tcp://[^ ]*' | tail -n 1`,
        ...host.forwards.map((f) => `# ${f.name} (port ${f.local} on ${host.id}): the https address of ngrok's "${f.name}" tunnel`),
      ],
    };
  }
  const relay = config.relays.find((r) => r.id === host.tunnel.relay);
  if (!relay || host.tunnel.port === undefined) throw new Error(`host ${host.id}: its ${provider} tunnel names no relay or port`);
  const e = relayAt ?? resolveRelayEndpoint(relay, sshConfigFile);
  const port = String(host.tunnel.port);
  if (provider === 'vps') {
    return {
      command: cmd(['ssh', '-p', port, at(account, e.host)]),
      more: host.forwards.map((f) => `# ${f.name} (port ${f.local} on ${host.id}): http://${e.host.includes(':') ? `[${e.host}]` : e.host}:${f.remote}/`),
    };
  }
  const alias = hostKeyAlias(host.id);
  const jump = `${account}@${jumpAddress(e)}`;
  return {
    command: cmd(['ssh', '-J', jump, '-p', port, '-o', `HostKeyAlias=${alias}`, `${account}@127.0.0.1`]),
    more: [
      `# or put this in ~/.ssh/config and run: ssh ${alias}`,
      [`Host ${alias}`, '    HostName 127.0.0.1', `    Port ${port}`, `    User ${account}`, `    ProxyJump ${jump}`, `    HostKeyAlias ${alias}`].join('\n'),
      ...host.forwards.map(
        (f) => `# ${f.name} (port ${f.local} on ${host.id}): ${cmd(['ssh', '-N', '-L', `${f.local}:127.0.0.1:${f.remote}`, ...(e.port !== 22 ? ['-p', String(e.port)] : []), at(account, e.host)])}, then open http://localhost:${f.local}/`,
      ),
    ],
  };
}

/** The guest's command for one host (the first line of its instructions). */
export function joinCommand(config: PairConfig, guest: string, host: Host, sshConfigFile?: string): string {
  return joinInstructions(config, guest, host, sshConfigFile).command;
}

export const join: Command = async (args, io) => {
  const f = parseCommand('join', args);
  const guest = f.positionals[0];
  if (!guest || f.positionals.length > 1) throw new UsageError('usage: pairctl join GUEST [-f FILE] [--host ID]');
  const config = await loadOrReport(f.file, io);
  if (!config) return 1;
  const g = config.guests.find((x) => x.name === guest);
  if (!g) {
    io.stderr(`Error: no guest "${guest}" in ${config.file}; guests: ${config.guests.map((x) => x.name).join(', ')}\n`);
    return 1;
  }
  const hosts = config.hosts.filter((h) => !f.flags.host || h.id === f.flags.host);
  if (hosts.length === 0) {
    io.stderr(`Error: no host "${String(f.flags.host)}" in ${config.file}\n`);
    return 1;
  }
  const sshConfig = sshConfigFrom(f.sshConfig, io);
  const relayAt = (h: Host) => () => {
    const relay = config.relays.find((r) => r.id === h.tunnel.relay);
    if (!relay) throw new Error(`host ${h.id}: its tunnel names no relay`);
    return resolveRelayEndpoint(relay, sshConfig);
  };
  const pins = new Map(hosts.map((h) => [h.id, hostKeyPins(config, h, sshConfig, relayAt(h))]));
  const keys = await readHostKeys(config, [...pins.values()].flat(), sshConfig);
  let failed = false;
  for (const h of hosts) {
    const prefix = hosts.length > 1 ? `# ${h.id}\n` : '';
    const { command, more } = joinInstructions(config, g.name, h, sshConfig);
    const pinned: string[] = [];
    for (const pin of pins.get(h.id) ?? []) {
      const read = keys.get(pin.machine);
      if (read && 'keys' in read && read.keys.length > 0) {
        pinned.push(...renderPin(pin, read.keys));
        continue;
      }
      failed = true;
      const why = read && 'error' in read ? read.error : 'it offers no key pairctl can read';
      io.stderr(`Error: could not read the host keys of ${pin.what}: ${why}. Without them the guest would have to trust a key on first use; fix that and run pairctl join again\n`);
    }
    io.stdout(`${prefix}${command}\n${[...more, ...pinned].map((m) => `${m}\n`).join('')}`);
  }
  io.stderr(`(${g.name} joins in ${g.mode} mode${g.expires ? `; the key expires ${g.expires.toISOString()}` : ''})\n`);
  return failed ? 1 : 0;
};

/** Each machine's host keys, read once each over its own connection (one exec), in parallel. */
async function readHostKeys(
  config: PairConfig,
  pins: readonly HostKeyPin[],
  sshConfigFile: string | undefined,
): Promise<Map<string, { keys: PublicKey[] } | { error: string }>> {
  // A machine is one host or one relay (ids are unique across both), so its pins agree on the config.
  const configs = new Map(pins.map((p) => [p.machine, p.sshdConfigs]));
  const machines = [...configs.keys()];
  const targets = new Map([...config.hosts, ...config.relays].map((m) => [m.id, m]));
  const read = await Promise.all(
    machines.map(async (id): Promise<[string, { keys: PublicKey[] } | { error: string }]> => {
      const t = targets.get(id);
      if (!t) return [id, { error: 'it is not in the config' }];
      try {
        const runner = await connect({ id, ssh: t.ssh, sudo: t.sudo }, { sshConfigFile });
        try {
          const res = await runner.exec(hostKeysScript(configs.get(id)));
          if (res.code !== 0) return [id, { error: `reading them failed (exit ${res.code}): ${res.stderr.trim().split('\n').slice(-1)[0] ?? ''}` }];
          return [id, { keys: parseHostKeys(res.stdout) }];
        } finally {
          await runner.close();
        }
      } catch (err) {
        return [id, { error: err instanceof Error ? err.message : String(err) }];
      }
    }),
  );
  return new Map(read);
}
