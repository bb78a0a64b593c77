/** `pairctl up`: start the dedicated tmux server and session as the owner and let the guests in. */
import { upScript } from '../session/session-scripts.js';
import { stopTimeBoxScript, timeBoxScript } from '../session/time-box.js';
import { parseCommand } from './args.js';
import type { Command } from './io.js';
import { parseSessionDuration } from './kick.js';
import { runOnHosts } from './session-command.js';

export const up: Command = async (args, io) => {
  const f = parseCommand('up', args);
  const seconds = typeof f.flags.for === 'string' ? parseSessionDuration('--for', f.flags.for) : undefined;
  // This machine's guess at the end: the token of the owner's warning job. The end itself is the
  // host's (its clock, when root set the timer), and that is the one reported.
  const endsAt = seconds === undefined ? undefined : Math.floor(Date.now() / 1000) + seconds;
  let failed = false;
  const code = await runOnHosts(
    'up',
    args,
    io,
    // Without --for, an earlier box ends: this session runs until `down`.
    (config, host) => upScript(config, host) + (endsAt !== undefined ? timeBoxScript(config, host, endsAt, seconds!) : stopTimeBoxScript(config, host)),
    (host, out) => {
      const started = out.includes('state=started')
        ? `${host.id}: session started; guests can join now (pairctl join GUEST prints their command)`
        : `${host.id}: session already running; guest access brought up to date`;
      if (endsAt === undefined) return started;
      if (!out.includes('timebox=set')) {
        failed = true;
        return `${started}; but the time box could not be set (the session will not end by itself)`;
      }
      const warn = out.includes('timewarn=set') ? '' : ' (no warning will show in the status line)';
      const hostEnds = /^timebox-ends=([0-9]+)$/m.exec(out);
      const ends = hostEnds ? Number(hostEnds[1]) : endsAt;
      return `${started}; it ends by itself at ${new Date(ends * 1000).toISOString()}${warn}`;
    },
  );
  return failed && code === 0 ? 1 : code;
};
