/**
 * Progress while machines are applied. On a terminal: one status line per machine, redrawn in
 * place as steps start and finish (machines apply in parallel, so interleaved lines would be
 * hard to follow). Anywhere else (CI logs, pipes): plain lines, one per event, each prefixed
 * with its machine. Only reads events; the caller owns the output stream.
 */
import type { ApplyEvent } from './apply-machine.js';
import { describeHolder } from './lock.js';
import { paint, type Style } from './render-text.js';

/** Where progress goes and how. */
export interface ProgressOptions extends Style {
  /** redraw a status block in place (a terminal) rather than print lines */
  live: boolean;
  write: (text: string) => void;
  /** milliseconds since some origin; injectable for tests */
  now?: () => number;
}

/** Feeds apply events in; `finish` draws the final state. */
export interface Progress {
  onEvent(e: ApplyEvent): void;
  finish(): void;
}

interface MachineState {
  total: number;
  done: number;
  current?: string;
  status: 'waiting' | 'running' | 'ok' | 'failed';
  began: number;
  ended?: number;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Makes the progress reporter for one apply. */
export function createProgress(opts: ProgressOptions): Progress {
  const now = opts.now ?? (() => performance.now());
  const machines = new Map<string, MachineState>();
  const stepStart = new Map<string, number>();
  let drawn = 0;

  const line = (id: string, m: MachineState, width: number): string => {
    const name = id.padEnd(width);
    const count = `[${String(m.done).padStart(String(m.total).length)}/${m.total}]`;
    if (m.status === 'ok') return `${name} ${paint(opts, '32', 'done')}    ${count} in ${seconds((m.ended ?? now()) - m.began)}`;
    if (m.status === 'failed') return `${name} ${paint(opts, '31', 'stopped')} ${count}${m.current ? ` at ${m.current}` : ''}`;
    if (m.status === 'waiting') return `${name} ${paint(opts, '33', 'waiting')} for another apply to release the lock`;
    return `${name} applying ${count}${m.current ? ` ${m.current}` : ''}`;
  };

  const redraw = (): void => {
    const width = Math.max(...[...machines.keys()].map((k) => k.length));
    // Move to the start of the block drawn last time, then rewrite every line of it.
    let text = drawn > 0 ? `\x1b[${drawn}F` : '';
    for (const [id, m] of machines) text += `\x1b[2K${line(id, m, width)}\n`;
    drawn = machines.size;
    opts.write(text);
  };

  const plain = (e: ApplyEvent): void => {
    const m = machines.get(e.machine);
    switch (e.type) {
      case 'begin':
        opts.write(`${e.machine}: applying ${e.total} change${e.total === 1 ? '' : 's'}\n`);
        break;
      case 'waiting':
        opts.write(`${e.machine}: ${paint(opts, '33', 'waiting')} for the lock${e.holder ? ` (held by ${describeHolder(e.holder)})` : ''}\n`);
        break;
      case 'start':
        opts.write(`${e.machine}: ${e.address}: applying (${e.index + 1}/${e.total})\n`);
        break;
      case 'done': {
        const t = stepStart.get(`${e.machine} ${e.index}`);
        opts.write(`${e.machine}: ${e.address}: ${paint(opts, '32', 'done')}${t !== undefined ? ` (${seconds(now() - t)})` : ''}\n`);
        break;
      }
      case 'failed':
        opts.write(`${e.machine}: ${e.address}: ${paint(opts, '31', 'FAILED')}\n${e.output ? `${e.output.replace(/^/gm, '    ')}\n` : ''}`);
        break;
      case 'end':
        if (m) opts.write(`${e.machine}: ${e.ok ? `finished in ${seconds(now() - m.began)}` : 'stopped'}\n`);
        break;
    }
  };

  return {
    onEvent(e) {
      let m = machines.get(e.machine);
      if (e.type === 'begin') {
        m = { total: e.total, done: 0, status: 'running', began: now() };
        machines.set(e.machine, m);
      }
      if (!m) return;
      if (e.type === 'waiting') m.status = 'waiting';
      else if (e.type === 'start') {
        m.status = 'running';
        m.current = e.address;
        stepStart.set(`${e.machine} ${e.index}`, now());
      } else if (e.type === 'done') {
        m.done += 1;
        m.current = undefined;
      } else if (e.type === 'failed') {
        m.status = 'failed';
        m.current = e.address;
      } else if (e.type === 'end') {
        m.status = e.ok ? 'ok' : 'failed';
        m.ended = now();
      }
      if (opts.live) redraw();
      else plain(e);
    },
    finish() {
      if (opts.live && machines.size > 0) redraw();
    },
  };
}
