/**
 * Session recording on a real host (issue 13, part 6): with `session.record: true`, apply sets up
 * the recorder (a root systemd service whose tmux client runs as the system account
 * pairctl-record); `up` lets it in read-only; what the owner types ends up in an asciicast v2 file
 * that Debian's asciinema replays; a guest joining with the real ssh client is told the session is
 * recorded and shows up as a marker; the file is root's alone; record_keep bounds how many stay;
 * `pairctl recordings` lists them.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labUnavailableReason, type LabMachine } from '../machines/lab.js';
import { startSessionLab, type SessionLab } from '../machines/session-lab.js';
import { waitUntil } from '../machines/wait.js';

const unavailable = labUnavailableReason();
const DIR = '/var/lib/pairctl/recordings';
const RECORDER = 'pairctl-record';

interface RecordingsDoc {
  format_version: number;
  hosts: Array<{ id: string; reachable: boolean; record: boolean; recordings: Array<{ file: string; path: string; session: string; started: string; duration_seconds: number | null; bytes: number }> }>;
}

type CastEvent = [number, string, string];

/** Checks a cast line by line as asciicast v2; returns the header and the events. */
function parseCast(text: string): { header: Record<string, unknown>; events: CastEvent[] } {
  const lines = text.split('\n');
  expect(lines.at(-1)).toBe('');
  lines.pop();
  const header = JSON.parse(lines[0]!) as Record<string, unknown>;
  expect(header.version).toBe(2);
  expect(Number.isInteger(header.width) && (header.width as number) > 0).toBe(true);
  expect(Number.isInteger(header.height) && (header.height as number) > 0).toBe(true);
  expect(typeof header.timestamp).toBe('number');
  let last = 0;
  const events = lines.slice(1).map((line, i) => {
    const e = JSON.parse(line) as unknown;
    if (!Array.isArray(e) || e.length !== 3 || typeof e[0] !== 'number' || typeof e[1] !== 'string' || typeof e[2] !== 'string') {
      throw new Error(`line ${i + 2} is not an asciicast v2 event: ${line.slice(0, 200)}`);
    }
    expect(['o', 'r', 'm']).toContain(e[1]);
    if (e[1] === 'r') expect(e[2]).toMatch(/^\d+x\d+$/);
    expect(e[0]).toBeGreaterThanOrEqual(last);
    last = e[0];
    return e as CastEvent;
  });
  return { header, events };
}

