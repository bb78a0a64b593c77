/**
 * Issue 15 (speed) without losing safety, on a real machine: the plan's probe runs `sshd -T` once
 * per account when no file sshd reads has a Match block that could tell source addresses apart,
 * and once per address (loopback, a LAN, the internet) when one has. So a hand-written drop-in
 * that sorts before pairctl's and gives guests from 192.0.2.0/24 what pairctl forbids must still
 * be caught, there and through an Include, by plan and by apply's check after a reload; and the
 * positive control: without it the converged host plans "No changes". Last, each release's own
 * sshd is asked about every line of the scan's table: those the scan calls "same" must give the
 * same effective settings from every address.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { buildGraph } from '../../src/graph/build-graph.js';
import { addressScanScript } from '../../src/resources/sshd-address-scan.js';
import type { SshdDropinSpec } from '../../src/resources/sshd-dropin.js';
import { VERIFY_ADDRESSES, effectiveProbe, parseEffective } from '../../src/resources/sshd-effective.js';
import { MATCH_LINES } from '../fixtures/openssh/match-lines.js';
import { addGuestKeys } from '../machines/guest-keys.js';
import { defaultRelease, labUnavailableReason, startLab, type Lab, type LabMachine } from '../machines/lab.js';
import { pairctl } from '../machines/pairctl-cli.js';

const unavailable = labUnavailableReason();
const OWNER = 'bhorseman';
const DROPIN = '/etc/ssh/sshd_config.d/00-pairctl.conf';
/** Sorts before pairctl's drop-in, so its values win (the first value of a keyword does). */
const SITE = '/etc/ssh/sshd_config.d/00-aaa-site.conf';
const FAR_BLOCK = 'Match Address 192.0.2.0/24\n    AllowTcpForwarding yes\n';
/** Logs each `sshd -T` the probe runs, then runs the real one. */
const COUNTING_SSHD = '/usr/local/sbin/pairctl-test-sshd';

