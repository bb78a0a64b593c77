/**
 * The one place where values become shell words. Every command pairctl sends to a machine is
 * built with `sh` (or `quote`), so no user value is ever concatenated into a command line.
 */

/** Quotes one value as a single POSIX-shell word; rejects NUL, which no shell word can hold. */
export function quote(value: string | number): string {
  const s = String(value);
  if (s.includes('\0')) throw new Error('refusing to quote a value containing a NUL byte');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Tagged template: literal parts are trusted script text, every interpolated value is quoted. */
export function sh(parts: TemplateStringsArray, ...values: Array<string | number | Array<string | number>>): string {
  let out = parts[0] ?? '';
  values.forEach((v, i) => {
    out += Array.isArray(v) ? v.map(quote).join(' ') : quote(v);
    out += parts[i + 1] ?? '';
  });
  return out;
}
