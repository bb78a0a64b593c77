/**
 * What an honest guest brings to an e2e test: its own key pair and the ssh client config it joins
 * with. One place, so every suite's guests connect the same way: from the lab's guest address
 * (OpenSSH >= 9.8 penalises an address after failed logins, and attacks come from another one),
 * checking the host's real key strictly.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from './lab.js';

/**
 * Makes an ed25519 key pair per name in `dir` and records both halves in `keys`:
 * `keys[name]` is the public line (for pair.yaml), `keys[name + '_key']` the private key's path.
 */
export function addGuestKeys(keys: Record<string, string>, dir: string, names: string[]): void {
  for (const n of names) {
    const key = join(dir, `${n}_ed25519`);
    const made = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${n}@guest`, '-f', key]);
    if (made.status !== 0) throw new Error(`ssh-keygen for ${n} failed: ${made.stderr?.toString()}`);
    keys[`${n}_key`] = key;
    keys[n] = readFileSync(`${key}.pub`, 'utf8').trim();
  }
}

/** Writes `dir/guest_ssh_config` with one `Host pairhost` block for the machine at `hostIp`; returns its path. */
export function writeGuestSshConfig(lab: Lab, dir: string, hostIp: string, opts: { connectTimeout: number; batchMode?: boolean }): string {
  const file = join(dir, 'guest_ssh_config');
  const lines = [
    'Host pairhost',
    `  HostName ${hostIp}`,
    `  BindAddress ${lab.sourceIp('guest')}`,
    `  UserKnownHostsFile ${lab.knownHostsFile}`,
    '  StrictHostKeyChecking yes',
    '  IdentitiesOnly yes',
    ...(opts.batchMode ? ['  BatchMode yes'] : []),
    `  ConnectTimeout ${opts.connectTimeout}`,
  ];
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}
