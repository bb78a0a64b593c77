/**
 * The audit log's writer, the sshd follower and the reader: the generated shell runs in a real sh
 * with `logger` and `journalctl` replaced by recorders on PATH, so what reaches journald is seen.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditFollowProgram, auditResources } from '../../../src/graph/audit.js';
import { auditScript } from '../../../src/session/audit-log.js';
import { logReadScript, mergeLogs, parseHostLog, parseSince, renderLog } from '../../../src/session/audit-read.js';
import { kickScript } from '../../../src/session/kick-script.js';
import { guest, sampleConfig } from '../fixtures.js';

/** A directory with fake `logger` (records its stdin / args) and `journalctl` (prints `lines`). */
function fakeBin(lines = ''): { dir: string; recorded: () => string } {
  const dir = mkdtempSync(join(tmpdir(), 'audit-'));
  writeFileSync(join(dir, 'logger'), `#!/bin/sh\nif [ "$1" = --journald ]; then cat >> ${dir}/out; echo ---- >> ${dir}/out; else printf '%s\\n' "$*" >> ${dir}/out; fi\n`);
  writeFileSync(join(dir, 'lines'), lines);
  writeFileSync(join(dir, 'journalctl'), `#!/bin/sh\nprintf '%s\\n' "$*" > ${dir}/args\ncat ${dir}/lines\n`);
  for (const f of ['logger', 'journalctl']) chmodSync(join(dir, f), 0o755);
  return { dir, recorded: () => { try { return readFileSync(join(dir, 'out'), 'utf8'); } catch { return ''; } } };
}
const runSh = (script: string, bin: string) => spawnSync('sh', ['-c', script], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: 'utf8' });

describe('the audit writer', () => {
  it('hands journald one entry of PAIRCTL_ fields; a value cannot add a field or an entry', () => {
    const bin = fakeBin();
    const r = runSh(auditScript('linux', { event: 'kick', guest: 'pair-ann', mode: 'pair', detail: "until x\nPAIRCTL_EVENT=forged\u0007'$(id)" }), bin.dir);
    expect(r.status).toBe(0);
    expect(bin.recorded()).toBe(
      [
        'SYSLOG_IDENTIFIER=pairctl',
        'PRIORITY=5',
        'SYSLOG_FACILITY=10',
        'PAIRCTL_EVENT=kick',
        'PAIRCTL_GUEST=pair-ann',
        'PAIRCTL_MODE=pair',
        "PAIRCTL_DETAIL=until xPAIRCTL_EVENT=forged'$(id)",
        "MESSAGE=event=kick guest=pair-ann mode=pair detail=until xPAIRCTL_EVENT=forged'$(id)",
        '----',
        '',
      ].join('\n'),
    );
  });

  it('on macOS sends one syslog line to `logger -t pairctl` (the BSD logger: -t tag, -p facility.level, -- message)', () => {
    const bin = fakeBin();
    const r = runSh(auditScript('macos', { event: 'mode', guest: 'pair-ann', mode: 'mirror' }), bin.dir);
    expect(r.status).toBe(0);
    expect(bin.recorded()).toBe('-t pairctl -p auth.notice -- event=mode guest=pair-ann mode=mirror\n');
  });

  it('a journal that cannot be written never fails the caller (set -eu scripts go on)', () => {
    const r = runSh('set -eu\n' + auditScript('linux', { event: 'up' }) + 'echo went-on', '/nonexistent');
    expect(r.stdout).toBe('went-on\n');
  });

  it('kick logs the guest, its mode and the deadline', () => {
    const config = sampleConfig([guest('todd')]);
    const s = kickScript(config, config.hosts[0]!, config.guests[0]!, 1_800_000_000);
    expect(s).toContain("pairctl_audit kick pair-todd '' mirror '' '' '' 'until 2027-01-15T08:00:00.000Z' || :");
  });
});

