/** `pairctl recordings`: the session recordings each host keeps (session.record), listed. */
import type { Host } from '../config/model.js';
import { RECORDINGS_DIR } from '../graph/recording.js';
import { RECORDINGS_FORMAT_VERSION, parseRecordings, recordingsScript, shortSize, type RecordingInfo } from '../session/recording-list.js';
import { shortDuration } from '../session/session-status.js';
import { parseCommand } from './args.js';
import { chosenHosts, readHost } from './each-host.js';
import type { Command } from './io.js';
import { loadOrReport, sshConfigFrom } from './load.js';

/** One host in the document (docs/recordings-json.md). */
interface HostRecordings {
  id: string;
  reachable: boolean;
  error?: string;
  /** session.record as pair.yaml says now (older recordings stay listed when it is off) */
  record: boolean;
  recordings: RecordingInfo[];
}

function renderHost(h: HostRecordings): string {
  if (!h.reachable) return `${h.id}: unreachable: ${h.error ?? 'unknown error'}\n`;
  const head = `${h.id}: ${h.recordings.length === 0 ? 'no recordings' : `${h.recordings.length} recording${h.recordings.length === 1 ? '' : 's'}`} in ${RECORDINGS_DIR}${h.record ? '' : ' (session.record is off)'}`;
  const lines = h.recordings.map(
    (r) => `  ${r.file}  started ${r.started}  ${r.duration_seconds === null ? 'empty' : shortDuration(Math.round(r.duration_seconds))}  ${shortSize(r.bytes)}`,
  );
  return [head, ...lines].join('\n') + '\n';
}

export const recordings: Command = async (args, io) => {
  const f = parseCommand('recordings', args);
  const config = await loadOrReport(f.file, io);
  if (!config) return 1;
  const hosts = chosenHosts(config, f.flags.host, f.file);
  const sshConfigFile = sshConfigFrom(f.sshConfig, io);
  const record = config.session.record;

  // One connection and one exec per host, all hosts at once.
  const one = async (host: Host): Promise<HostRecordings> => {
    try {
      const stdout = await readHost(host, recordingsScript(), sshConfigFile);
      return { id: host.id, reachable: true, record, recordings: parseRecordings(stdout) };
    } catch (err) {
      return { id: host.id, reachable: false, error: err instanceof Error ? err.message : String(err), record, recordings: [] };
    }
  };
  const results = await Promise.all(hosts.map(one));
  if (f.flags.json) io.stdout(JSON.stringify({ format_version: RECORDINGS_FORMAT_VERSION, hosts: results }, null, 2) + '\n');
  else for (const h of results) (h.reachable ? io.stdout : io.stderr)(renderHost(h));
  return results.every((h) => h.reachable) ? 0 : 1;
};
