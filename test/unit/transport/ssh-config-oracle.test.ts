/**
 * The real OpenSSH client is the oracle: for each config in the table, what pairctl resolves for
 * a target must equal what `ssh -G` prints for it. Cases with a system config run ssh in a
 * private mount namespace where /etc/ssh/ssh_config and ~/.ssh are the case's files (root only,
 * nothing outside the namespace changes); the others use -F, which reads only that file.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSshConfig, resolveSshConfig, type LocalEnv } from '../../../src/transport/ssh-config.js';
import { parseSshTarget } from '../../../src/transport/ssh-target.js';

interface Case {
  name: string;
  /** ~/.ssh/config (or the -F file when there is no system config) */
  user: string;
  /** /etc/ssh/ssh_config; absent (and no files): ssh -F USER, which reads only it */
  system?: string;
  /** other files under the case's ~/.ssh, by relative path */
  files?: Record<string, string>;
  targets: string[];
}

const CASES: Case[] = [
  {
    name: 'first value wins; Host * after specific blocks; user@ and :port on the target win',
    user: 'Host relay\n  HostName 203.0.113.7\n  User deploy\n  Port 2200\nHost *\n  User fallback\n  Port 2022\n',
    targets: ['relay', 'other', 'ops@relay', 'relay:2999'],
  },
  {
    name: 'Host matches the name as typed: case, wildcards, ? and negation',
    user: 'Host myhost\n  Port 2000\nHost web-? !web-9\n  User webber\nHost *.lab\n  HostName %h.example\n',
    targets: ['myhost', 'MyHost', 'web-1', 'web-9', 'web-10', 'box.lab'],
  },
  {
    name: 'Include inside a Host block applies only for that host; a Host in the included file does not leak out',
    user: 'Host special\n  Port 2100\nInclude conf.d/*.conf\n\nHost *\n  User fallback\n',
    files: { 'conf.d/10-a.conf': 'Host included\n  HostName 198.51.100.1\nHost special\n  User from-include\n', 'conf.d/skip.txt': 'Host special\n  Port 9\n' },
    targets: ['special', 'included', 'elsewhere'],
  },
  {
    name: 'Include at the top applies to every host; a Match in it leaves the outer block alone',
    user: 'Include conf.d/*.conf\nHost a\n  User ua\n',
    files: { 'conf.d/00.conf': 'Host included\n  HostName 198.51.100.1\n  Port 2022\nMatch host nothing\n  User never\n' },
    targets: ['included', 'a'],
  },
  {
    name: 'Match host sees the HostName known so far; Match originalhost the name typed',
    user: 'Match host 10.*\n  User early\nHost alias\n  HostName 10.1.2.3\nMatch host 10.*\n  User late\n  Port 2300\nMatch originalhost alias\n  IdentityFile ~/.ssh/orig\n',
    targets: ['alias', '10.9.9.9', 'other'],
  },
  {
    name: 'Match user sees the remote user; localuser the local one; all and negation',
    user: 'Host box\n  User deploy\nMatch user deploy\n  Port 2400\nMatch !localuser nobody-here\n  HostKeyAlias local-ok\nMatch all\n  StrictHostKeyChecking accept-new\n',
    targets: ['box', 'root@box', 'other'],
  },
  {
    name: 'Match final is a second pass that only fills what is still unset',
    user: 'Match final host 192.0.2.*\n  User finaluser\n  Port 2500\nHost fin\n  HostName 192.0.2.5\n  Port 2600\n',
    targets: ['fin', '192.0.2.9', 'other'],
  },
  {
    name: 'IdentityFile accumulates in order, deduplicated; OpenSSH defaults only when none applies',
    user: 'Host k\n  IdentityFile ~/.ssh/one\n  IdentitiesOnly yes\nHost k *.keys\n  IdentityFile ~/.ssh/two\n  IdentityFile ~/.ssh/one\nHost *\n  UserKnownHostsFile ~/kh1 ~/kh2\n  UserKnownHostsFile ~/never\n',
    targets: ['k', 'x.keys', 'plain'],
  },
  {
    name: 'key=value, quotes, comments',
    user: 'Host q\n  HostName=q.example # trailing\n  User = "quoted"\n  IdentityFile "~/.ssh/with space"\n  ProxyJump j1,j2\n  BindAddress 127.0.0.1\n',
    targets: ['q'],
  },
  {
    name: '/etc/ssh/ssh_config after ~/.ssh/config: the user file wins, the system file fills the rest',
    user: 'Host relay\n  User mine\n',
    system: 'Host *\n  User systemwide\n  Port 2700\n  StrictHostKeyChecking yes\n',
    targets: ['relay', 'other'],
  },
  {
    name: 'a system Include, and the system file read even without a user file line for the host',
    user: 'Host only-user\n  Port 2800\n',
    system: 'Include SYSDIR/ssh_config.d/*.conf\nHost *\n  ConnectTimeout 9\n',
    files: { 'sysd/ssh_config.d/50-site.conf': 'Host site-*\n  User siteuser\n  HostName %h.site.example\n' },
    targets: ['site-1', 'only-user'],
  },
];

