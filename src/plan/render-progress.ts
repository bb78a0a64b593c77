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
  /**
   * The terminal's width, read at every redraw (it may be resized). A live line longer than it
   * would wrap, and moving the cursor back up by one line per machine would then garble the block.
   */
  columns?: () => number | undefined;
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

  /** One machine's status line: its status word (coloured) and the text after it. */
  const parts = (m: MachineState): { word: string; code?: string; rest: string } => {
    const count = `[${String(m.done).padStart(String(m.total).length)}/${m.total}]`;
    if (m.status === 'ok') return { word: 'done', code: '32', rest: `    ${count} in ${seconds((m.ended ?? now()) - m.began)}` };
    if (m.status === 'failed') return { word: 'stopped', code: '31', rest: ` ${count}${m.current ? ` at ${m.current}` : ''}` };
    if (m.status === 'waiting') return { word: 'waiting', code: '33', rest: ' for another apply to release the lock' };
    return { word: 'applying', rest: ` ${count}${m.current ? ` ${m.current}` : ''}` };
  };

  /** The line cut to `max` visible characters (with "…"), colour added after cutting. */
  const line = (id: string, m: MachineState, width: number, max: number): string => {
    const { word, code, rest } = parts(m);
    const plain = `${id.padEnd(width)} ${word}${rest}`;
    const cut = [...plain].length > max ? `${[...plain].slice(0, Math.max(1, max - 1)).join('')}…` : plain;
    const at = width + 1;
    if (!code || cut.slice(at, at + word.length) !== word) return cut;
    return `${cut.slice(0, at)}${paint(opts, code, word)}${cut.slice(at + word.length)}`;
  };

  const redraw = (): void => {
    const width = Math.max(...[...machines.keys()].map((k) => k.length));
    // One column short of the width: a line that fills it exactly wraps on some terminals.
    const cols = opts.columns?.();
    const max = cols && cols > 1 ? cols - 1 : Infinity;
    // Move to the start of the block drawn last time, then rewrite every line of it.
    let text = drawn > 0 ? `\x1b[${drawn}F` : '';
    for (const [id, m] of machines) text += `\x1b[2K${line(id, m, width, max)}\n`;
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
