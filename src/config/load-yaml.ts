/**
 * Reads YAML text into plain data while keeping the document, so any later stage can point a
 * diagnostic at the exact line and column of a value or key, even through anchors and `<<` merges.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, visit } from 'yaml';
import type { Document, Node, Pair, YAMLError, YAMLMap } from 'yaml';
import type { Diagnostic } from './diagnostic.js';
import type { SourcePos } from './model.js';

/** One step into the data: a map key or a sequence index. */
export type PathSegment = string | number;

/** Where a path points: at the key of the last step (`owner:`) or at its value. */
export type LocateTarget = 'key' | 'value';

/** Maps a data path to a source position; total: an unknown path gives its deepest known ancestor. */
export type Locate = (path: readonly PathSegment[], target?: LocateTarget) => SourcePos;

export interface LoadedYaml {
  /** the plain data (undefined when the text could not be read as one YAML document) */
  data: unknown;
  /** YAML-level problems: syntax, duplicate keys, alias limits */
  diagnostics: Diagnostic[];
  locate: Locate;
}

/**
 * A billion-laughs document expands a few aliases into millions of nodes; a real pair.yaml uses a
 * handful of aliases at most.
 */
export const MAX_ALIAS_COUNT = 100;

/**
 * A real pair.yaml nests six levels deep (hosts.scotch.forwards[0].name); hundreds of levels are
 * an attack on the parser's stack, refused with a message rather than a RangeError.
 */
export const MAX_NESTING = 64;

const TOO_DEEP_HINT = `pair.yaml needs only a few levels of nesting; remove the nested brackets or indentation (limit ${MAX_NESTING})`;

/** Library messages that talk about its own API instead of the user's file. */
const yamlMessages: Record<string, string> = {
  MULTIPLE_DOCS: 'the file holds more than one YAML document',
};

const yamlHints: Record<string, string> = {
  DUPLICATE_KEY: 'remove or rename one of them; YAML keeps only one value per key',
  TAB_AS_INDENT: 'indent with spaces, not tabs',
  MULTIPLE_DOCS: 'pair.yaml holds one document; remove the extra "---" separator',
  BAD_INDENT: 'check the indentation of this line against the lines above it',
  MISSING_CHAR: 'a bracket or quote is not closed',
  BLOCK_AS_IMPLICIT_KEY: 'put the key on one line and the nested block below it',
};

/** Splits an ajv instancePath (a JSON pointer like `/guests/todd/keys/0`) into path segments. */
export function pointerToPath(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Renders a path the way a user would say it: `guests.todd.keys[0]`. */
export function pathToString(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number' || /^\d+$/.test(seg)) out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out || 'the top level';
}

function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === 'symbol';
}

