/**
 * `sshd -T` as Debian 12 (OpenSSH 9.2), 13 (10.0) and testing (10.6) really print it for a guest
 * under pairctl's drop-in (test/fixtures/openssh, recorded from the lab's templates). From 10.4
 * the keywords come in mixed case ("ForceCommand"), so everything that reads them must ignore
 * case: the plan's probe pipeline, its comparison, and the check apply runs after a reload.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildGraph } from '../../../src/graph/build-graph.js';
import type { SshdDropinObserved, SshdDropinSpec } from '../../../src/resources/sshd-dropin.js';
import { kindOf } from '../../../src/resources/registry.js';
import { sh } from '../../../src/transport/shell-quote.js';
import { guest, sampleConfig } from '../fixtures.js';

const fixtures = join(import.meta.dirname, '../../fixtures/openssh');
const RECORDED: Array<[string, string]> = [
  ['OpenSSH 9.2 (Debian 12)', 'debian12-openssh-9.2-guest-sshd-T.txt'],
  ['OpenSSH 10.0 (Debian 13)', 'debian13-openssh-10.0-guest-sshd-T.txt'],
  ['OpenSSH 10.6 (Debian testing)', 'debian-forky-openssh-10.6-guest-sshd-T.txt'],
];

const kind = kindOf('sshd_dropin');
const [host] = buildGraph(sampleConfig([guest('todd')]));
const spec = host!.resources.find((r) => r.kind === 'sshd_dropin')!.spec as SshdDropinSpec;

/** The probe's own snippet, run with `sshd -T` answering from the recording (and the guest existing). */
function probeAgainst(recording: string): string {
  const snippet = kind
    .probe(spec)
    .replaceAll(`[ -x /usr/sbin/sshd ]`, 'true')
    .replaceAll(sh`id ${spec.verifyUser!}`, 'true')
    .replace(/\/usr\/sbin\/sshd -T -C \S+ 2>\/dev\/null/, sh`cat ${recording}`);
  return execFileSync('sh', ['-c', snippet], { encoding: 'utf8' });
}

/** The same drop-in as on the machine: the file section says it matches the spec. */
function convergedFile(): string {
  return `type=file\nmode=644\nowner=root\ngroup=root\ncontent=${Buffer.from(spec.content).toString('base64')}\nincluded=yes\nsshd=yes\n`;
}

describe.each(RECORDED)('sshd -T of %s', (_name, file) => {
  const recording = join(fixtures, file);

  it('is read by the plan probe and matches what the guest must get: no change, no error', () => {
    const printed = probeAgainst(recording);
    expect(printed).toMatch(/^effective\.forcecommand=\/usr\/local\/libexec\/pairctl\/join$/im);
    const observed = kind.parse(convergedFile() + printed.split('\n').filter((l) => l.startsWith('effective.')).join('\n'), spec) as SshdDropinObserved;
    expect(Object.keys(observed.effective ?? {}).sort()).toEqual(Object.keys(spec.expect).sort());
    const delta = kind.diff(spec, observed, { wanted: true, recorded: true });
    expect(delta.errors).toEqual([]);
    expect(delta.action).toBe('noop');
  });

  it('still catches a setting another drop-in overrides (negative control on the same output)', () => {
    const tampered = join(fixtures, file);
    const text = readFileSync(tampered, 'utf8').replace(/^(ForceCommand|forcecommand) .*$/m, '$1 none');
    const printed = execFileSync('sh', ['-c', 'grep -iE "^(forcecommand|disableforwarding) " | sed "s/^/effective./; s/ /=/"'], { input: text, encoding: 'utf8' });
    const delta = kind.diff(spec, kind.parse(convergedFile() + printed, spec), { wanted: true, recorded: true });
    expect(delta.errors.join('\n')).toContain('forcecommand none');
  });

  it('passes the check apply runs after the reload', () => {
    // The update script's own check lines, run with $eff holding the recorded output.
    const script = kind.diff(spec, kind.parse('type=absent\nincluded=yes\nsshd=yes\n', spec), { wanted: true, recorded: false }).script;
    const checks = script.split('\n').filter((l) => l.includes('grep -qix'));
    expect(checks.length).toBe(Object.keys(spec.expect).length);
    const eff = readFileSync(recording, 'utf8');
    const bad = execFileSync('sh', ['-c', `bad=\n${checks.join('\n')}\nprintf '%s' "$bad"`], { encoding: 'utf8', env: { ...process.env, eff } });
    expect(bad).toBe('');
    const wrong = execFileSync('sh', ['-c', `bad=\n${checks.join('\n')}\nprintf '%s' "$bad"`], {
      encoding: 'utf8',
      env: { ...process.env, eff: eff.replace(/^(DisableForwarding|disableforwarding) yes$/m, '$1 no') },
    });
    expect(wrong.trim()).toBe('disableforwarding');
  });
});

it('the 10.6 recording really is mixed case, and the 9.2 one lower case', () => {
  expect(readFileSync(join(fixtures, RECORDED[2]![1]), 'utf8')).toMatch(/^ForceCommand \/usr\/local\/libexec\/pairctl\/join$/m);
  expect(readFileSync(join(fixtures, RECORDED[0]![1]), 'utf8')).toMatch(/^forcecommand \/usr\/local\/libexec\/pairctl\/join$/m);
});
