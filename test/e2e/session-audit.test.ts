/**
 * The audit log on a real host (issue 13 part 5): joins and leaves with the key's fingerprint,
 * the mode and the source; refusals of a wrong key, an expired key, a key outside its `from`, and
 * of a join with no session running; kick, mode, up and down; `pairctl log --json` returns them
 * in order from the journal and `--since` filters. Guests use the real ssh client; every refusal
 * has its positive control (the same account, the honest way, in the same run).
 */
import { spawnSync } from 'node:child_process';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labUnavailableReason, type LabMachine } from '../machines/lab.js';
import { startSessionLab, type SessionGuests, type SessionLab } from '../machines/session-lab.js';
import { waitUntil } from '../machines/wait.js';

const unavailable = labUnavailableReason();

interface Entry {
  time: string;
  time_us: number;
  host: string;
  event: string;
  guest: string | null;
  fingerprint: string | null;
  mode: string | null;
  source: string | null;
  via: string | null;
  reason: string | null;
  detail: string | null;
  writer: string;
}
interface LogDoc {
  format_version: number;
  since: string | null;
  hosts: Array<{ id: string; reachable: boolean; ignored_entries: number }>;
  entries: Entry[];
}

function fingerprintOf(pubFile: string): string {
  const r = spawnSync('ssh-keygen', ['-lf', pubFile]);
  const fp = r.stdout.toString().split(' ')[1];
  if (!fp?.startsWith('SHA256:')) throw new Error(`ssh-keygen -lf ${pubFile}: ${r.stderr.toString()}`);
  return fp;
}

