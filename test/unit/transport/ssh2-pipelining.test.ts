/**
 * The login shortcuts (src/transport/ssh2-pipelining.ts) hook ssh2 internals; with another ssh2
 * they fall back to ssh2's own slower login. This fails when that happens, so the round trips
 * they save are not lost without anyone noticing. What they do on the wire is tested against
 * a server in ssh-runner.test.ts (one signed USERAUTH_REQUEST, no query; nothing sent to a
 * server whose host key is refused) and against real sshd in test/e2e/transport.test.ts.
 */
import { createServer, type Server } from 'node:net';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipelineLogin } from '../../../src/transport/ssh2-pipelining.js';

let silent: Server;
let port = 0;

beforeAll(async () => {
  // Accepts and says nothing: the client stays before its handshake while the hooks are read.
  silent = createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const a = silent.address();
  if (a === null || typeof a === 'string') throw new Error('no port');
  port = a.port;
});

afterAll(async () => {
  await new Promise<void>((r) => silent.close(() => r()));
});

describe('ssh2 login pipelining', () => {
  it('finds every internal it hooks in the installed ssh2', () => {
    const client = new ssh2.Client();
    client.on('error', () => undefined);
    client.connect({ host: '127.0.0.1', port, username: 'x', readyTimeout: 60_000 });
    try {
      expect(pipelineLogin(client)).toEqual({ serviceRequest: true, signAtOnce: true, hostKeysNotProved: true });
    } finally {
      client.destroy();
    }
  });

  it('installs nothing and says so on a client that has not connected', () => {
    expect(pipelineLogin(new ssh2.Client())).toEqual({ serviceRequest: false, signAtOnce: false, hostKeysNotProved: false });
  });
});
