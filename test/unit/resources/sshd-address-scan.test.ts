/**
 * The probe's scan of the files sshd reads (sshd-address-scan.ts), run by the real shells on
 * config trees in a temp directory: it must say "depends" for every Match line that could make
 * `sshd -T` differ between source addresses (in any file sshd really reads, in any spelling sshd
 * accepts) and whenever it cannot be sure, and "same" only for the Match lines that cannot (user,
 * group, all) and for comments. Then the probe and apply's check built on it: one `sshd -T` per
 * account when the addresses cannot differ, one per address when they can, and what comes out
 * of both the same.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildGraph } from '../../../src/graph/build-graph.js';
import { addressScanScript } from '../../../src/resources/sshd-address-scan.js';
import type { SshdDropinSpec } from '../../../src/resources/sshd-dropin.js';
import { VERIFY_ADDRESSES, effectiveMismatches, effectiveProbe, parseEffective, verifyEffectiveScript, type SshdCheck } from '../../../src/resources/sshd-effective.js';
import { MATCH_LINES } from '../../fixtures/openssh/match-lines.js';
import { guest, sampleConfig } from '../fixtures.js';

const fixtures = join(import.meta.dirname, '../../fixtures/openssh');
const DEBIAN_CONFIGS = ['debian12-sshd_config', 'debian13-sshd_config', 'debian-forky-sshd_config'];
const [host] = buildGraph(sampleConfig([guest('todd')]));
const dropin = host!.resources.find((r) => r.kind === 'sshd_dropin')!.spec as SshdDropinSpec;

/** The shells the probe meets: dash (Debian's sh) and bash in POSIX mode (macOS's sh). */
const SHELLS: string[][] = [['sh'], ...(spawnSync('bash', ['-c', ':']).status === 0 ? [['bash', '--posix']] : [])];

/** A config tree: paths relative to the sshd directory; `@DIR@` in contents stands for it. */
type Tree = Record<string, string>;

