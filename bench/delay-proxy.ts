/**
 * A TCP proxy on loopback that holds every chunk for a one-way delay in each direction before
 * passing it on: network latency for the benchmarks, since this kernel has no netem
 * (CONFIG_NET_SCH_NETEM unset). One per lab machine, in front of its sshd; the delay can change
 * between runs, so the 0 ms and 50 ms columns of one benchmark go through the same proxy.
 *
 * - Order is kept: one FIFO queue per direction, a chunk leaves when its time has come and every
 *   chunk before it has left.
 * - Backpressure: a side stops being read while more than HIGH_WATER bytes wait for the other side
 *   (in the queue or in the socket's own buffer), and is read again once they drain.
 * - Half-close: a side's FIN is delayed like data, then passed on with end(); the other direction
 *   keeps flowing until it ends too (allowHalfOpen on both sockets). An error or reset on either
 *   side resets the other at once.
 * - Lower bound: a chunk never leaves before its time by performance.now() (timers are checked
 *   against it again when they fire), so an RTT through the proxy is >= twice the delay.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** Bytes one direction may hold for its receiver before the sender stops being read. */
const HIGH_WATER = 1 << 20;

export interface DelayProxyOptions {
  /** Where to connect each accepted connection to (e.g. a lab machine's sshd). */
  target: { host: string; port: number };
  /** Local address for the outgoing connection (the lab's source address for a role). */
  bindAddress?: string;
  /** Delay added in each direction, in ms (RTT grows by twice this). Default 0. */
  oneWayMs?: number;
  /**
   * Called for every chunk as it arrives at the proxy (before its delay): which connection (1, 2,
   * ...), which way ('up': client to target, 'down': back), its size (0: a FIN), and when
   * (performance.now()). bench/trace.ts builds its round-trip timeline from it.
   */
  onChunk?: (conn: number, way: 'up' | 'down', bytes: number, at: number) => void;
}

export interface DelayProxy {
  /** The loopback address and port to connect to instead of the target. */
  readonly host: string;
  readonly port: number;
  /** The one-way delay now applied to chunks that arrive from here on. */
  oneWayMs: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** The most bytes one direction has held at once (queue + the receiver's socket buffer). */
  readonly maxHeldBytes: number;
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
}

interface Held {
  due: number;
  chunk: Buffer | null; // null: the sender's FIN
}

export async function startDelayProxy(opts: DelayProxyOptions): Promise<DelayProxy> {
  const open = new Set<Socket>();
  let connections = 0;
  let maxHeldBytes = 0;
  const state = { oneWayMs: opts.oneWayMs ?? 0 };

  /** Delays what `from` sends and writes it to `to`. */
  function pipe(from: Socket, to: Socket, note: (bytes: number) => void): void {
    const queue: Held[] = [];
    let queued = 0;
    let timer: NodeJS.Timeout | undefined;
    const held = () => queued + to.writableLength;
    const flush = () => {
      timer = undefined;
      if (to.destroyed) {
        queue.length = 0;
        return;
      }
      const now = performance.now();
      while (queue.length > 0 && queue[0]!.due <= now) {
        const { chunk } = queue.shift()!;
        if (chunk === null) {
          to.end();
          return;
        }
        queued -= chunk.length;
        to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(flush, Math.max(1, Math.ceil(queue[0]!.due - now)));
      if (from.isPaused() && held() <= HIGH_WATER) from.resume();
    };
    const hold = (chunk: Buffer | null) => {
      const delay = state.oneWayMs;
      if (delay <= 0 && queue.length === 0) {
        if (chunk === null) to.end();
        else to.write(chunk);
      } else {
        queue.push({ due: performance.now() + delay, chunk });
        if (chunk !== null) queued += chunk.length;
        if (timer === undefined) timer = setTimeout(flush, Math.max(1, Math.ceil(delay)));
      }
      maxHeldBytes = Math.max(maxHeldBytes, held());
      if (chunk !== null && held() > HIGH_WATER) from.pause();
    };
    from.on('data', (chunk: Buffer) => {
      note(chunk.length);
      hold(chunk);
    });
    from.on('end', () => {
      note(0);
      hold(null);
    });
    to.on('drain', () => {
      if (from.isPaused() && held() <= HIGH_WATER) from.resume();
    });
  }

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const conn = ++connections;
    const note = (way: 'up' | 'down') => (bytes: number) => opts.onChunk?.(conn, way, bytes, performance.now());
    const upstream = connect({ host: opts.target.host, port: opts.target.port, localAddress: opts.bindAddress, allowHalfOpen: true, noDelay: true });
    open.add(client);
    open.add(upstream);
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    // A reset (or any error) on one side is passed on as a reset of the other.
    const reset = () => {
      for (const s of [client, upstream]) if (!s.destroyed) s.resetAndDestroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', reset);
      s.on('close', () => {
        open.delete(s);
        // Closed without both directions having ended: the other side must not hang on.
        if (!(client.readableEnded && upstream.readableEnded)) kill();
      });
    }
    pipe(client, upstream, note('up'));
    pipe(upstream, client, note('down'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('delay proxy: no TCP address');

  return {
    host: '127.0.0.1',
    port: address.port,
    get oneWayMs() {
      return state.oneWayMs;
    },
    set oneWayMs(ms: number) {
      state.oneWayMs = ms;
    },
    get connections() {
      return connections;
    },
    get maxHeldBytes() {
      return maxHeldBytes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
