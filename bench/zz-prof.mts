import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLab } from '../test/machines/lab.js';
import { keyPair, OWNER, writeConfig } from './converged-host.js';
const hosts = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7', 'h8'];
const lab = await startLab({ machines: hosts });
try {
  for (const h of hosts) await lab.machine(h).run(`useradd -m -s /bin/bash ${OWNER}`);
  const dir = '/tmp/speedapply/prof';
  mkdirSync(join(dir, 'keys'), { recursive: true });
  mkdirSync(join(dir, 'home/.ssh'), { recursive: true, mode: 0o700 });
  copyFileSync(lab.sshConfigFile, join(dir, 'home/.ssh/config'));
  const guests = ['todd', 'ann', 'rita', 'jo', 'kim'].map((g): [string, string] => [g, keyPair(join(dir, 'keys'), g)]);
  const eight = writeConfig(join(dir, 'eight'), hosts, guests);
  const one = writeConfig(join(dir, 'one'), ['h1'], guests);
  const env = { ...process.env, HOME: join(dir, 'home'), NO_COLOR: '1' };
  const run = (args: string[], cwd: string) => {
    const t0 = performance.now();
    const r = spawnSync('node', args, { env, cwd, encoding: 'utf8' });
    if (r.status !== 0 && r.status !== 2) throw new Error(`${args.join(' ')}: ${r.status}\n${r.stdout}${r.stderr}`);
    return performance.now() - t0;
  };
  run(['dist/cli/main.js', 'apply', '--yes', '-f', eight], process.cwd());
  writeFileSync('/tmp/speedapply/env.sh', `L=${lab.machine('h1').leaderPid}\n`);
  const cmp = spawnSync('python3', ['/tmp/speedapply/cmp.py'], { cwd: '/tmp/speedapply', encoding: 'utf8' });
  console.log('cmp old/new sections on h1:', cmp.status, cmp.stdout.split('\n').filter((l) => /^section|^fact/.test(l)).join('; '));
  for (let i = 0; i < 3; i++) {
    const a = run(['--cpu-prof', `--cpu-prof-dir=${dir}/prof8`, 'dist/cli/main.js', 'plan', '-f', eight], process.cwd());
    const b = run(['--cpu-prof', `--cpu-prof-dir=${dir}/prof1`, 'dist/cli/main.js', 'plan', '-f', one], process.cwd());
    console.log(`plan 8 hosts ${a.toFixed(0)} ms, 1 host ${b.toFixed(0)} ms`);
  }
} finally {
  await lab.stop();
}
