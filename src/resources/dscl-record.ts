/**
 * Reading macOS Directory Services records as `dscl . -read` prints them. A value is usually on
 * the key's line (`UniqueID: 501`), but dscl folds long or multi-valued ones onto indented
 * following lines (`RealName:\n Todd Trees`); a missing record prints
 * `<dscl_cmd> DS Error: -14136 (eDSRecordNotFound)` and exits 56, a missing key `No such key: K`.
 */

/** The attributes of one record: each key's values (space-separated on one line, or folded). */
export type DsclRecord = Map<string, string[]>;

/** Parses `dscl . -read` output; undefined when the record does not exist (or was not read). */
export function parseDsclRecord(output: string | undefined): DsclRecord | undefined {
  if (output === undefined || /eDSRecordNotFound/.test(output)) return undefined;
  const record: DsclRecord = new Map();
  let current: string | undefined;
  for (const line of output.split('\n')) {
    if (line.startsWith(' ') && current) {
      record.get(current)!.push(line.trim());
      continue;
    }
    const m = /^([A-Za-z0-9_:.-]+?):(?: (.*))?$/.exec(line);
    if (!m || line.startsWith('No such key')) {
      current = undefined;
      continue;
    }
    current = m[1]!.replace(/^dsAttrTypeNative:/, '');
    record.set(current, m[2] !== undefined && m[2] !== '' ? m[2].split(' ') : []);
  }
  return record;
}

/** A single-valued attribute, joined back when it was folded. */
export function dsclValue(record: DsclRecord | undefined, key: string): string | undefined {
  const v = record?.get(key);
  return v && v.length > 0 ? v.join(' ') : undefined;
}

/**
 * The shell that lets a kind print a record's dscl output between markers, so its parser sees the
 * real tool output: `dsclSection "name" /Users/x UniqueID …`.
 */
export const DSCL_SECTION = `dscl_section() { n=$1; shift; echo "@@dscl $n"; dscl . -read "$@" 2>&1; echo "@@end $n"; }`;

/** Splits output produced with DSCL_SECTION into its named sections. */
export function dsclSections(output: string): Map<string, string> {
  const sections = new Map<string, string>();
  const re = /^@@dscl (\S+)\n([\s\S]*?)^@@end \1$/gm;
  for (const m of output.matchAll(re)) sections.set(m[1]!, m[2]!);
  return sections;
}
