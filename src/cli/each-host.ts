/** What `status`, `log` and `recordings` share: the hosts --host picks, and one read of each host. */
import type { Host, PairConfig } from '../config/model.js';
import { wholeScript } from '../plan/probe-script.js';
import { connect } from '../transport/connect.js';
import { UsageError } from './io.js';
import { listFlag } from './load.js';

/** The hosts named by --host (every host when it is absent); an unknown id is a usage error. */
export function chosenHosts(config: PairConfig, hostFlag: unknown, file: string): Host[] {
  const only = listFlag(hostFlag);
  const unknown = (only ?? []).filter((id) => !config.hosts.some((h) => h.id === id));
  if (unknown.length > 0) throw new UsageError(`--host ${unknown.join(', ')}: no such host in ${file} (hosts: ${config.hosts.map((h) => h.id).join(', ')})`);
  return config.hosts.filter((h) => !only || only.includes(h.id));
}

/** Runs one script on a host: one connection, one exec. Its stdout; throws with its stderr when it fails. */
export async function readHost(host: Host, script: string, sshConfigFile: string | undefined): Promise<string> {
  const runner = await connect({ id: host.id, ssh: host.ssh, sudo: host.sudo }, { sshConfigFile });
  try {
    const res = await runner.exec(wholeScript(script));
    if (res.code !== 0) throw new Error(res.stderr.trim() || `exit ${res.code}`);
    return res.stdout;
  } finally {
    await runner.close();
  }
}
