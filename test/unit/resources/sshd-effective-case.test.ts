/**
 * `sshd -T` as Debian 12 (OpenSSH 9.2), 13 (10.0) and testing (10.6) really print it for a guest
 * under pairctl's drop-in (test/fixtures/openssh, recorded from the lab's templates). From 10.4
 * the keywords come in mixed case ("ForceCommand"), so everything that reads them must ignore
 * case: the plan's probe pipeline, its comparison, and the check apply runs after a reload. The
 * recordings predate some of the settings pairctl pins now, so each check is held to the keywords
 * the recording prints.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildGraph } from '../../../src/graph/build-graph.js';
import type { SshdDropinSpec } from '../../../src/resources/sshd-dropin.js';
import { effectiveMismatches, effectiveProbe, parseEffective, verifyEffectiveScript, type SshdCheck } from '../../../src/resources/sshd-effective.js';
import { sh } from '../../../src/transport/shell-quote.js';
import { guest, sampleConfig } from '../fixtures.js';

const fixtures = join(import.meta.dirname, '../../fixtures/openssh');
const RECORDED: Array<[string, string]> = [
  ['OpenSSH 9.2 (Debian 12)', 'debian12-openssh-9.2-guest-sshd-T.txt'],
  ['OpenSSH 10.0 (Debian 13)', 'debian13-openssh-10.0-guest-sshd-T.txt'],
  ['OpenSSH 10.6 (Debian testing)', 'debian-forky-openssh-10.6-guest-sshd-T.txt'],
];

const [host] = buildGraph(sampleConfig([guest('todd')]));
const spec = host!.resources.find((r) => r.kind === 'sshd_dropin')!.spec as SshdDropinSpec;
const connection = { addresses: ['127.0.0.1'] };

/** Pinned since the recordings were made (under a drop-in that did not set them yet). */
const PINNED_SINCE = ['acceptenv', 'authorizedkeysfile', 'authorizedkeyscommand', 'authorizedprincipalscommand', 'authorizedprincipalsfile'];

/** The guest's check, held to the keywords `text` prints (in any case) that its drop-in pinned. */
function heldTo(text: string): SshdCheck[] {
  const printed = new Set(text.split('\n').map((l) => l.split(' ')[0]!.toLowerCase()));
  const kept = (k: string) => printed.has(k) && !PINNED_SINCE.includes(k);
  return spec.checks.map((c) => ({ user: c.user, expect: Object.fromEntries(Object.entries(c.expect).filter(([k]) => kept(k))) }));
}

/** The probe's own snippet, run with `sshd -T` answering from the recording (and the guest existing). */
function probeAgainst(checks: SshdCheck[], recording: string): string {
  const snippet = effectiveProbe(checks, connection, [])
    .replaceAll(`[ -x /usr/sbin/sshd ]`, 'true')
    .replaceAll(sh`id ${checks[0]!.user}`, 'true')
    .replace(/\/usr\/sbin\/sshd -T -C \S+ 2>\/dev\/null/, sh`cat ${recording}`);
  return execFileSync('sh', ['-c', snippet], { encoding: 'utf8' });
}

describe.each(RECORDED)('sshd -T of %s', (_name, file) => {
  const recording = join(fixtures, file);
  const text = readFileSync(recording, 'utf8');
  const checks = heldTo(text);

  it('is read by the plan probe and matches what the guest must get', () => {
    expect(Object.keys(checks[0]!.expect)).toEqual(expect.arrayContaining(['forcecommand', 'disableforwarding', 'permittty']));
    const printed = probeAgainst(checks, recording);
    expect(printed).toMatch(/^effective\/pair-todd\/127\.0\.0\.1\/forcecommand=\/usr\/local\/libexec\/pairctl\/join$/im);
    const effective = parseEffective(printed);
    expect(Object.keys(effective['pair-todd/127.0.0.1'] ?? {}).sort()).toEqual(Object.keys(checks[0]!.expect).sort());
    expect(effectiveMismatches(checks, connection, effective)).toEqual([]);
  });

  it('still catches a setting another drop-in overrides (negative control on the same output)', () => {
    const tampered = text.replace(/^(ForceCommand|forcecommand) .*$/m, '$1 none');
    const printed = execFileSync('sh', ['-c', `grep -iE "^(forcecommand|disableforwarding) " | sed "s|^|effective/pair-todd/127.0.0.1/|; s/ /=/"`], { input: tampered, encoding: 'utf8' });
    const wrong = effectiveMismatches(checks, connection, parseEffective(printed)).flatMap((m) => m.wrong);
    expect(wrong).toContainEqual(['forcecommand', 'none']);
  });

  it('passes the check apply runs after the reload', () => {
    const script = verifyEffectiveScript(checks, connection, 'another file may set them first');
    const run = (eff: string) =>
      spawnSync('sh', ['-c', script.replaceAll(sh`id ${'pair-todd'}`, 'true').replace(/\/usr\/sbin\/sshd -T -C [^)\s]+/g, 'cat "$REC"')], { encoding: 'utf8', env: { ...process.env, REC: eff } });
    const ok = run(recording);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const wrong = join(mkdtempSync(join(tmpdir(), 'sshd-T-')), 'tampered.txt');
    writeFileSync(wrong, text.replace(/^(DisableForwarding|disableforwarding) yes$/m, '$1 no'));
    const refused = run(wrong);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('disableforwarding@127.0.0.1');
  });
});

it('the 10.6 recording really is mixed case, and the 9.2 one lower case', () => {
  expect(readFileSync(join(fixtures, RECORDED[2]![1]), 'utf8')).toMatch(/^ForceCommand \/usr\/local\/libexec\/pairctl\/join$/m);
  expect(readFileSync(join(fixtures, RECORDED[0]![1]), 'utf8')).toMatch(/^forcecommand \/usr\/local\/libexec\/pairctl\/join$/m);
});
