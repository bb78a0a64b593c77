/** `pairctl status`: who is in the shared session on each host, in which enforced mode, from where. */
import type { Host } from '../config/model.js';
import { wholeScript } from '../plan/probe-script.js';
import { hostStatus, parseStatus, renderHostStatus, statusScript, STATUS_FORMAT_VERSION, type HostStatus } from '../session/session-status.js';
import { connect } from '../transport/connect.js';
import { parseCommand } from './args.js';
import { UsageError, type Command } from './io.js';
import { listFlag, loadOrReport, sshConfigFrom } from './load.js';

export const status: Command = async (args, io) => {
  const f = parseCommand('status', args);
  const config = await loadOrReport(f.file, io);
  if (!config) return 1;
  const only = listFlag(f.flags.host);
  const unknown = (only ?? []).filter((id) => !config.hosts.some((h) => h.id === id));
  if (unknown.length > 0) throw new UsageError(`--host ${unknown.join(', ')}: no such host in ${f.file} (hosts: ${config.hosts.map((h) => h.id).join(', ')})`);
  const hosts = config.hosts.filter((h) => !only || only.includes(h.id));
  const sshConfigFile = sshConfigFrom(f.sshConfig, io);

  // One connection and one exec per host, all hosts at once.
  const one = async (host: Host): Promise<HostStatus> => {
    try {
      const runner = await connect({ id: host.id, ssh: host.ssh, sudo: host.sudo }, { sshConfigFile });
      try {
        const res = await runner.exec(wholeScript(statusScript(config, host)));
        if (res.code !== 0) throw new Error(res.stderr.trim() || `exit ${res.code}`);
        return hostStatus(config, host, parseStatus(res.stdout));
      } finally {
        await runner.close();
      }
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