describe.skipIf(unavailable)('the audit log on a real host', () => {
  let s: SessionLab;
  let host: LabMachine;
  /** the guests pair.yaml starts with */
  let guests: SessionGuests;
  /** pair.yaml with the starting guests, and newbie (mirror) after them when `newbie` */
  const writeConfig = (newbie: boolean) => s.writeGuests(newbie ? { ...guests, newbie: 'mirror' } : guests);

  const cli = (...args: string[]) => s.cli(...args);
  const log = async (...extra: string[]): Promise<LogDoc> => {
    const r = await cli('log', '--json', ...extra);
    // (stderr has pair.yaml's warning that old's access has ended)
    expect(r.stderr).not.toMatch(/could not be read|ignored/);
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as LogDoc;
  };
  const fp = (name: string) => fingerprintOf(`${s.keys[`${name}_key`]!}.pub`);
  /** Waits until the log has an entry matching `want`; returns it. */
  async function logged(what: string, want: Partial<Entry>): Promise<Entry> {
    let found: Entry | undefined;
    await waitUntil(what, async () => {
      found = (await log()).entries.find((e) => Object.entries(want).every(([k, v]) => e[k as keyof Entry] === v));
      return found !== undefined;
    }).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; log:\n${(await cli('log')).stdout}`);
    });
    return found!;
  }

  const joinAs = (guest: string) => s.joinAs(guest);
  const joined = (guest: string) => s.joined(guest);
  /** A login attempt with `keyOf`'s key as pair-`account` from `source`; returns ssh's exit status and stderr. */
  async function attempt(account: string, keyOf: string, source: string): Promise<{ code: number; stderr: string }> {
    const r = await execa('ssh', ['-F', s.guestConfig, '-b', source, '-o', 'BatchMode=yes', '-i', s.keys[`${keyOf}_key`]!, '-l', `pair-${account}`, 'pairhost', 'true'], {
      reject: false,
      stdin: 'ignore',
      timeout: 60_000,
    });
    return { code: r.exitCode ?? -1, stderr: String(r.stderr) };
  }

  beforeAll(async () => {
    s = await startSessionLab({
      name: 'session-audit',
      guests: (lab) => (guests = {
        ann: 'pair',
        todd: 'mirror',
        // Its access ended long ago: sshd refuses its key (expiry-time), the log says why.
        old: { mode: 'pair', lines: ['expires: 2020-01-01T00:00:00Z'] },
        // May come only from the honest guests' address.
        far: { mode: 'pair', lines: [`from: [${lab.sourceIp('guest')}/32]`] },
      }),
      // a key pair.yaml names for nobody: the wrong key for ann; and newbie's, added by a later apply
      otherKeys: ['stranger', 'newbie'],
      hostLines: ['tunnel: { provider: lan }'],
      session: ['name: pair', 'modes: [mirror, pair, rogue]', 'default_mode: mirror'],
      connectTimeout: 10,
    });
    host = s.host;
    await s.apply();
  }, 240_000);

  afterAll(async () => {
    await s?.close();
  });

  it('apply runs the audit follower and gives guests VERBOSE logging and ExposeAuthInfo in their Match block only', async () => {
    expect((await host.run('systemctl is-active pairctl-audit.service')).stdout.trim()).toBe('active');
    const guestT = (await host.run(`sshd -T -C user=pair-ann,host=x,addr=${s.lab.sourceIp('guest')}`)).stdout;
    expect(guestT).toMatch(/^loglevel VERBOSE$/im);
    expect(guestT).toMatch(/^exposeauthinfo yes$/im);
    // The machine's other users keep sshd's default.
    const rootT = (await host.run(`sshd -T -C user=root,host=x,addr=${s.lab.sourceIp('guest')}`)).stdout;
    expect(rootT).toMatch(/^loglevel INFO$/im);
    expect(rootT).toMatch(/^exposeauthinfo no$/im);
  });

  it('a join with no session running is refused and logged; up is logged', async () => {
    const t = await joinAs('ann');
    expect(await t.waitExit(30_000)).toBe(1);
    await logged('the no-session refusal', { event: 'refused', guest: 'ann', reason: 'no-session', fingerprint: fp('ann'), source: s.lab.sourceIp('guest'), writer: 'guest' });
    const up = await cli('up');
    expect(up.code).toBe(0);
    await logged('up', { event: 'up', guest: null, writer: 'pairctl', detail: 'session pair' });
  });

  it('a join is logged with the key fingerprint, mode and source, and the leave when the guest detaches', async () => {
    const ann = await joined('ann');
    const j = await logged("ann's join", { event: 'join', guest: 'ann', writer: 'guest' });
    expect(j).toMatchObject({ host: 'box', fingerprint: fp('ann'), mode: 'pair', source: s.lab.sourceIp('guest'), via: null });
    await ann.sendKeys('C-b', 'd');
    await ann.waitExit(30_000);
    const l = await logged("ann's leave", { event: 'leave', guest: 'ann' });
    expect(l).toMatchObject({ fingerprint: fp('ann'), mode: 'pair', source: s.lab.sourceIp('guest'), writer: 'guest' });
    expect(l.time_us).toBeGreaterThan(j.time_us);
  });

  it("a wrong key for a guest is refused by sshd and logged with that key's fingerprint; the right key joins", async () => {
    const attacker = s.lab.sourceIp('attacker', 0);
    const wrong = await attempt('ann', 'stranger', attacker);
    expect(wrong.code).toBe(255);
    expect(wrong.stderr).toContain('Permission denied');
    const r = await logged('the wrong-key refusal', { event: 'refused', guest: 'ann', fingerprint: fp('stranger') });
    expect(r).toMatchObject({ reason: 'unknown-key', source: attacker, writer: 'pairctl', host: 'box' });
    // Positive control: the same account with its own key, in the same run.
    const before = r.time_us;
    const ann = await joined('ann');
    await waitUntil('a join after the refusal', async () => (await log()).entries.some((e) => e.event === 'join' && e.guest === 'ann' && e.time_us > before && e.fingerprint === fp('ann')));
    await ann.sendKeys('C-b', 'd');
    await ann.waitExit(30_000);
  });

  it('an expired key and a key used outside its from= are refused and logged with the reason; far joins from its address', async () => {
    const expired = await attempt('old', 'old', s.lab.sourceIp('attacker', 1));
    expect(expired.code).toBe(255);
    const e = await logged("old's refusal", { event: 'refused', guest: 'old' });
    expect(e).toMatchObject({ reason: 'expired', fingerprint: fp('old'), source: s.lab.sourceIp('attacker', 1) });

    const outside = await attempt('far', 'far', s.lab.sourceIp('attacker', 2));
    expect(outside.code).toBe(255);
    const o = await logged("far's refusal", { event: 'refused', guest: 'far' });
    expect(o).toMatchObject({ reason: 'outside-from', fingerprint: fp('far'), source: s.lab.sourceIp('attacker', 2) });
    // Positive control: far from the address its from= names gets in.
    const t = await joined('far');
    await logged("far's join", { event: 'join', guest: 'far', fingerprint: fp('far'), source: s.lab.sourceIp('guest') });
    await t.sendKeys('C-b', 'd');
    await t.waitExit(30_000);
  });

  it('mode, kick and down are logged; log --json returns everything in order and --since filters', async () => {
    const ann = await joined('ann');
    await joined('todd');
    // --since takes whole seconds: start the later part on a fresh second.
    const mark = Math.floor(Date.now() / 1000) + 1;
    await waitUntil('the next second', async () => Date.now() >= mark * 1000 + 50, 5_000, 20);
    expect((await cli('mode', 'ann', 'mirror')).code).toBe(0);
    await logged("ann's mode change", { event: 'mode', guest: 'ann', mode: 'mirror', writer: 'pairctl' });
    expect((await cli('kick', 'todd', '--for', '10m')).code).toBe(0);
    const k = await logged("todd's kick", { event: 'kick', guest: 'todd', mode: 'mirror' });
    expect(k.detail).toMatch(/^until 20[0-9-]+T[0-9:.]+Z$/);
    // The kicked guest is refused by the join program, and that is logged too.
    const again = await joinAs('todd');
    expect(await again.waitExit(30_000)).toBe(1);
    await logged("todd's refusal while kicked", { event: 'refused', guest: 'todd', reason: 'kicked' });
    expect((await cli('down')).code).toBe(0);
    await logged('down', { event: 'down', writer: 'pairctl' });
    // down ends the server: ann's tmux returns and the join program logs the leave (the third).
    await ann.waitExit(30_000);
    await waitUntil("ann's leave at down", async () => (await log()).entries.filter((e) => e.event === 'leave' && e.guest === 'ann').length === 3);

    const doc = await log();
    expect(doc.format_version).toBe(1);
    expect(doc.hosts).toEqual([{ id: 'box', reachable: true, ignored_entries: 0 }]);
    const times = doc.entries.map((e) => e.time_us);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const seq = doc.entries.map((e) => `${e.event}${e.guest ? ':' + e.guest : ''}${e.reason ? ':' + e.reason : ''}`);
    const order = ['refused:ann:no-session', 'up', 'join:ann', 'leave:ann', 'refused:ann:unknown-key', 'refused:old:expired', 'refused:far:outside-from', 'join:far', 'mode:ann', 'kick:todd', 'refused:todd:kicked', 'down'];
    let at = -1;
    for (const want of order) {
      const i = seq.indexOf(want, at + 1);
      expect(i, `${want} after position ${at} in ${seq.join(', ')}`).toBeGreaterThan(at);
      at = i;
    }

    const since = await log('--since', new Date(mark * 1000).toISOString().replace(/\.000Z$/, 'Z'));
    expect(since.since).toBe(new Date(mark * 1000).toISOString());
    const events = since.entries.map((e) => e.event);
    expect(events).toContain('kick');
    expect(events).toContain('down');
    expect(events).not.toContain('up');
    expect(since.entries.every((e) => e.time_us >= mark * 1_000_000)).toBe(true);
    const relative = await log('--since', '1d');
    expect(relative.entries.length).toBe(doc.entries.length);

    const text = await cli('log', '--host', 'box');
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')[0]).toMatch(/^TIME +HOST +EVENT +GUEST +MODE +FROM +KEY +REASON$/);
    expect(text.stdout).toMatch(new RegExp(`box +refused +ann +- +${s.lab.sourceIp('attacker', 0).replace(/\./g, '\\.')} +${fp('stranger').replace(/[+/]/g, '\\$&')} +unknown-key`));

    const bad = await cli('log', '--since', 'yesterday; reboot');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since');
  });

  it('adding a guest restarts the follower with the new program without a daemon-reload; a follower still running the old program after an interrupted apply is restarted', async () => {
    const UNIT = 'pairctl-audit.service';
    const PROGRAM = '/usr/local/libexec/pairctl/audit-follow';
    // systemd's PID 1 logs "Reloading..." at every daemon-reload (252: "Reloading.", 257+: "Reloading requested from client PID ...").
    const reloads = async () => Number((await host.run("journalctl -b _PID=1 -o cat --no-pager | grep -c '^Reloading' || true")).stdout.trim());
    const state = async () => {
      const r = await host.run(`systemctl show -p MainPID --value ${UNIT}; sha256sum < /etc/systemd/system/${UNIT} | cut -c1-64; sha256sum < ${PROGRAM} | cut -c1-64; sha256sum < /run/pairctl-audit/audit-follow | cut -c1-64`);
      const [pid, unit, program, copy] = r.stdout.trim().split('\n');
      return { pid: Number(pid), unit, program, copy };
    };
    const r0 = await reloads();
    // Positive control: the first apply made the unit, and that daemon-reload is counted.
    expect(r0).toBeGreaterThan(0);
    const s0 = await state();
    expect(s0.pid).toBeGreaterThan(1);
    expect(s0.copy).toBe(s0.program);

    writeConfig(true);
    const p = await cli('plan');
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/~ systemd_service "pairctl-audit\.service"[^\n]*\n\s+program = "sha256:[0-9a-f]{16}" -> "sha256:[0-9a-f]{16}"/);
    const a = await cli('apply', '--yes');
    expect(a.code, a.stderr).toBe(0);
    const s1 = await state();
    expect(s1.unit).toBe(s0.unit);
    expect(s1.program).not.toBe(s0.program);
    expect(s1.copy).toBe(s1.program);
    expect(s1.pid).not.toBe(s0.pid);
    expect(await reloads()).toBe(r0);
    expect((await cli('plan')).stdout).toContain('No changes.');
    // The restarted follower knows the new guest: a wrong key for pair-newbie is logged.
    const attacker = s.lab.sourceIp('attacker', 3);
    expect((await attempt('newbie', 'stranger', attacker)).code).toBe(255);
    const r = await logged("newbie's wrong-key refusal", { event: 'refused', guest: 'newbie', fingerprint: fp('stranger') });
    expect(r).toMatchObject({ reason: 'unknown-key', source: attacker, writer: 'pairctl' });

    // An apply cut off between writing the program and restarting the service leaves the new
    // program on disk and the old one running: here, newbie's program put back by hand while the
    // follower runs the program without newbie.
    await host.run(`cp ${PROGRAM} /root/with-newbie`);
    writeConfig(false);
    expect((await cli('apply', '--yes')).code).toBe(0);
    const s2 = await state();
    expect(s2.program).toBe(s0.program);
    expect((await host.run(`install -m 0755 -o root -g root /root/with-newbie ${PROGRAM} && echo ok`)).stdout).toBe('ok\n');
    writeConfig(true);
    const interrupted = await cli('plan');
    expect(interrupted.stdout).toMatch(new RegExp(`~ systemd_service "pairctl-audit\\.service"[^\\n]*\\n\\s+program = "sha256:${s0.program!.slice(0, 16)}" -> "sha256:${s1.program!.slice(0, 16)}"`));
    // The program itself is already as wanted: only the service is planned.
    expect(interrupted.stdout).not.toContain(`file "${PROGRAM}"`);
    const reloadsBefore = await reloads();
    expect((await cli('apply', '--yes')).code).toBe(0);
    const s3 = await state();
    expect(s3.copy).toBe(s1.program);
    expect(s3.pid).not.toBe(s2.pid);
    expect(await reloads()).toBe(reloadsBefore);
    expect((await cli('plan')).stdout).toContain('No changes.');
    writeConfig(false);
    expect((await cli('apply', '--yes')).code).toBe(0);
  });

  it('every join whose connection drops right after its first frame logs its leave (20 in a row)', async () => {
    // A dropped connection hangs up on tmux and on the join program in either order; when tmux
    // returned first, the hang-up used to kill the program inside its leave (measured on trixie
    // with that program: 20 joins with 17, 19 and 17 leaves in three runs of this test).
    expect((await cli('up')).code).toBe(0);
    const start = (await log()).entries.reduce((m, e) => Math.max(m, e.time_us), 0);
    const N = 20;
    for (let i = 0; i < N; i++) {
      const ann = await joinAs('ann');
      await ann.waitFor('[pair]');
      await ann.close();
    }
    let counts = { join: 0, leave: 0 };
    await waitUntil(`${N} joins and ${N} leaves of ann`, async () => {
      const mine = (await log()).entries.filter((e) => e.guest === 'ann' && e.time_us > start);
      counts = { join: mine.filter((e) => e.event === 'join').length, leave: mine.filter((e) => e.event === 'leave').length };
      return counts.join === N && counts.leave === N;
    }, 30_000, 250).catch((err: unknown) => {
      throw new Error(`${String(err)}: ${counts.join} joins, ${counts.leave} leaves`);
    });
    expect((await cli('down')).code).toBe(0);
  });
});
