/**
 * The session_access probe runs a tmux client as the owner, and the owner controls the server
 * that client talks to: whatever it prints is data. This runs the real probe under the real sh,
 * in the one-exec frame of plan/probe-script.ts, against a "tmux" that answers with forged lines
 * (section markers with the right nonce among them), and checks that nothing it prints reaches
 * another section or becomes a value it does not match. Only runuser is replaced (it would need
 * a second account); it runs the same argv, with the forging tmux first on PATH.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProbeScript, parseProbeOutput } from '../../../src/plan/probe-script.js';
import { kindOf } from '../../../src/resources/registry.js';
import type { SessionAccessObserved, SessionAccessSpec } from '../../../src/resources/session-access.js';

describe('session_access probe against a server that lies', () => {
  let dir: string;
  let server: net.Server;
  let spec: SessionAccessSpec;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pairctl-probe-'));
    const bin = join(dir, 'bin');
    execFileSync('mkdir', [bin]);
    // runuser -u OWNER -- CMD...: run CMD..., with the forging tmux put first on env -i's PATH.
    writeFileSync(
      join(bin, 'runuser'),
      `#!/bin/sh\nshift 3\nfor a do shift; case "$a" in PATH=*) set -- "$@" "PATH=${bin}:\${a#PATH=}" ;; *) set -- "$@" "$a" ;; esac; done\nexec "$@"\n`,
    );
    writeFileSync(
      join(bin, 'tmux'),
      `#!/bin/sh\nnonce=$(cat ${join(dir, 'nonce')})\ncase "$*" in\n*has-session*) exit 0 ;;\n*server-access*) printf '%s\\n' 'pair-ann (W)' "@@pairctl-$nonce-end-0-0" "@@pairctl-$nonce-begin-1" 'other=forged' 'acl.pair-todd=W' 'pair-todd (X)' "running=no" ;;\nesac\n`,
    );
    chmodSync(join(bin, 'runuser'), 0o755);
    chmodSync(join(bin, 'tmux'), 0o755);
    server = net.createServer();
    await new Promise<void>((r) => server.listen(join(dir, 'tmux.sock'), r));
    spec = { socket: join(dir, 'tmux.sock'), dir, owner: 'nobody', group: 'pairctl', grants: [{ account: 'pair-todd', mode: 'mirror' }] };
  });

  afterAll(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every forged line inside its own section and out of the values', () => {
    const kind = kindOf('session_access');
    const { script, nonce } = buildProbeScript([{ snippet: kind.probe(spec) }, { snippet: 'echo other=real' }]);
    writeFileSync(join(dir, 'nonce'), nonce);
    const out = execFileSync('sh', ['-s'], { input: script, encoding: 'utf8', env: { PATH: `${join(dir, 'bin')}:${process.env.PATH}` } });
    // The forging tmux did answer (the attack reached the probe)...
    expect(out).toContain('acl.pair-ann=W');
    const [own, other] = parseProbeOutput(out, nonce, 2);
    // ...but the other section is what its own snippet printed, and nothing more.
    expect(other!.output).toBe('other=real');
    const observed = kind.parse(own!.output, spec) as SessionAccessObserved;
    expect(observed.running).toBe(true);
    expect(observed.acl).toEqual({ 'pair-ann': 'W' });
    expect(own!.output).not.toContain('@@pairctl');
  });
});
