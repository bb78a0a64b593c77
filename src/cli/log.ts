/** `pairctl log`: the audit log of every host (joins, leaves, refusals, kicks, mode changes, up, down), merged by time. */
import type { Host } from '../config/model.js';
import { LOG_FORMAT_VERSION, logReadScript, mergeLogs, parseHostLog, parseSince, renderLog, type AuditLogEntry } from '../session/audit-read.js';
import { parseCommand } from './args.js';
import { chosenHosts, readHost } from './each-host.js';
import { UsageError, type Command } from './io.js';
import { loadOrReport, sshConfigFrom } from './load.js';

interface HostResult {
  id: string;
  reachable: boolean;
  error?: string;
  /** entries under the identifier that neither root nor the guest they name wrote (dropped) */
  ignored_entries: number;
  entries: AuditLogEntry[];
}

export const log: Command = async (args, io) => {
  const f = parseCommand('log', args);
  const sinceText = typeof f.flags.since === 'string' ? f.flags.since : undefined;
  const since = sinceText === undefined ? undefined : parseSince(sinceText);
  if (sinceText !== undefined && since === undefined) {
    throw new UsageError(`--since ${JSON.stringify(sinceText)}: want an age (90s, 30m, 2h, 7d) or an ISO date or time (2026-12-02, 2026-12-02T16:00, UTC unless it ends in Z or ±HH:MM)`);
  }
  const config = await loadOrReport(f.file, io);
  if (!config) return 1;
  const hosts = chosenHosts(config, f.flags.host, f.file);
  const sshConfigFile = sshConfigFrom(f.sshConfig, io);

  // One connection and one exec per host, all hosts at once (as status).
  const one = async (host: Host): Promise<HostResult> => {
    try {
      const stdout = await readHost(host, logReadScript(config, host, since), sshConfigFile);
      const got = parseHostLog(host.id, stdout, since);
      return { id: host.id, reachable: true, ignored_entries: got.ignored, entries: got.entries };
    } catch (err) {
      return { id: host.id, reachable: false, error: err instanceof Error ? err.message : String(err), ignored_entries: 0, entries: [] };
    }
  };
  const results = await Promise.all(hosts.map(one));
  const entries = mergeLogs(results.map((r) => r.entries));
  if (f.flags.json) {
    io.stdout(
      JSON.stringify(
        {
          format_version: LOG_FORMAT_VERSION,
          since: since === undefined ? null : new Date(since * 1000).toISOString(),
          hosts: results.map(({ entries: _e, ...h }) => h),
          entries,
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    io.stdout(renderLog(entries));
  }
  for (const r of results) {
    if (!r.reachable) io.stderr(`${r.id}: the audit log could not be read: ${r.error}\n`);
    else if (r.ignored_entries > 0) io.stderr(`${r.id}: ignored ${r.ignored_entries} entr${r.ignored_entries === 1 ? 'y' : 'ies'} under "pairctl" written by neither root nor the guest they name\n`);
  }
  return results.every((r) => r.reachable) ? 0 : 1;
};
