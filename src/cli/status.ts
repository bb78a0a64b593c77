/** `pairctl status`: who is in the shared session on each host, in which enforced mode, from where. */
import type { Host } from '../config/model.js';
import { hostStatus, parseStatus, renderHostStatus, statusScript, STATUS_FORMAT_VERSION, type HostStatus } from '../session/session-status.js';
import { parseCommand } from './args.js';
import { chosenHosts, readHost } from './each-host.js';
import type { Command } from './io.js';
import { loadOrReport, sshConfigFrom } from './load.js';

export const status: Command = async (args, io) => {
  const f = parseCommand('status', args);
  const config = await loadOrReport(f.file, io);
  if (!config) return 1;
  const hosts = chosenHosts(config, f.flags.host, f.file);
  const sshConfigFile = sshConfigFrom(f.sshConfig, io);

  // One connection and one exec per host, all hosts at once.
  const one = async (host: Host): Promise<HostStatus> => {
    try {
      const stdout = await readHost(host, statusScript(config, host), sshConfigFile);
      return hostStatus(config, host, parseStatus(stdout));
    } catch (err) {
      return {
        id: host.id,
        reachable: false,
        error: err instanceof Error ? err.message : String(err),
        session: { name: config.session.name, running: false, since: null, ends: null },
        guests: [],
        other_clients: 0,
        recording: false,
      };
    }
  };
  const results = await Promise.all(hosts.map(one));
  if (f.flags.json) io.stdout(JSON.stringify({ format_version: STATUS_FORMAT_VERSION, hosts: results }, null, 2) + '\n');
  else for (const h of results) (h.reachable ? io.stdout : io.stderr)(renderHostStatus(h));
  return results.every((h) => h.reachable) ? 0 : 1;
};
