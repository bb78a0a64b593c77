/**
 * Session recording (issue 13, part 6), when `session.record` is on: a root systemd service runs
 * the recorder (templates/record.py.hbs), which attaches a read-only tmux client as the system
 * account pairctl-record (never as root: a tmux client runs what the owner's server tells it) on
 * a pty it holds, and writes what that client is shown as asciicast v2 files in a root-only
 * directory. Linux hosts only (rule record-macos).
 */
import type { Host, PairConfig } from '../config/model.js';
import type { DirectorySpec } from '../resources/directory.js';
import type { FileSpec } from '../resources/file-state.js';
import type { Resource } from '../resources/kind.js';
import type { PackageSpec } from '../resources/package.js';
import type { SystemAccountSpec } from '../resources/system-account.js';
import type { SystemdServiceSpec } from '../resources/systemd-service.js';
import { render } from '../templates/render.js';
import { GUEST_GROUP, LIBEXEC_DIR, NOLOGIN_SHELL, STATE_DIR, SYSTEMD_DIR, sessionSocket } from './paths.js';
import { address, resource } from './resource.js';
import { execStart } from './systemd-unit.js';

/** The system account the recorder's tmux client runs as: in the guests' group (to reach the socket), read-only in the ACL. */
export const RECORD_ACCOUNT = 'pairctl-record';
/** Its home: root-owned and empty; nothing it runs reads one. */
export const RECORD_HOME = '/var/lib/pairctl-record';
export const RECORDER = `${LIBEXEC_DIR}/record`;
/** Root-only (0700): a recording holds everything the session showed. */
export const RECORDINGS_DIR = `${STATE_DIR}/recordings`;
export const RECORD_SERVICE = 'pairctl-record.service';
/** A recording stops growing past this (the recorder says so in a marker). */
export const RECORD_MAX_BYTES = 512 * 1024 * 1024;

/** The recorder's resources on a Linux host; `deps` are the guests' group and the libexec directory. */
export function recordingResources(config: PairConfig, host: Host, deps: { group: string; libexec: string }): Resource[] {
  if (!config.session.record || host.platform !== 'linux') return [];
  const root = { owner: 'root', group: 'root' };
  const python = resource<PackageSpec>('package', 'python3', { name: 'python3' });
  const account = resource<SystemAccountSpec>(
    'system_account',
    RECORD_ACCOUNT,
    {
      name: RECORD_ACCOUNT,
      home: RECORD_HOME,
      shell: NOLOGIN_SHELL,
      groups: [GUEST_GROUP],
      comment: 'pairctl session recorder',
      purpose: 'recording the shared session',
    },
    [deps.group],
  );
  const dir = resource<DirectorySpec>('directory', RECORDINGS_DIR, { path: RECORDINGS_DIR, mode: '0700', ...root });
  const program = resource<FileSpec>('file', RECORDER, { path: RECORDER, content: render('record.py', {}), mode: '0755', ...root }, [deps.libexec, python.address]);
  const argv = [RECORDER, sessionSocket(config.session.name, host.platform), config.session.name, RECORDINGS_DIR, RECORD_ACCOUNT, config.session.recordKeep, RECORD_MAX_BYTES];
  const service = resource<SystemdServiceSpec>(
    'systemd_service',
    RECORD_SERVICE,
    {
      unit: RECORD_SERVICE,
      path: `${SYSTEMD_DIR}/${RECORD_SERVICE}`,
      content: render('record.service', { session: config.session.name, execStart: execStart(argv), dir: RECORDINGS_DIR }),
      mode: '0644',
      executable: RECORDER,
      missingHint: 'apply again: it is written with the service',
      executableManaged: true,
      ...root,
    },
    [account.address, dir.address, program.address],
  );
  return [python, account, dir, program, service];
}

/** The recorder's grant in the session's ACL: read-only, wherever `up` grants guests. */
export function recorderGrant(config: PairConfig, host: Host): Array<{ account: string; mode: 'mirror' }> {
  return config.session.record && host.platform === 'linux' ? [{ account: RECORD_ACCOUNT, mode: 'mirror' }] : [];
}

/** Address of the recorder's account: the session's ACL grants it, so it must exist first. */
export const RECORD_ACCOUNT_ADDRESS = address('system_account', RECORD_ACCOUNT);