describe('the sshd follower', () => {
  const NOW = Math.floor(Date.now() / 1000);
  const config = sampleConfig([guest('ann', { mode: 'pair' }), guest('old', { expires: new Date((NOW - 60) * 1000) }), guest('far')]);
  const host = config.hosts[0]!;
  const fp = (n: string) => config.guests.find((g) => g.name === n)!.keys[0]!.fingerprint;

  it('logs each refusal of a guest account with its reason, and nothing else', () => {
    const lines = [
      'Failed publickey for pair-ann from 10.0.0.9 port 38947 ssh2: ED25519 SHA256:xl71dxwcbd16TElqqoOjg6ax7WWcYpsUwhaF/mI+DPs',
      'error: Refused by key options at /home/pair-old/.ssh/authorized_keys:1',
      `Failed publickey for pair-old from 10.0.0.9 port 55995 ssh2: ED25519 ${fp('old')}`,
      `/home/pair-far/.ssh/authorized_keys:1: Authentication tried for pair-far with correct key but not from a permitted host (host=10.0.0.8, ip=10.0.0.8, required=10.1.0.0/16).`,
      `Failed publickey for pair-far from 10.0.0.8 port 46999 ssh2: ED25519 ${fp('far')}`,
      `Failed publickey for pair-ann from 10.0.0.9 port 1 ssh2: ED25519 ${fp('ann')}`,
      // not a guest of this pair.yaml, not sshd's wording, and an injection attempt: all ignored
      `Failed publickey for pair-zed from 10.0.0.9 port 1 ssh2: ED25519 ${fp('ann')}`,
      'Failed publickey for root from 10.0.0.9 port 1 ssh2: ED25519 SHA256:abc',
      'Failed publickey for pair-ann from 10.0.0.9 port 1 ssh2: ED25519 SHA256:$(touch /tmp/pwned)',
      'Accepted publickey for pair-ann from 10.0.0.9 port 1 ssh2: ED25519 SHA256:abc',
    ].join('\n');
    const bin = fakeBin(lines + '\n');
    const prog = join(bin.dir, 'follow');
    const program = auditFollowProgram(config, host);
    expect(program).toMatch(/^PATH=\/usr\/sbin:\/usr\/bin:\/sbin:\/bin$/m);
    // The program sets its own PATH; here it must find the recorders first.
    writeFileSync(prog, program.replace(/^PATH=.*$/m, `PATH=${bin.dir}:/usr/bin:/bin`));
    const r = spawnSync('sh', [prog], { env: { PATH: `${bin.dir}:/usr/bin:/bin` }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(bin.dir, 'args'), 'utf8')).toBe('-f -n 0 -q -o cat _UID=0 -t sshd -t sshd-session -t sshd-auth\n');
    const messages = bin.recorded().split('\n').filter((l) => l.startsWith('MESSAGE='));
    expect(messages).toEqual([
      'MESSAGE=event=refused guest=pair-ann fingerprint=SHA256:xl71dxwcbd16TElqqoOjg6ax7WWcYpsUwhaF/mI+DPs source=10.0.0.9 reason=unknown-key',
      `MESSAGE=event=refused guest=pair-old fingerprint=${fp('old')} source=10.0.0.9 reason=expired`,
      `MESSAGE=event=refused guest=pair-far fingerprint=${fp('far')} source=10.0.0.8 reason=outside-from`,
      `MESSAGE=event=refused guest=pair-ann fingerprint=${fp('ann')} source=10.0.0.9 reason=key-refused`,
    ]);
    const lint = spawnSync('shellcheck', ['-s', 'sh', prog], { encoding: 'utf8' });
    if (lint.error === undefined) expect(lint.stdout).toBe('');
  });

  it('is a root service whose unit changes (and so restarts) when its program does', () => {
    const [file, service] = auditResources(config, host);
    const [, other] = auditResources(sampleConfig([guest('ann')]), host);
    expect(file!.spec).toMatchObject({ path: '/usr/local/libexec/pairctl/audit-follow', mode: '0755', owner: 'root' });
    expect(service!.deps).toEqual([file!.address]);
    expect((service!.spec as { content: string }).content).toContain('ExecStart=/usr/local/libexec/pairctl/audit-follow\n');
    expect((service!.spec as { content: string }).content).not.toBe((other!.spec as { content: string }).content);
  });
});

