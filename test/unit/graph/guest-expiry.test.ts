/**
 * Guests' expiry (issue 10 part 3): when the cut-off runs, what the host, the Mac and the jump
 * relay get for it, and the generated files checked by the tools that read them (shellcheck,
 * systemd-analyze verify, plistlib). The live behaviour is proven in test/e2e/guest-expiry.test.ts.
 */
import { ownerShell } from '../../../src/session/owner-shell.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Guest, PairConfig } from '../../../src/config/model.js';
import { expiryTime } from '../../../src/graph/authorized-keys.js';
import { buildGraph, topoSort, type DesiredMachine } from '../../../src/graph/build-graph.js';
import { activeGuests, cutOffAt, cutOffProgram, onCalendar } from '../../../src/graph/guest-expiry.js';
import type { FileSpec } from '../../../src/resources/file-state.js';
import type { LaunchdServiceSpec } from '../../../src/resources/launchd-service.js';
import { kindOf } from '../../../src/resources/registry.js';
import type { SessionAccessSpec } from '../../../src/resources/session-access.js';
import type { SystemdTimerSpec } from '../../../src/resources/systemd-timer.js';
import { upScript } from '../../../src/session/session-scripts.js';
import { guest, sampleConfig } from '../fixtures.js';

const pos = { file: 'pair.yaml', line: 1, column: 1 };
const EXPIRES = new Date('2026-12-31T18:00:00Z');
const TIMER = 'systemd_timer["pairctl-expire-todd.timer"]';
const PROGRAM = 'file["/usr/local/libexec/pairctl/expire-todd"]';

const config = (guests: Guest[] = [guest('todd', { mode: 'pair', expires: EXPIRES }), guest('ann', { mode: 'pair' })]): PairConfig => sampleConfig(guests);
const byAddress = (m: DesiredMachine) => new Map(m.resources.map((r) => [r.address, r]));
const spec = <S>(m: DesiredMachine, address: string): S => {
  const r = byAddress(m).get(address);
  if (!r) throw new Error(`${m.target.id} has no ${address}: ${m.resources.map((x) => x.address).join(', ')}`);
  return r.spec as S;
};

/** shellcheck's findings; `exclude` for the batched file probe, whose `t=link` reads to it as a command (SC2209). */
function shellcheck(script: string, exclude: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'pairctl-exp-'));
  writeFileSync(join(dir, 'p'), script);
  const r = spawnSync('shellcheck', ['-s', 'sh', ...exclude.flatMap((e) => ['-e', e]), join(dir, 'p')], { encoding: 'utf8' });
  return `${r.status} ${r.stdout}`;
}

