/**
 * The one way into pair.yaml, in one pass: read → YAML with positions → schema → normalise (each
 * key and date parsed once, every position kept) → semantic rules over the normalised config.
 * Nothing downstream sees a config that has an error, and nothing here throws: every problem,
 * including an unreadable file or a bug of ours, comes back as a diagnostic.
 */
import { createHash } from 'node:crypto';
// Not node:fs/promises: loading that module costs ~15 ms of every plan's and lint's start (node 20).
import { readFileSync } from 'node:fs';
import { checkSchema } from './check-schema.js';
import type { Diagnostic } from './diagnostic.js';
import { findInlineSecrets } from './inline-secrets.js';
import { loadYaml } from './load-yaml.js';
import type { PairConfig } from './model.js';
import { normaliseConfig } from './normalise.js';
import type { RuleId } from './rule-catalog.js';
import { runRules } from './rules.js';

export interface LoadOptions {
  /** the clock for `expires-past`; tests pin it */
  now?: Date;
}

export interface LoadResult {
  /** present only when no diagnostic is an error (warnings allowed) */
  config?: PairConfig;
  /** every problem found, sorted by position */
  diagnostics: Diagnostic[];
}

/**
 * A pair.yaml is a few KB (300 RSA-4096 keys fit in 256 KiB). The limit keeps a wrong -f
 * argument from eating memory and bounds lint's time on hostile files: the YAML parser needs
 * about a second for a megabyte of dense flow maps.
 */
export const MAX_CONFIG_BYTES = 256 * 1024;

function byPosition(a: Diagnostic, b: Diagnostic): number {
  return a.line - b.line || a.column - b.column;
}

function problemAtStart(file: string, rule: RuleId, message: string, hint: string): Diagnostic {
  return { file, line: 1, column: 1, severity: 'error', rule, message, hint };
}

function tooLarge(file: string, size: number): Diagnostic {
  const message = `the file is ${size} bytes; a pair.yaml is at most ${MAX_CONFIG_BYTES}`;
  return problemAtStart(file, 'file-too-large', message, 'check that -f names your pair.yaml');
}

function loadFromText(text: string, digest: string, file: string, opts: LoadOptions): LoadResult {
  try {
    const yaml = loadYaml(text, file);
    const diagnostics = [...yaml.diagnostics];
    if (yaml.diagnostics.some((d) => d.severity === 'error')) {
      return { diagnostics: diagnostics.sort(byPosition) };
    }
    const secrets = findInlineSecrets(yaml.data, file, yaml.locate);
    const schema = checkSchema(yaml.data, file, yaml.locate);
    // A file that failed the schema is normalised and checked in its well-formed parts: all problems at once.
    const normalised = normaliseConfig(schema.raw ?? schema.parts, { file, digest, locate: yaml.locate });
    const found = [...schema.diagnostics, ...runRules({ ...normalised, now: opts.now ?? new Date(), partial: !schema.raw })];
    // Where a secret sits, its own error is the one to read; others there could echo the value.
    const secretAt = new Set(secrets.map((d) => `${d.line}:${d.column}`));
    diagnostics.push(...secrets, ...found.filter((d) => !secretAt.has(`${d.line}:${d.column}`)));
    diagnostics.sort(byPosition);
    if (!schema.raw || diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
    return { config: normalised.config, diagnostics };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      diagnostics: [
        problemAtStart(file, 'internal-error', `pairctl failed while reading this file: ${message}`, 'this is a pairctl bug; please report it with the file'),
      ],
    };
  }
}

/** Validates config text already in memory; used by tests and by callers that hold the bytes. */
export function loadConfigText(text: string, file: string, opts: LoadOptions = {}): LoadResult {
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_CONFIG_BYTES) return { diagnostics: [tooLarge(file, size)] };
  const digest = createHash('sha256').update(text, 'utf8').digest('hex');
  return loadFromText(text, digest, file, opts);
}

/** Reads and validates a pair.yaml; `config` is set only when the file has no errors. */
export async function loadConfig(file: string, opts: LoadOptions = {}): Promise<LoadResult> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    const message =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EISDIR'
          ? 'is a directory, not a file'
          : code === 'EACCES'
            ? 'permission denied'
            : `cannot read the file (${err instanceof Error ? err.message : String(err)})`;
    return {
      diagnostics: [
        problemAtStart(file, 'file-unreadable', message, 'pass the path of your pair.yaml with -f FILE, or write one with pairctl init'),
      ],
    };
  }
  if (bytes.length > MAX_CONFIG_BYTES) return { diagnostics: [tooLarge(file, bytes.length)] };
  const digest = createHash('sha256').update(bytes).digest('hex');
  return loadFromText(bytes.toString('utf8'), digest, file, opts);
}
