/**
 * Structural validation with ajv against the published schema, and the translation of ajv's
 * errors into diagnostics a person can act on: positioned at the offending key or value, with
 * rule ids more specific than "schema" where the fix is specific (unknown keys, names, dates).
 */
import type { ErrorObject } from 'ajv';
import type { Diagnostic } from './diagnostic.js';
import type { Locate, PathSegment } from './load-yaml.js';
import { pathToString, pointerToPath } from './load-yaml.js';
import { nearestName } from './nearest-name.js';
import type { RuleId } from './rule-catalog.js';
import type { RawGuest, RawHost, RawPairConfig, RawRelay } from './schema.js';
import { pairSchema } from './schema.js';
import { schemaValidators, type Validators } from './schema-validators.js';

let compiled: Validators | undefined;

/** Which validators, compiled how (precompiled by the build): schema-validators.ts. */
function validators(): Validators {
  compiled ??= schemaValidators();
  return compiled;
}

function entriesOf(value: unknown): [string, unknown][] {
  return value && typeof value === 'object' && !Array.isArray(value) ? Object.entries(value) : [];
}

/**
 * The parts of a file that failed the schema, cut away: hosts and guests that are well formed on
 * their own, and the session only if it is. The semantic rules run on this so that one pass
 * reports a bad key in one guest next to a typo in another. Dropping a part can only hide a
 * rule's finding, never invent one (the session defaults allow every mode).
 */
function wellFormedParts(data: unknown): RawPairConfig {
  const v = validators();
  const top = data && typeof data === 'object' ? (data as Record<string, unknown>) : {};
  const hosts: Record<string, RawHost> = {};
  for (const [id, host] of entriesOf(top.hosts)) if (v.host(host)) hosts[id] = host;
  const guests: Record<string, RawGuest> = {};
  for (const [name, guest] of entriesOf(top.guests)) if (v.guest(guest)) guests[name] = guest;
  const relays: Record<string, RawRelay> = {};
  for (const [id, relay] of entriesOf(top.relays)) if (v.relay(relay)) relays[id] = relay;
  const session = top.session;
  return { version: 1, hosts, guests, relays, ...(v.session(session) ? { session } : {}) };
}

/** What a name-like key or value must look like, said in words rather than as a regex. */
const NAME_RULES: Record<string, string> = {
  hosts: 'a host id is lowercase letters, digits and "-", starts with a letter, at most 31 characters',
  relays: 'a relay id is lowercase letters, digits and "-", starts with a letter, at most 31 characters',
  guests:
    'a guest name is lowercase letters, digits and "-", starts with a letter, at most 24 characters (the account is pair-<name>)',
  owner: 'owner is a POSIX user name: lowercase letters, digits, "_" and "-", starting with a letter or "_", at most 32 characters',
  name: 'the session name is lowercase letters, digits and "-", starts with a letter, at most 31 characters',
};

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return `"${value.length > 60 ? `${value.slice(0, 57)}...` : value}"`;
  return String(value);
}

const TYPE_WORDS: Record<string, string> = {
  object: 'a map',
  array: 'a list',
  string: 'a string',
  boolean: 'true or false',
  integer: 'a whole number',
  number: 'a number',
};

function schemaDescription(schema: unknown): string | undefined {
  if (schema && typeof schema === 'object' && 'description' in schema) {
    const d = (schema as { description?: unknown }).description;
    return typeof d === 'string' ? d : undefined;
  }
  return undefined;
}

function knownKeys(parentSchema: unknown): string[] {
  if (parentSchema && typeof parentSchema === 'object' && 'properties' in parentSchema) {
    const props = (parentSchema as { properties?: unknown }).properties;
    if (props && typeof props === 'object') return Object.keys(props);
  }
  return [];
}

function param(error: ErrorObject, name: string): unknown {
  return (error.params as Record<string, unknown>)[name];
}

interface Translated {
  path: readonly PathSegment[];
  target: 'key' | 'value';
  rule: RuleId;
  message: string;
  hint?: string;
  /** errors with equal position, rule and this are one problem (a key inside a merged anchor) */
  dedupe?: string;
}