function makeTree(files: Tree): string {
  const dir = mkdtempSync(join(tmpdir(), 'sshd-scan-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content.replaceAll('@DIR@', dir));
  }
  return dir;
}

/** Runs the scan over `dir` (sshd_config there) in `shell`; "depends" or "same". */
function scanIn(dir: string, shell: string[], config = join(dir, 'sshd_config')): string {
  const script = `${addressScanScript(config, dir)}\nif pairctl_sshd_by_address; then echo depends; else echo same; fi\n`;
  const r = spawnSync(shell[0]!, [...shell.slice(1), '-c', script], { encoding: 'utf8', timeout: 10_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout.trim();
}

/** The answer every shell gives for `files` (and that they agree). */
function scan(files: Tree): string {
  const dir = makeTree(files);
  const answers = SHELLS.map((s) => scanIn(dir, s));
  expect(new Set(answers).size, `shells disagree: ${answers.join(', ')}`).toBe(1);
  return answers[0]!;
}

const debian = readFileSync(join(fixtures, 'debian-forky-sshd_config'), 'utf8');
/** Debian's stock sshd_config (its Include pointed at the tree) and pairctl's own drop-in. */
const stock = (extra: Tree = {}): Tree => ({
  sshd_config: debian.replaceAll('/etc/ssh', '@DIR@'),
  'sshd_config.d/00-pairctl.conf': dropin.content,
  ...extra,
});

describe('the scan of the files sshd reads', () => {
  it.each(DEBIAN_CONFIGS)('says "same" for Debian\'s %s with pairctl\'s drop-in (its Match Group, the commented #Match User)', (name) => {
    const text = readFileSync(join(fixtures, name), 'utf8');
    expect(text).toMatch(/^#Match User anoncvs$/m);
    expect(dropin.content).toMatch(/^Match Group pairctl$/m);
    expect(scan({ sshd_config: text.replaceAll('/etc/ssh', '@DIR@'), 'sshd_config.d/00-pairctl.conf': dropin.content })).toBe('same');
  });

  it('says "depends" for Match Address in a drop-in that sorts before pairctl\'s (positive control of the one above)', () => {
    expect(scan(stock({ 'sshd_config.d/00-aaa.conf': 'Match Address 192.0.2.0/24\n    AllowTcpForwarding yes\n' }))).toBe('depends');
  });

  it('says "same" for the relay\'s drop-in (Match User lists), jump guests and all', () => {
    const pos = { file: 'pair.yaml', line: 1, column: 1 };
    const base = sampleConfig([guest('todd')]);
    const config = { ...base, hosts: [{ ...base.hosts[0]!, tunnel: { provider: 'jump' as const, relay: 'elefante', port: 2222 } }], relays: [{ id: 'elefante', platform: 'linux' as const, ssh: 'bhorseman@203.0.113.5', sudo: true, pos }] };
    const relay = buildGraph(config).find((m) => m.role === 'relay');
    const spec = relay?.resources.find((r) => r.kind === 'sshd_dropin')?.spec as SshdDropinSpec | undefined;
    expect(spec?.content).toMatch(/^Match User tunnel-scotch$/m);
    expect(spec?.content).toMatch(/^Match Group pairctl-jump$/m);
    expect(scan(stock({ 'sshd_config.d/00-pairctl-relay.conf': spec!.content }))).toBe('same');
  });

  it.each(MATCH_LINES)('%s: %j → %s', (_what, line, want) => {
    expect(scan(stock({ 'sshd_config.d/50-site.conf': `PasswordAuthentication no\n${line}\n    AllowTcpForwarding yes\n` }))).toBe(want);
  });

  it('follows Include: relative to the sshd directory, absolute, globbed, nested, from a drop-in', () => {
    const far = 'Match Address 192.0.2.0/24\n    PermitTTY no\n';
    // Positive control: the same file where no Include names it is not read.
    expect(scan(stock({ 'site/a.conf': far }))).toBe('same');
    expect(scan(stock({ 'sshd_config.d/10-site.conf': 'Include site/*.conf\n', 'site/a.conf': far }))).toBe('depends');
    expect(scan(stock({ 'sshd_config.d/10-site.conf': 'Include @DIR@/site/a.conf\n', 'site/a.conf': far }))).toBe('depends');
    expect(scan(stock({ 'sshd_config.d/10-site.conf': 'include=site/?.conf # the site\n', 'site/a.conf': far }))).toBe('depends');
    expect(scan(stock({ 'sshd_config.d/10-site.conf': 'Include site/none/*.conf site/b.conf\n', 'site/b.conf': 'Include site/deeper/*\n', 'site/deeper/c': far }))).toBe('depends');
    expect(scan(stock({ 'sshd_config.d/10-site.conf': 'Include site/b.conf\n', 'site/b.conf': 'Include site/deeper/*\n', 'site/deeper/c': 'Match User x\n' }))).toBe('same');
    // Relative to the sshd directory, not to the including file: sshd never reads site/deeper/c here.
    expect(scan(stock({ 'sshd_config.d/10-site.conf': 'Include site/b.conf\n', 'site/b.conf': 'Include deeper/*\n', 'site/deeper/c': far }))).toBe('same');
    // Inside a Match block (sshd reads it there too), and a glob that matches nothing.
    expect(scan(stock({ 'sshd_config.d/10-site.conf': 'Match User x\n  Include site/*.conf\n', 'site/a.conf': far }))).toBe('depends');
    expect(scan(stock({ 'sshd_config.d/10-site.conf': 'Include site/*.conf\n' }))).toBe('same');
    // Not only sshd_config.d: a file sshd_config includes from elsewhere.
    const main = debian.replaceAll('/etc/ssh', '@DIR@').replace(/^Include .*$/m, '$&\nInclude other/*.conf');
    expect(scan({ ...stock(), sshd_config: main, 'other/x.conf': far })).toBe('depends');
    expect(scan({ ...stock(), sshd_config: main, 'other/x.conf': 'Match User x\n' })).toBe('same');
  });

  it('ends on Include loops and stops at 16 levels (in doubt past them)', () => {
    expect(scan(stock({ 'sshd_config.d/10-loop.conf': 'Include sshd_config.d/10-loop.conf sshd_config\n' }))).toBe('same');
    const chain: Tree = { 'sshd_config.d/10-chain.conf': 'Include c/1\n' };
    for (let i = 1; i <= 20; i++) chain[`c/${i}`] = i < 20 ? `Include c/${i + 1}\n` : 'Match User x\n';
    expect(scan(stock(chain))).toBe('depends');
    const short: Tree = { 'sshd_config.d/10-chain.conf': 'Include c/1\n' };
    for (let i = 1; i <= 5; i++) short[`c/${i}`] = i < 5 ? `Include c/${i + 1}\n` : 'Match User x\n';
    expect(scan(stock(short))).toBe('same');
  });

  it('is in doubt ("depends") where it cannot be sure', () => {
    expect(scan(stock({ 'sshd_config.d/10-site.conf': 'Include "site/a b.conf"\n' }))).toBe('depends');
    expect(scan(stock({ 'sshd_config.d/10-site.conf': 'Include site/[ab].conf\n', 'site/a.conf': 'Match User x\n' }))).toBe('depends');
    expect(scan(stock({ 'sshd_config.d/10-site.conf': 'Include ~/x.conf\n' }))).toBe('depends');
    expect(scan(stock({ 'sshd_config.d/10-site.conf': 'Include site/*\n', 'site/a b.conf': 'Match User x\n' }))).toBe('depends');
    // A directory where a file should be, a missing sshd_config.
    expect(scan(stock({ 'sshd_config.d/10-site.conf': 'Include site\n', 'site/a.conf': 'Match User x\n' }))).toBe('depends');
    const dir = makeTree({ 'sshd_config.d/00-pairctl.conf': dropin.content });
    expect(scanIn(dir, ['sh'])).toBe('depends');
  });

  it('reads a file through a symlink to a file of the same owner', () => {
    const dir = makeTree(stock({ 'site/a.conf': 'Match User x\n' }));
    symlinkSync(join(dir, 'site/a.conf'), join(dir, 'sshd_config.d/10-link.conf'));
    expect(scanIn(dir, ['sh'])).toBe('same');
    writeFileSync(join(dir, 'site/a.conf'), 'Match Address 192.0.2.0/24\n');
    expect(scanIn(dir, ['sh'])).toBe('depends');
  });

  it.skipIf(process.getuid?.() !== 0)('as root, reads only files root owns in directories root owns (others: "depends")', () => {
    const dir = makeTree(stock({ 'sshd_config.d/10-site.conf': 'Match User x\n' }));
    expect(scanIn(dir, ['sh'])).toBe('same');
    chownSync(join(dir, 'sshd_config.d/10-site.conf'), 65534, 65534);
    expect(scanIn(dir, ['sh'])).toBe('depends');
    const other = makeTree(stock({ 'site/a.conf': 'Match User x\n', 'sshd_config.d/10-site.conf': 'Include site/a.conf\n' }));
    expect(scanIn(other, ['sh'])).toBe('same');
    chownSync(join(other, 'site'), 65534, 65534);
    chmodSync(join(other, 'site'), 0o755);
    expect(scanIn(other, ['sh'])).toBe('depends');
  });

  it('does not open a FIFO sshd would be given (it is not a regular file)', () => {
    const dir = makeTree(stock({ 'sshd_config.d/10-site.conf': 'Include site/pipe\n' }));
    mkdirSync(join(dir, 'site'));
    expect(spawnSync('mkfifo', [join(dir, 'site/pipe')]).status).toBe(0);
    expect(scanIn(dir, ['sh'])).toBe('depends');
  });

  it('reads a -f config and its includes without the drop-in directory', () => {
    const dir = makeTree({ 'pairctl/sshd_config': 'Port 2200\nInclude site/*.conf\n', 'site/a.conf': 'Match User x\n', 'sshd_config.d/00-x.conf': 'Match Address 10.0.0.0/8\n' });
    expect(scanIn(dir, ['sh'], join(dir, 'pairctl/sshd_config'))).toBe('same');
    writeFileSync(join(dir, 'site/a.conf'), 'Match LocalPort 2200\n');
    expect(scanIn(dir, ['sh'], join(dir, 'pairctl/sshd_config'))).toBe('depends');
  });
});

/**
 * The probe and apply's check with `sshd -T` answered by a shell function that logs its calls
 * and prints the 10.6 recording, or (`FAR`) for 192.0.2.1 that recording with ForceCommand none:
 * what a `Match Address 192.0.2.0/24` block in front of pairctl's drop-in would give.
 */
describe('sshd -T once per account unless a Match block can tell the addresses apart', () => {
  const recording = readFileSync(join(fixtures, 'debian-forky-openssh-10.6-guest-sshd-T.txt'), 'utf8');
  const printed = new Set(recording.split('\n').map((l) => l.split(' ')[0]!.toLowerCase()));
  const checks: SshdCheck[] = dropin.checks.map((c) => ({ user: c.user, expect: Object.fromEntries(Object.entries(c.expect).filter(([k]) => printed.has(k))) }));
  const connection = { addresses: VERIFY_ADDRESSES };
  const work = mkdtempSync(join(tmpdir(), 'sshd-once-'));
  const near = join(work, 'near.txt');
  const far = join(work, 'far.txt');
  writeFileSync(near, recording);
  writeFileSync(far, recording.replace(/^ForceCommand .*$/m, 'ForceCommand none'));
  expect(readFileSync(far, 'utf8')).not.toBe(recording);
  const fake = `pairctl_fake_sshd() { echo "$3" >> "$CALLS"; case "$3" in *addr=192.0.2.1) cat "$FAR" ;; *) cat "$NEAR" ;; esac; }\n`;

  /** Runs `script` against `tree` as /etc/ssh (sshd -T printing `nearFile`, or `farFile` for 192.0.2.1); its output, status and the fake sshd's calls. */
  function run(script: string, tree: Tree, farFile: string, nearFile = near) {
    const dir = makeTree(tree);
    const calls = join(dir, 'calls');
    writeFileSync(calls, '');
    const body = script
      .replaceAll('/etc/ssh', dir)
      .replaceAll('[ -x /usr/sbin/sshd ]', 'true')
      .replaceAll(`id ${checks[0]!.user} `, 'true ')
      .replaceAll('/usr/sbin/sshd -T', 'pairctl_fake_sshd -T');
    expect(body).not.toContain('/usr/sbin/sshd');
    const r = spawnSync('sh', ['-c', fake + body], { encoding: 'utf8', env: { ...process.env, CALLS: calls, NEAR: nearFile, FAR: farFile } });
    return { ...r, calls: readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean) };
  }

  const plain = stock();
  const withMatch = stock({ 'sshd_config.d/00-aaa.conf': 'Match Address 192.0.2.0/24\n    ForceCommand none\n' });

  it('the probe: one run without a Match Address, three with one, and the same output when they agree', () => {
    const probe = effectiveProbe(checks, connection, []);
    const once = run(probe, plain, near);
    const thrice = run(probe, withMatch, near);
    expect(once.stderr + thrice.stderr).toBe('');
    expect(once.calls).toEqual(['user=pair-todd,host=pairctl.invalid,addr=127.0.0.1']);
    expect(thrice.calls).toEqual(VERIFY_ADDRESSES.map((a) => `user=pair-todd,host=pairctl.invalid,addr=${a}`));
    const effective = parseEffective(once.stdout);
    expect(Object.keys(effective)).toEqual(VERIFY_ADDRESSES.map((a) => `pair-todd/${a}`));
    expect(effective['pair-todd/192.0.2.1']?.forcecommand).toBe('/usr/local/libexec/pairctl/join');
    expect(effective).toEqual(parseEffective(thrice.stdout));
    expect(JSON.stringify(effective)).toBe(JSON.stringify(parseEffective(thrice.stdout)));
    // Byte for byte: the plan's state digest hashes the probe's output.
    expect(once.stdout).toBe(thrice.stdout);
    expect(effectiveMismatches(checks, connection, effective)).toEqual([]);
  });

  it('the probe: an sshd -T that prints nothing prints nothing in either mode', () => {
    const probe = effectiveProbe(checks, connection, []);
    const empty = join(work, 'empty.txt');
    writeFileSync(empty, '');
    const none = run(probe, plain, empty, empty);
    const three = run(probe, withMatch, empty, empty);
    expect([none.calls.length, three.calls.length]).toEqual([1, 3]);
    expect([none.stdout, three.stdout]).toEqual(['', '']);
  });

  it('the probe: a Match Address that changes what 192.0.2.1 gets is reported for that address alone', () => {
    const probe = effectiveProbe(checks, connection, []);
    const r = run(probe, withMatch, far);
    expect(r.calls).toHaveLength(3);
    const wrong = effectiveMismatches(checks, connection, parseEffective(r.stdout));
    expect(wrong).toEqual([{ user: 'pair-todd', address: '192.0.2.1', wrong: [['forcecommand', 'none']] }]);
  });

  it('apply\'s check: one run, or three, and the same words when something is wrong', () => {
    const verify = verifyEffectiveScript(checks, connection, 'why');
    const ok = run(verify, plain, near);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.calls).toHaveLength(1);
    const okThrice = run(verify, withMatch, near);
    expect([okThrice.status, okThrice.calls.length]).toEqual([0, 3]);
    const only = run(verify, withMatch, far);
    expect(only.status).toBe(1);
    expect(only.stderr).toBe("pairctl: sshd does not give pairctl's accounts the settings pairctl wrote: forcecommand@192.0.2.1 (why)\n");
    // Wrong from every address: one run says it for each of them, in the words of three runs.
    const toFar = (script: string) => script.replaceAll(/addr=[0-9.]+\)/g, 'addr=192.0.2.1)');
    const once = run(toFar(verify), plain, far);
    const three = run(toFar(verify), withMatch, far);
    expect([once.status, once.calls.length, three.status, three.calls.length]).toEqual([1, 1, 1, 3]);
    expect(once.stderr).toBe(three.stderr);
    expect(once.stderr).toContain(`: ${VERIFY_ADDRESSES.map((a) => `forcecommand@${a}`).join(' ')} (why)`);
  });
});
