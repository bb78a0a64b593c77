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
import { MACOS_LOGGER, auditScript } from '../../../src/session/audit-log.js';
import { logReadScript, mergeLogs, parseHostLog, parseSince, renderLog } from '../../../src/session/audit-read.js';
import { UNIFIED_LOG_PREDICATE, parseUnifiedLogLine, parseWords, timestampMicros } from '../../../src/session/unified-log-read.js';
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

  it('on macOS sends one line to Apple\'s /usr/bin/logger (-t tag, -p facility.level, -- message) that starts with the identifier', () => {
    const bin = fakeBin();
    const script = auditScript('macos', { event: 'mode', guest: 'pair-ann', mode: 'mirror' });
    expect(script).toContain(`${MACOS_LOGGER} -t pairctl -p auth.notice -- `);
    // The absolute path is the point (the join program puts Homebrew first on PATH); here the recorder stands in for it.
    const r = runSh(script.replaceAll(MACOS_LOGGER, join(bin.dir, 'logger')), bin.dir);
    expect(r.status).toBe(0);
    expect(bin.recorded()).toBe('-t pairctl -p auth.notice -- pairctl event=mode guest=pair-ann mode=mirror\n');
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

  it('is a root service whose unit stays the same when its program changes, and which is restarted for a new program', () => {
    const [file, service] = auditResources(config, host);
    const [otherFile, other] = auditResources(sampleConfig([guest('ann')]), host);
    type Spec = { content: string; runsCopy: { path: string; sha256: string } };
    const spec = service!.spec as Spec;
    expect(file!.spec).toMatchObject({ path: '/usr/local/libexec/pairctl/audit-follow', mode: '0755', owner: 'root' });
    expect(service!.deps).toEqual([file!.address]);
    // It runs a copy made at start in its own RuntimeDirectory (root's), which the probe hashes.
    expect(spec.content).toContain('RuntimeDirectory=pairctl-audit\n');
    expect(spec.content).toContain('ExecStartPre=/bin/cp /usr/local/libexec/pairctl/audit-follow /run/pairctl-audit/audit-follow\n');
    expect(spec.content).toContain('ExecStart=/bin/sh /run/pairctl-audit/audit-follow\n');
    expect(spec.runsCopy.path).toBe('/run/pairctl-audit/audit-follow');
    // Another guest list: another program, the same unit file (no daemon-reload), another digest.
    expect((otherFile!.spec as { content: string }).content).not.toBe((file!.spec as { content: string }).content);
    expect((other!.spec as Spec).content).toBe(spec.content);
    expect((other!.spec as Spec).runsCopy.sha256).not.toBe(spec.runsCopy.sha256);
    // The digest is the one sha256sum prints for the file pairctl writes.
    const dir = mkdtempSync(join(tmpdir(), 'audit-copy-'));
    writeFileSync(join(dir, 'p'), (file!.spec as { content: string }).content);
    expect(spawnSync('sh', ['-c', `sha256sum < ${dir}/p | cut -c1-64`], { encoding: 'utf8' }).stdout.trim()).toBe(spec.runsCopy.sha256);
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

describe('pairctl log on macOS: the unified log (recorded output, test/fixtures/macos/README.md)', () => {
  const config = sampleConfig([guest('ann'), guest('todd')]);
  const mac = { ...config.hosts[0]!, id: 'mac', platform: 'macos' as const };
  const recorded = readFileSync(join(__dirname, '../../fixtures/macos/log-show-audit.ndjson'), 'utf8');
  const hostOutput = (lines: string, rc = '0') => ['uid pair-ann 600', 'uid pair-todd 601', 'unified-log', lines.trimEnd(), `log-rc=${rc}`, ''].join('\n');

  it('asks `log show` for logger entries that start with the identifier, as ndjson, from an epoch second the host turns into its local time', () => {
    const s = logReadScript(config, mac, 1_800_000_000);
    expect(s).not.toContain('journalctl');
    expect(s).toContain("start=$(date -r 1799996400 '+%Y-%m-%d %H:%M:%S') || ");
    expect(s).toContain(`/usr/bin/log show --style ndjson --info --predicate 'processImagePath == "/usr/bin/logger" AND eventMessage BEGINSWITH "pairctl "' --start "$start"\n`);
    expect(logReadScript(config, mac, undefined)).not.toMatch(/--start|date -r/);

    // Run it: `date` is a recorder on PATH, /usr/bin/log one standing in by path; each argv word on its own line.
    const dir = mkdtempSync(join(tmpdir(), 'ulog-'));
    writeFileSync(join(dir, 'date'), `#!/bin/sh\nprintf '%s\\n' "$@" > ${dir}/date-args\necho '2027-01-15 08:00:00'\n`);
    writeFileSync(join(dir, 'log'), `#!/bin/sh\nprintf '%s\\n' "$@" > ${dir}/log-args\ncat ${dir}/lines\n`);
    writeFileSync(join(dir, 'id'), `#!/bin/sh\ncase "$2" in pair-ann) echo 600;; pair-todd) echo 601;; *) exit 1;; esac\n`);
    writeFileSync(join(dir, 'lines'), recorded);
    for (const f of ['date', 'log', 'id']) chmodSync(join(dir, f), 0o755);
    const r = runSh(s.replaceAll('/usr/bin/log ', `${dir}/log `), dir);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'date-args'), 'utf8')).toBe('-r\n1799996400\n+%Y-%m-%d %H:%M:%S\n');
    expect(readFileSync(join(dir, 'log-args'), 'utf8').split('\n')).toEqual(['show', '--style', 'ndjson', '--info', '--predicate', UNIFIED_LOG_PREDICATE, '--start', '2027-01-15 08:00:00', '']);
    expect(r.stdout).toBe(hostOutput(recorded));
    const lint = spawnSync('shellcheck', ['-s', 'sh', '-'], { input: s, encoding: 'utf8' });
    if (lint.error === undefined) expect(lint.stdout).toBe('');
  });

  it('reads the recorded entries: the guest\'s own join/leave/refusal, root\'s up/mode/kick/down; the owner\'s and another guest\'s forgeries are dropped and counted', () => {
    const got = parseHostLog('mac', hostOutput(recorded));
    expect(got.ignored).toBe(2);
    expect(got.entries.map((e) => [e.event, e.guest, e.writer, e.mode])).toEqual([
      ['up', null, 'pairctl', null],
      ['join', 'ann', 'guest', 'pair'],
      ['mode', 'ann', 'pairctl', 'mirror'],
      ['kick', 'ann', 'pairctl', 'mirror'],
      ['leave', 'ann', 'guest', 'mirror'],
      ['refused', 'ann', 'guest', null],
      ['down', null, 'pairctl', null],
    ]);
    // 17:02:31.090114+0100 is 16:02:31.090114 UTC; every field of the documented format_version 1 entry is there.
    expect(got.entries[1]).toEqual({
      time: '2026-12-02T16:02:31.090Z',
      time_us: Date.parse('2026-12-02T16:02:31Z') * 1000 + 90114,
      host: 'mac',
      event: 'join',
      guest: 'ann',
      account: 'pair-ann',
      fingerprint: 'SHA256:YeYXnQViumUbrfT/7hkDqv8zSin9CegV98Lt8gNBdcs',
      mode: 'pair',
      source: '203.0.113.7',
      via: null,
      reason: null,
      detail: null,
      writer: 'guest',
    });
    expect(got.entries[3]!.detail).toBe('until 2026-12-02T16:39:58.000Z');
    expect(got.entries[5]).toMatchObject({ reason: 'kicked', detail: 'until 2026-12-02T16:39:58.000Z' });
    expect(got.entries[0]!.detail).toBe('session pair');
  });

  it('keeps only what is at or after --since (the read starts an hour early)', () => {
    const since = Date.parse('2026-12-02T16:05:12Z') / 1000;
    expect(parseHostLog('mac', hostOutput(recorded), since).entries.map((e) => e.event)).toEqual(['mode', 'kick', 'leave', 'refused', 'down']);
  });

  it('skips malformed lines and other programs\' entries; fails when log show failed or did not finish', () => {
    const line = recorded.split('\n')[0]!;
    const o = JSON.parse(line) as Record<string, unknown>;
    const variant = (over: Record<string, unknown>) => JSON.stringify({ ...o, ...over });
    const noise = [
      'Timestamp                       Thread     Type        Activity             PID    TTL',
      '{not json',
      variant({ processImagePath: '/tmp/x/logger' }), // a copy of logger elsewhere: not Apple's
      variant({ eventType: 'activityCreateEvent' }),
      variant({ userID: '0' }), // not a number
      variant({ userID: -1 }),
      variant({ timestamp: '2026-12-02T16:00:00Z' }),
      variant({ timestamp: '2026-02-30 10:00:00.000000+0000' }),
      variant({ eventMessage: 'someone else: event=up' }),
      variant({ eventMessage: 'pairctl detail=no event' }),
      variant({ eventMessage: ['pairctl event=up'] }),
      '{"count":0,"finished":1}',
    ].join('\n');
    const got = parseHostLog('mac', hostOutput(noise + '\n' + line));
    expect(got).toEqual({ entries: [expect.objectContaining({ event: 'up', writer: 'pairctl' })], ignored: 0 });
    expect(() => parseHostLog('mac', 'unified-log\n' + line + '\n')).toThrow(/could not be read \(log show did not finish\)/);
    expect(() => parseHostLog('mac', hostOutput('', '1'))).toThrow(/log show failed \(exit 1\)/);
    expect(parseHostLog('mac', hostOutput('')).entries).toEqual([]);
  });

  it('parses the writer\'s words: keys in order, only a later key starts a field, so a detail cannot forge one', () => {
    expect(parseWords('pairctl event=kick guest=pair-ann detail=until x mode=pair guest=pair-todd')).toEqual({ EVENT: 'kick', GUEST: 'pair-ann', DETAIL: 'until x mode=pair guest=pair-todd' });
    expect(parseWords('pairctl event=up detail=a  b')).toEqual({ EVENT: 'up', DETAIL: 'a  b' });
    expect(parseWords('pairctl: event=up')).toBeUndefined();
    expect(parseWords('pairctl junk event=up')).toBeUndefined();
    // What the macOS writer sends is what the reader reads back.
    const bin = fakeBin();
    runSh(auditScript('macos', { event: 'refused', guest: 'pair-ann', source: '10.0.0.9', reason: 'no-session', detail: "a b\nevent=forged'$(id)" }).replaceAll(MACOS_LOGGER, join(bin.dir, 'logger')), bin.dir);
    const message = bin.recorded().replace(/^-t pairctl -p auth\.notice -- /, '').trimEnd();
    expect(parseWords(message)).toEqual({ EVENT: 'refused', GUEST: 'pair-ann', SOURCE: '10.0.0.9', REASON: 'no-session', DETAIL: "a bevent=forged'$(id)" });
  });

  it.each([
    ['2026-10-04 17:50:33.803491+0200', 1_791_129_033_803_491],
    ['2026-10-04 10:50:33.803491-0500', 1_791_129_033_803_491],
    ['2026-10-04 15:50:33+0000', 1_791_129_033_000_000],
  ])('timestamp %s', (text, us) => {
    expect(timestampMicros(text)).toBe(us);
  });

  it('a line is parsed only when it is Apple\'s logger\'s log event', () => {
    const line = recorded.split('\n')[1]!;
    expect(parseUnifiedLogLine(line)).toMatchObject({ uid: 600, fields: { EVENT: 'join', GUEST: 'pair-ann', MODE: 'pair' } });
  });
});