const isRoot = process.getuid?.() === 0;
const haveSsh = spawnSync('ssh', ['-V']).status === 0;
const haveUnshare = spawnSync('unshare', ['--version']).status === 0;
// In CI all of it must run: a missing ssh or root fails instead of skipping.
/** Cases with files or a system config run ssh in a namespace where they are its real ones (relative Includes resolve in ~/.ssh). */
const namespaced = (c: Case) => c.system !== undefined || c.files !== undefined;
const mayRun = (c: Case) => Boolean(process.env.CI) || (haveSsh && (!namespaced(c) || (isRoot && haveUnshare)));

const HOME = userInfo().homedir;
const local: LocalEnv = { homeDir: HOME, localUser: userInfo().username, localHostName: hostname(), uid: process.getuid?.() ?? 0, env: {} };

/** `ssh -G` for one target, as a map of keyword → every value line. */
function sshG(c: Case, dir: string, target: string[]): Map<string, string[]> {
  let r;
  if (namespaced(c)) {
    // A private mount namespace: this ssh sees the case's files as its own; nothing else does. The case's
    // folder goes over the whole home (its .ssh is then ~/.ssh): a fresh machine may have no ~/.ssh to mount on.
    const script = `mount --bind ${dir}/system_config /etc/ssh/ssh_config && mount --bind ${dir} ${HOME} && exec ssh -G "$@"`;
    r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', ...target], { encoding: 'utf8' });
  } else {
    r = spawnSync('ssh', ['-G', '-F', join(dir, '.ssh', 'config'), ...target], { encoding: 'utf8' });
  }
  expect(r.status, r.stderr).toBe(0);
  const out = new Map<string, string[]>();
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf(' ');
    if (i < 0) continue;
    const k = line.slice(0, i);
    out.set(k, [...(out.get(k) ?? []), line.slice(i + 1)]);
  }
  return out;
}

describe('ssh config as OpenSSH reads it, checked against ssh -G', () => {
  for (const c of CASES) {
    it.skipIf(!mayRun(c))(c.name, () => {
      const dir = mkdtempSync(join(tmpdir(), 'pairctl-sshg-'));
      const sysdir = join(dir, 'sysd');
      const fill = (t: string) => t.replace(/SYSDIR/g, sysdir);
      mkdirSync(join(dir, '.ssh'), { recursive: true, mode: 0o700 });
      writeFileSync(join(dir, '.ssh', 'config'), fill(c.user), { mode: 0o600 });
      for (const [rel, text] of Object.entries(c.files ?? {})) {
        const f = rel.startsWith('sysd/') ? join(dir, rel) : join(dir, '.ssh', rel);
        mkdirSync(join(f, '..'), { recursive: true });
        writeFileSync(f, fill(text), { mode: 0o600 });
      }
      if (namespaced(c)) writeFileSync(join(dir, 'system_config'), fill(c.system ?? ''));
      // Read from the case's files; resolve as the real user, whose ~/.ssh they stand for.
      const source = namespaced(c)
        ? readSshConfig(undefined, { ...local, homeDir: dir, systemConfig: join(dir, 'system_config') })
        : readSshConfig(join(dir, '.ssh', 'config'), { ...local, homeDir: dir });
      for (const t of c.targets) {
        const parsed = parseSshTarget(t);
        if (!parsed.ok) throw new Error(parsed.error);
        const mine = resolveSshConfig(source, parsed.target, local);
        // pairctl's host:port is ssh's -p PORT host.
        const p = parsed.target;
        const real = sshG(c, dir, [...(p.port ? ['-p', String(p.port)] : []), p.user ? `${p.user}@${p.host}` : p.host]);
        const get = (k: string) => real.get(k)?.[0];
        const expand = (p: string) => p.replace(/^~(?=\/|$)/, HOME).replace(/%d/g, HOME).replace(/%u/g, local.localUser).replace(/%r/g, mine.user).replace(/%h/g, mine.hostName);
        const where = `${c.name}: ${t}`;
        expect(mine.hostName.toLowerCase(), where).toBe(get('hostname'));
        expect(mine.user, where).toBe(get('user'));
        expect(String(mine.port), where).toBe(get('port'));
        expect(mine.identityFiles, where).toEqual((real.get('identityfile') ?? []).map(expand));
        expect(mine.identitiesOnly ? 'yes' : 'no', where).toBe(get('identitiesonly'));
        expect(mine.userKnownHostsFiles.join(' '), where).toBe(get('userknownhostsfile'));
        expect(mine.strictHostKeyChecking === 'yes' ? 'true' : mine.strictHostKeyChecking === 'no' ? 'false' : mine.strictHostKeyChecking, where).toBe(get('stricthostkeychecking'));
        expect(mine.hostKeyAlias, where).toBe(get('hostkeyalias'));
        expect(mine.bindAddress, where).toBe(get('bindaddress'));
        expect(mine.connectTimeoutMs === undefined ? 'none' : String(mine.connectTimeoutMs / 1000), where).toBe(get('connecttimeout'));
        expect(mine.unsupported.find((u) => u.startsWith('ProxyJump'))?.slice('ProxyJump '.length), where).toBe(get('proxyjump'));
      }
    });
  }
});
