/** status parsing and rendering, kick/mode scripts: pure functions, table-driven. */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSessionDuration } from '../../../src/cli/kick.js';
import { clearKicksScript, kickScript } from '../../../src/session/kick-script.js';
import { modeScript } from '../../../src/session/mode-script.js';
import { presenceProgram } from '../../../src/session/presence.js';
import { rootTimerScript, stopTimeBoxScript, systemdLiteral, timeBoxEndScript, timeBoxPlist, timeBoxScript, timeBoxStatusScript, timerJob, TRANSIENT_UNITS_DIR, warnAfter } from '../../../src/session/time-box.js';
import { downScript } from '../../../src/session/session-scripts.js';
import { hostStatus, parseStatus, renderHostStatus, shortDuration, statusScript } from '../../../src/session/session-status.js';
import { guest, sampleConfig } from '../fixtures.js';

const NOW = 1_800_000_000;
const config = sampleConfig([guest('todd'), guest('ann', { mode: 'pair' }), guest('rita', { mode: 'rogue', expires: new Date((NOW + 3600) * 1000) })]);
const host = config.hosts[0]!;
const macConfig = { ...config, hosts: [{ ...host, platform: 'macos' as const }] };

/** A plist as plistlib (Python's parser of Apple's format) reads it. */
function parsePlist(text: string): { Label: string; ProgramArguments: string[]; RunAtLoad: boolean; StartInterval: number } {
  return JSON.parse(execFileSync('python3', ['-c', 'import sys, json, plistlib; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))'], { input: text, encoding: 'utf8' })) as {
    Label: string;
    ProgramArguments: string[];
    RunAtLoad: boolean;
    StartInterval: number;
  };
}

