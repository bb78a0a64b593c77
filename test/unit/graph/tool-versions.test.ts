/**
 * The tmux and OpenSSH versions the plan reads in its one probe, parsed from what the real tools
 * print: lines recorded from Debian 12, 13 and testing (the lab's templates, measured here) and
 * from macOS 15 (test/fixtures/macos/README.md says where those come from).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildGraph } from '../../../src/graph/build-graph.js';
import {
  OPENSSH_VERSION_FACT,
  OPENSSH_VERSION_PROBE,
  TMUX_VERSION_FACT,
  opensshVersionOf,
  parseOpensshVersion,
  parseTmuxVersion,
  tmuxVersionOf,
  tmuxVersionProbe,
  toolVersions,
} from '../../../src/graph/tool-versions.js';
import { compareVersions } from '../../../src/resources/version.js';
import { guest, sampleConfig } from '../fixtures.js';

/** What OPENSSH_VERSION_PROBE prints: sshd -V's line, then the client's prefixed "client ". */
const OPENSSH_PRINTED: Array<[string, string, string]> = [
  // sshd -V of 9.2 leaves out the portable suffix; the client names the same release precisely.
  ['Debian 12', 'OpenSSH_9.2, OpenSSL 3.0.20 7 Apr 2026\nclient OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.20 7 Apr 2026', '9.2p1'],
  ['Debian 13', 'OpenSSH_10.0p2 Debian-7+deb13u4, OpenSSL 3.5.9 29 Sep 2026\nclient OpenSSH_10.0p2 Debian-7+deb13u4, OpenSSL 3.5.9 29 Sep 2026', '10.0p2'],
  ['Debian testing', 'OpenSSH_10.6p1 Debian-1, OpenSSL 3.6.5 29 Sep 2026\nclient OpenSSH_10.6p1 Debian-1, OpenSSL 3.6.5 29 Sep 2026', '10.6p1'],
  ['macOS 15.7.7', 'OpenSSH_9.9p2, LibreSSL 3.3.6\nclient OpenSSH_9.9p2, LibreSSL 3.3.6', '9.9p2'],
  // sshd older than 9.2 has no -V: the release line heads its usage text.
  ['OpenSSH 8.9 usage', 'sshd: illegal option -- V\nOpenSSH_8.9p1 Ubuntu-3ubuntu0.10, OpenSSL 3.0.2 15 Mar 2022\nusage: sshd [-46DdeiqTt] [-C connection_spec]', '8.9p1'],
  // A client of another release does not rename the server's.
  ['mismatched client', 'OpenSSH_9.2, OpenSSL 3.0.20\nclient OpenSSH_9.6p1, OpenSSL 3.0.20', '9.2'],
];

describe('OpenSSH version', () => {
  it.each(OPENSSH_PRINTED)('reads %s', (_name, printed, version) => {
    expect(parseOpensshVersion(printed)).toBe(version);
  });

  it('is unknown without sshd, whatever the client says', () => {
    expect(parseOpensshVersion('')).toBeUndefined();
    expect(parseOpensshVersion('client OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.20')).toBeUndefined();
    expect(parseOpensshVersion('sh: 1: /usr/sbin/sshd: Permission denied')).toBeUndefined();
  });

  it('reads this machine\'s real sshd with the probe the plan runs', () => {
    const printed = execFileSync('sh', ['-c', OPENSSH_VERSION_PROBE.snippet], { encoding: 'utf8' });
    const version = parseOpensshVersion(printed);
    if (!existsSync('/usr/sbin/sshd') && !existsSync('/usr/bin/sshd')) {
      expect(version).toBeUndefined();
      return;
    }
    // The same release as the client's own `ssh -V` (stderr), which is what this machine ships.
    const client = execFileSync('sh', ['-c', 'ssh -V 2>&1'], { encoding: 'utf8' });
    expect(version).toMatch(/^\d+\.\d+/);
    expect(client).toContain(`OpenSSH_${version}`);
  });
});

