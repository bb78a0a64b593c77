/** `pairctl kick GUEST [--for DURATION]`: end one guest's connection now, and keep them out a while. */
import { kickScript } from '../session/kick-script.js';
import { parseCommand } from './args.js';
import { UsageError, type Command } from './io.js';
import { loadOrReport } from './load.js';
import { runOnHosts } from './session-command.js';

/** Seconds from a session-length duration: 90s, 30m, 2h, 1d, or a bare number of seconds. */
export function parseSessionDuration(flag: string, value: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(value.trim());
  const n = m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'] : 0;
  if (!m || n <= 0) throw new UsageError(`${flag} takes a duration such as 90s, 30m, 2h or 1d, not "${value}"`);
  return n;
}

export const kick: Command = async (args, io) => {
  const f = parseCommand('kick', args);
  const name = f.positionals[0];
  if (!name || f.positionals.length > 1) throw new UsageError('kick takes one GUEST (see pairctl kick --help)');
  const forSeconds = typeof f.flags.for === 'string' ? parseSessionDuration('--for', f.flags.for) : undefined;
  const config = await loadOrReport(f.file, io);
  if (!config) return 1;
  const guest = config.guests.find((g) => g.name === name);
  if (!guest) throw new UsageError(`no guest "${name}" in ${f.file} (guests: ${config.guests.map((g) => g.name).join(', ') || 'none'})`);
  const until = forSeconds === undefined ? undefined : Math.floor(Date.now() / 1000) + forSeconds;
  return runOnHosts('kick', args, io, (cfg, host) => kickScript(cfg, host, guest, until), (host, out) => {
    const n = Number(/kick=detached:(\d+)/.exec(out)?.[1] ?? 0);
    const what = out.includes('kick=no-session') ? 'no session was running' : n > 0 ? `${name} detached (${n} client${n === 1 ? '' : 's'})` : `${name} was not attached`;
    const conn = out.includes('kick=disconnected') ? '; connection closed' : '';
    const keep = until !== undefined ? `; may not rejoin until ${new Date(until * 1000).toISOString()} (or the next pairctl up)` : '';
    return `${host.id}: ${what}${conn}${keep}`;
  });
};