describe('pairctl log: reading', () => {
  const config = sampleConfig([guest('ann'), guest('todd')]);
  const entry = (o: Record<string, unknown>) => JSON.stringify({ __REALTIME_TIMESTAMP: '1800000000123456', _UID: '0', ...o });

  it('keeps entries written by root or by the guest they name; counts the rest', () => {
    const out = [
      'uid pair-ann 1001',
      'uid pair-todd 1002',
      'journal',
      entry({ PAIRCTL_EVENT: 'up', PAIRCTL_DETAIL: 'session pair' }),
      entry({ PAIRCTL_EVENT: 'join', PAIRCTL_GUEST: 'pair-ann', _UID: '1001', PAIRCTL_MODE: 'pair', PAIRCTL_FINGERPRINT: 'SHA256:x', PAIRCTL_SOURCE: '10.0.0.1' }),
      entry({ PAIRCTL_EVENT: 'leave', PAIRCTL_GUEST: 'pair-ann', _UID: '1002' }), // todd forging ann
      entry({ PAIRCTL_EVENT: 'down', _UID: '1000' }), // some local user
      entry({ PAIRCTL_EVENT: ['join', 'x'] }), // not a string: dropped
      'not json',
      'journal-rc=0',
    ].join('\n');
    const got = parseHostLog('box', out);
    expect(got.ignored).toBe(2);
    expect(got.entries.map((e) => [e.event, e.guest, e.writer])).toEqual([
      ['up', null, 'pairctl'],
      ['join', 'ann', 'guest'],
    ]);
    expect(got.entries[1]).toMatchObject({ time: '2027-01-15T08:00:00.123Z', time_us: 1800000000123456, host: 'box', mode: 'pair', fingerprint: 'SHA256:x', source: '10.0.0.1', via: null, reason: null });
  });

  it('fails when journalctl did not finish or failed, not when it found nothing', () => {
    expect(parseHostLog('box', 'journal\njournal-rc=1\n').entries).toEqual([]);
    expect(() => parseHostLog('box', 'journal\n')).toThrow(/could not be read/);
    expect(() => parseHostLog('box', 'journal\njournal-rc=4\n')).toThrow(/exit 4/);
  });

  it('merges hosts by time and renders a table', () => {
    const a = parseHostLog('a', ['journal', entry({ PAIRCTL_EVENT: 'up', __REALTIME_TIMESTAMP: '2000' }), entry({ PAIRCTL_EVENT: 'down', __REALTIME_TIMESTAMP: '4000' }), 'journal-rc=0'].join('\n'));
    const b = parseHostLog('b', ['journal', entry({ PAIRCTL_EVENT: 'refused', PAIRCTL_GUEST: 'pair-ann', PAIRCTL_REASON: 'unknown-key', PAIRCTL_SOURCE: '127.0.0.1', PAIRCTL_VIA: 'vps', __REALTIME_TIMESTAMP: '3000' }), 'journal-rc=0'].join('\n'));
    const merged = mergeLogs([a.entries, b.entries]);
    expect(merged.map((e) => `${e.host}:${e.event}`)).toEqual(['a:up', 'b:refused', 'a:down']);
    expect(renderLog(merged).split('\n')[2]).toBe('1970-01-01T00:00:00Z  b     refused  ann    -     vps relay  -    unknown-key');
    expect(renderLog([])).toBe('no audit log entries\n');
  });

  it('asks journalctl for the pairctl identifier since an epoch second, never the user text', () => {
    const s = logReadScript(config, config.hosts[0]!, 1_800_000_000);
    expect(s).toContain('journalctl --no-pager -q -o json SYSLOG_IDENTIFIER=pairctl --since @1800000000\n');
    expect(s).toContain("u=$(id -u pair-ann 2>/dev/null) && printf 'uid %s %s\\n' pair-ann \"$u\"");
  });

  it.each([
    ['90s', 1_800_000_000 - 90],
    ['30m', 1_800_000_000 - 1800],
    ['2h', 1_800_000_000 - 7200],
    ['7d', 1_800_000_000 - 7 * 86400],
    ['2027-01-15', Date.parse('2027-01-15T00:00:00Z') / 1000],
    ['2027-01-15T08:00', 1_800_000_000],
    ['2027-01-15 08:00:30', 1_800_000_030],
    ['2027-01-15T08:00:00Z', 1_800_000_000],
    ['2027-01-15T09:00:00+01:00', 1_800_000_000],
  ])('--since %s', (value, want) => {
    expect(parseSince(value, new Date(1_800_000_000_000))).toBe(want);
  });

  it.each(['yesterday', '1w', '-1h', '2027-02-30', '2027-01-15T25:00', '@1800000000', '2027-01-15; reboot', '', ' 1h'])('refuses --since %j', (value) => {
    expect(parseSince(value, new Date(1_800_000_000_000))).toBeUndefined();
  });
});
