/**
 * The owner's own tmux setup in the shared session (issue 13, part 8), on a real host with real
 * ssh clients as guests: the owner's ~/.tmux.conf (prefix C-a, a status style, a key table of its
 * own, `bind s choose-tree`, session-switching keys, a hook, and settings that would undo the
 * lockdown) is in effect in the shared session, pairctl's overrides still hold, a mirror guest
 * pressing the owner's keys stays read-only and in the one session (control: a pair guest's same
 * keys do switch sessions, and its C-a c makes a window), a broken owner's file does not stop
 * `up`, and `session.owner_tmux_config: false` leaves the owner's file out.
 *
 * Release: $PAIRCTL_TEST_RELEASE (bookworm: tmux 3.3a, trixie: 3.5a, forky: 3.7c).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GuestTerminal } from '../machines/guest-terminal.js';
import { labUnavailableReason } from '../machines/lab.js';
import { OWNER, SOCKET, startSessionLab, type SessionLab } from '../machines/session-lab.js';
import { waitUntil } from '../machines/wait.js';

const unavailable = labUnavailableReason();
const HOME = `/home/${OWNER}`;

/** A rich owner's configuration: theme, prefix, a table of its own, and lines that fight the lockdown. */
const OWNER_CONF = [
  'set -g prefix C-a',
  'unbind C-b',
  'bind C-a send-prefix',
  "set -g status-style 'bg=colour22,fg=white'",
  "set -g status-right '#[fg=yellow]OWNER-RIGHT'",
  'set -g @owner_theme loaded',
  'bind s choose-tree',
  'bind -n M-s choose-tree -s',
  'bind -n M-n switch-client -n',
  'bind t switch-client -T ownertable',
  'bind -T ownertable n switch-client -n',
  "set-hook -g client-attached 'set -g @owner_hook fired'",
  // what a reset plugin or a habit of the owner's would do to the lockdown
  'set -g exit-empty off',
  'set -g detach-on-destroy off',
  "set -g lock-command 'sh'",
  '',
].join('\n');

