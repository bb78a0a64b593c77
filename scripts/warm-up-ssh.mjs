// A throwaway ssh server on loopback for the build's warm-up (scripts/bundle.mjs), so that the
// V8 code cache also holds what `pairctl plan` compiles over ssh: ssh2's client (key exchange,
// packet parsing, login, channels), pairctl's transport, and the compare and render of a plan.
// Without it every plan compiled those from source (measured on the bench machine: a plan's CPU
// 255 ms median with the lint-only cache, 200 ms with a cache taken after a real plan).
//
// The server is ssh2's own (the package pairctl depends on), in the build's process, on
// 127.0.0.1 and an ephemeral port; it accepts one generated key and answers each exec with
// what a machine where pairctl made nothing yet prints: every probe section empty, exit 0. It
// runs nothing. The client side is the bundle's own code, reached through `pairctl plan -F`
// with an ssh config that names every file (key, known_hosts) inside a temp dir and no agent:
// the builder's ~/.ssh is never read.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { Server, utils } = require('ssh2');

/**
 * An Ed25519 key pair from ssh2's generator that ssh2 (and OpenSSH) can read back. ssh2 1.17's
 * keygen strips every leading zero byte of the public key's BIT STRING, the key's own with the
 * unused-bits byte, so a key whose first byte is 0 (1 in 256) comes out 31 bytes long and
 * `parseKey` calls it malformed: measured 13 of 3000. Each build makes three keys, so about one
 * build in 85 failed its warm-up. Drawing again until the key parses costs nothing. The unit tests'
 * fake ssh server draws its host keys here too.
 */
export function ed25519KeyPair() {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(pair.private) instanceof Error)) return pair;
  }
}

/** What a machine where pairctl made nothing prints for a probe script: each section, empty. */
export function emptyProbeAnswer(script) {
  const begin = /@@pairctl-([0-9a-f]+)-begin-(\d+)/g;
  let out = '';
  for (const m of script.matchAll(begin)) out += `\n@@pairctl-${m[1]}-begin-${m[2]}\n\n@@pairctl-${m[1]}-end-${m[2]}-0\n`;
  return out;
}

/** Starts the server; returns the files a plan against it needs, and close(). */
export async function startWarmUpServer() {
  const dir = mkdtempSync(join(tmpdir(), 'pairctl-warm-up-'));
  const host = ed25519KeyPair();
  const client = ed25519KeyPair();
  const clientPublic = utils.parseKey(client.public);
  writeFileSync(join(dir, 'id_ed25519'), client.private, { mode: 0o600 });
  let execs = 0;
  const server = new Server({ hostKeys: [host.private] }, (conn) => {
    conn.on('authentication', (ctx) => {
      const ok =
        ctx.method === 'publickey' &&
        ctx.key.algo === clientPublic.type &&
        ctx.key.data.equals(clientPublic.getPublicSSH()) &&
        (!ctx.signature || clientPublic.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true);
      if (ok) ctx.accept();
      else ctx.reject(['publickey']);
    });
    conn.on('ready', () => {
      conn.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acceptExec) => {
          execs += 1;
          const stream = acceptExec();
          let script = '';
          stream.on('data', (b) => (script += b.toString('utf8')));
          stream.on('end', () => {
            stream.write(emptyProbeAnswer(script));
            stream.exit(0);
            stream.end();
          });
        });
      });
    });
    conn.on('error', () => undefined);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const hostPublic = utils.parseKey(host.public);
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostPublic.type} ${hostPublic.getPublicSSH().toString('base64')}\n`);
  const sshConfig = join(dir, 'ssh_config');
  writeFileSync(
    sshConfig,
    [
      'Host warm',
      '  HostName 127.0.0.1',
      `  Port ${port}`,
      '  User root',
      `  IdentityFile ${join(dir, 'id_ed25519')}`,
      '  IdentitiesOnly yes',
      '  IdentityAgent none',
      `  UserKnownHostsFile ${join(dir, 'known_hosts')}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '',
    ].join('\n'),
  );
  const pairYaml = join(dir, 'pair.yaml');
  const guestKey = utils.parseKey(ed25519KeyPair().public);
  writeFileSync(
    pairYaml,
    [
      'version: 1',
      'hosts:',
      '  warm: { platform: linux, ssh: warm, owner: warmup }',
      'guests:',
      `  todd: { keys: ["ssh-ed25519 ${guestKey.getPublicSSH().toString('base64')} todd"], mode: mirror }`,
      '',
    ].join('\n'),
  );
  return {
    sshConfig,
    pairYaml,
    execs: () => execs,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