/** Parses one YAML document with positions; never throws, problems come back as diagnostics. */
export function loadYaml(input: string, file: string): LoadedYaml {
  // Editors do not count a byte-order mark as a column.
  const text = input.startsWith('\ufeff') ? input.slice(1) : input;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    // The library's own duplicate check compares each key with every other (quadratic: seconds
    // for a hostile map of 10 000 keys); `duplicateKeys` below does it with one Set per map.
    uniqueKeys: false,
    merge: true,
    // Pin YAML 1.2 core even under a `%YAML 1.1` directive: no yes/no booleans, timestamps stay strings.
    version: '1.2',
    schema: 'core',
    prettyErrors: false,
    // 'error' keeps the library from printing warnings; 'silent' would also hide MULTIPLE_DOCS.
    logLevel: 'error',
  });

  const posAt = (offset: number): SourcePos => {
    const { line, col } = lineCounter.linePos(Math.max(0, Math.min(offset, text.length)));
    return { file, line, column: col };
  };
  const start: SourcePos = { file, line: 1, column: 1 };

  const deref = (node: unknown): unknown => {
    let current = node;
    for (let i = 0; isAlias(current) && i < 32; i++) current = current.resolve(doc);
    return current;
  };

  // Diagnostics locate one path each; indexing each map once keeps a file with thousands of
  // guests linear instead of quadratic.
  const index = new WeakMap<object, Map<string, Pair>>();
  const ownPair = (map: YAMLMap, name: string): Pair | undefined => {
    let byName = index.get(map);
    if (!byName) {
      byName = new Map();
      for (const p of map.items) {
        if (!isScalar(p.key) || typeof p.key.value === 'symbol') continue;
        const k = String(p.key.value);
        if (!byName.has(k)) byName.set(k, p as Pair);
      }
      index.set(map, byName);
    }
    return byName.get(name);
  };

  const findPair = (map: unknown, name: string, depth: number): Pair | undefined => {
    if (!isMap(map) || depth > 32) return undefined;
    const own = ownPair(map, name);
    if (own) return own;
    for (const pair of map.items) {
      if (!isMergeKey(pair.key)) continue;
      const value = deref(pair.value);
      const sources = isSeq(value) ? value.items.map((i) => deref(i)) : [value];
      for (const source of sources) {
        const found = findPair(source, name, depth + 1);
        if (found) return found;
      }
    }
    return undefined;
  };

  const nodePos = (node: unknown): SourcePos | undefined => {
    if (!node || typeof node !== 'object' || !('range' in node)) return undefined;
    const range = (node as Node).range;
    return range ? posAt(range[0]) : undefined;
  };

  const isEmptyScalar = (node: unknown): boolean =>
    isScalar(node) && node.value === null && (node.source === '' || node.source === undefined);

  const locate: Locate = (path, target = 'value') => {
    let node: unknown = doc.contents;
    let best: SourcePos = nodePos(node) ?? start;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i] as PathSegment;
      const last = i === path.length - 1;
      const current = deref(node);
      if (isMap(current)) {
        const pair = findPair(current, String(seg), 0);
        if (!pair) return best;
        const keyPos = nodePos(pair.key) ?? best;
        if (last && target === 'key') return keyPos;
        node = pair.value;
        // An empty value (`owner:`) has no text of its own; its key is what the user sees.
        best = isEmptyScalar(node) ? keyPos : (nodePos(deref(node)) ?? keyPos);
      } else if (isSeq(current)) {
        const index = typeof seg === 'number' ? seg : /^\d+$/.test(seg) ? Number(seg) : -1;
        const item = current.items[index];
        if (item === undefined) return best;
        node = item;
        best = nodePos(deref(item)) ?? best;
      } else {
        return best;
      }
    }
    return best;
  };

  const fromYamlError = (err: YAMLError, severity: Diagnostic['severity']): Diagnostic => {
    const pos = posAt(err.pos[0]);
    if (/maximum call stack/i.test(err.message)) {
      return { ...pos, severity, rule: 'yaml-syntax', message: 'the document nests too deeply to be read', hint: TOO_DEEP_HINT };
    }
    const message =
      yamlMessages[err.code] ?? (err.message.split('\n')[0] ?? err.message).replace(/ at line \d+, column \d+:?$/, '');
    const hint = yamlHints[err.code] ?? 'fix the YAML syntax at this position (quote values that contain ": " or " #")';
    return { ...pos, severity, rule: 'yaml-syntax', message, hint };
  };

  const duplicates = duplicateKeys(doc.contents).map(
    (key): Diagnostic => ({
      ...(nodePos(key) ?? start),
      severity: 'error',
      rule: 'duplicate-key',
      message: `duplicate key "${String((key as { value?: unknown }).value)}"`,
      hint: yamlHints.DUPLICATE_KEY as string,
    }),
  );
  const diagnostics: Diagnostic[] = [
    ...doc.errors.map((e) => fromYamlError(e, 'error')),
    ...duplicates,
    // An unknown tag is reported as an error below, with every other unsupported tag.
    ...doc.warnings.filter((w) => w.code !== 'TAG_RESOLVE_FAILED').map((e) => fromYamlError(e, 'warning')),
  ].sort((a, b) => a.line - b.line || a.column - b.column);
  if (doc.errors.length > 0 || duplicates.length > 0) return { data: undefined, diagnostics, locate };

  const deep = deepestNode(doc.contents);
  if (deep) {
    const range = (deep as Node).range;
    const at = range ? posAt(range[0]) : start;
    const message = `the document nests more than ${MAX_NESTING} levels deep`;
    diagnostics.push({ ...at, severity: 'error', rule: 'yaml-syntax', message, hint: TOO_DEEP_HINT });
    return { data: undefined, diagnostics, locate };
  }

  const tagProblems = unsupportedTags(doc, (offset) => {
    // A node's range starts at its value; point at the tag written just before it instead.
    let bang = text.lastIndexOf('!', offset);
    while (bang > 0 && text[bang - 1] === '!') bang--;
    const lineStart = text.lastIndexOf('\n', offset - 1);
    return posAt(bang > lineStart ? bang : offset);
  });
  if (tagProblems.length > 0) return { data: undefined, diagnostics: [...diagnostics, ...tagProblems], locate };

  try {
    const data: unknown = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    return { data, diagnostics, locate };
  } catch (err) {
    diagnostics.push(toJsDiagnostic(doc, err, posAt, start));
    return { data: undefined, diagnostics, locate };
  }
}

