/**
 * The owner's own tmux setup in the shared session (issue 13, part 8): the session's tmux.conf
 * loads the files tmux itself would, in tmux's order, and pairctl's overrides after them; the mode
 * lock wraps bindings in every key table, the owner's own tables too. What these files make a
 * real tmux do is proven in test/e2e/owner-tmux-config.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildGraph } from '../../../src/graph/build-graph.js';
import { TMUX_CONF } from '../../../src/graph/paths.js';
import type { FileSpec } from '../../../src/resources/file-state.js';
import { LOCK_WRAPPER, MODE_LOCK, modeLockProgram } from '../../../src/session/mode-lock.js';
import { PAIRCTL_HOOK_INDEX } from '../../../src/session/owner-tmux-config.js';
import { PRESENCE } from '../../../src/session/presence.js';
import { sampleConfig } from '../fixtures.js';

function tmuxConf(edit: (c: ReturnType<typeof sampleConfig>) => void = () => {}): string {
  const config = sampleConfig();
  edit(config);
  const [machine] = buildGraph(config);
  return (machine!.resources.find((r) => r.address === `file["${TMUX_CONF}"]`)!.spec as FileSpec).content;
}
const lines = (text: string) => text.split('\n');
const lineOf = (text: string, pattern: RegExp) => lines(text).findIndex((l) => pattern.test(l));

describe("the session's tmux.conf with the owner's configuration", () => {
  const conf = tmuxConf();

  it("sources the files tmux itself loads, in tmux's order, each skipped quietly when absent", () => {
    const sources = lines(conf).filter((l) => /source-file/.test(l));
    // 3.6 and later: every name, as tmux does (no realpath)
    expect(sources).toContain('source-file -q /etc/tmux.conf ~/.tmux.conf ~/.config/tmux/tmux.conf');
    // 3.3 to 3.5: ~/.config/tmux/tmux.conf only when it is not ~/.tmux.conf under another name
    expect(sources).toContain('source-file -q /etc/tmux.conf ~/.tmux.conf');
    expect(sources).toContain("if-shell '[ ! ~/.config/tmux/tmux.conf -ef ~/.tmux.conf ]' { source-file -q ~/.config/tmux/tmux.conf }");
    expect(conf).toContain("%if '#{m/r:^3\\.[345]([^0-9]|$),#{version}}'");
    for (const l of sources) expect(l).toMatch(/source-file -q /);
  });

  it("puts pairctl's defaults before the owner's files and the lockdown after them", () => {
    const firstSource = lineOf(conf, /source-file/);
    const lastSource = lines(conf).length - 1 - [...lines(conf)].reverse().findIndex((l) => /source-file -q \//.test(l));
    expect(lineOf(conf, /^set-option -g history-limit 10000$/)).toBeLessThan(firstSource);
    expect(lineOf(conf, /^set-option -g status-right '%H:%M'$/)).toBeLessThan(firstSource);
    for (const override of [
      /^unbind-key -T prefix \($/,
      /^unbind-key -T prefix s$/,
      /^unbind-key -T prefix w$/,
      /^set-option -g exit-empty on$/,
      /^set-option -s exit-unattached off$/,
      /^set-option -g destroy-unattached off$/,
      /^set-option -g detach-on-destroy on$/,
      /^set-option -g lock-after-time 0$/,
      /^set-option -g lock-command true$/,
      new RegExp(`^run-shell '${MODE_LOCK} "#\\{socket_path\\}"'$`),
    ]) {
      const at = lineOf(conf, override);
      expect(at, String(override)).toBeGreaterThan(lastSource);
    }
  });

  it("keeps the owner's hooks: pairctl's sit at their own index of each hook array", () => {
    expect(conf).toContain(`set-hook -g client-attached[${PAIRCTL_HOOK_INDEX}] { run-shell -b '${PRESENCE} "#{socket_path}"' }`);
    expect(conf).toContain(`set-hook -g client-detached[${PAIRCTL_HOOK_INDEX}] { run-shell -b '${PRESENCE} "#{socket_path}"' }`);
    expect(conf).toContain(`set-hook -g client-attached[${PAIRCTL_HOOK_INDEX + 1}] { run-shell -b '${MODE_LOCK} "#{socket_path}"' }`);
    expect(conf).toMatch(new RegExp(`^set-hook -g after-bind-key\\[${PAIRCTL_HOOK_INDEX}\\] .*\\{ run-shell -b '${MODE_LOCK} "#\\{socket_path\\}"' \\} \\}$`, 'm'));
    // a bare `set-hook -g NAME` would empty the owner's array first
    expect(conf).not.toMatch(/^set-hook -g [a-z-]+ /m);
    // the re-lock does not run again for the lock's own bindings
    expect(conf).toContain(`#{m:*${LOCK_WRAPPER.replace(' { ', ' ')}*,#{hook_arguments}}`);
  });

  it("adds the watching guests in front of the owner's own status-right, without expanding it", () => {
    expect(conf).toContain("set-option -gF status-right '##{?@pairctl_guests,#[reverse] watching: ##{@pairctl_guests} #[default] ,}#{status-right}'");
  });

  it('shows the owner that a recording runs when session.record is on, and nothing of it when off', () => {
    const recorded = tmuxConf((c) => {
      c.session.record = true;
    });
    const line = lines(recorded).find((l) => l.startsWith('set-option -gF status-right '))!;
    expect(line).toBe("set-option -gF status-right '#[reverse] REC #[default] ##{?@pairctl_guests,#[reverse] watching: ##{@pairctl_guests} #[default] ,}#{status-right}'");
    expect(conf).not.toContain('REC');
    // What tmux makes of it: -F keeps #[style] and turns ## into #, so the option holds the styles and the guests' format unexpanded.
    const dir = mkdtempSync(join(tmpdir(), 'rec-status-'));
    try {
      const file = join(dir, 'conf');
      writeFileSync(file, `set-option -g status-right '%H:%M'\n${line}\n`);
      const sock = join(dir, 's');
      execFileSync('tmux', ['-S', sock, '-f', file, 'new-session', '-d', '-x', '80', '-y', '5'], { env: { PATH: process.env.PATH, HOME: dir, TERM: 'xterm' } });
      const value = execFileSync('tmux', ['-S', sock, 'show-options', '-gv', 'status-right'], { encoding: 'utf8' }).trim();
      expect(value).toBe('#[reverse] REC #[default] #{?@pairctl_guests,#[reverse] watching: #{@pairctl_guests} #[default] ,}%H:%M');
      execFileSync('tmux', ['-S', sock, 'kill-server']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names Homebrew\'s system-wide file on macOS', () => {
    const mac = tmuxConf((c) => {
      c.hosts[0]!.platform = 'macos';
    });
    expect(mac).toContain('source-file -q /opt/homebrew/etc/tmux.conf /usr/local/etc/tmux.conf ~/.tmux.conf ~/.config/tmux/tmux.conf');
    expect(lines(mac).filter((l) => !l.startsWith('#')).join('\n')).not.toContain(' /etc/tmux.conf');
  });
});

describe('session.owner_tmux_config: false', () => {
  it("loads none of the owner's files and keeps every override", () => {
    const off = tmuxConf((c) => {
      c.session.ownerTmuxConfig = false;
    });
    expect(off).not.toMatch(/source-file|\.tmux\.conf|%if/);
    const on = tmuxConf();
    const overrides = (t: string) => lines(t).filter((l) => /^(unbind-key|set-option|set-hook|run-shell)/.test(l));
    expect(overrides(off)).toEqual(overrides(on));
  });
});

describe('the mode lock', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mode-lock-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const lock = join(dir, 'mode-lock');
  writeFileSync(lock, modeLockProgram());
  chmodSync(lock, 0o755);
  // A stand-in tmux: list-keys prints the bindings below, source-file keeps what it is given.
  const tmux = join(dir, 'tmux');
  writeFileSync(tmux, `#!/bin/sh\ncase "$3" in\n  list-keys) cat ${join(dir, 'keys')} ;;\n  source-file) cat > ${join(dir, 'sourced')} ;;\nesac\n`);
  chmodSync(tmux, 0o755);
  const keys = [
    'bind-key    -T prefix       [                    copy-mode',
    'bind-key    -T prefix       d                    detach-client',
    'bind-key -r -T prefix       Up                   select-pane -U',
    'bind-key    -T root         M-s                  choose-tree -s',
    'bind-key    -T root         M-t                  switch-client -T mytable',
    'bind-key    -T mytable      x                    switch-client -n',
    'bind-key    -T mytable      y                    display-message hi \\; switch-client -p',
    'bind-key    -T copy-mode-vi q                    send-keys -X cancel',
    'bind-key    -T prefix       z                    if-shell -F 1 { resize-pane -Z }',
  ];
  writeFileSync(join(dir, 'keys'), `${keys.join('\n')}\n`);
  const run = (action: string) => execFileSync(lock, ['/run/pairctl/pair/tmux.sock', action], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: 'utf8' });

  it("wraps the bindings of every table, the owner's own included, and leaves detach-client open", () => {
    run('lock');
    expect(readFileSync(join(dir, 'sourced'), 'utf8').split('\n').filter(Boolean)).toEqual([
      'bind-key    -T prefix       [                    if-shell -F 1 { copy-mode }',
      'bind-key -r -T prefix       Up                   if-shell -F 1 { select-pane -U }',
      'bind-key    -T root         M-s                  if-shell -F 1 { choose-tree -s }',
      'bind-key    -T root         M-t                  if-shell -F 1 { switch-client -T mytable }',
      'bind-key    -T mytable      x                    if-shell -F 1 { switch-client -n }',
      'bind-key    -T mytable      y                    if-shell -F 1 { display-message hi ; switch-client -p }',
      'bind-key    -T copy-mode-vi q                    if-shell -F 1 { send-keys -X cancel }',
    ]);
  });
  it('counts every open binding in every table for the session_access probe', () => {
    expect(run('count').trim()).toBe('7');
  });
  it('passes shellcheck', () => {
    execFileSync('shellcheck', ['-s', 'sh', lock]);
  });
});
