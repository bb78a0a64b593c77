import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { authorizedKeyLines, expiryTime } from '../../../src/graph/authorized-keys.js';
import { buildGraph, topoSort } from '../../../src/graph/build-graph.js';
import { JOIN_PROGRAM } from '../../../src/graph/paths.js';
import { GUEST_SSHD_SETTINGS } from '../../../src/graph/sshd-settings.js';
import type { FileSpec } from '../../../src/resources/file-state.js';
import { kindOf } from '../../../src/resources/registry.js';
import type { SshdDropinSpec } from '../../../src/resources/sshd-dropin.js';
import { templateSource } from '../../../src/templates/render.js';
import { guest, sampleConfig } from '../fixtures.js';

describe('authorized_keys lines', () => {
  it('lock every key to the join program with restrict and pty', () => {
    const lines = authorizedKeyLines(guest('todd'));
    expect(lines).toEqual([`restrict,pty,command="${JOIN_PROGRAM}" ssh-ed25519 ${guest('todd').keys[0]!.base64} pairctl:todd:1`]);
  });
  it('add expiry-time in UTC and from when set', () => {
    const g = guest('todd', { expires: new Date('2026-12-31T18:05:00Z'), from: ['198.51.100.0/24', '203.0.113.7'] });
    expect(authorizedKeyLines(g)[0]).toContain('expiry-time="202612311805Z",from="198.51.100.0/24,203.0.113.7" ssh-ed25519 ');
    expect(expiryTime(new Date('2027-01-02T03:04:59Z'))).toBe('202701020304Z');
  });
  it('are accepted by OpenSSH itself (ssh-keygen reads every line)', () => {
    const g = guest('todd', { expires: new Date('2026-12-31T18:05:00Z'), from: ['198.51.100.0/24'] });
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-ak-'));
    const file = join(dir, 'authorized_keys');
    writeFileSync(file, `${authorizedKeyLines(g).join('\n')}\n`);
    const out = execFileSync('ssh-keygen', ['-l', '-f', file], { encoding: 'utf8' });
    expect(out).toMatch(/^256 SHA256:\S+ pairctl:todd:1 \(ED25519\)/);
  });
});

describe('linux host graph', () => {
  const [machine] = buildGraph(sampleConfig());
  const byAddress = new Map(machine!.resources.map((r) => [r.address, r]));

  it('has one account, root-owned .ssh and key file per guest, and no account for the owner', () => {
    expect([...byAddress.keys()].filter((a) => a.startsWith('account'))).toEqual(['account["pair-todd"]', 'account["pair-ann"]']);
    const keys = byAddress.get('file["/home/pair-todd/.ssh/authorized_keys"]')!.spec as FileSpec;
    expect(keys.owner).toBe('root');
    expect(keys.mode).toBe('0644');
  });

  it('orders dependencies before dependents', () => {
    const order = topoSort(machine!.resources).map((r) => r.address);
    const at = (a: string) => order.indexOf(a);
    expect(at('group["pairctl"]')).toBeLessThan(at('account["pair-todd"]'));
    expect(at('account["pair-todd"]')).toBeLessThan(at('file["/home/pair-todd/.ssh/authorized_keys"]'));
    expect(at('account["pair-ann"]')).toBeLessThan(at('sshd_dropin["/etc/ssh/sshd_config.d/00-pairctl.conf"]'));
  });

  it('renders a join program that maps each account to its mode and passes shellcheck', () => {
    const join = byAddress.get(`file["${JOIN_PROGRAM}"]`)!.spec as FileSpec;
    expect(join.content).toContain('pair-todd) mode=mirror ;;');
    expect(join.content).toContain('pair-ann) mode=pair ;;');
    expect(join.mode).toBe('0755');
    const dir = mkdtempSync(join_(tmpdir(), 'pairctl-join-'));
    const file = join_(dir, 'join');
    writeFileSync(file, join.content);
    execFileSync('shellcheck', ['-s', 'sh', file]); // throws with the findings when it fails
  });

  it("pins every guest sshd setting in the drop-in's Match block, and checks the global-only ones", () => {
    const dropin = byAddress.get('sshd_dropin["/etc/ssh/sshd_config.d/00-pairctl.conf"]')!.spec as SshdDropinSpec;
    const block = dropin.content.slice(dropin.content.indexOf('Match Group pairctl\n'));
    for (const [k, v] of GUEST_SSHD_SETTINGS) expect(block).toContain(`\n    ${k} ${v}\n`);
    for (const line of ['AcceptEnv pairctl-accepts-no-environment', 'AuthorizedKeysFile .ssh/authorized_keys', 'AuthorizedKeysCommand none', 'AuthorizedPrincipalsCommand none', 'AuthorizedPrincipalsFile none']) {
      expect(block).toContain(`\n    ${line}\n`);
    }
    // Global-only in sshd (SSHCFG_GLOBAL): in a Match block sshd -t would refuse it.
    expect(dropin.content).not.toMatch(/PermitUserEnvironment/);
    expect(dropin.globalExpect).toEqual({ permituserenvironment: 'no' });
    expect(dropin.checks).toEqual([{ user: 'pair-todd', expect: expect.objectContaining({ acceptenv: 'pairctl-accepts-no-environment', forcecommand: JOIN_PROGRAM }) }]);
    const probe = kindOf('sshd_dropin').probe(dropin);
    for (const addr of ['127.0.0.1', '192.168.1.10', '192.0.2.1']) expect(probe).toContain(`/usr/sbin/sshd -T -C user=pair-todd,host=pairctl.invalid,addr=${addr}`);
    // sshd >= 10.4 prints keywords in mixed case: the probe's sed matches each letter in either case.
    expect(probe).toContain("\npairctl_keywords='^([aA][cC][cC][eE][pP][tT][eE][nN][vV]|");
    expect(probe).toContain(' 2>/dev/null | sed -n -E "/$pairctl_keywords/"\'{s|^|effective/pair-todd/127.0.0.1/|;');
    expect(probe).toContain('|[tT][rR][uU][sS][tT][eE][dD][uU][sS][eE][rR][cC][aA][kK][eE][yY][sS]|');
  });

  it('interpolates shell templates only through the quoting helper', () => {
    const bare = templateSource('join.sh').replace('{{{auditFunction}}}', '').match(/\{\{(?!q |#each|\/each|#if |\/if)[^}]*\}\}/g);
    expect(bare).toBeNull();
  });
});

function join_(...parts: string[]): string {
  return join(...parts);
}
