/**
 * An in-process ssh2 server on 127.0.0.1 for runner tests that need no lab: it accepts one
 * public key, runs each exec's stdin with a real local `sh -s` (after recording the command the
 * client asked for), and counts connections and exec requests, which is the budget pairctl
 * promises. It is not sshd and touches nothing outside the test process.
 */
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import type { Connection, ParsedKey, ServerChannel } from 'ssh2';
// @ts-expect-error: a plain .mjs build script, without type declarations
import { ed25519KeyPair } from '../../../scripts/warm-up-ssh.mjs';

const { Server, utils } = ssh2;

/** A running fake server and what it has seen so far. */
export interface FakeSshServer {
  port: number;
  /** the host key's public half in OpenSSH format: `ssh-ed25519 AAAA...` */
  hostPublicKey: string;
  connections: number;
  /** exec commands in the order requested, e.g. `sh -s` */
  commands: string[];
  /** users that logged in */
  users: string[];
  /** every USERAUTH_REQUEST, in order: `none`, `publickey` (a query, no signature) or `publickey+signature` */
  auths: string[];
  /** each connection's source address, in order */
  remoteAddresses: string[];
  /** exec requests, by their index in `commands`, that end at once with exit 1 reading no script (like a sudo that refuses) */
  exitAtOnce: Set<number>;
  /** cut every open connection (to test a link lost mid-exec) */
  dropAll(): void;
  close(): Promise<void>;
}

/** A host key ssh2 can load (ssh2's keygen drops a leading zero byte: see scripts/warm-up-ssh.mjs). */
const hostKeyPair = ed25519KeyPair as () => { private: string; public: string };

/** Starts the server; `authorizedKey` is the text of a `.pub` file. */
export async function startFakeSshServer(authorizedKey: string): Promise<FakeSshServer> {
  const host = hostKeyPair();
  const allowed = utils.parseKey(authorizedKey);
  if (allowed instanceof Error) throw allowed;
  const allowedKey: ParsedKey = allowed;
  const live = new Set<Connection>();
  const state = { connections: 0, commands: [] as string[], users: [] as string[], remoteAddresses: [] as string[], auths: [] as string[], exitAtOnce: new Set<number>() };

  const server = new Server({ hostKeys: [host.private] }, (client, info) => {
    state.connections += 1;
    state.remoteAddresses.push(info.ip);
    live.add(client);
    client.on('close', () => live.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      state.auths.push(ctx.method === 'publickey' && ctx.signature !== undefined ? 'publickey+signature' : ctx.method);
      if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
      const same = ctx.key.algo === allowedKey.type && ctx.key.data.equals(allowedKey.getPublicSSH());
      if (!same) return ctx.reject(['publickey']);
      if (ctx.signature === undefined || ctx.blob === undefined) return ctx.accept();
      if (allowedKey.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(['publickey']);
      state.users.push(ctx.username);
      ctx.accept();
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (accept, _reject, info) => {
          state.commands.push(info.command);
          const stream = accept();
          if (state.exitAtOnce.has(state.commands.length - 1)) {
            stream.stderr.write('refused at once\n');
            stream.exit(1);
            stream.end();
            return;
          }
          runShell(stream);
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    hostPublicKey: host.public.trim(),
    get connections() {
      return state.connections;
    },
    get commands() {
      return state.commands;
    },
    get users() {
      return state.users;
    },
    get remoteAddresses() {
      return state.remoteAddresses;
    },
    get auths() {
      return state.auths;
    },
    get exitAtOnce() {
      return state.exitAtOnce;
    },

    dropAll() {
      for (const c of live) c.end();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of live) c.end();
        server.close(() => resolve());
      }),
  };
}

// Both `sh -s` and `sudo -n sh -s` run as plain `sh -s` here; the test checks the command text.
function runShell(stream: ServerChannel): void {
  const child = spawn('sh', ['-s'], { stdio: ['pipe', 'pipe', 'pipe'] });
  stream.pipe(child.stdin);
  child.stdin.on('error', () => undefined);
  child.stdout.pipe(stream, { end: false });
  child.stderr.pipe(stream.stderr, { end: false });
  child.on('close', (code, signal) => {
    if (signal !== null) stream.exit(signal.replace(/^SIG/, ''), false, '');
    else stream.exit(code ?? 255);
    stream.end();
  });
}