/** The tunnel provider written at `path` (a path inside hosts.<id>), for provider-specific messages. */
function providerAt(data: unknown, path: readonly PathSegment[]): string {
  if (path[0] !== 'hosts' || path.length < 2) return 'this';
  const hosts = (data as { hosts?: Record<string, { tunnel?: { provider?: unknown } }> } | undefined)?.hosts;
  const provider = hosts?.[String(path[1])]?.tunnel?.provider;
  return typeof provider === 'string' ? provider : 'this';
}

/** The description the schema gives a tunnel key, for hints on provider-specific keys. */
function tunnelKeyDescription(key: string): string | undefined {
  const props: Record<string, unknown> = pairSchema.properties.hosts.additionalProperties.properties.tunnel.properties;
  return schemaDescription(props[key]);
}

function translate(error: ErrorObject, data: unknown): Translated | undefined {
  const path = pointerToPath(error.instancePath);
  const where = pathToString(path);
  const description = schemaDescription(error.parentSchema);
  const last = path[path.length - 1];

  if (error.propertyName !== undefined) {
    // A sub-error of propertyNames: the key itself (a host id or guest name) is malformed.
    const kind = last === 'hosts' ? 'host id' : last === 'guests' ? 'guest name' : last === 'relays' ? 'relay id' : 'key';
    return {
      path: [...path, error.propertyName],
      target: 'key',
      rule: 'name-invalid',
      message: `${kind} "${error.propertyName}" is not a valid name`,
      hint: NAME_RULES[last ?? ''] ?? description,
    };
  }

  switch (error.keyword) {
    case 'propertyNames':
    case 'if':
      return undefined; // reported through its sub-errors
    case 'false schema': {
      // A tunnel key the provider does not take (the schema's if/then sets it to false).
      const provider = providerAt(data, path);
      return {
        path,
        target: 'key',
        rule: 'tunnel-field-unused',
        message: `${where} is not used by a ${provider} tunnel`,
        hint: `remove it, or change the provider (${String(last)}: ${tunnelKeyDescription(String(last)) ?? 'see the schema'})`,
      };
    }
    case 'anyOf':
      if (path[0] === 'guests' && path.length === 2) {
        return {
          path,
          target: 'key',
          rule: 'schema',
          message: `guest "${String(last)}" has neither keys nor github`,
          hint: 'list the guest\'s public keys under keys, or name their GitHub account with github: USER',
        };
      }
      break;
    case 'minimum':
    case 'maximum':
      if (error.parentSchema && (error.parentSchema as { maximum?: unknown }).maximum === 65535) {
        return {
          path,
          target: 'value',
          rule: 'port-invalid',
          message: `${where} ${describeValue(error.data)} is not a TCP port`,
          hint: 'a port is a whole number from 1 to 65535',
        };
      }
      break;
    case 'additionalProperties': {
      const key = String(param(error, 'additionalProperty'));
      const known = knownKeys(error.parentSchema);
      const near = nearestName(key, known);
      return {
        path: [...path, key],
        target: 'key',
        rule: 'unknown-key',
        dedupe: key,
        message: `unknown key "${key}" in ${where}`,
        hint: near ? `did you mean "${near}"? (allowed: ${known.join(', ')})` : `allowed keys: ${known.join(', ')}`,
      };
    }
    case 'required': {
      const missing = String(param(error, 'missingProperty'));
      // "keys or github": the anyOf error itself says it once.
      if (error.schemaPath.includes('/anyOf/')) return undefined;
      if (error.schemaPath.includes('/then/')) {
        return {
          path,
          target: 'key',
          rule: 'tunnel-field-missing',
          message: `${where}: a ${providerAt(data, path)} tunnel needs "${missing}"`,
          hint: tunnelKeyDescription(missing),
        };
      }
      const props = (error.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
      return {
        path,
        target: 'key',
        rule: 'schema',
        message: `${where} is missing the required key "${missing}"`,
        hint: schemaDescription(props?.[missing]),
      };
    }
    case 'type': {
      const wanted = String(param(error, 'type'));
      return {
        path,
        target: 'value',
        rule: 'schema',
        message: `${where} must be ${TYPE_WORDS[wanted] ?? wanted}, not ${describeValue(error.data)}`,
        hint:
          wanted === 'boolean' && typeof error.data === 'string'
            ? 'write true or false (YAML 1.2 reads yes/no/on/off as strings)'
            : description,
      };
    }
    case 'enum': {
      const allowed = (param(error, 'allowedValues') as unknown[]).map(String);
      const near = typeof error.data === 'string' ? nearestName(error.data, allowed) : undefined;
      return {
        path,
        target: 'value',
        rule: 'schema',
        message: `${where} must be one of ${allowed.join(', ')}, not ${describeValue(error.data)}`,
        hint: near ? `did you mean "${near}"?` : description,
      };
    }
    case 'const':
      return {
        path,
        target: 'value',
        rule: 'schema',
        message: `${where} must be ${JSON.stringify(param(error, 'allowedValue'))}, not ${describeValue(error.data)}`,
        hint: description,
      };
    case 'pattern': {
      const nameRule =
        last === 'owner' || (last === 'name' && path[0] === 'session')
          ? NAME_RULES[last]
          : last === 'relay'
            ? NAME_RULES.relays
            : undefined;
      return {
        path,
        target: 'value',
        rule: nameRule ? 'name-invalid' : 'schema',
        message: `${where} ${describeValue(error.data)} is not valid`,
        hint: nameRule ?? description,
      };
    }
    case 'format':
      if (last === 'expires') {
        return {
          path,
          target: 'value',
          rule: 'expires-invalid',
          message: `${where} ${describeValue(error.data)} is not an RFC 3339 date-time`,
          hint: 'write a date, "T", a time and a zone, e.g. 2026-12-31T18:00:00Z or 2026-12-31T18:00:00+01:00',
        };
      }
      break;
    case 'minProperties':
      return {
        path,
        target: path.length > 0 ? 'key' : 'value',
        rule: 'schema',
        message: `${where} must name at least one ${last === 'hosts' ? 'host' : last === 'guests' ? 'guest' : 'entry'}`,
        hint: description,
      };
    case 'minItems':
      return { path, target: 'key', rule: 'schema', message: `${where} must not be empty`, hint: description };
    case 'minLength':
      return { path, target: 'value', rule: 'schema', message: `${where} must not be empty`, hint: description };
    case 'uniqueItems': {
      const i = Number(param(error, 'i'));
      const j = Number(param(error, 'j'));
      const later = Math.max(i, j);
      const value = Array.isArray(error.data) ? error.data[later] : undefined;
      return {
        path: [...path, later],
        target: 'value',
        rule: 'schema',
        message: `${where} lists ${describeValue(value)} more than once`,
        hint: 'remove the repeated entry',
      };
    }
    default:
      break;
  }
  return { path, target: 'value', rule: 'schema', message: `${where} ${error.message ?? 'is invalid'}`, hint: description };
}

export interface SchemaCheck {
  /** the file, typed; set exactly when it passed the schema */
  raw?: RawPairConfig;
  /** the well-formed parts of the file (all of it when it passed), for the semantic rules */
  parts: RawPairConfig;
  diagnostics: Diagnostic[];
}

/** Validates parsed data against the schema and says which parts are fit for the rules. */
/**
 * Past this many, a file is too broken for more messages to help (a generated file gone wrong):
 * the rest is counted, as compilers stop at an error limit, and lint stays fast.
 */
export const MAX_SCHEMA_DIAGNOSTICS = 500;

export function checkSchema(data: unknown, file: string, locate: Locate): SchemaCheck {
  const validate = validators().file;
  if (validate(data)) return { raw: data, parts: data, diagnostics: [] };
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  const errors = validate.errors ?? [];
  for (const [i, error] of errors.entries()) {
    if (out.length >= MAX_SCHEMA_DIAGNOSTICS) {
      out.push({
        file,
        line: 1,
        column: 1,
        severity: 'error',
        rule: 'schema',
        message: `${errors.length - i} more schema problems are not listed`,
        hint: 'fix the problems listed first, then lint again',
      });
      break;
    }
    const t = translate(error, data);
    if (!t) continue;
    const pos = locate(t.path, t.target);
    const key = `${pos.line}:${pos.column}:${t.rule}:${t.dedupe ?? t.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({
      file,
      line: pos.line,
      column: pos.column,
      severity: 'error',
      rule: t.rule,
      message: t.message,
      ...(t.hint ? { hint: t.hint } : {}),
    });
  }
  return { parts: wellFormedParts(data), diagnostics: out };
}