describe('when the cut-off runs', () => {
  it('is never before OpenSSH refuses the key (expiry-time has minutes; a key is refused once now > that minute)', () => {
    expect(cutOffAt(new Date('2026-12-31T18:00:00Z')).toISOString()).toBe('2026-12-31T18:00:01.000Z');
    expect(cutOffAt(new Date('2026-12-31T18:00:30Z')).toISOString()).toBe('2026-12-31T18:00:30.000Z');
    expect(cutOffAt(new Date('2026-12-31T18:00:30.250Z')).toISOString()).toBe('2026-12-31T18:00:31.000Z');
    for (const e of ['2026-12-31T18:00:00Z', '2026-12-31T18:00:59Z', '2027-02-28T23:59:00.5Z']) {
      const d = new Date(e);
      // The key's last valid second is its minute's :00; the cut-off is after it, and not before expires.
      const keyMinute = expiryTime(d).slice(0, 12);
      const lastValid = Date.UTC(+keyMinute.slice(0, 4), +keyMinute.slice(4, 6) - 1, +keyMinute.slice(6, 8), +keyMinute.slice(8, 10), +keyMinute.slice(10, 12));
      expect(cutOffAt(d).getTime()).toBeGreaterThan(lastValid);
      expect(cutOffAt(d).getTime()).toBeGreaterThanOrEqual(d.getTime());
    }
  });

  it('is written for systemd in UTC, which systemd-analyze reads back as the same instant', () => {
    const cal = onCalendar(cutOffAt(EXPIRES));
    expect(cal).toBe('2026-12-31 18:00:01 UTC');
    const r = spawnSync('systemd-analyze', ['calendar', cal], { encoding: 'utf8', env: { ...process.env, TZ: 'America/New_York' } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/Normalized form: 2026-12-31 18:00:01 UTC/);
  });

  it('decides who is still let in', () => {
    const guests = [guest('todd', { expires: EXPIRES }), guest('ann')];
    expect(activeGuests(guests, new Date('2026-12-31T18:00:00.999Z')).map((g) => g.name)).toEqual(['todd', 'ann']);
    expect(activeGuests(guests, new Date('2026-12-31T18:00:01Z')).map((g) => g.name)).toEqual(['ann']);
  });
});

describe('a Linux host', () => {
  const [host] = buildGraph(config());

  it('gets a root-owned cut-off program and a timer for the guest with expires only, after its account', () => {
    const program = spec<FileSpec>(host!, PROGRAM);
    expect(`${program.owner}:${program.group}:${program.mode}`).toBe('root:root:0755');
    const timer = spec<SystemdTimerSpec>(host!, TIMER);
    expect(timer.content).toMatch(/^OnCalendar=2026-12-31 18:00:01 UTC$/m);
    expect(timer.content).toMatch(/^Persistent=true$/m);
    expect(timer.content).toMatch(/^AccuracySec=1s$/m);
    expect(timer.service.content).toMatch(/^ExecStart=\/usr\/local\/libexec\/pairctl\/expire-todd$/m);
    expect(timer.service.content).toMatch(/^Type=oneshot$/m);
    expect(timer.shows).toEqual([{ name: 'cut-off', value: '2026-12-31T18:00:01Z (pair-todd: detached, processes ended, ACL entry removed)' }]);
    expect([...byAddress(host!).keys()].filter((a) => a.includes('expire-ann'))).toEqual([]);
    const order = topoSort(host!.resources).map((r) => r.address);
    expect(order.indexOf('account["pair-todd"]')).toBeLessThan(order.indexOf(PROGRAM));
    expect(order.indexOf(PROGRAM)).toBeLessThan(order.indexOf(TIMER));
  });

  it('revokes as the owner, never with a root tmux client, and passes shellcheck', () => {
    const program = spec<FileSpec>(host!, PROGRAM).content;
    expect(shellcheck(program)).toBe('0 ');
    // The one owner-run path (session/owner-shell.ts), with the cut-off's own short deadline.
    const revoke = `${ownerShell('linux', 'bhorseman', 'tmux -S /run/pairctl/pair/tmux.sock server-access -d pair-todd', { deadlineSeconds: 5 })} >/dev/null 2>&1 &\n`;
    expect(revoke.startsWith('runuser -u bhorseman -- timeout -k 5 5 env -i ')).toBe(true);
    expect(program).toContain(`\n${revoke}`);
    const tmuxCalls = program.split('\n').filter((l) => /^[^#]*\btmux -S\b/.test(l));
    expect(tmuxCalls).toEqual(['tmux -S /run/pairctl/pair/tmux.sock server-access -d pair-todd\' >/dev/null 2>&1 &']);
    // A hung server cannot hold back the kill: a watchdog ends the wait, and the kill comes after it.
    expect(program).toContain('revoke=$!\n');
    expect(program).toContain('( sleep 5; pkill -KILL -P "$revoke" 2>/dev/null; kill -KILL "$revoke" 2>/dev/null ) &\nwatchdog=$!\nif wait "$revoke"; then');
    expect(program.indexOf('pkill -KILL -u pair-todd')).toBeGreaterThan(program.indexOf('kill "$watchdog"'));
    expect(program).toContain('pkill -KILL -u pair-todd');
    expect(program).toMatch(/^cut=1798740001$/m);
  });

  it('does nothing before its time when run (apply and boot may run it early)', () => {
    const program = cutOffProgram({ platform: 'linux', guest: 'nobodyhere', account: 'pt-no-such-user', cutOff: new Date(Date.now() + 3_600_000) });
    const r = spawnSync('sh', ['-c', program], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^pairctl: guest nobodyhere's access ends at \S+; nothing to do yet\n$/);
  });

  it('logs kick/expired as root only when a run ended something (a rerun logs nothing)', () => {
    // The real program, with logger, pgrep, pkill and sleep stubbed in front of its PATH: pgrep
    // finds a process of the account as many times as the counter file says.
    const stubs = mkdtempSync(join(tmpdir(), 'pairctl-cutoff-'));
    const journal = join(stubs, 'journal');
    const left = join(stubs, 'left');
    const stub = (name: string, body: string) => writeFileSync(join(stubs, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    stub('logger', `[ "$1" = --journald ] && { cat; echo --; } >> '${journal}'`);
    stub('pgrep', `n=$(cat '${left}'); [ "$n" -gt 0 ] || exit 1; echo $((n - 1)) > '${left}'`);
    stub('pkill', 'exit 0');
    stub('sleep', 'exit 0');
    const run = (processes: number, status = 0) => {
      writeFileSync(left, `${processes}\n`);
      const program = cutOffProgram({ platform: 'linux', guest: 'todd', account: 'pair-todd', cutOff: new Date('2020-01-01T00:00:01Z') }).replace(/^PATH=/m, `PATH=${stubs}:`);
      const r = spawnSync('sh', ['-c', program], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(status);
      return existsSync(journal) ? readFileSync(journal, 'utf8') : '';
    };
    expect(run(0)).toBe('');
    expect(run(3)).toBe(
      'SYSLOG_IDENTIFIER=pairctl\nPRIORITY=5\nSYSLOG_FACILITY=10\nPAIRCTL_EVENT=kick\nPAIRCTL_GUEST=pair-todd\nPAIRCTL_REASON=expired\n' +
        'PAIRCTL_DETAIL=cut-off 2020-01-01T00:00:01Z: processes ended\nMESSAGE=event=kick guest=pair-todd reason=expired detail=cut-off 2020-01-01T00:00:01Z: processes ended\n--\n',
    );
    // A rerun after the cut-off (at boot, or apply's) finds nothing left: still one entry.
    expect(run(0).split('--\n')).toHaveLength(2);
    // Processes that outlast every KILL: the run fails, and its entry says so.
    expect(run(1000, 1)).toContain('PAIRCTL_DETAIL=cut-off 2020-01-01T00:00:01Z: processes ended (some still running)\n');
  });

  it('passes systemd-analyze verify with nothing on stderr, and the check catches a bad timer', () => {
    const timer = spec<SystemdTimerSpec>(host!, TIMER);
    const verify = (timerContent: string) => {
      const root = mkdtempSync(join(tmpdir(), 'pairctl-units-'));
      mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
      cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
      mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
      mkdirSync(join(root, 'usr/local/libexec/pairctl'), { recursive: true });
      writeFileSync(join(root, spec<FileSpec>(host!, PROGRAM).path), spec<FileSpec>(host!, PROGRAM).content, { mode: 0o755 });
      writeFileSync(join(root, timer.path), timerContent);
      writeFileSync(join(root, timer.service.path), timer.service.content);
      const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, timer.unit, timer.service.unit], { encoding: 'utf8' });
      return `${r.status} ${r.stderr}`;
    };
    expect(verify(timer.content)).toBe('0 ');
    expect(verify(timer.content.replace('AccuracySec=1s', 'AccuracySec=soon'))).toMatch(/^0 .*pairctl-expire-todd\.timer:\d+: Failed to parse sec value, ignoring: soon/); // exit 0: only stderr tells
  });

  it('grants only guests whose access has not ended, in the session ACL and in up', () => {
    const past = config([guest('old', { mode: 'pair', expires: new Date('2020-01-01T00:00:00Z') }), guest('ann', { mode: 'pair' })]);
    const [m] = buildGraph(past);
    const access = m!.resources.find((r) => r.kind === 'session_access')!.spec as SessionAccessSpec;
    expect(access.grants.map((g) => g.account)).toEqual(['pair-ann']);
    // The expired guest still has its cut-off (it runs at once on apply: the time has passed).
    expect(byAddress(m!).has('systemd_timer["pairctl-expire-old.timer"]')).toBe(true);
    const up = upScript(past, past.hosts[0]!);
    expect(up).toContain('pair-ann');
    expect(up).not.toContain('pair-old');
  });
});

describe('a Mac host', () => {
  const c = config();
  c.hosts[0] = { ...c.hosts[0]!, id: 'mini', platform: 'macos' };
  const [mac] = buildGraph(c);
  const job = () => spec<LaunchdServiceSpec>(mac!, 'launchd_service["dev.pairctl.expire-todd"]');

  it('gets a launchd job that plistlib parses, running the program inline every 30 s (calendar intervals have no year)', () => {
    expect(job().path).toBe('/Library/LaunchDaemons/dev.pairctl.expire-todd.plist');
    expect(`${job().owner}:${job().group}:${job().mode}`).toBe('root:wheel:0644');
    const plist = JSON.parse(
      execFileSync('python3', ['-c', 'import sys, json, plistlib; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))'], { input: job().content, encoding: 'utf8' }),
    ) as Record<string, unknown>;
    const program = cutOffProgram({ platform: 'macos', guest: 'todd', account: 'pair-todd', cutOff: cutOffAt(EXPIRES), session: { owner: 'bhorseman', socket: '/var/run/pairctl/pair/tmux.sock' } });
    expect(plist).toEqual({ Label: 'dev.pairctl.expire-todd', ProgramArguments: ['/bin/sh', '-c', program], RunAtLoad: true, StartInterval: 30 });
    expect(shellcheck(program)).toBe('0 ');
    expect(program).toContain(`\n${ownerShell('macos', 'bhorseman', 'tmux -S /var/run/pairctl/pair/tmux.sock server-access -d pair-todd')} >/dev/null 2>&1 &\n`);
    expect(program).toContain('\nsudo -u bhorseman -H -- env -i PATH=');
    expect(program).toContain('PATH=/opt/homebrew/bin:');
    // No program file: /usr/local may belong to the owner on a Mac.
    expect(mac!.resources.some((r) => r.address.includes('/usr/local/libexec/pairctl/expire-'))).toBe(false);
    expect(mac!.resources.some((r) => r.kind === 'systemd_timer')).toBe(false);
  });
});

describe('a jump relay', () => {
  const c = config();
  c.relays = [{ id: 'elefante', platform: 'linux', ssh: 'root@203.0.113.5', sudo: false, pos }];
  c.hosts[0] = { ...c.hosts[0]!, tunnel: { provider: 'jump', relay: 'elefante', port: 2222 } };
  const g = buildGraph(c);
  const relay = g.find((m) => m.role === 'relay')!;

  it("cuts the guest's relay account off too, with no session to revoke there", () => {
    const program = spec<FileSpec>(relay, PROGRAM).content;
    expect(program.split('\n').filter((l) => !l.startsWith('#') && /tmux|runuser/.test(l))).toEqual([]);
    expect(program).toContain('pkill -KILL -u pair-todd');
    expect(shellcheck(program)).toBe('0 ');
    expect(spec<SystemdTimerSpec>(relay, TIMER).shows[0]!.value).toBe('2026-12-31T18:00:01Z (pair-todd: detached, processes ended)');
    const order = topoSort(relay.resources).map((r) => r.address);
    expect(order.indexOf('relay_account["pair-todd"]')).toBeLessThan(order.indexOf(PROGRAM));
    expect(order.indexOf('directory["/usr/local/libexec/pairctl"]')).toBeLessThan(order.indexOf(PROGRAM));
    expect([...byAddress(relay).keys()].filter((a) => a.includes('expire-ann'))).toEqual([]);
  });

  it('gets nothing of it on a vps relay (no guest accounts there)', () => {
    const v = config();
    v.relays = c.relays;
    v.hosts[0] = { ...v.hosts[0]!, tunnel: { provider: 'vps', relay: 'elefante', port: 2222 } };
    const r = buildGraph(v).find((m) => m.role === 'relay')!;
    expect(r.resources.some((x) => x.address.includes('expire'))).toBe(false);
  });
});

describe('the systemd_timer kind', () => {
  const [host] = buildGraph(config());
  const timer = spec<SystemdTimerSpec>(host!, TIMER);
  const kind = kindOf('systemd_timer');
  type MachineState = { timer?: string; service?: string; enabled?: string; active?: string; systemd?: boolean };
  const states = (o: MachineState) =>
    o.systemd === false ? ['systemd=no'] : ['systemd=yes', `u\tId=${timer.unit}`, `u\tActiveState=${o.active ?? 'inactive'}`, `u\tUnitFileState=${o.enabled ?? ''}`, 'u\t'];
  /** What the single probe prints, as a machine would: each file read alone, prefixed, then systemctl show. */
  const output = (o: MachineState) => {
    const one = (prefix: string, content: string | undefined) =>
      content === undefined ? [`${prefix}type=absent`] : [`${prefix}type=file`, `${prefix}mode=644`, `${prefix}owner=root`, `${prefix}group=root`, `${prefix}content=${Buffer.from(content).toString('base64')}`];
    return [...one('timer.', o.timer), ...one('service.', o.service), ...states(o)].join('\n');
  };
  /** The same state as the batched probe prints it: a type line per path, stats, then all contents. */
  const batched = (o: MachineState) => {
    const files = [o.timer, o.service];
    const lines = files.map((f) => `t\t${f === undefined ? 'absent' : 'file'}`);
    const kept = files.map((f, i) => [f, i === 0 ? timer.path : timer.service.path] as const).filter(([f]) => f !== undefined);
    for (const [f, p] of kept) lines.push(`s\t644\troot\troot\t${Buffer.byteLength(f!)}\t${p}`);
    if (kept.length > 0) lines.push(`c\t${Buffer.from(kept.map(([f]) => f).join('')).toString('base64')}`);
    return [...lines, ...states(o)].join('\n');
  };
  const diff = (out: string, wanted = true, recorded = true) => kind.diff(timer, kind.parse(out, timer), { wanted, recorded });

  it('creates both units, enables and starts the timer, then runs the program once', () => {
    const d = diff(output({}), true, false);
    expect(d.action).toBe('create');
    expect(d.attributes[0]).toEqual({ name: 'cut-off', after: '2026-12-31T18:00:01Z (pair-todd: detached, processes ended, ACL entry removed)' });
    const at = (s: string) => d.script.indexOf(s);
    expect(at('systemctl daemon-reload')).toBeGreaterThan(at('mv -f'));
    expect(at('systemctl enable --quiet pairctl-expire-todd.timer')).toBeGreaterThan(at('systemctl daemon-reload'));
    expect(at('systemctl restart pairctl-expire-todd.timer')).toBeGreaterThan(at('systemctl enable'));
    expect(at('systemctl start pairctl-expire-todd.service')).toBeGreaterThan(at('systemctl restart'));
    expect(d.content?.after).toBe(timer.content);
  });

  it('changes nothing once installed, also after the timer elapsed (it stays active)', () => {
    expect(diff(output({ timer: timer.content, service: timer.service.content, enabled: 'enabled', active: 'active' })).action).toBe('noop');
  });

  it('rewrites a changed expiry and restarts the timer so systemd computes the new time', () => {
    const old = timer.content.replace('18:00:01', '17:00:01');
    const d = diff(output({ timer: old, service: timer.service.content, enabled: 'enabled', active: 'active' }));
    expect(d.action).toBe('update');
    expect(d.script).toMatch(/mv -f [^\n]*pairctl-expire-todd\.timer\ntrap - EXIT\nsystemctl daemon-reload\n[\s\S]*systemctl restart pairctl-expire-todd\.timer\nsystemctl start pairctl-expire-todd\.service$/);
    expect(d.content).toEqual({ path: timer.path, before: old, after: timer.content });
  });

  it('removes units and stamp with the guest (or its expires)', () => {
    const d = diff(output({ timer: timer.content, service: timer.service.content, enabled: 'enabled', active: 'active' }), false);
    expect(d.action).toBe('delete');
    expect(d.script).toContain('systemctl disable --now pairctl-expire-todd.timer');
    expect(d.script).toContain('rm -f /etc/systemd/system/pairctl-expire-todd.timer /etc/systemd/system/pairctl-expire-todd.service /var/lib/systemd/timers/stamp-pairctl-expire-todd.timer');
    expect(diff(output({}), false).action).toBe('noop');
  });

  it('reads the same alone as in a batch', () => {
    for (const o of [{}, { timer: timer.content, service: timer.service.content, enabled: 'enabled', active: 'active' }, { timer: 'x\n' }, { systemd: false }]) {
      expect(kind.parse(output(o), timer)).toEqual(kind.parseMany!(batched(o), [timer])[0]);
    }
  });

  it('refuses a machine without systemd', () => {
    expect(diff(output({ systemd: false })).errors).toEqual([expect.stringContaining('systemd is not running')]);
  });

  it('reads many timers in one snippet, matched by unit Id, and writes shell that shellcheck accepts', () => {
    const c = config([guest('todd', { expires: EXPIRES }), guest('rita', { expires: new Date('2027-01-01T00:00:00Z') })]);
    const timers = buildGraph(c)[0]!.resources.filter((r) => r.kind === 'systemd_timer').map((r) => r.spec as SystemdTimerSpec);
    const many = kind.probeMany!(timers);
    expect(shellcheck(`#!/bin/sh\nset -eu\n${many}\n`, ['SC2209'])).toBe('0 ');
    // systemctl show prints a block per unit; rita's block first here, and todd's unit unknown.
    const out = ['t\tabsent', 't\tabsent', 't\tabsent', 't\tabsent', 'systemd=yes', 'u\tId=pairctl-expire-rita.timer', 'u\tActiveState=active', 'u\tUnitFileState=enabled', 'u\t', 'u\tId=pairctl-expire-todd.timer', 'u\tActiveState=inactive', 'u\tUnitFileState=', 'u\t'].join('\n');
    const observed = kind.parseMany!(out, timers) as Array<{ enabled: string; active: string }>;
    expect(observed.map((o) => `${o.enabled}/${o.active}`)).toEqual(['/inactive', 'enabled/active']);
    for (const script of [kind.probe(timer), diff(output({})).script, diff(output({ timer: 'x', service: 'y' }), false).script]) {
      expect(shellcheck(`#!/bin/sh\nset -eu\n${script}\n`, ['SC2209'])).toBe('0 ');
    }
  });
});
