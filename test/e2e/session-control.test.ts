/**
 * Session control on a real host (issue 13, parts 1-3): `pairctl status` shows who is in with the
 * mode the tmux server enforces and where they come from; `pairctl kick --for` ends one guest's
 * connection and keeps them out while the others stay; `pairctl mode` demotes and promotes a
 * connected guest live; `pairctl up --for` (part 7) ends the session through root's own systemd
 * timer, which logs `down` with reason `time-box`. Guests join in real terminals with the real
 * ssh client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTerminal, type GuestTerminal } from '../machines/guest-terminal.js';
import { labUnavailableReason, type LabMachine } from '../machines/lab.js';
import { OWNER, SOCKET, startSessionLab, type SessionLab } from '../machines/session-lab.js';
import { waitUntil } from '../machines/wait.js';

const unavailable = labUnavailableReason();
const TIMER = 'pairctl-timebox-pair.timer';

interface LogEntry {
  time_us: number;
  event: string;
  guest: string | null;
  reason: string | null;
  detail: string | null;
  writer: string;
}

interface StatusDoc {
  format_version: number;
  hosts: Array<{
    id: string;
    reachable: boolean;
    session: { name: string; running: boolean; since: string | null; ends: string | null };
    guests: Array<{
      name: string;
      connected: boolean;
      configured_mode: string;
      kicked_until: string | null;
      clients: Array<{ mode: string; since: string; idle_seconds: number; size: { cols: number; rows: number }; from: string | null; via: string | null }>;
    }>;
  }>;
}

describe.skipIf(unavailable)('session control on a real host', () => {
  let s: SessionLab;
  let host: LabMachine;
  const live: Record<string, GuestTerminal> = {};

  const cli = (...args: string[]) => s.cli(...args);
  const asOwner = (tmuxArgs: string) => s.ownerTmux(tmuxArgs);
  const hostPane = async () => (await asOwner("capture-pane -p -J -S -200 -t '=pair:'")).stdout;
  const status = async (): Promise<StatusDoc> => {
    const r = await cli('status', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as StatusDoc;
  };
  const logEntries = async (): Promise<LogEntry[]> => {
    const r = await cli('log', '--json');
    expect(r.code).toBe(0);
    return (JSON.parse(r.stdout) as { entries: LogEntry[] }).entries;
  };
  /** The end of root's time-box timer, epoch seconds, from systemd itself. */
  const timerEnd = async (): Promise<number> => {
    const v = (await host.run(`TZ=UTC0 systemctl show -p NextElapseUSecRealtime --value ${TIMER}`)).stdout.trim();
    const m = /^[A-Z][a-z]{2} (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC$/.exec(v);
    expect(m, v).not.toBeNull();
    return Date.parse(`${m![1]}T${m![2]}Z`) / 1000;
  };
  const guestOf = (doc: StatusDoc, name: string) => doc.hosts[0]!.guests.find((g) => g.name === name)!;

  const joinAs = (guest: string) => s.joinAs(guest);
  /** Joins and waits until the server lists the guest's client. */
  async function joined(guest: string): Promise<GuestTerminal> {
    const t = await s.joined(guest);
    live[guest] = t;
    return t;
  }
  /** The owner types a marker (a positive control: the owner's keys always reach the pane). */
  async function ownerTypes(marker: string): Promise<void> {
    // paste-buffer, not send-keys: tmux 3.7 refuses send-keys when the session's most recent
    // client (its default target client) is read-only (cmd-send-keys.c), even from the owner.
    await asOwner(`set-buffer -b t 'echo ${marker}\n' \\; paste-buffer -d -b t -t '=pair:'`);
    await waitUntil(`${marker} in the pane`, async () => (await hostPane()).includes(`\n${marker}`)).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; pane:\n${await hostPane()}`);
    });
  }

  beforeAll(async () => {
    s = await startSessionLab({
      name: 'session-control',
      guests: { ann: 'pair', todd: 'mirror', bob: 'pair' },
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

  it('status says when no session runs, then who is in once guests join, with the enforced mode and source', async () => {
    let doc = await status();
    expect(doc.format_version).toBe(1);
    expect(doc.hosts[0]!.session.running).toBe(false);
    expect(doc.hosts[0]!.guests.map((g) => [g.name, g.connected])).toEqual([['ann', false], ['todd', false], ['bob', false]]);

    const up = await cli('up');
    expect(up.code).toBe(0);
    await waitUntil('the owner prompt', async () => (await hostPane()).includes('$'));
    await joined('ann');
    await joined('todd');

    doc = await status();
    const h = doc.hosts[0]!;
    expect(h.session.running).toBe(true);
    expect(Date.now() - Date.parse(h.session.since!)).toBeLessThan(30 * 60_000);
    const ann = guestOf(doc, 'ann');
    const todd = guestOf(doc, 'todd');
    expect(ann.connected).toBe(true);
    expect(ann.clients).toHaveLength(1);
    expect(ann.clients[0]).toMatchObject({ mode: 'pair', size: { cols: 100, rows: 30 }, from: s.lab.sourceIp('guest'), via: null });
    expect(todd.clients[0]).toMatchObject({ mode: 'mirror', size: { cols: 100, rows: 30 }, from: s.lab.sourceIp('guest') });
    expect(ann.clients[0]!.idle_seconds).toBeGreaterThanOrEqual(0);
    expect(guestOf(doc, 'bob').connected).toBe(false);

    const text = await cli('status');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^box: session pair running since /);
    expect(text.stdout).toMatch(new RegExp(`  ann: pair, since .*, 100x30, from ${s.lab.sourceIp('guest').replace(/\./g, '\\.')}`));
    expect(text.stdout).toContain('  bob: not connected');
  });

  it('mode demotes a connected pair guest live: their next keystroke is dropped, the owner still types', async () => {
    const ann = live.ann!;
    await ann.type('echo ANN-BEFORE-$((6*7))\n');
    await waitUntil('ann typing as pair', async () => (await hostPane()).includes('ANN-BEFORE-42'));

    const m = await cli('mode', 'ann', 'mirror');
    expect(m.stderr).toBe('');
    expect(m.code).toBe(0);
    expect(m.stdout).toContain('box: ann is now mirror (pair.yaml says pair');
    // The very next keystrokes after the command returned.
    await ann.type('echo ANN-DEMOTED-$((6*7))\n');
    await ownerTypes('OWNER-AFTER-DEMOTE');
    await ann.waitFor('OWNER-AFTER-DEMOTE');
    expect(await hostPane()).not.toContain('ANN-DEMOTED');
    expect(guestOf(await status(), 'ann').clients[0]!.mode).toBe('mirror');
    expect((await asOwner("list-clients -F '#{client_user} #{client_readonly}'")).stdout).toContain('pair-ann 1');

    // plan shows the live change as a difference from pair.yaml
    const p = await cli('plan', '--detailed-exitcode');
    expect(p.code).toBe(2);
    expect(p.stdout).toMatch(/session_access/);
    expect(p.stdout).toMatch(/pair-ann/);

    const back = await cli('mode', 'ann', 'pair');
    expect(back.code).toBe(0);
    await ann.type('echo ANN-PROMOTED-$((6*7))\n');
    await waitUntil('ann typing again', async () => (await hostPane()).includes('ANN-PROMOTED-42'));
    // Typed on the same ssh stream before ANN-PROMOTED: had it reached the pane, it would be there now.
    expect(await hostPane()).not.toContain('ANN-DEMOTED');
    expect((await cli('plan', '--detailed-exitcode')).code).toBe(0);
  });

  it('kick --for ends one guest now and keeps them out; the others stay and still join', async () => {
    const todd = live.todd!;
    const k = await cli('kick', 'todd', '--for', '10m');
    expect(k.stderr).toBe('');
    expect(k.code).toBe(0);
    expect(k.stdout).toMatch(/box: todd detached \(1 client\); connection closed; may not rejoin until /);
    await todd.waitExit(30_000);
    // No ssh session, join program or tmux client of todd's is left (a systemd --user manager may linger a moment).
    await waitUntil("todd's connection gone", async () => !/sshd|tmux|join/.test((await host.run('ps -o args= -u pair-todd || :')).stdout));
    expect((await asOwner("list-clients -F '#{client_user}'")).stdout).not.toContain('pair-todd');

    // Positive control: ann, in the same session, still types into the pane.
    await live.ann!.type('echo ANN-STILL-HERE-$((6*7))\n');
    await waitUntil('ann after the kick', async () => (await hostPane()).includes('ANN-STILL-HERE-42'));

    const again = await joinAs('todd');
    await again.waitFor('has removed pair-todd from the session until');
    expect(await again.waitExit(30_000)).toBe(1);
    // ...while a guest who was not kicked joins the same way.
    await joined('bob');
    const doc = await status();
    expect(guestOf(doc, 'todd').connected).toBe(false);
    expect(Date.parse(guestOf(doc, 'todd').kicked_until!)).toBeGreaterThan(Date.now() + 8 * 60_000);
    expect(guestOf(doc, 'bob').connected).toBe(true);
    expect(guestOf(doc, 'ann').connected).toBe(true);
  });

  it('the next up lets the kicked guest in again; kick without --for lets them straight back', async () => {
    expect((await cli('up')).code).toBe(0);
    await joined('todd');
    const k = await cli('kick', 'bob');
    expect(k.code).toBe(0);
    expect(k.stdout).not.toContain('may not rejoin');
    await live.bob!.waitExit(30_000);
    await joined('bob');
    expect(guestOf(await status(), 'bob').connected).toBe(true);
  });

  it('a kick --for ends by itself: no rejoin before the time, a rejoin after it without an up', async () => {
    const k = await cli('kick', 'bob', '--for', '20s');
    expect(k.code).toBe(0);
    const until = Date.parse(/may not rejoin until (\S+)/.exec(k.stdout)![1]!);
    await live.bob!.waitExit(30_000);
    for (;;) {
      const tried = Date.now();
      const t = await joinAs('bob');
      const screen = await t.waitFor(/has removed pair-bob|\[pair\]/, 30_000);
      if (screen.includes('[pair]')) {
        // the join that got in started (as the host's clock goes) no earlier than the kick's end, give or take a second of clock skew
        expect(Date.now()).toBeGreaterThanOrEqual(until - 1000);
        live.bob = t;
        break;
      }
      expect(tried).toBeLessThan(until + 1000);
      expect(await t.waitExit(30_000)).toBe(1);
      await new Promise((r) => setTimeout(r, 1000));
      expect(Date.now()).toBeLessThan(until + 120_000);
    }
  }, 240_000);

  it('status costs one connection: wall time of the built binary, 10 runs, guests connected', async () => {
    const ms: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const r = await cli('status', '--json');
      ms.push(performance.now() - t0);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).hosts[0].guests.filter((g: { connected: boolean }) => g.connected)).toHaveLength(3);
    }
    ms.sort((a, b) => a - b);
    console.log(`[bench] pairctl status --json, 1 host, 3 guests connected: median ${ms[4]!.toFixed(0)}-${ms[5]!.toFixed(0)} ms, min ${ms[0]!.toFixed(0)}, max ${ms[9]!.toFixed(0)} (${ms.map((x) => x.toFixed(0)).join(' ')})`);
    // one ssh connection per run, seen from the host: sshd logs one accepted login for root each time
    const logins = await host.run("journalctl -u ssh --since '-10min' -o cat | grep -c 'Accepted publickey for root' || :");
    expect(Number(logins.stdout.trim())).toBeGreaterThanOrEqual(10);
  });

  it("up --for ends the session by itself through root's timer: status shows its end, every client is warned, all are detached, and root logs down (time-box)", async () => {
    const mark = Date.now() * 1000;
    expect((await cli('down')).code).toBe(0);
    for (const t of Object.values(live)) await t.waitExit(30_000);
    const up = await cli('up', '--for', '60s');
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/session started; .*; it ends by itself at [0-9TZ:.-]+$/);
    // Root's transient timer holds the end; status shows that one.
    expect((await host.run(`systemctl is-active ${TIMER}`)).stdout.trim()).toBe('active');
    const ann = await joined('ann');
    const doc = await status();
    const ends = Date.parse(doc.hosts[0]!.session.ends!);
    expect(ends).toBe((await timerEnd()) * 1000);
    // up said that end: the host's, from its own clock.
    expect(Date.parse(/it ends by itself at (\S+)$/.exec(up.stdout)![1]!)).toBe(ends);
    expect(ends).toBeGreaterThan(Date.now());
    expect(ends).toBeLessThanOrEqual(Date.now() + 60_000);
    // Positive control while it runs: ann types into the pane.
    await ann.type('echo ANN-IN-THE-BOX-$((6*7))\n');
    await waitUntil('ann typing in the time box', async () => (await hostPane()).includes('ANN-IN-THE-BOX-42'));
    await ann.waitFor('this session ends in 30 seconds', 60_000);
    // What the owner sets in its own server does not move the end status shows.
    await asOwner('set-option -g @pairctl_ends 4102444800');
    expect((await status()).hosts[0]!.session.ends).toBe(doc.hosts[0]!.session.ends);
    await ann.waitExit(90_000);
    expect(await ann.screen()).toMatch(/\[(server exited|lost server)\]/);
    await waitUntil('the server gone', async () => (await host.run(`test -S ${SOCKET} && runuser -u ${OWNER} -- tmux -S ${SOCKET} list-sessions`)).code !== 0, 30_000);
    expect((await status()).hosts[0]!.session.running).toBe(false);
    // Root's entry, with the reason; the down before the box (the positive control) has none.
    let downs: LogEntry[] = [];
    await waitUntil("root's time-box down in pairctl log", async () => (downs = (await logEntries()).filter((e) => e.event === 'down' && e.time_us > mark)).length === 2, 30_000);
    expect(downs.map((e) => [e.writer, e.reason, e.detail])).toEqual([
      ['pairctl', null, 'session pair'],
      ['pairctl', 'time-box', 'session pair'],
    ]);
    expect(downs[1]!.time_us).toBeGreaterThanOrEqual(ends * 1000);
    // The elapsed timer is gone (RemainAfterElapse=no), and the next up starts a fresh session.
    await waitUntil('the timer unloaded', async () => (await host.run(`systemctl show -p LoadState --value ${TIMER}`)).stdout.trim() === 'not-found', 30_000);
    expect((await cli('up')).stdout).toContain('session started');
  }, 180_000);

  it("a second up --for replaces root's timer, up without --for stops it, and down before the end stops it: no time-box entry", async () => {
    const units = async () => (await host.run("systemctl list-units --all --no-legend --plain 'pairctl-timebox-*.timer'")).stdout.trim().split('\n').filter(Boolean);
    expect((await cli('up', '--for', '10m')).code).toBe(0);
    const first = await timerEnd();
    expect((await cli('up', '--for', '20m')).code).toBe(0);
    const second = await timerEnd();
    expect(second - first).toBeGreaterThanOrEqual(590);
    expect(await units()).toHaveLength(1);
    expect(Date.parse((await status()).hosts[0]!.session.ends!)).toBe(second * 1000);
    expect((await cli('up')).code).toBe(0);
    expect(await units()).toEqual([]);
    expect((await status()).hosts[0]!.session.ends).toBeNull();

    const mark = Date.now() * 1000;
    expect((await cli('up', '--for', '15s')).code).toBe(0);
    const end = await timerEnd();
    expect((await cli('down')).code).toBe(0);
    expect(await units()).toEqual([]);
    // Past the box's end (and its second of accuracy): nothing fired.
    await waitUntil("past the box's end", async () => Date.now() > end * 1000 + 5_000, 60_000, 500);
    const downs = (await logEntries()).filter((e) => e.event === 'down' && e.time_us > mark);
    expect(downs.map((e) => e.reason)).toEqual([null]);
    expect((await cli('up')).code).toBe(0);
  }, 120_000);

  it("the owner's status line says who joins and leaves, with the mode, and names who is watching", async () => {
    expect((await cli('up')).code).toBe(0);
    // The owner's own terminal on the session, as the owner (root's ssh, then runuser).
    const owner = await openTerminal(
      ['ssh', '-F', s.lab.sshConfigFile, '-tt', 'host', `runuser -u ${OWNER} -- tmux -S ${SOCKET} attach-session -t =pair`],
      { cols: 160, rows: 30 },
    );
    s.terminals.push(owner);
    await waitUntil("the owner's client", async () => (await asOwner("list-clients -F '#{client_user}'")).stdout.split('\n').includes(OWNER));
    await joined('todd');
    await owner.waitFor('pairctl: todd joined (mirror)');
    await owner.waitFor('watching: todd(mirror)');
    await joined('ann');
    await owner.waitFor('pairctl: ann joined (pair)');
    await owner.waitFor('watching: ann(pair) todd(mirror)');
    // a live mode change shows too
    expect((await cli('mode', 'ann', 'mirror')).code).toBe(0);
    await owner.waitFor('pairctl: ann is now mirror');
    await owner.waitFor('watching: ann(mirror) todd(mirror)');
    expect((await cli('kick', 'todd')).code).toBe(0);
    await owner.waitFor('pairctl: todd left');
    await owner.waitFor(/watching: ann\(mirror\) +\d/);
    // Guests' own status lines show the same names, but no guest is told of a join.
    expect(await live.ann!.screen()).not.toContain('joined');
  }, 120_000);
});
