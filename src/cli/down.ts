/** `pairctl down`: end the shared session, which disconnects every guest. */
import { downScript } from '../session/session-scripts.js';
import type { Command } from './io.js';
import { runOnHosts } from './session-command.js';

export const down: Command = (args, io) =>
  runOnHosts('down', args, io, downScript, (host, out) =>
    out.includes('state=stopped') ? `${host.id}: session ended` : `${host.id}: no session was running`,
  );
