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
import { nearestName } from './nearest-name.js';
import { effectiveSession } from './normalise.js';
import { insecureKeySource } from './key-source-url.js';
import { parsePublicKey } from './public-key.js';
import type { RuleId } from './rule-catalog.js';
import type { RawPairConfig } from './schema.js';

/** What a rule sees: the schema-valid raw file, a way to place a diagnostic, and the clock. */
export interface RuleContext {
  raw: RawPairConfig;
  file: string;
  locate: Locate;
  now: Date;
  /**
   * true when `raw` is only the well-formed parts of a file that failed the schema: a rule that
   * reports something missing (an unused relay) must stay quiet, the missing part may be there.
   */
  partial?: boolean;
}

/** One semantic check and the rule ids it may report. */
export interface Rule {
  ids: readonly RuleId[];
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
      (spec.keys ?? []).forEach((entry, index) => {
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

/**
 * `owner: root` makes the shared session a root shell. A pair or rogue guest types into it (and
 * into tmux's command prompt, which runs anything as the owner): that is root for the guest. A
 * mirror guest only watches, but still watches a root shell.
 */
const rootOwnerRule: Rule = {
  ids: ['owner-root', 'owner-root-mirror'],
  check(ctx) {
    const out: Diagnostic[] = [];
    const session = effectiveSession(ctx.raw);
    const typing = Object.entries(ctx.raw.guests)
      .filter(([, spec]) => (spec.mode ?? session.defaultMode) !== 'mirror')
      .map(([name, spec]) => `${name} (${spec.mode ?? session.defaultMode})`);
    for (const [id, host] of Object.entries(ctx.raw.hosts)) {
      if (host.owner !== 'root') continue;
      const path = ['hosts', id, 'owner'];
      out.push(
        typing.length > 0
          ? at(ctx, path, {
              rule: 'owner-root',
              message: `host "${id}": owner is root, and ${typing.length === 1 ? 'guest' : 'guests'} ${typing.join(', ')} may type into the session: they would type as root`,
              hint: 'share the session of an unprivileged account (owner: bhorseman), or make those guests mode: mirror',
            })
          : at(ctx, path, {
              rule: 'owner-root-mirror',
              severity: 'warning',
              message: `host "${id}": owner is root, so the shared session is a root shell that guests watch`,
              hint: 'share the session of an unprivileged account instead (owner: bhorseman)',
            }),
      );
    }
    return out;
  },
};

/** `github_url` must be https (http only on loopback). Credentials in it are `secret-inline`. */
const githubUrlRule: Rule = {
  ids: ['github-url-insecure'],
  check(ctx) {
    const url = ctx.raw.github_url;
    if (url === undefined || !insecureKeySource(url)) return [];
    return [
      at(ctx, ['github_url'], {
        rule: 'github-url-insecure',
        message: 'github_url is plain http://: whoever is on the network path could replace a guest\'s keys with their own',
        hint: 'use https:// (plain http is accepted only for a server on this machine: 127.0.0.1, ::1 or localhost)',
      }),
    ];
  },
};

/** Relays are machines too: each must be named once, exist when used, and be used. */
const relaysRule: Rule = {
  ids: ['relay-unknown', 'relay-unused', 'machine-id-ambiguous'],
  check(ctx) {
    const out: Diagnostic[] = [];
    const relays = ctx.raw.relays ?? {};
    const relayIds = Object.keys(relays);
    const used = new Set<string>();
    for (const [id, host] of Object.entries(ctx.raw.hosts)) {
      const relay = host.tunnel?.relay;
      if (relay === undefined) continue;
      used.add(relay);
      if (relay in relays) continue;
      const near = nearestName(relay, relayIds);
      out.push(
        at(ctx, ['hosts', id, 'tunnel', 'relay'], {
          rule: 'relay-unknown',
          message: `host "${id}": relay "${relay}" is not defined under relays`,
          hint: near
            ? `did you mean "${near}"?`
            : relayIds.length > 0
              ? `use one of: ${relayIds.join(', ')}, or add "${relay}" under relays`
              : `add it: relays: { ${relay}: { platform: linux, ssh: user@relay.example.com } }`,
        }),
      );
    }
    for (const id of relayIds) {
      if (id in ctx.raw.hosts) {
        out.push(
          at(ctx, ['relays', id], {
            rule: 'machine-id-ambiguous',
            message: `"${id}" is both a host id and a relay id`,
            hint: 'machines are named once across hosts and relays (plans, records and errors name them by id); rename the relay',
          }, 'key'),
        );
      } else if (!used.has(id) && !ctx.partial && !out.some((d) => d.rule === 'relay-unknown')) {
        // (After a relay-unknown the relay is most likely the one misspelt there.)
        out.push(
          at(ctx, ['relays', id], {
            rule: 'relay-unused',
            severity: 'warning',
            message: `relay "${id}" is not used by any host's tunnel; pairctl would still provision it`,
            hint: 'point a vps or jump tunnel at it (tunnel.relay), or remove it',
          }, 'key'),
        );
      }
    }
    return out;
  },
};

/** The lowest port an unprivileged account (the relay's tunnel user) may listen on. */
const FIRST_UNPRIVILEGED_PORT = 1024;

interface RelayPortUse {
  host: string;
  path: PathSegment[];
  port: number;
  /** the host's tunnel port, or a forward's remote port */
  kind: 'tunnel' | 'forward';
}

/**
 * Ports on relays and forwards. Every port a host uses on a relay (the tunnel's and each
 * forward's remote) is a listener there, public (vps) or loopback (jump); 0.0.0.0:P and
 * 127.0.0.1:P cannot both be bound, so two uses of one port on one relay always conflict.
 */
const portsRule: Rule = {
  ids: [
    'relay-port-conflict', 'port-privileged', 'forward-on-tunnel-port', 'forward-duplicate',
    'forward-without-tunnel', 'tunnel-field-missing', 'tunnel-field-unused',
  ],
  check(ctx) {
    const out: Diagnostic[] = [];
    const byRelay = new Map<string, RelayPortUse[]>();
    for (const [id, host] of Object.entries(ctx.raw.hosts)) {
      const tunnel = host.tunnel;
      const provider = tunnel?.provider ?? 'lan';
      const forwards = host.forwards ?? [];
      const viaRelay = provider === 'vps' || provider === 'jump';
      const uses: RelayPortUse[] = [];
      if (viaRelay && tunnel?.port !== undefined) {
        uses.push({ host: id, path: ['hosts', id, 'tunnel', 'port'], port: tunnel.port, kind: 'tunnel' });
      }
      if (provider === 'lan' && forwards.length > 0) {
        out.push(
          at(ctx, ['hosts', id, 'forwards'], {
            rule: 'forward-without-tunnel',
            message: `host "${id}" shares forwards but has no tunnel (provider lan)`,
            hint: 'on a LAN guests reach the dev server directly; remove forwards, or use a vps, jump or ngrok tunnel',
          }, 'key'),
        );
      }
      const names = new Map<string, number>();
      forwards.forEach((forward, index) => {
        const path = ['hosts', id, 'forwards', index];
        const first = names.get(forward.name);
        if (first === undefined) names.set(forward.name, index);
        else {
          out.push(
            at(ctx, [...path, 'name'], {
              rule: 'forward-duplicate',
              message: `host "${id}" has two forwards named "${forward.name}" (first at line ${ctx.locate(['hosts', id, 'forwards', first, 'name']).line})`,
              hint: 'give each forward of a host its own name',
            }),
          );
        }
        if (viaRelay && forward.remote === undefined) {
          out.push(
            at(ctx, path, {
              rule: 'tunnel-field-missing',
              message: `${pathToString(path)}: a forward through a ${provider} tunnel needs "remote", its port on the relay`,
              hint: 'add remote: PORT (1024 to 65535), e.g. remote: 8080',
            }),
          );
        }
        if (provider === 'ngrok' && forward.remote !== undefined) {
          out.push(
            at(ctx, [...path, 'remote'], {
              rule: 'tunnel-field-unused',
              message: `${pathToString([...path, 'remote'])} is not used by an ngrok tunnel`,
              hint: 'remove it: ngrok picks the public address of each forward and pairctl plan prints it',
            }, 'key'),
          );
        }
        if (viaRelay && forward.remote !== undefined) {
          uses.push({ host: id, path: [...path, 'remote'], port: forward.remote, kind: 'forward' });
        }
      });
      for (const use of uses) {
        if (use.port >= FIRST_UNPRIVILEGED_PORT) continue;
        out.push(
          at(ctx, use.path, {
            rule: 'port-privileged',
            message: `${pathToString(use.path)} ${use.port} is below ${FIRST_UNPRIVILEGED_PORT}: the tunnel account on the relay may not listen there`,
            hint: `pick a port from ${FIRST_UNPRIVILEGED_PORT} to 65535, e.g. ${use.kind === 'tunnel' ? 2222 : 8080}`,
          }),
        );
      }
      if (viaRelay && tunnel?.relay !== undefined) {
        const list = byRelay.get(tunnel.relay) ?? [];
        list.push(...uses);
        byRelay.set(tunnel.relay, list);
      }
    }
    for (const [relay, uses] of byRelay) {
      const first = new Map<number, RelayPortUse>();
      for (const use of uses) {
        const earlier = first.get(use.port);
        if (!earlier) {
          first.set(use.port, use);
          continue;
        }
        const earlierLine = ctx.locate(earlier.path).line;
        if (earlier.host === use.host && (earlier.kind === 'tunnel') !== (use.kind === 'tunnel')) {
          out.push(
            at(ctx, use.path, {
              rule: 'forward-on-tunnel-port',
              message: `${pathToString(use.path)} ${use.port} is host "${use.host}"'s tunnel port on relay "${relay}" (line ${earlierLine})`,
              hint: 'the tunnel port carries ssh; give the forward another remote port',
            }),
          );
          continue;
        }
        out.push(
          at(ctx, use.path, {
            rule: 'relay-port-conflict',
            message: `${pathToString(use.path)}: port ${use.port} on relay "${relay}" is already used by ${pathToString(earlier.path)} (line ${earlierLine})`,
            hint: `each port on a relay carries one thing; pick a free port for one of them`,
          }),
        );
      }
    }
    return out;
  },
};

/** All semantic rules, in the order their diagnostics are produced. */
export const rules: readonly Rule[] = [keysRule, modesRule, fromRule, expiresRule, ownerRule, rootOwnerRule, relaysRule, portsRule, githubUrlRule];

/** Runs every rule over a schema-valid file. */
export function runRules(ctx: RuleContext): Diagnostic[] {
  return rules.flatMap((rule) => rule.check(ctx));
}
