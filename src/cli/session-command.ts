/** Runs one script per host over one connection each: the shared body of `up` and `down`. */
import type { Host, PairConfig } from '../config/model.js';
import { connect } from '../transport/connect.js';
import { parseCommand } from './args.js';
import type { CliIO } from './io.js';
import { loadOrReport, sshConfigFrom } from './load.js';
import { wholeScript } from '../plan/probe-script.js';

/** Loads the config, runs `script(host)` on every host in parallel, reports each; exit code out. */
export async function runOnHosts(
  command: string,
  args: string[],
  io: CliIO,
  script: (config: PairConfig, host: Host) => string,
  describe: (host: Host, stdout: string) => string,
): Promise<number> {
  const f = parseCommand(command, args);
  const config = await loadOrReport(f.file, io);
  if (!config) return 1;
  const results = await Promise.all(
    config.hosts.map(async (host) => {
      try {
        const runner = await connect({ id: host.id, ssh: host.ssh, sudo: host.sudo }, { sshConfigFile: sshConfigFrom(f.sshConfig, io) });
        try {
          const res = await runner.exec(wholeScript(script(config, host)));
          if (res.code !== 0) return `Error: ${host.id}: ${res.stderr.trim() || `exit ${res.code}`}`;
          return describe(host, res.stdout);
        } finally {
          await runner.close();
        }
      } catch (err) {
        return `Error: ${host.id}: ${err instanceof Error ? err.message : String(err)}`;
      }
    }),
  );
  let code = 0;
  for (const r of results) {
    if (r.startsWith('Error:')) {
      code = 1;
      io.stderr(`${r}\n`);
    } else io.stdout(`${r}\n`);
  }
  return code;
}
