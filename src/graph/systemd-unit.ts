/**
 * Command lines of generated systemd units. systemd splits ExecStart on whitespace, honours its
 * own quotes and expands `%` specifiers, so every argument is checked to need no quoting and its
 * `%` doubled; a value that would need quoting is refused (all of them come from validated names).
 */

const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One ExecStart argument, escaped for systemd. */
export function unitArg(arg: string | number): string {
  const s = String(arg);
  if (!PLAIN.test(s)) throw new Error(`refusing ${JSON.stringify(s)} in a systemd command line: it would need quoting`);
  return s.replaceAll('%', '%%');
}

/** A whole ExecStart value. */
export function execStart(argv: Array<string | number>): string {
  return argv.map(unitArg).join(' ');
}