describe.skipIf(unavailable)('session recording on a real host', () => {
  let s: SessionLab;
  let host: LabMachine;
  const marker = `REC-${process.pid}-${Date.now() % 100000}`;

  const cli = (...args: string[]) => s.cli(...args);
  const asOwner = (tmuxArgs: string) => s.ownerTmux(tmuxArgs);
  const hostPane = async () => (await asOwner("capture-pane -p -J -S -200 -t '=pair:'")).stdout;
  const clientUsers = async () => (await asOwner("list-clients -F '#{client_user}'")).stdout.split('\n').filter(Boolean);
  const casts = async () => (await host.run(`ls -1 ${DIR} 2>/dev/null || :`)).stdout.split('\n').filter((n) => n.endsWith('.cast'));
  const cast = async (name: string) => (await host.run(`cat ${DIR}/${name}`)).stdout;

  /** up, then wait for the recorder to attach and start a new file (returns its name). */
  async function upRecorded(): Promise<string> {
    const before = new Set(await casts());
    const up = await cli('up');
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    await waitUntil('the recorder attached', async () => (await clientUsers()).includes(RECORDER), 60_000, 250);
    let name = '';
    await waitUntil('a new recording', async () => {
      name = (await casts()).find((n) => !before.has(n)) ?? '';
      return name !== '';
    }, 30_000, 250);
    return name;
  }
  /** down, then wait for the recorder to close the file. */
  async function downRecorded(name: string): Promise<string> {
    const down = await cli('down');
    expect(down.code).toBe(0);
    let text = '';
    await waitUntil(`${name} closed`, async () => {
      text = await cast(name);
      return text.includes('"recording ended"');
    }, 30_000, 250);
    return text;
  }

  beforeAll(async () => {
    s = await startSessionLab({ name: 'session-record', guests: { ann: 'mirror' }, session: ['record: true', 'record_keep: 2'], connectTimeout: 10 });
    host = s.host;
    await s.apply();
  }, 300_000);

  afterAll(async () => {
    await s?.close();
  });

  it('apply sets up the recorder: a running service, a system account in the guests\' group, a root-only directory; a second plan changes nothing', async () => {
    expect((await host.run('systemctl is-active pairctl-record.service')).stdout.trim()).toBe('active');
    const pw = (await host.run(`getent passwd ${RECORDER}`)).stdout.trim().split(':');
    expect(pw[6]).toBe('/usr/sbin/nologin');
    expect((await host.run(`id -nG ${RECORDER}`)).stdout.split(/\s+/)).toContain('pairctl');
    expect((await host.run(`stat -c '%U:%G:%a' ${DIR} /usr/local/libexec/pairctl/record`)).stdout.trim().split('\n')).toEqual(['root:root:700', 'root:root:755']);
    // The recorder runs as root; its tmux client does not.
    const p = await cli('plan', '--detailed-exitcode');
    expect(p.stdout).toContain('No changes.');
    expect(p.code).toBe(0);
  });

  let first = '';
  let firstText = '';
  it('records what the owner types, a resize and a mirror guest joining (told it is recorded) and leaving', async () => {
    first = await upRecorded();
    expect(first).toMatch(/^pair-\d{8}T\d{6}Z\.cast$/);
    // The recorder's tmux client runs as pairctl-record, read-only, never as root.
    const rec = (await asOwner("list-clients -F '#{client_user} #{client_readonly} #{client_pid}'")).stdout.split('\n').find((l) => l.startsWith(`${RECORDER} `))!;
    expect(rec.split(' ')[1]).toBe('1');
    expect((await host.run(`ps -o user= -p ${rec.split(' ')[2]}`)).stdout.trim()).toBe(RECORDER);
    // status: the recorder is no guest and no other client.
    const st = JSON.parse((await cli('status', '--json')).stdout) as { hosts: Array<{ other_clients: number; recording: boolean }> };
    expect(st.hosts[0]).toMatchObject({ other_clients: 0, recording: true });
    // The running session's ACL, recorder included, is what pair.yaml wants.
    expect((await cli('plan', '--detailed-exitcode')).code).toBe(0);

    await waitUntil('the owner prompt', async () => (await hostPane()).includes('$'));
    // paste-buffer, not send-keys: tmux 3.7 refuses send-keys when the session's most recent
    // client is read-only (the recorder), even from the owner.
    await asOwner(`set-buffer -b t 'echo ${marker}-$((6*7))\n' \\; paste-buffer -d -b t -t '=pair:'`);
    await waitUntil('the marker in the pane', async () => (await hostPane()).includes(`\n${marker}-42`));
    await asOwner("resize-window -t '=pair:' -x 132 -y 40");

    const ann = await s.joinAs('ann');
    await ann.waitFor(`${marker}-42`);
    await waitUntil('ann joined, in the recording', async () => (await cast(first)).includes('"ann joined (mirror)"'), 30_000, 250);
    // ann leaves; tmux gives the terminal back, and the notice printed before attaching is there.
    await ann.sendKeys('C-b', 'd');
    await ann.waitExit(30_000);
    expect(await ann.screen()).toContain('pairctl: this session is recorded.');
    await waitUntil('ann left, in the recording', async () => (await cast(first)).includes('"ann left"'), 30_000, 250);

    firstText = await downRecorded(first);
    const { header, events } = parseCast(firstText);
    expect(header).toMatchObject({ version: 2, width: 200, height: 50 });
    // The window and the status line: the recorded screen is what the owner's terminal shows.
    expect(events.some(([, k, d]) => k === 'r' && d === '132x41')).toBe(true);
    const markers = events.filter(([, k]) => k === 'm').map(([, , d]) => d);
    expect(markers).toEqual(expect.arrayContaining(['ann joined (mirror)', 'ann left', 'recording ended']));
    expect(markers.indexOf('ann joined (mirror)')).toBeLessThan(markers.indexOf('ann left'));
    expect(events.filter(([, k]) => k === 'o').map(([, , d]) => d).join('')).toContain(`${marker}-42`);
    // The owner's status line says a recording runs (the recorder draws what the owner sees).
    expect(events.filter(([, k]) => k === 'o').map(([, , d]) => d).join('')).toContain(' REC ');
  });

  it("Debian's asciinema replays the recording, and what the host typed is in it", () => {
    const local = join(s.dir, first);
    writeFileSync(local, firstText);
    // asciinema 2.2 opens /dev/tty even for cat: script(1) gives it a terminal.
    const out = execFileSync('script', ['-qec', `asciinema cat ${local}`, '/dev/null'], { encoding: 'utf8', env: { ...process.env, LANG: 'C.UTF-8', TERM: 'xterm' }, timeout: 120_000 });
    expect(out).toContain(`${marker}-42`);
    // And plays it, at full speed.
    const played = execFileSync('script', ['-qec', `asciinema play -i 0.05 -s 100 ${local}`, '/dev/null'], { encoding: 'utf8', env: { ...process.env, LANG: 'C.UTF-8', TERM: 'xterm' }, timeout: 120_000 });
    expect(played).toContain(`${marker}-42`);
  });

  it('the file is root\'s alone: 0600 in a 0700 directory; a guest and the recorder account cannot read it, root can', async () => {
    expect((await host.run(`stat -c '%U:%G:%a' ${DIR}/${first}`)).stdout.trim()).toBe('root:root:600');
    expect((await host.run(`stat -c '%U:%G:%a' ${DIR}`)).stdout.trim()).toBe('root:root:700');
    for (const user of ['pair-ann', RECORDER]) {
      const r = await host.run(`runuser -u ${user} -- cat ${DIR}/${first}`);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Permission denied/);
      expect(r.stdout).toBe('');
    }
    // Positive control: the same read as root works.
    const root = await host.run(`cat ${DIR}/${first}`);
    expect(root.code).toBe(0);
    expect(root.stdout.split('\n')[0]).toContain('"version": 2');
  });

  it('record_keep: 2 keeps the two newest of three runs; pairctl recordings lists them', async () => {
    const names = [first];
    for (let i = 0; i < 2; i++) {
      const name = await upRecorded();
      await downRecorded(name);
      names.push(name);
    }
    const left = (await casts()).sort();
    expect(left).toEqual(names.slice(1).sort());
    expect(left).not.toContain(first);

    const r = await cli('recordings', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as RecordingsDoc;
    expect(doc.format_version).toBe(1);
    const h = doc.hosts[0]!;
    expect(h).toMatchObject({ id: 'box', reachable: true, record: true });
    expect(h.recordings.map((x) => x.file)).toEqual(left);
    for (const x of h.recordings) {
      expect(x.session).toBe('pair');
      expect(x.path).toBe(`${DIR}/${x.file}`);
      expect(x.bytes).toBeGreaterThan(100);
      expect(x.duration_seconds).not.toBeNull();
      expect(Math.abs(Date.parse(x.started) - Date.now())).toBeLessThan(30 * 60_000);
    }
    const text = await cli('recordings');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`box: 2 recordings in ${DIR}`);
    expect(text.stdout).toContain(left[0]!);
  });

  it('record turned off: apply removes the recorder, its account and the notice, and keeps the recordings', async () => {
    const before = (await casts()).sort();
    writeFileSync(s.file, readFileSync(s.file, 'utf8').replace('  record: true\n', '  record: false\n'));
    const a = await cli('apply', '--yes');
    expect(a.stderr).not.toMatch(/error/i);
    expect(a.code).toBe(0);
    expect((await host.run('systemctl is-active pairctl-record.service')).stdout.trim()).not.toBe('active');
    expect((await host.run('test -e /etc/systemd/system/pairctl-record.service; echo $?')).stdout.trim()).toBe('1');
    expect((await host.run(`getent passwd ${RECORDER} || echo gone`)).stdout.trim()).toBe('gone');
    expect((await host.run('cat /usr/local/libexec/pairctl/join')).stdout).not.toContain('recorded');
    // Positive control: the join program is still there, and the recordings are kept.
    expect((await host.run('test -x /usr/local/libexec/pairctl/join; echo $?')).stdout.trim()).toBe('0');
    expect((await casts()).sort()).toEqual(before);
    expect((await cli('plan', '--detailed-exitcode')).code).toBe(0);
    const doc = JSON.parse((await cli('recordings', '--json')).stdout) as RecordingsDoc;
    expect(doc.hosts[0]).toMatchObject({ record: false });
    expect(doc.hosts[0]!.recordings.map((x) => x.file)).toEqual(before);
  });
});
