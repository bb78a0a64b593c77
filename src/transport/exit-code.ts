/**
 * How a finished remote or local process becomes the one exit code a Runner reports: a process
 * killed by a signal, or one whose status never arrived, must never look like success.
 */
import { constants } from 'node:os';

/** Exit code when the process gave none and no signal explains why (ssh uses 255 too). */
export const NO_EXIT_STATUS = 255;

/** Maps (code, signal) to a shell-style code: the code itself, 128+signal number, or 255. */
export function exitCodeOf(code: number | null | undefined, signal?: string | null): number {
  if (typeof code === 'number' && Number.isInteger(code)) return code;
  if (signal !== undefined && signal !== null && signal !== '') {
    const name = signal.startsWith('SIG') ? signal : `SIG${signal}`;
    const num = (constants.signals as Record<string, number | undefined>)[name];
    return num === undefined ? NO_EXIT_STATUS : 128 + num;
  }
  return NO_EXIT_STATUS;
}
