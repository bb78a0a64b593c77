/**
 * The tmux side of a host's graph: what the plan says about the host's tmux version (only what
 * the user can act on), and what the session's generated files make tmux do on every version.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildGraph } from '../../../src/graph/build-graph.js';
import { JOIN_PROGRAM, TMUX_CONF } from '../../../src/graph/paths.js';
import type { FileSpec } from '../../../src/resources/file-state.js';
import { kindOf } from '../../../src/resources/registry.js';
import { MODE_LOCK } from '../../../src/session/mode-lock.js';
import { guest, sampleConfig } from '../fixtures.js';

const tmuxNotes = (config: ReturnType<typeof sampleConfig>, version: string) => {
  const [machine] = buildGraph(config);
  const tmux = machine!.resources.find((r) => r.address === 'package["tmux"]')!;
  const kind = kindOf('package');
  return kind.diff(tmux.spec, kind.parse(`manager=apt\ninstalled=${version}-1\ntoolversion=tmux ${version}`, tmux.spec), { wanted: true, recorded: true });
};

describe('tmux version notes in the plan', () => {
  it('say nothing on tmux 3.3 to 3.8 with mirror guests: there is nothing to do about it', () => {
    const config = sampleConfig();
    expect(config.guests.some((g) => g.mode === 'mirror')).toBe(true);
    for (const v of ['3.3a', '3.4', '3.5a', '3.6b', '3.7c', '3.8']) expect(tmuxNotes(config, v).warnings, v).toEqual([]);
  });
  it('say what to check on a tmux newer than pairctl was checked against, when there are mirror guests', () => {
    const notes = tmuxNotes(sampleConfig(), '3.9').warnings.join('\n');
    expect(notes).toContain('tmux 3.9 is newer than 3.8');
    expect(notes).toContain('copy mode');
    const noMirror = sampleConfig();
    noMirror.guests = [guest('ann', { mode: 'pair' })];
    expect(tmuxNotes(noMirror, '3.9').warnings).toEqual([]);
  });
  it('still refuse tmux older than 3.3 (no server-side ACL)', () => {
    expect(tmuxNotes(sampleConfig(), '3.2a').errors.join('\n')).toContain('needs 3.3 or newer');
  });
});

describe('session files', () => {
  const [machine] = buildGraph(sampleConfig());
  const file = (path: string) => machine!.resources.find((r) => r.address === `file["${path}"]`)!.spec as FileSpec;

  it('attach mirror guests with client flags, which every tmux from 3.2 takes and 3.7 does not refuse', () => {
    const join = file(JOIN_PROGRAM).content;
    expect(join).toContain('mirror) tmux -S "$SOCKET" attach-session -f read-only,ignore-size -t "=$SESSION"');
    expect(join).not.toMatch(/attach-session -r/);
  });
  it('lock pane modes for read-only clients when the server starts, with a root-owned program', () => {
    expect(file(TMUX_CONF).content).toContain(`run-shell '${MODE_LOCK} "#{socket_path}"'`);
    const lock = file(MODE_LOCK);
    expect(`${lock.owner} ${lock.mode}`).toBe('root 0755');
    execFileSync('shellcheck', ['-s', 'sh', '-'], { input: lock.content });
  });
});