describe('tmux version', () => {
  it.each([
    ['tmux 3.3a', '3.3a'],
    ['tmux 3.5a', '3.5a'],
    ['tmux 3.7c', '3.7c'],
    ['tmux 3.8', '3.8'],
    ['tmux next-3.8', 'next-3.8'],
  ])('reads %j', (printed, version) => {
    expect(parseTmuxVersion(printed)).toBe(version);
  });

  it('reads a build from git as the release it leads to', () => {
    expect(compareVersions(parseTmuxVersion('tmux next-3.8')!, '3.7')).toBeGreaterThan(0);
  });

  it('is unknown when the output is anything but a version line', () => {
    for (const printed of ['', 'tmux master', 'sudo: unknown user bhorseman', 'runuser: user bhorseman does not exist', 'tmux 3.3a; rm -rf /']) {
      expect(parseTmuxVersion(printed), printed).toBeUndefined();
    }
  });

  it('runs tmux as the owner with the session\'s PATH: on a Mac root neither runs Homebrew\'s tmux nor tests its path', () => {
    const mac = tmuxVersionProbe('macos', 'bhorseman').snippet;
    expect(mac.startsWith('{ sudo -u bhorseman -H -- env -i PATH=/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin HOME=/ /bin/sh -c ')).toBe(true);
    expect(tmuxVersionProbe('linux', 'bhorseman').snippet.startsWith('{ runuser -u bhorseman -- timeout -k 5 60 env -i PATH=/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin HOME=/ /bin/sh -c ')).toBe(true);
    execFileSync('sh', ['-n'], { input: mac });
  });

  it('reads this machine\'s real tmux the way the probe runs it (as the current user here)', () => {
    const snippet = tmuxVersionProbe('linux', 'nobody').snippet.replace(/^\{ runuser -u nobody -- /, '{ ');
    expect(snippet.startsWith('{ timeout -k 5 60 env -i ')).toBe(true);
    const printed = execFileSync('sh', ['-c', snippet], { encoding: 'utf8' });
    const local = spawnSync('sh', ['-c', 'PATH=/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin tmux -V'], { encoding: 'utf8' });
    if (local.status !== 0) {
      expect(parseTmuxVersion(printed)).toBeUndefined();
      return;
    }
    expect(`tmux ${parseTmuxVersion(printed)}\n`).toBe(local.stdout);
  });
});

describe('versions in the graph and the plan', () => {
  it('every host reads tmux and OpenSSH, every relay OpenSSH, in its one probe exec', () => {
    const config = sampleConfig([guest('todd')]);
    const pos = config.hosts[0]!.pos;
    config.relays = [{ id: 'elefante', platform: 'linux', ssh: 'root@203.0.113.5', sudo: false, pos }];
    config.hosts[0] = { ...config.hosts[0]!, tunnel: { provider: 'vps', relay: 'elefante', port: 2222 } };
    const [host, relay] = buildGraph(config);
    expect(host!.facts!.map((f) => f.key)).toEqual(expect.arrayContaining([TMUX_VERSION_FACT, OPENSSH_VERSION_FACT]));
    expect(relay!.facts!.map((f) => f.key)).toContain(OPENSSH_VERSION_FACT);
    expect(relay!.facts!.map((f) => f.key)).not.toContain(TMUX_VERSION_FACT);
  });

  it('gives later graph builds the versions read, and the plan only what was probed', () => {
    const facts = { scotch: { [TMUX_VERSION_FACT]: 'tmux 3.7c', [OPENSSH_VERSION_FACT]: 'OpenSSH_10.6p1 Debian-1, OpenSSL 3.6.5' } };
    expect(tmuxVersionOf(facts, 'scotch')).toBe('3.7c');
    expect(opensshVersionOf(facts, 'scotch')).toBe('10.6p1');
    expect(tmuxVersionOf(facts, 'elefante')).toBeUndefined();
    expect(toolVersions({ [OPENSSH_VERSION_FACT]: 'OpenSSH_10.0p2 Debian-7+deb13u4, OpenSSL 3.5.9' })).toEqual({ openssh: '10.0p2' });
    expect(toolVersions({ [TMUX_VERSION_FACT]: '', [OPENSSH_VERSION_FACT]: '' })).toEqual({ tmux: null, openssh: null });
  });
});