describe.skipIf(unavailable)(`sshd -T once per account unless a Match block can tell addresses apart (${defaultRelease()})`, () => {
  let lab: Lab;
  let box: LabMachine;
  let file: string;
  const keys: Record<string, string> = {};
  const cli = (...args: string[]) => pairctl([...args, '-F', lab.sshConfigFile]);
  const must = async (cmd: string) => {
    const r = await box.run(cmd);
    expect(r.code, `${cmd}\n${r.stderr}`).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    lab = await startLab({ machines: ['box'] });
    box = lab.machine('box');
    addGuestKeys(keys, lab.dir, ['todd', 'ann']);
    file = join(lab.dir, 'pair.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'hosts:',
        `  box: { platform: linux, ssh: box, owner: ${OWNER}, tunnel: { provider: lan } }`,
        'guests:',
        `  todd: { keys: [${JSON.stringify(keys.todd)}], mode: mirror }`,
        `  ann: { keys: [${JSON.stringify(keys.ann)}], mode: pair }`,
        '',
      ].join('\n'),
    );
    await must(`useradd -m -s /bin/bash ${OWNER}`);
    await must(`printf '#!/bin/sh\\necho "$*" >> /run/pairctl-test-sshd.log\\nexec /usr/sbin/sshd "$@"\\n' > ${COUNTING_SSHD} && chmod 755 ${COUNTING_SSHD}`);
    const a = await cli('apply', '--yes', '-f', file);
    expect(a.code, a.stdout + a.stderr).toBe(0);
  }, 300_000);

  afterAll(async () => {
    await lab?.stop();
  });

  /** The plan's own effective-settings snippet for the host's drop-in, its sshd -T counted. */
  async function probeOnBox(): Promise<{ calls: string[]; stdout: string }> {
    const config = (await loadConfig(file)).config!;
    const spec = buildGraph(config)[0]!.resources.find((r) => r.kind === 'sshd_dropin')!.spec as SshdDropinSpec;
    const snippet = effectiveProbe(spec.checks, { addresses: VERIFY_ADDRESSES }, []).replaceAll('/usr/sbin/sshd -T', `${COUNTING_SSHD} -T`);
    expect(snippet).toContain(`${COUNTING_SSHD} -T`);
    await must('rm -f /run/pairctl-test-sshd.log');
    const r = await box.run(`sh -s`, { input: snippet });
    expect(r.stderr).toBe('');
    const calls = (await must('cat /run/pairctl-test-sshd.log 2>/dev/null || :')).split('\n').filter(Boolean);
    return { calls, stdout: r.stdout };
  }

  it('plans "No changes" on the converged host, with one sshd -T per account (positive control)', async () => {
    const p = await cli('plan', '-f', file);
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    expect(p.stdout).toContain('No changes.');
    const probe = await probeOnBox();
    expect(probe.calls).toEqual(['-T -C user=pair-todd,host=pairctl.invalid,addr=127.0.0.1']);
    expect(Object.keys(parseEffective(probe.stdout))).toEqual(VERIFY_ADDRESSES.map((a) => `pair-todd/${a}`));
    // A Match Address block none of the three addresses is in: three runs, and byte for byte
    // the output of the one (the plan's state digest hashes it).
    await must(`printf 'Match Address 198.51.100.0/24\\n    AllowTcpForwarding yes\\n' > ${SITE} && sshd -t`);
    const three = await probeOnBox();
    await must(`rm -f ${SITE}`);
    expect(three.calls).toHaveLength(3);
    expect(three.stdout).toBe(probe.stdout);
  });

  it('catches a Match Address block in a drop-in sorting before pairctl\'s: three sshd -T, the mismatch from 192.0.2.1 alone', async () => {
    await must(`printf '%s' '${FAR_BLOCK}' > ${SITE} && sshd -t`);
    const real = await must('sshd -T -C user=pair-todd,host=x,addr=192.0.2.7 | grep -i ^allowtcpforwarding');
    expect(real.toLowerCase()).toBe('allowtcpforwarding yes\n');
    const p = await cli('plan', '-f', file);
    expect(p.code).not.toBe(0);
    expect(p.stdout + p.stderr).toContain(`sshd gives pair-todd (from 192.0.2.1) allowtcpforwarding yes although ${DROPIN} says otherwise`);
    expect(p.stdout + p.stderr).not.toMatch(/sshd gives pair-todd \(from (127\.0\.0\.1|192\.168\.1\.10)\)/);
    expect(p.stdout).not.toContain('No changes.');
    const probe = await probeOnBox();
    expect(probe.calls).toEqual(VERIFY_ADDRESSES.map((a) => `-T -C user=pair-todd,host=pairctl.invalid,addr=${a}`));
    expect(parseEffective(probe.stdout)['pair-todd/192.0.2.1']?.allowtcpforwarding?.toLowerCase()).toBe('yes');
    expect(parseEffective(probe.stdout)['pair-todd/127.0.0.1']?.allowtcpforwarding?.toLowerCase()).toBe('no');
  });

  it('catches it through an Include, in another case and with a user criterion too', async () => {
    await must(`mkdir -p /etc/ssh/site.d && printf 'Include site.d/*.conf\\n' > ${SITE} && printf 'match user pair-* ADDRESS 192.0.2.0/24\\n  PermitTTY no\\n' > /etc/ssh/site.d/far.conf && sshd -t`);
    const p = await cli('plan', '-f', file);
    expect(p.code).not.toBe(0);
    expect(p.stdout + p.stderr).toContain('sshd gives pair-todd (from 192.0.2.1) permittty no');
    expect(p.stdout + p.stderr).not.toMatch(/sshd gives pair-todd \(from (127\.0\.0\.1|192\.168\.1\.10)\)/);
    await must(`rm -rf ${SITE} /etc/ssh/site.d && sshd -t`);
    const back = await cli('plan', '-f', file);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect(back.stdout).toContain('No changes.');
  });

  it("apply's check after a reload: passes with one sshd -T, fails from 192.0.2.1 alone with the Match Address block", async () => {
    // The drop-in was edited by hand: apply rewrites it, reloads sshd and checks what sshd gives.
    const drift = `sed -i 's/X11Forwarding no/X11Forwarding yes/' ${DROPIN}`;
    await must(drift);
    const fixed = await cli('apply', '--yes', '-f', file);
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    expect((await cli('plan', '-f', file)).stdout).toContain('No changes.');

    await must(`${drift} && printf '%s' '${FAR_BLOCK}' > ${SITE} && sshd -t`);
    const refused = await cli('apply', '--yes', '-f', file);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toContain("pairctl: sshd does not give pairctl's accounts the settings pairctl wrote: allowtcpforwarding@192.0.2.1 (");
    await must(`rm -f ${SITE} && systemctl reload ssh`);
    const again = await cli('apply', '--yes', '-f', file);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect((await cli('plan', '-f', file)).stdout).toContain('No changes.');
  });

  it('agrees with this release\'s sshd on every line of the scan\'s table', async () => {
    const scan = `${addressScanScript()}\nif pairctl_sshd_by_address; then echo depends; else echo same; fi\n`;
    const report: string[] = [];
    let differed = 0;
    for (const [what, line, want] of MATCH_LINES) {
      await box.run(`cat > ${SITE}`, { input: `${line}\n    AllowTcpForwarding yes\n    PermitTTY no\n` });
      const verdict = (await box.run('sh -s', { input: scan })).stdout.trim();
      expect(verdict, what).toBe(want);
      const valid = (await box.run('sshd -t')).code === 0;
      const outputs = await Promise.all(
        VERIFY_ADDRESSES.map(async (a) => (await box.run(`sshd -T -C user=pair-todd,host=pairctl.invalid,addr=${a} 2>&1`)).stdout),
      );
      const same = outputs.every((o) => o === outputs[0]);
      if (!same) differed++;
      report.push(`${want.padEnd(7)} ${valid ? 'valid  ' : 'invalid'} ${same ? 'same   ' : 'differs'} ${what}`);
      // The scan says "same" only where sshd really gives every address the same.
      if (want === 'same') expect(same, `${what}: ${JSON.stringify(line)}`).toBe(true);
    }
    console.log(`[address-match] ${defaultRelease()}: scan, sshd -t, sshd -T from ${VERIFY_ADDRESSES.join(', ')}:\n${report.join('\n')}`);
    // The oracle can tell: the plain Match Address lines do differ.
    expect(report[0]).toMatch(/^depends valid {3}differs /);
    expect(differed).toBeGreaterThan(3);
    await must(`rm -f ${SITE} && sshd -t`);
  });
});
