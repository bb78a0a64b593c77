/**
 * `pairctl join GUEST`: prints the exact ssh command the guest runs, per host. Guests do not
 * have the operator's ssh config, so aliases are resolved to the real address and port here.
 */
import type { Host, PairConfig } from '../config/model.js';
import { guestAccount } from '../graph/paths.js';
import { quote } from '../transport/shell-quote.js';
import { currentLocalEnv, readSshConfig, resolveSshConfig } from '../transport/ssh-config.js';
import { parseSshTarget } from '../transport/ssh-target.js';
import { parseCommon } from './args.js';
import { UsageError, type Command } from './io.js';
import { loadOrReport, sshConfigFrom } from './load.js';

/** Address and port guests use to reach a lan host. */
export function guestAddress(host: Host, sshConfigFile: string | undefined): { address: string; port: number } {
  if (host.ssh === 'local') return { address: `${host.id}.local`, port: 22 };
  const parsed = parseSshTarget(host.ssh);
  if (!parsed.ok) throw new Error(`host ${host.id}: ${parsed.error}`);
  const local = currentLocalEnv();
  const resolved = resolveSshConfig(readSshConfig(sshConfigFile, local), parsed.target, local);
  return { address: resolved.hostName, port: resolved.port };
}

/** The guest's command for one host. */
export function joinCommand(config: PairConfig, guest: string, host: Host, sshConfigFile?: string): string {
  const { address, port } = guestAddress(host, sshConfigFile);
  const login = `${guestAccount(guest)}@${address.includes(':') ? `[${address}]` : address}`;
  return ['ssh', ...(port !== 22 ? ['-p', String(port)] : []), login].map(quote).join(' ');
}

export const join: Command = async (args, io) => {
  const f = parseCommon(args, { host: { type: 'string' } });
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
  for (const h of hosts) {
    const prefix = hosts.length > 1 ? `# ${h.id}\n` : '';
    io.stdout(`${prefix}${joinCommand(config, g.name, h, sshConfig)}\n`);
  }
  io.stderr(`(${g.name} joins in ${g.mode} mode${g.expires ? `; the key expires ${g.expires.toISOString()}` : ''})\n`);
  return 0;
};