const observed = [
  `now=${NOW}`,
  `s|pair|${NOW - 600}`,
  `s|pair-pair-rita|${NOW - 60}`,
  `t|${NOW + 5400}`,
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
    ['time box (macOS)', timeBoxScript(macConfig, macConfig.hosts[0]!, NOW + 5400, 5400)],
    ["time box's end", timeBoxEndScript(config, host)],
    ['time box stop', stopTimeBoxScript(config, host)],
    ['status (macOS)', statusScript(macConfig, macConfig.hosts[0]!)],
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
  it("the owner's job holds no # (run-shell expands formats), warns while the end time is its own, and kills nothing", () => {
    const job = timerJob('/run/pairctl/pair/tmux.sock', NOW + 5400, 5400);
    expect(job).not.toContain('#');
    expect(job).toContain(`= ${NOW + 5400} ] || exit 0`);
    expect(job).toMatch(/sleep 5100\n/);
    expect(job).toContain('this session ends in 5 minutes');
    expect(job).not.toContain('kill-server');
  });

  it("root's systemd timer: one transient unit on the host's clock, whose command line is root's own text of down (reason time-box)", () => {
    const script = timeBoxScript(config, host, NOW + 5400, 5400);
    // Stopped first, so a second up --for replaces it.
    expect(script.indexOf('systemctl stop pairctl-timebox-pair.timer')).toBeLessThan(script.indexOf('systemd-run'));
    expect(script).toContain('ends=$(( $(date -u +%s) + 5400 ))\n');
    // up reports that end, the host's, not the one this machine's clock would give.
    expect(script).toContain('  echo timebox=set\n  echo "timebox-ends=$ends"\n');
    const run = /^if systemd-run (.*) -- \/bin\/sh -c ('(?:[^']|'\\'')*') >\/dev\/null &&$/m.exec(script);
    expect(run, script).not.toBeNull();
    expect(run![1]).toBe(`--quiet --unit=pairctl-timebox-pair --description='pairctl: end session pair (pairctl up --for)' --on-calendar="@$ends" --timer-property=AccuracySec=1s --timer-property=RemainAfterElapse=no`);
    // What systemd hands /bin/sh, once it turned $$ back into $: exactly the end script.
    const arg = spawnSync('sh', ['-c', `printf '%s' ${run![2]}`], { encoding: 'utf8' }).stdout;
    expect(arg.replace(/\$\$/g, '$')).toBe(timeBoxEndScript(config, host));
    expect(arg.replace(/\$\$/g, '')).not.toContain('$');
    // That script is down's, logged with the reason time-box, its owner step bounded by 5 s.
    const end = timeBoxEndScript(config, host);
    expect(end).toBe(downScript(config, host, { reason: 'time-box', deadlineSeconds: 5 }));
    expect(end).toContain("pairctl_audit down '' '' '' '' '' time-box 'session pair' || :");
    expect(end).toContain('runuser -u bhorseman -- timeout -k 5 5 env -i ');
    expect(downScript(config, host)).toContain("pairctl_audit down '' '' '' '' '' '' 'session pair' || :");
    // The warning is still the owner's job, after root's timer.
    expect(script.indexOf('run-shell -b')).toBeGreaterThan(script.indexOf('systemd-run'));
  });

  it('systemdLiteral doubles every $ (systemd expands $NAME and ${NAME} in command lines)', () => {
    expect(systemdLiteral('a=$1 "${b# }" $$')).toBe('a=$$1 "$${b# }" $$$$');
  });

  it("status reads the end from root's timer, not the owner's @pairctl_ends", () => {
    const script = statusScript(config, host);
    expect(script).toContain('TZ=UTC0 systemctl show -p NextElapseUSecRealtime --value pairctl-timebox-pair.timer');
    expect(script).not.toContain('@pairctl_ends');
    expect(hostStatus(config, host, parseStatus(`now=${NOW}\ns|pair|${NOW - 5}\n`)).session.ends).toBeNull();
    // systemctl is asked only while the transient timer's unit file exists.
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-transient-'));
    const read = () =>
      spawnSync('sh', ['-c', timeBoxStatusScript(config, host).replace(TRANSIENT_UNITS_DIR, dir).replace('systemctl show', "printf 'Fri 2027-01-15 08:10:00 UTC\\n' ||")], { encoding: 'utf8' });
    expect(read().stdout).toBe('');
    writeFileSync(join(dir, 'pairctl-timebox-pair.timer'), '');
    expect(read().stdout).toBe('t|1800000600\n');
  });

  it("status keeps only the owner's s and c lines, reads who only when a client is attached, and a pid only from a guest's process", () => {
    // Stand-ins on PATH: runuser prints what an owner (or a pair guest typing as the owner) may
    // make the owner's tmux print; who logs that it ran.
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-status-'));
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const owner = join(dir, 'owner.txt');
    const stub = (name: string, body: string) => {
      writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    stub('runuser', `cat ${owner}`);
    stub('who', `echo who >> ${join(dir, 'calls')}\necho 'pair-todd pts/3        2026-12-04 02:00 (10.0.0.5)'`);
    const run = (lines: string[]) => {
      writeFileSync(owner, lines.map((l) => `${l}\n`).join(''));
      const r = spawnSync('sh', ['-c', statusScript(config, host)], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8' });
      expect(r.stderr).toBe('');
      return r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('now='));
    };
    const forged = [`t|${NOW + 60}`, 'e\t4001\t6.6.6.6', `k\tpair-todd\t${NOW + 99}`, 'w\tpts/3\t6.6.6.6', ` s|pair|${NOW}`, 'now=1', 'x|c|y'];
    expect(run([`s|pair|${NOW - 600}`, ...forged])).toEqual([`s|pair|${NOW - 600}`]);
    expect(existsSync(join(dir, 'calls'))).toBe(false);
    // A client whose pid is this test's own process: readable, but not a guest account's, so no
    // source is read from it; one whose pid is not digits is not looked up at all.
    const client = `c|pair-todd|1|${NOW - 300}|${NOW - 30}|80|24|/dev/pts/3|pair|${process.pid}`;
    const odd = `c|pair-ann|1|${NOW - 300}|${NOW - 30}|80|24|/dev/pts/4|pair|../self`;
    expect(run([`s|pair|${NOW - 600}`, client, odd, ...forged])).toEqual([`s|pair|${NOW - 600}`, client, odd, 'w\tpts/3\t10.0.0.5']);
    expect(readFileSync(join(dir, 'calls'), 'utf8')).toBe('who\n');
  });

  it("macOS: root's launchd daemon, program inside the plist (plistlib parses it), compares the clock, ends with down and removes itself", () => {
    const mac = macConfig.hosts[0]!;
    const plist = timeBoxPlist(macConfig, mac, String(NOW + 5400), new Date((NOW + 5400) * 1000).toISOString());
    const parsed = parsePlist(plist);
    expect(parsed.Label).toBe('dev.pairctl.timebox-pair');
    expect(parsed.RunAtLoad).toBe(true);
    expect(parsed.StartInterval).toBe(10);
    expect(parsed.ProgramArguments.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    const program = parsed.ProgramArguments[2]!;
    expect(program.startsWith(`ends=${NOW + 5400}\n[ "$(date -u +%s)" -ge "$ends" ] || exit 0\nrm -f /Library/LaunchDaemons/dev.pairctl.timebox-pair.plist\n`)).toBe(true);
    expect(program).toContain(`( ${timeBoxEndScript(macConfig, mac)} ) || :`);
    expect(program).toContain('logger -t pairctl');
    expect(program.trimEnd().endsWith('launchctl bootout system/dev.pairctl.timebox-pair 2>/dev/null || :')).toBe(true);
    expect(spawnSync('sh', ['-n'], { input: program }).status).toBe(0);
    // Before its time the program does nothing (date says now, the end is in 2027+).
    expect(spawnSync('sh', ['-c', program.replace(/^ends=\d+/, `ends=${Math.floor(Date.now() / 1000) + 3600}`).split('\nrm -f')[0]!], { encoding: 'utf8' }).status).toBe(0);
    // up writes it atomically as root:wheel 0644 and loads it; status reads its end back from it.
    const up = timeBoxScript(macConfig, mac, NOW + 5400, 5400);
    expect(up).toContain('launchctl bootout system/dev.pairctl.timebox-pair 2>/dev/null || :\nrm -f /Library/LaunchDaemons/dev.pairctl.timebox-pair.plist\n');
    expect(up).toContain("chown root:wheel \"$t\"\nchmod 0644 \"$t\"\nmv -f \"$t\" /Library/LaunchDaemons/dev.pairctl.timebox-pair.plist");
    expect(up).toContain('if launchctl bootstrap system /Library/LaunchDaemons/dev.pairctl.timebox-pair.plist; then echo timebox=set; echo "timebox-ends=$ends";');
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-timebox-'));
    writeFileSync(join(dir, 'p.plist'), plist);
    const read = spawnSync('sh', ['-c', timeBoxStatusScript(macConfig, mac).replaceAll('/Library/LaunchDaemons/dev.pairctl.timebox-pair.plist', join(dir, 'p.plist'))], { encoding: 'utf8' });
    expect(read.stdout).toBe(`t|${NOW + 5400}\n`);
  });

  describe("macOS: root computes the end on the host's clock, with BSD date, not from the client's", () => {
    const mac = macConfig.hosts[0]!;
    const HOST_NOW = NOW + 7 * 86400;
    // The client's clock is a day behind the host's: its end would cut the box to nothing.
    const CLIENT_ENDS = HOST_NOW - 86400 + 5400;
    const realDate = execFileSync('sh', ['-c', 'command -v date'], { encoding: 'utf8' }).trim();

    /**
     * A Mac's tools on PATH: date speaks only BSD date's forms the script may use (`-u +FMT` for
     * now, `-u -r SECONDS +FMT` for an instant, date(1) of macOS) and refuses anything else as
     * BSD date refuses GNU's `-d`; launchctl and chown (no wheel group here) record and succeed.
     */
    function macBin(nowOutput: string): { bin: string; daemons: string; calls: string } {
      const root = mkdtempSync(join(tmpdir(), 'pairctl-timebox-host-'));
      const bin = join(root, 'bin');
      const daemons = join(root, 'LaunchDaemons');
      const calls = join(root, 'calls');
      mkdirSync(bin);
      mkdirSync(daemons);
      const tool = (name: string, body: string) => {
        writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
        chmodSync(join(bin, name), 0o755);
      };
      tool(
        'date',
        [
          `if [ "$#" = 2 ] && [ "$1" = -u ] && [ "$2" = +%s ]; then printf '%s' '${nowOutput}'; exit 0; fi`,
          `if [ "$#" = 4 ] && [ "$1" = -u ] && [ "$2" = -r ] && [ -n "$3" ] && [ -z "$(printf '%s' "$3" | tr -d 0-9)" ]; then case $4 in +*) exec ${realDate} -u -d "@$3" "$4";; esac; fi`,
          `echo "date: illegal option -- $*" >&2; exit 1`,
        ].join('\n'),
      );
      tool('launchctl', `echo "launchctl $*" >> ${calls}`);
      tool('chown', `echo "chown $*" >> ${calls}`);
      return { bin, daemons, calls };
    }

    function runRoot(nowOutput: string): { out: ReturnType<typeof spawnSync>; daemons: string; calls: string } {
      const { bin, daemons, calls } = macBin(nowOutput);
      // As up runs it: after up's `set -eu`.
      const script = 'set -eu\n' + rootTimerScript(macConfig, mac, 5400).replaceAll('/Library/LaunchDaemons', daemons);
      const out = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin` } });
      return { out, daemons, calls };
    }

    it('the fake date is BSD-only: the GNU form is refused, the BSD forms answer', () => {
      const { bin } = macBin(String(HOST_NOW));
      const env = { PATH: `${bin}:/usr/bin:/bin` };
      expect(spawnSync('date', ['-u', '-d', `@${HOST_NOW}`, '+%s'], { env }).status).toBe(1);
      expect(spawnSync('date', ['-u', '-v+5400S', '+%s'], { env }).status).toBe(1);
      expect(spawnSync('date', ['-u', '+%s'], { env, encoding: 'utf8' }).stdout).toBe(String(HOST_NOW));
      expect(spawnSync('date', ['-u', '-r', String(HOST_NOW), '+%Y-%m-%dT%H:%M:%SZ'], { env, encoding: 'utf8' }).stdout).toBe(`${new Date(HOST_NOW * 1000).toISOString().replace('.000Z', 'Z')}\n`);
    });

    it("writes the plist with the host's now plus the seconds asked, loads it, and says that end", () => {
      const { out, daemons, calls } = runRoot(String(HOST_NOW));
      expect(out.stderr).toBe('');
      expect(out.status).toBe(0);
      const hostEnds = HOST_NOW + 5400;
      expect(out.stdout).toBe(`timebox=set\ntimebox-ends=${hostEnds}\n`);
      expect(readdirSync(daemons)).toEqual(['dev.pairctl.timebox-pair.plist']);
      const file = join(daemons, 'dev.pairctl.timebox-pair.plist');
      const text = readFileSync(file, 'utf8');
      // The same plist as rendered for that end (so plistlib and the template's lines hold), not the client's.
      expect(text).toBe(timeBoxPlist(macConfig, mac, String(hostEnds), new Date(hostEnds * 1000).toISOString().replace('.000Z', 'Z')).replaceAll('/Library/LaunchDaemons', daemons));
      expect(text).not.toContain(String(CLIENT_ENDS));
      expect(parsePlist(text).ProgramArguments[2]!.startsWith(`ends=${hostEnds}\n`)).toBe(true);
      expect(text).toContain(`<!-- Ends the shared session at ${new Date(hostEnds * 1000).toISOString().replace('.000Z', 'Z')}.`);
      // status reads the host's end back from the file root wrote.
      const read = spawnSync('sh', ['-c', timeBoxStatusScript(macConfig, mac).replaceAll('/Library/LaunchDaemons', daemons)], { encoding: 'utf8' });
      expect(read.stdout).toBe(`t|${hostEnds}\n`);
      const c = readFileSync(calls, 'utf8').split('\n');
      expect(c[0]).toBe('launchctl bootout system/dev.pairctl.timebox-pair');
      expect(c[1]).toMatch(new RegExp(`^chown root:wheel ${daemons}/\\.pairctl\\.\\w{6}$`));
      expect(c.slice(2)).toEqual([`launchctl bootstrap system ${file}`, '']);
    });

    it('the script holds no end of its own: whatever the client passes, the plist follows the host', () => {
      const script = rootTimerScript(macConfig, mac, 5400);
      expect(script).not.toMatch(/\b1[0-9]{9}\b/);
      expect(timeBoxScript(macConfig, mac, CLIENT_ENDS, 5400).startsWith(script)).toBe(true);
    });

    it('a clock read that printed nothing sets no box: nothing written or loaded, up is told', () => {
      const { out, daemons, calls } = runRoot('');
      expect(out.status).toBe(0);
      expect(out.stdout).toBe('timebox=failed\n');
      expect(readdirSync(daemons)).toEqual([]);
      expect(readFileSync(calls, 'utf8')).toBe('launchctl bootout system/dev.pairctl.timebox-pair\n');
    });
  });

  it('down and up without --for stop the timer', () => {
    expect(stopTimeBoxScript(config, host)).toBe('systemctl stop pairctl-timebox-pair.timer 2>/dev/null || :\nsystemctl reset-failed pairctl-timebox-pair.timer pairctl-timebox-pair.service 2>/dev/null || :\n');
  });
});