describe.skipIf(unavailable)("the owner's own tmux configuration in the shared session", () => {
  let s: SessionLab;

  const cli = (...args: string[]) => s.cli(...args);
  /** tmux as the owner inside the machine: how the owner reads their own server. */
  const asOwner = (tmuxArgs: string) => s.ownerTmux(tmuxArgs);
  const option = async (name: string) => (await asOwner(`show-options -gv ${name}`)).stdout.trim();
  const clientSession = async (account: string) =>
    (await asOwner("list-clients -F '#{client_user} #{client_session}'")).stdout
      .split('\n')
      .filter((l) => l.startsWith(`${account} `))
      .map((l) => l.split(' ')[1]);
  const readOnlyRefusals = async () => ((await asOwner('show-messages')).stdout.match(/client is read-only/gi) ?? []).length;
  const windows = async () => (await asOwner("list-windows -t '=pair' -F '#{window_id}'")).stdout.trim().split('\n').length;
  const writeOwnerConf = (text: string) => s.host.run(`cat > ${HOME}/.tmux.conf && chown ${OWNER}: ${HOME}/.tmux.conf`, { input: text });

  async function joinAs(guest: string): Promise<GuestTerminal> {
    const t = await s.joinAs(guest);
    await waitUntil(`${guest}'s client`, async () => (await clientSession(`pair-${guest}`)).length === 1);
    return t;
  }

  /** pairctl's overrides, read as the owner from the running server. */
  async function expectOverrides(): Promise<void> {
    const prefixKeys = (await asOwner('list-keys -T prefix')).stdout;
    for (const k of ['s', 'w', 'L', '\\(', '\\)', 'D']) expect(prefixKeys, `prefix ${k}`).not.toMatch(new RegExp(`^bind-key +(-r +)?-T prefix +${k} `, 'm'));
    expect(await option('exit-empty')).toBe('on');
    expect(await option('detach-on-destroy')).toBe('on');
    expect(await option('lock-command')).toBe('true');
    const hooks = (await asOwner('show-hooks -g')).stdout;
    expect(hooks).toMatch(/^client-attached\[90\] run-shell -b .*\/presence /m);
    expect(hooks).toMatch(/^client-detached\[90\] run-shell -b .*\/presence /m);
    expect(hooks).toMatch(/^client-attached\[91\] run-shell -b .*\/mode-lock /m);
    expect(hooks).toMatch(/^after-bind-key\[90\] /m);
    // Every binding in every table is refused to read-only clients (the probe's own count).
    expect((await s.asOwner(`/usr/local/libexec/pairctl/mode-lock ${SOCKET} count`)).stdout.trim()).toBe('0');
  }

  async function restart(): Promise<void> {
    for (const t of s.terminals.splice(0)) await t.close();
    const down = await cli('down');
    expect(down.code, down.stderr).toBe(0);
    const up = await cli('up');
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toBe('');
  }

  beforeAll(async () => {
    s = await startSessionLab({
      name: 'owner-tmux-config',
      guests: { ann: 'pair', todd: 'mirror' },
      hostLines: ['tunnel: { provider: lan }'],
      session: ['name: pair', 'modes: [mirror, pair]'],
      connectTimeout: 20,
    });
    expect((await writeOwnerConf(OWNER_CONF)).code).toBe(0);
    await s.apply();
    await s.up();
  }, 300_000);

  afterAll(async () => {
    await s?.close();
  });

  it("runs the shared session with the owner's options, and pairctl's overrides after them", async () => {
    expect(await option('prefix')).toBe('C-a');
    expect(await option('status-style')).toContain('colour22');
    expect(await option('@owner_theme')).toBe('loaded');
    // pairctl's "watching" segment in front of the owner's own status-right, kept unexpanded
    expect(await option('status-right')).toBe('#{?@pairctl_guests,#[reverse] watching: #{@pairctl_guests} #[default] ,}#[fg=yellow]OWNER-RIGHT');
    // (every table at once: tmux 3.7c printed nothing for `list-keys -T ownertable` here)
    const all = (await asOwner('list-keys')).stdout;
    expect(all).toMatch(/-T root +M-n +if-shell -F 1 \{ switch-client -n \}/);
    expect(all).toMatch(/-T ownertable +n +if-shell -F 1 \{ switch-client -n \}/);
    // the owner's hook stays beside pairctl's
    expect((await asOwner('show-hooks -g')).stdout).toMatch(/^client-attached\[0\] set-option -g @owner_hook fired$/m);
    await expectOverrides();
    // The session_access probe counts the owner's tables too: nothing open, nothing to change.
    const p = await cli('plan', '--detailed-exitcode');
    expect(p.stdout).toContain('No changes.');
    expect(p.code).toBe(0);
  });

  it("keeps a mirror guest read-only and in the session whatever owner's keys it presses; a pair guest's same keys work", async () => {
    // A second session in the server: something to switch to, so the attack is real.
    expect((await asOwner('new-session -d -s other')).code).toBe(0);
    const todd = await joinAs('todd');
    const ann = await joinAs('ann');
    await todd.waitFor('OWNER-RIGHT');
    expect(await option('@owner_hook')).toBe('fired');

    // Control: the pair guest's C-a prefix is live (C-a c makes a window) and the owner's
    // session-switching key does switch sessions. (tmux 3.3a drops a prefix binding's
    // `switch-client -T` here even unwrapped, measured: the table key is tried by the mirror only.)
    const before = await windows();
    await ann.sendKeys('C-a', 'c');
    await waitUntil('a window made with C-a c', async () => (await windows()) === before + 1);
    await ann.sendKeys('M-n');
    await waitUntil('the pair guest switched to the other session', async () => (await clientSession('pair-ann'))[0] === 'other');
    await ann.sendKeys('M-n');
    await waitUntil('the pair guest back in the shared session', async () => (await clientSession('pair-ann'))[0] === 'pair');

    // The attack: the same keys from the mirror guest, each refused by tmux, nothing changed.
    const winsBefore = await windows();
    for (const press of [['C-a', 't', 'n'], ['M-n'], ['M-s'], ['C-a', 'c'], ['C-a', '[']]) {
      const refused = await readOnlyRefusals();
      await todd.sendKeys(...press);
      await waitUntil(`tmux refusing ${press.join(' ')} to the mirror guest`, async () => (await readOnlyRefusals()) > refused);
      expect(await clientSession('pair-todd'), press.join(' ')).toEqual(['pair']);
    }
    // prefix s is unbound (pairctl's override of the owner's `bind s choose-tree`): nothing runs.
    await todd.sendKeys('C-a', 's');
    await ann.sendKeys('C-a', 's');
    expect(await clientSession('pair-todd')).toEqual(['pair']);
    expect((await asOwner("display-message -p -t '=pair:' '#{pane_in_mode}'")).stdout.trim()).toBe('0');
    expect(await windows()).toBe(winsBefore);
    expect((await asOwner("list-clients -F '#{client_user} #{client_readonly}'")).stdout).toContain('pair-todd 1');
    // A binding the owner adds while guests are in is wrapped too (after-bind-key).
    expect((await asOwner('bind -T ownertable p switch-client -p')).code).toBe(0);
    await waitUntil('the new binding wrapped', async () => /-T ownertable +p +if-shell -F 1 \{ switch-client -p \}/.test((await asOwner('list-keys')).stdout));
    await asOwner('kill-session -t =other');
  });

  it("starts the session when the owner's file has a failing line, with the rest of it and every override in effect", async () => {
    await writeOwnerConf(OWNER_CONF.replace('set -g @owner_theme loaded', 'set -g no-such-option 1\nset -g @owner_theme loaded'));
    await restart();
    expect(await option('prefix')).toBe('C-a');
    expect(await option('@owner_theme')).toBe('loaded');
    await expectOverrides();
  });

  it("starts the session when the owner's file does not parse: tmux skips that file whole, pairctl's overrides hold", async () => {
    // An unclosed brace (measured on 3.3a, 3.5a and 3.7c: tmux then runs nothing of the file).
    await writeOwnerConf(`${OWNER_CONF}if-shell true {\n  set -g @unclosed yes\n`);
    await restart();
    expect(await option('prefix')).toBe('C-b');
    expect((await asOwner('show-options -gqv @owner_theme')).stdout.trim()).toBe('');
    await expectOverrides();
    // Measured: tmux 3.3 shows the file's error in the session's pane (view mode) at once; 3.5 and
    // later wait for the first client to attach. Either way it is the owner's file's error.
    const mode = (await asOwner("display-message -p -t '=pair:' '#{pane_in_mode} #{pane_mode}'")).stdout.trim();
    expect(mode).toBe(s.tmuxVersion < 3.5 ? '1 view-mode' : '0');
    const p = await cli('plan', '--detailed-exitcode');
    expect(p.stdout).toContain('No changes.');
  });

  it('leaves the owner\'s file out with session.owner_tmux_config: false', async () => {
    await writeOwnerConf(OWNER_CONF);
    writeFileSync(s.file, readFileSync(s.file, 'utf8').replace('  modes: [mirror, pair]\n', '  modes: [mirror, pair]\n  owner_tmux_config: false\n'));
    const p = await cli('plan', '--detailed-exitcode');
    expect(p.stdout).toMatch(/~ file "\/etc\/pairctl\/tmux.conf"/);
    expect(p.code).toBe(2);
    const a = await cli('apply', '--yes');
    expect(a.code, a.stderr).toBe(0);
    expect((await s.host.run('grep -c source-file /etc/pairctl/tmux.conf')).stdout.trim()).toBe('0');
    await restart();
    expect(await option('prefix')).toBe('C-b');
    expect(await option('status-right')).toBe('#{?@pairctl_guests,#[reverse] watching: #{@pairctl_guests} #[default] ,}%H:%M');
    expect((await asOwner('show-options -gqv @owner_theme')).stdout.trim()).toBe('');
    await expectOverrides();
    // Control: the owner's file is still there and still valid for their own tmux.
    expect((await s.asOwner(`sh -c 'cd && tmux -L own new-session -d && tmux -L own show-options -gv prefix; tmux -L own kill-server'`)).stdout.trim()).toBe('C-a');
  });
});
