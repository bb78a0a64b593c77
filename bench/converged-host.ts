/** The benchmarks' shared setup: guest keys, and a pair.yaml in its own directory. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabMachine } from '../test/machines/lab.js';

/** The host account every benchmark host is configured for (created on each lab machine). */
export const OWNER = 'bhorseman';

/** A fresh ed25519 key pair in `dir`; returns the public key line. */
export function keyPair(dir: string, name: string): string {
  const key = join(dir, name);
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', key], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen ${name} failed: ${r.stderr}`);
  return readFileSync(`${key}.pub`, 'utf8').trim();
}

/** pair.yaml in its own directory (each has its own .pairctl/machines.json); returns its path. */
export function writeConfig(dir: string, hosts: string[], guests: Array<[string, string]>): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'pair.yaml');
  const lines = ['version: 1', 'hosts:', ...hosts.map((h) => `  ${h}: { platform: linux, ssh: ${h}, owner: ${OWNER} }`), 'guests:'];
  for (const [name, key] of guests) lines.push(`  ${name}: { keys: [${JSON.stringify(key)}], mode: mirror }`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Makes the owner's account on `h`, and a key pair for each guest under `dir`/keys. */
export async function prepareHost(h: LabMachine, dir: string, names: string[]): Promise<Array<[string, string]>> {
  await h.run(`useradd -m -s /bin/bash ${OWNER}`);
  mkdirSync(join(dir, 'keys'), { recursive: true });
  return names.map((g): [string, string] => [g, keyPair(join(dir, 'keys'), g)]);
}
