/** `pairctl up`: start the dedicated tmux server and session as the owner and let the guests in. */
import { upScript } from '../session/session-scripts.js';
import type { Command } from './io.js';
import { runOnHosts } from './session-command.js';

export const up: Command = (args, io) =>
  runOnHosts('up', args, io, upScript, (host, out) =>
    out.includes('state=started')
      ? `${host.id}: session started; guests can join now (pairctl join GUEST prints their command)`
      : `${host.id}: session already running; guest access brought up to date`,
  );
