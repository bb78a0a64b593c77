/**
 * A machine that cannot be read never yields an all-clear: plan, apply and destroy list it, with
 * why, above the summary, and exit 1. The machine is a real loopback port nothing listens on.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { captureIo } from '../capture-io.js';

/** A loopback port that refuses connections: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('machines that could not be read', () => {
  let file: string;
  let sshConfig: string;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pairctl-unread-'));
    file = join(dir, 'pair.yaml');
    sshConfig = join(dir, 'ssh_config');
    writeFileSync(sshConfig, '');
    const port = await closedPort();
    writeFileSync(
      file,
      [
        'version: 1',
        'hosts:',
        `  gone: { platform: linux, ssh: "root@127.0.0.1:${port}", owner: pairhost }`,
        'guests:',
        '  todd: { keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGpMzhB7HFBlLqFQS5xmBDTf57nQY2CoaW6s2GflV331 todd@trees"], mode: mirror }',
        '',
      ].join('\n'),
    );
  });

  it('plan lists them on stdout above the summary, never says "No changes", exits 1', async () => {
    const io = captureIo();
    const code = await main(['plan', '-f', file, '-F', sshConfig], io);
    expect(code).toBe(1);
    expect(io.out).not.toContain('No changes');
    expect(io.out).toMatch(/Could not read 1 machine:\n {2}gone: .*(refused|ECONNREFUSED)/);
    expect(io.out.trimEnd().split('\n').at(-1)).toBe('Plan incomplete: 1 machine could not be read, so nothing can be applied.');
    expect(io.err).toContain('Error: gone could not be read (see above); nothing can be applied.');
  });

  it('plan --json says so in the document: not applicable, the machine unreachable', async () => {
    const io = captureIo();
    expect(await main(['plan', '--json', '-f', file, '-F', sshConfig], io)).toBe(1);
    const doc = JSON.parse(io.out) as { applicable: boolean; unreachable: Array<{ machine: string }> };
    expect(doc.applicable).toBe(false);
    expect(doc.unreachable.map((u) => u.machine)).toEqual(['gone']);
  });

  it('apply --yes and destroy --yes do the same and change nothing', async () => {
    for (const cmd of ['apply', 'destroy']) {
      const io = captureIo();
      expect(await main([cmd, '--yes', '-f', file, '-F', sshConfig], io)).toBe(1);
      expect(io.out).not.toContain('No changes');
      expect(io.out).not.toContain('complete!');
      expect(io.out).toContain('Plan incomplete: 1 machine could not be read');
    }
  });
});
