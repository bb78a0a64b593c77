/** `pairctl mode GUEST mirror|pair`: change the mode tmux enforces for a connected guest, now. */
import { LIVE_MODES, modeScript, type LiveMode } from '../session/mode-script.js';
import { parseCommand } from './args.js';
import { UsageError, type Command } from './io.js';
import { loadOrReport } from './load.js';
import { runOnHosts } from './session-command.js';

export const mode: Command = async (args, io) => {
  const f = parseCommand('mode', args);
  const [name, to] = f.positionals;
  if (!name || !to || f.positionals.length > 2) throw new UsageError('mode takes GUEST and mirror or pair (see pairctl mode --help)');
  if (!(LIVE_MODES as readonly string[]).includes(to)) throw new UsageError(`mode ${name} takes ${LIVE_MODES.join(' or ')}, not "${to}"`);
  const config = await loadOrReport(f.file, io);
  if (!config) return 1;
  const guest = config.guests.find((g) => g.name === name);
  if (!guest) throw new UsageError(`no guest "${name}" in ${f.file} (guests: ${config.guests.map((g) => g.name).join(', ') || 'none'})`);
  const live = to as LiveMode;
  let failed = false;
  const code = await runOnHosts('mode', args, io, (cfg, host) => modeScript(cfg, host, guest, live), (host, out) => {
    if (out.includes('mode=set'))
      return `${host.id}: ${name} is now ${live}${live === guest.mode ? '' : ` (pair.yaml says ${guest.mode}; the next pairctl up or apply puts that back)`}`;
    failed = true;
    if (out.includes('mode=no-session')) return `${host.id}: no session is running; nothing to change (pairctl up starts it)`;
    if (out.includes('mode=not-granted')) return `${host.id}: ${name} is not let into the session; run pairctl up first`;
    return `${host.id}: tmux refused to change ${name}'s access`;
  });
  return failed && code === 0 ? 1 : code;
};
