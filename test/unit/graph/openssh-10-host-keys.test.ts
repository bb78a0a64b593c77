/**
 * OpenSSH 10.4+ makes a post-quantum host key (ssh-mldsa44-ed25519) with `ssh-keygen -A`; Debian
 * testing's 10.6 has one (test/fixtures/openssh/debian-forky-openssh-10.6-host-keys.txt, read from
 * the lab's template). A relay there answers it in its host-key fact; the host's pinned
 * known_hosts must take it (older ssh clients skip lines of types they do not know) instead of
 * failing the plan, and anything that is not a key line is still refused.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildGraph } from '../../../src/graph/build-graph.js';
import { SSH_HOST_KEYS_FACT, TUNNEL_PUBLIC_KEY_FACT, publicKeyLines } from '../../../src/graph/facts.js';
import type { FileSpec } from '../../../src/resources/file-state.js';
import { ED25519, sampleConfig } from '../fixtures.js';

const FORKY_HOST_KEYS = readFileSync(join(import.meta.dirname, '../../fixtures/openssh/debian-forky-openssh-10.6-host-keys.txt'), 'utf8');
const pos = { file: 'pair.yaml', line: 1, column: 1 };

describe('a relay on OpenSSH 10.6 with a post-quantum host key', () => {
  it('reads every host key line, the ML-DSA one too', () => {
    const lines = publicKeyLines(FORKY_HOST_KEYS, 'a host key of relay elefante');
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519', 'ssh-mldsa44-ed25519', 'ssh-rsa']);
  });

  it('pins all of them in the host\'s tunnel known_hosts, with no plan error', () => {
    const c = sampleConfig();
    const config = {
      ...c,
      hosts: [{ ...c.hosts[0]!, tunnel: { provider: 'vps' as const, relay: 'elefante', port: 2222 } }],
      relays: [{ id: 'elefante', platform: 'linux' as const, ssh: 'root@203.0.113.5', sudo: false, pos }],
    };
    const [host] = buildGraph(config, { facts: { scotch: { [TUNNEL_PUBLIC_KEY_FACT]: `ssh-ed25519 ${ED25519}` }, elefante: { [SSH_HOST_KEYS_FACT]: FORKY_HOST_KEYS } } });
    expect(host!.errors ?? []).toEqual([]);
    const kh = host!.resources.find((r) => r.address === 'file["/var/lib/pairctl/tunnel/known_hosts"]')!.spec as FileSpec;
    const pinned = kh.content.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(pinned).toHaveLength(4);
    expect(pinned).toContain(`203.0.113.5 ${FORKY_HOST_KEYS.split('\n').find((l) => l.startsWith('ssh-mldsa44-ed25519'))}`);
    // This machine's OpenSSH (9.2, no ML-DSA) still finds the relay's ed25519 key in that file.
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-kh-'));
    writeFileSync(join(dir, 'known_hosts'), kh.content);
    const found = execFileSync('ssh-keygen', ['-F', '203.0.113.5', '-f', join(dir, 'known_hosts')], { encoding: 'utf8' });
    expect(found).toContain('ssh-ed25519 ');
  });

  it('still refuses what is not a bare key line', () => {
    for (const bad of ['ssh-mldsa44-ed25519', 'command="sh" ssh-ed25519 AAAA', 'ssh-unknown-type AAAA', `ssh-mldsa44-ed25519 ${ED25519} extra`]) {
      expect(() => publicKeyLines(bad, 'x'), bad).toThrow(/not an OpenSSH public key/);
    }
  });
});
