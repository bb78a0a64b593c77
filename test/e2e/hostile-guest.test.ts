/**
 * Issue 10 (parts 1, 8, 9) and issue 11 (tmux side), proven on a real Debian host: a pair guest
 * types into the owner's tmux, and the owner controls the session's socket and directory, so
 * pairctl's root side must trust nothing there. Every attack here has its positive control in
 * the same run: the planted hook does fire for an owner-run client, the unlocked binding does let
 * a mirror guest into copy mode on tmux >= 3.7, and the owner's copy mode works.
 *
 * Release: $PAIRCTL_TEST_RELEASE (bookworm: tmux 3.3a, trixie: 3.5a, forky: 3.7c).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTerminal, type GuestTerminal } from '../machines/guest-terminal.js';
import { labUnavailableReason, type LabMachine } from '../machines/lab.js';
import { OWNER, SOCKET, startSessionLab, type SessionLab } from '../machines/session-lab.js';
import { waitUntil } from '../machines/wait.js';

const unavailable = labUnavailableReason();
const SESSION_DIR = '/run/pairctl/pair';

describe.skipIf(unavailable)('a hostile pair guest and owner against pairctl on a real host', () => {
  let s: SessionLab;
  let host: LabMachine;

  const cli = (...args: string[]) => s.cli(...args);
  const asOwner = (cmd: string) => s.asOwner(cmd);
  const ownerTmux = (args: string) => s.ownerTmux(args);
  const inMode = async () => (await ownerTmux("display-message -p -t '=pair:' '#{pane_in_mode}'")).stdout.trim();
  const readOnlyRefusals = async () => ((await ownerTmux('show-messages')).stdout.match(/client is read-only/gi) ?? []).length;

  /** The owner's own client, attached in a real terminal (root logs in, then becomes the owner). */
  async function ownerTerminal(): Promise<GuestTerminal> {
    const t = await openTerminal(
      ['ssh', '-F', s.lab.sshConfigFile, '-tt', 'host', `runuser -u ${OWNER} -- tmux -S ${SOCKET} attach-session -t =pair`],
      { cols: 100, rows: 30 },
    );
    s.terminals.push(t);
    return t;
  }

  /** Files root would have written or changed had it run a client the owner controls. */
  const rootTraces = async () => (await host.run('ls -la /root/pwned-* 2>/dev/null; stat -c "%U:%G %a" /etc/pairctl-victim')).stdout;

  beforeAll(async () => {
    s = await startSessionLab({
      name: 'hostile',
      guests: { ann: 'pair', todd: 'mirror' },
      hostLines: ['tunnel: { provider: lan }'],
      session: ['name: pair', 'modes: [mirror, pair]', 'default_mode: mirror'],
      connectTimeout: 20,
    });
    host = s.host;
    expect((await host.run('install -m 0600 -o root -g root /dev/null /etc/pairctl-victim')).code).toBe(0);
    await s.apply();
    await s.up();
  }, 300_000);

  afterAll(async () => {
    await s?.close();
  });

  it('makes the session directory setgid so the socket gets the guests\' group without root touching it', async () => {
    const st = await host.run(`stat -c '%U:%G %a' ${SESSION_DIR} ${SOCKET}`);
    expect(st.stdout).toBe(`${OWNER}:pairctl 2710\n${OWNER}:pairctl 660\n`);
    // The plan says nothing about tmux's age: there is nothing for the user to do about it.
    const p = await cli('plan', '--detailed-exitcode');
    expect(p.stdout).not.toMatch(/older than 3\.7/);
    expect(p.code).toBe(0);
  });

  it('lets a mirror guest join read-only on this tmux, and plans no changes while guests are attached', async () => {
    const todd = await s.joinAs('todd');
    const ann = await s.joinAs('ann');
    await todd.waitFor(/\[pair\]/);
    await ann.waitFor(/\[pair\]/);
    const clients = await ownerTmux("list-clients -F '#{client_user} #{client_readonly}'");
    expect(clients.stdout).toContain('pair-todd 1');
    expect(clients.stdout).toContain('pair-ann 0');
    // tmux turns on the socket's x bits while clients are attached: the case is live.
    expect((await host.run(`stat -c %a ${SOCKET}`)).stdout.trim()).toBe('770');
    const p = await cli('plan', '--detailed-exitcode');
    expect(p.stdout).toContain('No changes.');
    expect(p.code).toBe(0);
  });

  it('keeps a mirror guest out of copy mode while the owner uses it', async () => {
    const todd = s.terminals[0]!;
    const owner = await ownerTerminal();
    await owner.waitFor(/\[pair\]/);

    // Control: one binding left unwrapped. On tmux >= 3.7 the mirror guest gets into copy mode
    // through it (the attack is real); before 3.7 copy-mode is not a read-only command at all.
    // (The session re-wraps a binding right after any bind-key, hook after-bind-key[90]: the
    // owner takes that hook away first so that the binding stays open for the control.)
    expect((await ownerTmux('set-hook -gu after-bind-key[90]')).code).toBe(0);
    expect((await ownerTmux('bind-key -T prefix [ copy-mode')).code).toBe(0);
    const p = await cli('plan', '--detailed-exitcode');
    expect(p.stdout).toMatch(/mode keys/);
    expect(p.code).toBe(2);
    const before = await readOnlyRefusals();
    await todd.sendKeys('C-b', '[');
    if (s.tmuxVersion >= 3.7) {
      await waitUntil('the mirror guest in copy mode through the unwrapped key', async () => (await inMode()) === '1');
      expect((await ownerTmux("send-keys -X -t '=pair:' cancel")).code).toBe(0);
      await waitUntil('copy mode cancelled', async () => (await inMode()) === '0');
    } else {
      await waitUntil('tmux refusing copy-mode to the read-only client', async () => (await readOnlyRefusals()) > before);
      expect(await inMode()).toBe('0');
    }

    // apply locks the binding again; now the guest is refused on every version.
    const a = await cli('apply', '--yes');
    expect(a.code).toBe(0);
    // (list-keys with a key argument prints nothing on 3.7c: read the whole table.)
    expect((await ownerTmux('list-keys -T prefix')).stdout).toMatch(/-T prefix +\[ +if-shell -F 1 \{ copy-mode \}/);
    for (const keysToTry of [['C-b', '['], ['C-b', 'PPage']]) {
      const refused = await readOnlyRefusals();
      await todd.sendKeys(...keysToTry);
      await waitUntil(`tmux refusing ${keysToTry.join(' ')} to the mirror guest`, async () => (await readOnlyRefusals()) > refused);
      expect(await inMode()).toBe('0');
    }

    // The owner's copy mode works, and the mirror guest cannot drive it.
    await owner.sendKeys('C-b', '[');
    await waitUntil('the owner in copy mode', async () => (await inMode()) === '1');
    const refused = await readOnlyRefusals();
    await todd.sendKeys('q');
    await waitUntil('tmux refusing q to the mirror guest', async () => (await readOnlyRefusals()) > refused);
    expect(await inMode()).toBe('1');
    await owner.sendKeys('q');
    await waitUntil('the owner leaving copy mode', async () => (await inMode()) === '0');
  });

  it('runs nothing as root when a pair guest plants hooks from its session', async () => {
    const ann = s.terminals[1]!;
    // The pair guest types into the owner's shell in the shared pane: hooks on every command
    // pairctl's side runs, each writing through the client (save-buffer) to a root-only path.
    // Only list-sessions, list-keys and display-message of these run after-hooks (CMD_AFTERHOOK).
    const hooks = ['list-sessions', 'list-keys', 'display-message']
      .map((c) => `tmux set-hook -g after-${c} 'run-shell "id -un > /tmp/hook-${c}" ; save-buffer -b p /tmp/saved-${c} ; save-buffer -b p /root/pwned-${c}'`)
      .join('; ');
    await ann.type(`tmux set-buffer -b p planted; ${hooks}; echo PLANTED-$((6*7))\n`);
    await waitUntil('the hooks planted', async () => (await ownerTmux("capture-pane -p -t '=pair:'")).stdout.includes('PLANTED-42'));
    await host.run('rm -f /tmp/hook-* /tmp/saved-*');

    for (const step of [['plan'], ['apply', '--yes'], ['up']]) {
      const r = await cli(...step);
      expect(r.code, `${step[0]}: ${r.stderr}`).toBe(0);
    }
    // Control: the hooks fired for pairctl's (owner-run) clients, and the client did the I/O.
    const fired = await host.run("for f in /tmp/hook-*; do echo \"$f $(cat $f)\"; done; stat -c '%n %U' /tmp/saved-*");
    expect(fired.stdout).toContain(`/tmp/hook-list-keys ${OWNER}`);
    expect(fired.stdout).toContain(`/tmp/saved-list-keys ${OWNER}`);
    expect(fired.stdout).not.toMatch(/ root$/m);
    // The attack: nothing written as root.
    expect(await rootTraces()).toBe('root:root 600\n');
    for (const c of ['list-sessions', 'list-keys', 'display-message']) await ownerTmux(`set-hook -gu after-${c}`);
  });

  it('changes nothing as root when the owner puts a symlink or a listener of its own at the socket', async () => {
    // A symlink to a root-owned file, where the socket was.
    await asOwner(`sh -c 'mv ${SOCKET} ${SESSION_DIR}/real.sock && ln -s /etc/pairctl-victim ${SOCKET}'`);
    const p = await cli('plan');
    expect(p.code).toBe(0);
    const a = await cli('apply', '--yes');
    expect(a.code).toBe(0);
    expect((await host.run(`readlink ${SOCKET}`)).stdout.trim()).toBe('/etc/pairctl-victim');
    expect(await rootTraces()).toBe('root:root 600\n');
    // up, as the owner, removes the symlink and starts a server there: root followed nothing.
    const up = await cli('up');
    expect(up.code, up.stderr).toBe(0);
    expect((await host.run(`stat -c '%F %U:%G' ${SOCKET}`)).stdout.trim()).toBe(`socket ${OWNER}:pairctl`);
    expect(await rootTraces()).toBe('root:root 600\n');
    await asOwner(`tmux -S ${SOCKET} kill-server`);
    await asOwner(`tmux -S ${SESSION_DIR}/real.sock kill-server`);
    await waitUntil('both servers gone', async () => (await host.run('pgrep -u bhorseman tmux')).code !== 0);

    // A tmux server of the owner's own at the socket's path, with hooks in its config.
    const evil = [
      'set-buffer -b p planted',
      ...['list-sessions', 'list-keys', 'list-clients', 'display-message'].map(
        (c) => `set-hook -g after-${c} 'run-shell "id -un > /tmp/evil-${c}" ; save-buffer -b p /tmp/evil-saved-${c} ; save-buffer -b p /root/pwned-evil-${c}'`,
      ),
    ].join('\n');
    await host.run(`cat > /home/${OWNER}/evil.conf && chown ${OWNER} /home/${OWNER}/evil.conf`, { input: `${evil}\n` });
    expect((await asOwner(`tmux -S ${SOCKET} -f /home/${OWNER}/evil.conf new-session -d -s pair`)).code).toBe(0);
    await host.run('rm -f /tmp/evil-*');
    for (const step of [['plan'], ['apply', '--yes'], ['up'], ['down']]) {
      const r = await cli(...step);
      expect(r.code, `${step[0]}: ${r.stderr}`).toBe(0);
    }
    // Control: the listener's hooks ran, for the owner's clients only.
    const fired = await host.run("stat -c '%n %U' /tmp/evil-*");
    expect(fired.stdout).toContain(`/tmp/evil-saved-list-keys ${OWNER}`);
    expect(fired.stdout).not.toMatch(/ root$/m);
    expect(await rootTraces()).toBe('root:root 600\n');
    // down ended the owner's server as the owner and left no directory behind.
    expect((await host.run(`test -e ${SESSION_DIR}`)).code).not.toBe(0);
    expect((await host.run(`pgrep -u ${OWNER} -f 'tmux -S ${SOCKET}'`)).code).not.toBe(0);
  });
});
