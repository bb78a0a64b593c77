/**
 * Connections now start before the plan's graph is built (plan-all.ts), but never before
 * pair.yaml is valid: a file with errors is reported and no machine is dialled. The transport's
 * connect is replaced by a fake that records every dial; the positive control shows that a valid
 * file does reach it through the same command.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { captureIo } from '../capture-io.js';

const dialled = vi.hoisted(() => [] as string[]);
vi.mock('../../../src/transport/connect.js', () => ({
  connect: async (target: { id: string }) => {
    dialled.push(target.id);
    throw new Error(`machine "${target.id}": the fake connect refuses`);
  },
}));

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGpMzhB7HFBlLqFQS5xmBDTf57nQY2CoaW6s2GflV331 todd@trees';

function pairYaml(hostLine: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pairctl-contacts-'));
  const file = join(dir, 'pair.yaml');
  writeFileSync(file, ['version: 1', 'hosts:', hostLine, 'guests:', `  todd: { keys: ["${KEY}"], mode: mirror }`, ''].join('\n'));
  return file;
}

describe('plan dials nothing for an invalid pair.yaml', () => {
  it('a host with an unknown platform: the error names the place, exit 1, no connection', async () => {
    dialled.length = 0;
    const file = pairYaml('  box: { platform: windows, ssh: "root@192.0.2.10", owner: pairhost }');
    const io = captureIo();
    const code = await main(['plan', '-f', file], io);
    expect(code).toBe(1);
    expect(io.err).toMatch(/pair\.yaml:3:\d+/);
    expect(dialled).toEqual([]);
  });

  it('positive control: the same host with a valid platform is dialled, and its failure is reported', async () => {
    dialled.length = 0;
    const file = pairYaml('  box: { platform: linux, ssh: "root@192.0.2.10", owner: pairhost }');
    const io = captureIo();
    const code = await main(['plan', '-f', file], io);
    expect(dialled).toEqual(['box']);
    expect(code).toBe(1);
    expect(io.out).toContain('the fake connect refuses');
  });
});
