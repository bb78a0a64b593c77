/** `pairctl down`: end the shared session, which disconnects every guest, and root's time-box timer with it. */
import { downScript } from '../session/session-scripts.js';
import { stopTimeBoxScript } from '../session/time-box.js';
import type { Command } from './io.js';
import { runOnHosts } from './session-command.js';

export const down: Command = (args, io) =>
  runOnHosts('down', args, io, (config, host) => stopTimeBoxScript(config, host) + downScript(config, host), (host, out) =>
    out.includes('state=stopped') ? `${host.id}: session ended` : `${host.id}: no session was running`,
  );