/** The first node nested deeper than MAX_NESTING, found without recursion (so without a stack to exhaust). */
function deepestNode(root: unknown): unknown {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (depth > MAX_NESTING) return node;
    if (isMap(node)) for (const pair of node.items) stack.push([pair.key, depth + 1], [pair.value, depth + 1]);
    else if (isSeq(node)) for (const item of node.items) stack.push([item, depth + 1]);
  }
  return undefined;
}

/** Second and later occurrences of a key in the same map (merge keys `<<` may repeat), linear per map. */
function duplicateKeys(root: unknown): Node[] {
  const out: Node[] = [];
  const stack: unknown[] = [root];
  let budget = 1_000_000;
  while (stack.length > 0 && budget-- > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = pair.key;
        if (isScalar(key) && typeof key.value !== 'symbol') {
          const name = String(key.value);
          if (seen.has(name)) out.push(key);
          seen.add(name);
        }
        stack.push(pair.value);
      }
    } else if (isSeq(node)) {
      stack.push(...node.items);
    }
  }
  return out;
}

/** The tags of plain JSON data; anything else (!!binary, !!set, !!timestamp, !custom) is refused. */
const PLAIN_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));

/**
 * Tags like !!binary or !!set turn into Buffers, Sets and Maps, which the schema check would
 * misread as maps; pair.yaml never needs them.
 */
function unsupportedTags(doc: Document, posAt: (offset: number) => SourcePos): Diagnostic[] {
  const out: Diagnostic[] = [];
  const check = (node: { tag?: string; range?: [number, number, number] | null }): void => {
    if (node.tag === undefined || PLAIN_TAGS.has(node.tag)) return;
    const shown = node.tag.replace(/^tag:yaml\.org,2002:/, '!!');
    out.push({
      ...posAt(node.range?.[0] ?? 0),
      severity: 'error',
      rule: 'yaml-syntax',
      message: `the YAML tag ${shown} is not supported here`,
      hint: 'remove the tag; pair.yaml holds only plain strings, numbers, booleans, lists and maps',
    });
  };
  visit(doc, { Scalar: (_k, n) => check(n), Map: (_k, n) => check(n), Seq: (_k, n) => check(n) });
  return out;
}

/** toJS throws on an unresolvable or excessive alias or a bad merge; the file's fault, not a crash. */
function toJsDiagnostic(
  doc: Document,
  err: unknown,
  posAt: (offset: number) => SourcePos,
  start: SourcePos,
): Diagnostic {
  const text = err instanceof Error ? err.message : String(err);
  const excessive = /excessive alias count/i.test(text);
  if (/merge/i.test(text)) {
    let at: SourcePos | undefined;
    visit(doc, {
      Pair(_key, pair) {
        if (!isMergeKey(pair.key)) return undefined;
        const ok = (n: unknown): boolean => {
          const target = isAlias(n) ? n.resolve(doc) : n;
          return isMap(target);
        };
        const value = pair.value;
        if (isSeq(value) ? value.items.every(ok) : ok(value)) return undefined;
        const range = (pair.key as Node).range;
        if (range) at = posAt(range[0]);
        return visit.BREAK;
      },
    });
    return {
      ...(at ?? start),
      severity: 'error',
      rule: 'yaml-syntax',
      message: 'a << merge must take a map, an alias of a map, or a list of them',
      hint: 'write <<: *anchor where &anchor names a map',
    };
  }
  let where: SourcePos | undefined;
  let name = '';
  visit(doc, {
    Alias(_key, node) {
      const unresolved = node.resolve(doc) === undefined;
      if (excessive || unresolved) {
        name = node.source;
        if (node.range) where = posAt(node.range[0]);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  const pos = where ?? start;
  if (excessive) {
    return {
      ...pos,
      severity: 'error',
      rule: 'alias-limit',
      message: `aliases expand to too much data (alias limit ${MAX_ALIAS_COUNT}); this looks like an alias bomb`,
      hint: 'write the values out, or use fewer nested aliases',
    };
  }
  return {
    ...pos,
    severity: 'error',
    rule: 'yaml-syntax',
    message: name ? `alias *${name} has no anchor &${name} before it` : text,
    hint: 'define the anchor (&name) before the alias (*name) that uses it',
  };
}
