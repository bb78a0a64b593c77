/**
 * Semantic rules: what JSON Schema cannot say about pair.yaml (key blobs, cross-references,
 * addresses, calendar dates). Each rule returns diagnostics and never throws, so one run reports
 * every problem in the file.
 */
import { parseDateTime } from './date-time.js';
import type { Diagnostic } from './diagnostic.js';
import { checkFromEntry } from './from-address.js';
import type { Locate, PathSegment } from './load-yaml.js';
import { pathToString } from './load-yaml.js';
import { effectiveSession } from './normalise.js';
import { parsePublicKey } from './public-key.js';
import type { RawPairConfig } from './schema.js';

/** What a rule sees: the schema-valid raw file, a way to place a diagnostic, and the clock. */
export interface RuleContext {
  raw: RawPairConfig;
  file: string;
  locate: Locate;
  now: Date;
}

/** One semantic check and the rule ids it may report. */
export interface Rule {
  ids: readonly string[];
  check: (ctx: RuleContext) => Diagnostic[];
}

function at(
  ctx: RuleContext,
  path: readonly PathSegment[],
  d: Omit<Diagnostic, 'file' | 'line' | 'column' | 'severity'> & { severity?: Diagnostic['severity'] },
  target: 'key' | 'value' = 'value',
): Diagnostic {
  const pos = ctx.locate(path, target);
  return { file: pos.file, line: pos.line, column: pos.column, severity: d.severity ?? 'error', rule: d.rule, message: d.message, ...(d.hint ? { hint: d.hint } : {}) };
}

/** Keys must be bare, decodable, strong, and each must identify exactly one guest. */
const keysRule: Rule = {
  ids: ['key-invalid', 'key-weak', 'key-dsa', 'key-options', 'key-duplicate'],
  check(ctx) {
    const out: Diagnostic[] = [];
    const seen = new Map<string, { guest: string; index: number }>();
    for (const [guest, spec] of Object.entries(ctx.raw.guests)) {
      spec.keys.forEach((entry, index) => {
        const path = ['guests', guest, 'keys', index];
        const parsed = parsePublicKey(entry);
        if (!parsed.ok) {
          out.push(at(ctx, path, { rule: parsed.problem.rule, message: `${pathToString(path)}: ${parsed.problem.message}`, hint: parsed.problem.hint }));
          return;
        }
        const identity = `${parsed.key.type} ${parsed.key.base64}`;
        const first = seen.get(identity);
        if (!first) {
          seen.set(identity, { guest, index });
          return;
        }
        const firstPath = ['guests', first.guest, 'keys', first.index];
        const firstLine = ctx.locate(firstPath).line;
        out.push(
          at(ctx, path, {
            rule: 'key-duplicate',
            message:
              first.guest === guest
                ? `${pathToString(path)}: key ${parsed.key.fingerprint} is listed twice for guest "${guest}" (first at line ${firstLine})`
                : `${pathToString(path)}: key ${parsed.key.fingerprint} is also guest "${first.guest}"'s key (line ${firstLine})`,
            hint:
              first.guest === guest
                ? 'remove the second copy'
                : 'a key must identify one person: each guest needs their own key pair',
          }),
        );
      });
    }
    return out;
  },
};

/** Every mode in use must be one the session allows. */
const modesRule: Rule = {
  ids: ['mode-not-allowed'],
  check(ctx) {
    const out: Diagnostic[] = [];
    const session = effectiveSession(ctx.raw);
    const allowed = session.modes.join(', ');
    const defaultOk = session.modes.includes(session.defaultMode);
    if (!defaultOk) {
      // When default_mode is left out, the list that excludes "mirror" is what to point at.
      const explicit = ctx.raw.session?.default_mode !== undefined;
      out.push(
        at(ctx, ['session', explicit ? 'default_mode' : 'modes'], {
          rule: 'mode-not-allowed',
          message: `session.default_mode "${session.defaultMode}" is not in session.modes (${allowed})`,
          hint: !explicit
            ? `session.default_mode defaults to mirror; set it to one of: ${allowed}`
            : `set session.default_mode to one of: ${allowed}, or add "${session.defaultMode}" to session.modes`,
        }),
      );
    }
    for (const [guest, spec] of Object.entries(ctx.raw.guests)) {
      if (spec.mode === undefined || session.modes.includes(spec.mode)) continue;
      out.push(
        at(ctx, ['guests', guest, 'mode'], {
          rule: 'mode-not-allowed',
          message: `guest "${guest}" has mode "${spec.mode}", which session.modes does not allow (${allowed})`,
          hint: `use one of: ${allowed}, or add "${spec.mode}" to session.modes`,
        }),
      );
    }
    return out;
  },
};

/** `from` entries go verbatim into from="…"; anything OpenSSH would read differently is refused. */
const fromRule: Rule = {
  ids: ['from-invalid'],
  check(ctx) {
    const out: Diagnostic[] = [];
    for (const [guest, spec] of Object.entries(ctx.raw.guests)) {
      (spec.from ?? []).forEach((entry, index) => {
        const result = checkFromEntry(entry);
        if (result.ok) return;
        const path = ['guests', guest, 'from', index];
        out.push(at(ctx, path, { rule: 'from-invalid', message: `${pathToString(path)}: ${result.message}`, hint: result.hint }));
      });
    }
    return out;
  },
};

/** `expires` must be a real instant; one already past is legal but almost always a mistake. */
const expiresRule: Rule = {
  ids: ['expires-invalid', 'expires-past'],
  check(ctx) {
    const out: Diagnostic[] = [];
    for (const [guest, spec] of Object.entries(ctx.raw.guests)) {
      if (spec.expires === undefined) continue;
      const path = ['guests', guest, 'expires'];
      const date = parseDateTime(spec.expires);
      if (!date) {
        out.push(
          at(ctx, path, {
            rule: 'expires-invalid',
            message: `guest "${guest}": expires "${spec.expires}" is not a real date and time`,
            hint: 'write an RFC 3339 date-time that exists, e.g. 2026-12-31T18:00:00Z',
          }),
        );
      } else if (date.getTime() <= ctx.now.getTime()) {
        out.push(
          at(ctx, path, {
            rule: 'expires-past',
            severity: 'warning',
            message: `guest "${guest}" expired at ${date.toISOString()}; their key will not be accepted`,
            hint: 'move expires into the future, or remove the guest',
          }),
        );
      }
    }
    return out;
  },
};

/** A guest account must never be the host's own account: the guest would get the owner's shell. */
const ownerRule: Rule = {
  ids: ['owner-is-guest'],
  check(ctx) {
    const out: Diagnostic[] = [];
    const guestAccounts = new Set(Object.keys(ctx.raw.guests).map((g) => `pair-${g}`));
    for (const [id, host] of Object.entries(ctx.raw.hosts)) {
      if (!guestAccounts.has(host.owner)) continue;
      out.push(
        at(ctx, ['hosts', id, 'owner'], {
          rule: 'owner-is-guest',
          message: `host "${id}": owner "${host.owner}" is the account pairctl creates for guest "${host.owner.slice(5)}"`,
          hint: 'set owner to the host user whose session is shared, or rename the guest',
        }),
      );
    }
    return out;
  },
};

/** All semantic rules, in the order their diagnostics are produced. */
export const rules: readonly Rule[] = [keysRule, modesRule, fromRule, expiresRule, ownerRule];

/** Runs every rule over a schema-valid file. */
export function runRules(ctx: RuleContext): Diagnostic[] {
  return rules.flatMap((rule) => rule.check(ctx));
}
