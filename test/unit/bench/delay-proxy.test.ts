/**
 * The benchmarks' delay proxy (bench/delay-proxy.ts) against real sockets on loopback: the delay
 * is really added (a lower bound only: the machine is shared, so no upper wall-clock limit),
 * bytes arrive intact and in order under a large transfer, a slow reader holds the sender back,
 * and a half-close passes through while the other direction keeps flowing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startDelayProxy, type DelayProxy } from '../../../bench/delay-proxy.js';
import { waitUntil } from '../../machines/wait.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(onConnection: (s: Socket) => void): Promise<number> {
  const accepted: Socket[] = [];
  const server: Server = createServer({ allowHalfOpen: true }, (s) => {
    accepted.push(s);
    onConnection(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of accepted) s.destroy();
        server.close(() => r());
      }),
  );
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('no port');
  return a.port;
}

async function proxyTo(port: number, oneWayMs: number): Promise<DelayProxy> {
  const p = await startDelayProxy({ target: { host: '127.0.0.1', port }, oneWayMs });
  cleanups.push(() => p.close());
  return p;
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
    cleanups.push(() => void s.destroy());
  });
}

/** Resolves with the first chunk the socket reads. */
const nextData = (s: Socket) => new Promise<Buffer>((r) => s.once('data', r));

/** Reads until the peer's FIN; resolves with every byte. */
function readAll(s: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (b: Buffer) => parts.push(b));
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('delay proxy', () => {
  it('adds the delay each way: an RTT at 25 ms one-way is at least 50 ms, and the direct RTT (control) is not delayed by it', async () => {
    const port = await serve((s) => s.on('data', (b: Buffer) => s.write(b)));
    const proxy = await proxyTo(port, 25);
    const rtt = async (p: number) => {
      const s = await dial(p);
      const rtts: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const got = nextData(s);
        s.write(`ping ${i}`);
        expect((await got).toString()).toBe(`ping ${i}`);
        rtts.push(performance.now() - t0);
      }
      s.destroy();
      return rtts;
    };
    const through = await rtt(proxy.port);
    for (const t of through) expect(t).toBeGreaterThanOrEqual(50);
    // The same echo without the proxy: its fastest round trip is below the proxy's floor, so the
    // 50 ms above come from the proxy, not from this machine.
    expect(Math.min(...(await rtt(port)))).toBeLessThan(50);
    expect(proxy.connections).toBe(1);

    // The delay is a setting: at 0 the same proxy passes chunks straight on.
    proxy.oneWayMs = 0;
    expect(Math.min(...(await rtt(proxy.port)))).toBeLessThan(50);
  });

  it('reports every chunk with its connection, direction and size, a FIN as 0 bytes (what bench/trace.ts draws its flights from)', async () => {
    const port = await serve((s) => s.on('data', (b: Buffer) => s.end(Buffer.concat([b, b]))));
    const seen: Array<[number, string, number]> = [];
    const p = await startDelayProxy({ target: { host: '127.0.0.1', port }, oneWayMs: 5, onChunk: (conn, way, bytes) => seen.push([conn, way, bytes]) });
    cleanups.push(() => p.close());
    const s = await dial(p.port);
    const all = readAll(s);
    s.end('hello');
    expect((await all).toString()).toBe('hellohello');
    await waitUntil('both FINs to be reported', () => seen.filter(([, , b]) => b === 0).length === 2, 10_000, 10);
    expect(seen.filter(([, , b]) => b > 0)).toEqual([
      [1, 'up', 5],
      [1, 'down', 10],
    ]);
    expect(seen.filter(([, , b]) => b === 0).map(([, way]) => way).sort()).toEqual(['down', 'up']);
  });

  it('a slow reader holds the sender back, and a large transfer arrives intact and in order both ways', async () => {
    const size = 64 << 20;
    const up = randomBytes(size);
    let serverSocket: Socket | undefined;
    let received: Promise<Buffer> | undefined;
    const port = await serve((s) => {
      serverSocket = s;
      received = readAll(s);
      s.pause(); // a receiver that does not read yet
    });
    const proxy = await proxyTo(port, 5);
    const c = await dial(proxy.port);
    c.end(up);
    await waitUntil('the server side to be accepted', () => serverSocket !== undefined, 30_000, 20);
    // Nothing is read: once the kernel's buffers on the way are full, the sender backs up (its
    // own buffer holds most of the 64 MB), and the proxy has held no more than its high-water mark.
    await waitUntil('the sender to back up', () => c.writableLength > 16 << 20, 30_000, 20);
    expect(proxy.maxHeldBytes).toBeLessThan(4 << 20);
    serverSocket!.resume();
    const got = await received!;
    expect(got.length).toBe(size);
    expect(sha(got)).toBe(sha(up));

    // And back, with the delay changed in the middle of the stream: order still holds.
    const down = randomBytes(8 << 20);
    const back = readAll(c);
    serverSocket!.write(down.subarray(0, 4 << 20));
    proxy.oneWayMs = 0;
    serverSocket!.end(down.subarray(4 << 20));
    const gotBack = await back;
    expect(gotBack.length).toBe(down.length);
    expect(sha(gotBack)).toBe(sha(down));
  });

  it('passes a half-close on: the client ends its side and still reads the reply that follows', async () => {
    const port = await serve((s) => {
      const parts: Buffer[] = [];
      s.on('data', (b: Buffer) => parts.push(b));
      // Replies only once the client's FIN has come through the proxy.
      s.on('end', () => s.end(`got ${Buffer.concat(parts).toString()}`));
    });
    const proxy = await proxyTo(port, 10);
    const c = await dial(proxy.port);
    const reply = readAll(c);
    c.end('request');
    expect((await reply).toString()).toBe('got request');
    await waitUntil('both sockets of the proxy to close', () => c.destroyed || c.closed, 30_000, 20);
  });

  it('a reset on one side closes the other', async () => {
    let serverSide: Socket | undefined;
    const port = await serve((s) => (serverSide = s));
    const proxy = await proxyTo(port, 5);
    const c = await dial(proxy.port);
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.on('error', () => {});
    await waitUntil('the server side to be accepted', () => serverSide !== undefined, 30_000, 20);
    serverSide!.resetAndDestroy();
    await closed;
    expect(c.destroyed).toBe(true);
  });
});
