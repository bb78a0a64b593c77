/** status parsing and rendering, kick/mode scripts: pure functions, table-driven. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseSessionDuration } from '../../../src/cli/kick.js';
import { clearKicksScript, kickScript } from '../../../src/session/kick-script.js';
import { modeScript } from '../../../src/session/mode-script.js';
import { presenceProgram } from '../../../src/session/presence.js';
import { timeBoxScript, timerJob, warnAfter } from '../../../src/session/time-box.js';
import { hostStatus, parseStatus, renderHostStatus, shortDuration, statusScript } from '../../../src/session/session-status.js';
import { guest, sampleConfig } from '../fixtures.js';

const NOW = 1_800_000_000;
const config = sampleConfig([guest('todd'), guest('ann', { mode: 'pair' }), guest('rita', { mode: 'rogue', expires: new Date((NOW + 3600) * 1000) })]);
const host = config.hosts[0]!;

const observed = [
  `now=${NOW}`,
  `s|pair|${NOW - 600}|${NOW + 5400}`,
  `s|pair-pair-rita|${NOW - 60}|`,
  `c|pair-todd|1|${NOW - 300}|${NOW - 30}|80|24|/dev/pts/3|pair|4001`,
  `c|pair-ann|1|${NOW - 200}|${NOW - 5}|120|40|/dev/pts/4|pair|4002`,
  `c|pair-rita|0|${NOW - 60}|${NOW}|100|30|/dev/pts/5|pair-pair-rita|4003`,
  `c|bhorseman|0|${NOW - 900}|${NOW}|200|50|/dev/pts/0|pair|4000`,
  'w\tpts/3\t10.9.9.9',
  'e\t4001\t10.0.0.7',
  'w\tpts/4\t127.0.0.1',
  `k\tpair-todd\t${NOW + 1200}`,
  'garbage line from nowhere',
  'c|too|few',
].join('\n');

describe('status', () => {
  const s = hostStatus(config, host, parseStatus(observed));

  it.each([
    ['todd', { connected: true, mode: 'mirror', from: '10.0.0.7', idle: 30, cols: 80, kicked: true }],
    ['ann', { connected: true, mode: 'mirror', from: '127.0.0.1', idle: 5, cols: 120, kicked: false }],
    ['rita', { connected: true, mode: 'rogue', from: null, idle: 0, cols: 100, kicked: false }],
  ])('%s: enforced mode, idle, size, source, kick', (name, want) => {
    const g = s.guests.find((x) => x.name === name)!;
    expect(g.connected).toBe(want.connected);
    expect(g.clients[0]).toMatchObject({ mode: want.mode, from: want.from, idle_seconds: want.idle, size: { cols: want.cols } });
    expect(g.kicked_until !== null).toBe(want.kicked);
  });

  it('session since, expiry soon, clients of no guest', () => {
    expect(s.session).toEqual({ name: 'pair', running: true, since: new Date((NOW - 600) * 1000).toISOString(), ends: new Date((NOW + 5400) * 1000).toISOString() });
    expect(s.guests.find((g) => g.name === 'rita')!.expires_soon).toBe(true);
    expect(s.guests.find((g) => g.name === 'todd')!.expires_soon).toBe(false);
    expect(s.other_clients).toBe(1);
  });

  it('loopback source behind a tunnel is the relay', () => {
    const tunnelled = { ...host, tunnel: { provider: 'vps' as const, relay: 'r', port: 2222 } };
    expect(hostStatus(config, tunnelled, parseStatus(observed)).guests.find((g) => g.name === 'ann')!.clients[0]!.via).toBe('vps');
  });

  it('no session: nobody connected; the text says so', () => {
    const empty = hostStatus(config, host, parseStatus(`now=${NOW}\n`));
    expect(empty.session.running).toBe(false);
    expect(empty.guests.every((g) => !g.connected)).toBe(true);
    expect(renderHostStatus(empty)).toBe('scotch: session pair not running\n  todd: not connected\n  ann: not connected\n  rita: not connected (access expires ' + new Date((NOW + 3600) * 1000).toISOString() + ')\n');
  });

  it('the text marks a live mode that differs from pair.yaml', () => {
    expect(renderHostStatus(s)).toMatch(/ann: mirror, since .*, idle 5s, 120x40, from 127\.0\.0\.1 \(pair\.yaml says pair\)/);
  });

  it.each([[45, '45s'], [720, '12m'], [11100, '3h05m']])('shortDuration(%i) = %s', (n, want) => expect(shortDuration(n)).toBe(want));
});

describe('kick and mode scripts', () => {
  const todd = config.guests[0]!;
  it.each([
    ['status', statusScript(config, host)],
    ['kick', kickScript(config, host, todd, undefined)],
    ['kick --for', kickScript(config, host, todd, NOW)],
    ['mode', modeScript(config, host, todd, 'pair')],
    ['clear', clearKicksScript('linux')],
    ['presence program', presenceProgram()],
    ['time box', timeBoxScript(config, host, NOW + 5400, 5400)],
    ['timer job', timerJob('/run/pairctl/pair/tmux.sock', NOW + 5400, 5400)],
  ])('%s script is valid sh and passes shellcheck', (_n, script) => {
    const r = spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lint = spawnSync('shellcheck', ['-s', 'sh', '-S', 'warning', '-'], { input: script, encoding: 'utf8' });
    expect(lint.stdout).toBe('');
    expect(lint.status).toBe(0);
  });

  it('every tmux of kick and mode runs inside the owner shell, never as root', () => {
    for (const script of [kickScript(config, host, todd, NOW), modeScript(config, host, todd, 'mirror'), statusScript(config, host)]) {
      const rootPart = script.replace(/runuser -u bhorseman -- .*?\/bin\/sh -c '(?:[^']|'\\'')*'/gs, '<owner>');
      expect(rootPart).toContain('<owner>');
      expect(rootPart).not.toMatch(/\btmux\b/);
    }
  });

  it('kick --for writes the deny file before revoking; plain kick writes none', () => {
    const withFor = kickScript(config, host, todd, NOW);
    expect(withFor.indexOf("/run/pairctl/.kicked/pair-todd")).toBeGreaterThan(-1);
    expect(withFor.indexOf('.kicked/pair-todd')).toBeLessThan(withFor.indexOf('runuser'));
    expect(kickScript(config, host, todd, undefined)).not.toContain('.kicked/pair-todd');
  });

  it.each([['90s', 90], ['30m', 1800], ['2h', 7200], ['1d', 86400], ['45', 45]])('--for %s = %i s', (v, n) => expect(parseSessionDuration('--for', v)).toBe(n));
  it.each(['0', '-5m', '1w', 'soon', ''])('--for %j is refused', (v) => expect(() => parseSessionDuration('--for', v)).toThrow(/--for takes a duration/));
});

describe('time box', () => {
  it.each([[5400, 5100], [600, 300], [60, 30], [1, 0]])('a box of %i s warns after %i s', (n, w) => expect(warnAfter(n)).toBe(w));
  it('the job holds no # (run-shell expands formats) and ends the server only while the end time is its own', () => {
    const job = timerJob('/run/pairctl/pair/tmux.sock', NOW + 5400, 5400);
    expect(job).not.toContain('#');
    expect(job).toContain(`= ${NOW + 5400} ]`);
    expect(job).toMatch(/sleep 5100\n/);
    expect(job).toContain('this session ends in 5 minutes');
    expect(job).toMatch(/mine && tmux -S "\$S" kill-server\n$/);
  });
});
