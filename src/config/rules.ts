/**
 * Semantic rules: what JSON Schema cannot say about pair.yaml (key blobs, cross-references,
 * addresses, calendar dates, what a tunnel can enforce). They read the normalised config and the
 * sources normalise kept (each key and date parsed once there, every position recorded), return
 * diagnostics and never throw, so one run reports every problem in the file.
 */
import type { Diagnostic } from './diagnostic.js';
import { checkFromEntry } from './from-address.js';
import { pathToString } from './load-yaml.js';
import type { PairConfig, SourcePos } from './model.js';
import { nearestName } from './nearest-name.js';
import type { ConfigSources, Spot } from './normalise.js';
import { insecureKeySource } from './key-source-url.js';
import type { RuleId } from './rule-catalog.js';
import { parseSshTarget } from '../transport/ssh-target.js';

/** What a rule sees: the normalised config, where each of its values is written, and the clock. */
export interface RuleContext {
  config: PairConfig;
  sources: ConfigSources;
  now: Date;
  /**
   * true when `config` holds only the well-formed parts of a file that failed the schema: a rule
   * that reports something missing (an unused relay) must stay quiet, the missing part may be there.
   */
  partial?: boolean;
}

/** One semantic check and the rule ids it may report. */
export interface Rule {
  ids: readonly RuleId[];
  check: (ctx: RuleContext) => Diagnostic[];
}

function at(
  pos: SourcePos,
  d: Omit<Diagnostic, 'file' | 'line' | 'column' | 'severity'> & { severity?: Diagnostic['severity'] },
): Diagnostic {
  return { file: pos.file, line: pos.line, column: pos.column, severity: d.severity ?? 'error', rule: d.rule, message: d.message, ...(d.hint ? { hint: d.hint } : {}) };
}

/** Keys must be bare, decodable, strong, and each must identify exactly one guest. */
const keysRule: Rule = {
  ids: ['key-invalid', 'key-weak', 'key-dsa', 'key-options', 'key-duplicate'],
  check(ctx) {
    const out: Diagnostic[] = [];
    const seen = new Map<string, { guest: string; line: number }>();
    ctx.config.guests.forEach((guest, g) => {
      for (const { path, pos, parsed } of ctx.sources.guests[g]?.keys ?? []) {
        if (!parsed.ok) {
          out.push(at(pos, { rule: parsed.problem.rule, message: `${pathToString(path)}: ${parsed.problem.message}`, hint: parsed.problem.hint }));
          continue;
        }
        const identity = `${parsed.key.type} ${parsed.key.base64}`;
        const first = seen.get(identity);
        if (!first) {
          seen.set(identity, { guest: guest.name, line: pos.line });
          continue;
        }
        out.push(
          at(pos, {
            rule: 'key-duplicate',
            message:
              first.guest === guest.name
                ? `${pathToString(path)}: key ${parsed.key.fingerprint} is listed twice for guest "${guest.name}" (first at line ${first.line})`
                : `${pathToString(path)}: key ${parsed.key.fingerprint} is also guest "${first.guest}"'s key (line ${first.line})`,
            hint:
              first.guest === guest.name
                ? 'remove the second copy'
                : 'a key must identify one person: each guest needs their own key pair',
          }),
        );
      }
    });
    return out;
  },
};

/** Every mode in use must be one the session allows. */
const modesRule: Rule = {
  ids: ['mode-not-allowed'],
  check(ctx) {
    const out: Diagnostic[] = [];
    const { session } = ctx.config;
    const allowed = session.modes.join(', ');
    if (!session.modes.includes(session.defaultMode)) {
      // When default_mode is left out, the list that excludes "mirror" is what to point at.
      const written = ctx.sources.session.defaultMode;
      out.push(
        at((written ?? ctx.sources.session.modes).pos, {
          rule: 'mode-not-allowed',
          message: `session.default_mode "${session.defaultMode}" is not in session.modes (${allowed})`,
          hint: !written
            ? `session.default_mode defaults to mirror; set it to one of: ${allowed}`
            : `set session.default_mode to one of: ${allowed}, or add "${session.defaultMode}" to session.modes`,
        }),
      );
    }
    ctx.config.guests.forEach((guest, g) => {
      // A guest on the default mode is covered by the session's own diagnostic above.
      const written = ctx.sources.guests[g]?.mode;
      if (!written || session.modes.includes(guest.mode)) return;
      out.push(
        at(written.pos, {
          rule: 'mode-not-allowed',
          message: `guest "${guest.name}" has mode "${guest.mode}", which session.modes does not allow (${allowed})`,
          hint: `use one of: ${allowed}, or add "${guest.mode}" to session.modes`,
        }),
      );
    });
    return out;
  },
};

/** `from` entries go verbatim into from="…"; anything OpenSSH would read differently is refused. */
const fromRule: Rule = {
  ids: ['from-invalid'],
  check(ctx) {
    const out: Diagnostic[] = [];
    ctx.config.guests.forEach((guest, g) => {
      guest.from.forEach((entry, index) => {
        const result = checkFromEntry(entry);
        const spot = ctx.sources.guests[g]?.from[index];
        if (result.ok || !spot) return;
        out.push(at(spot.pos, { rule: 'from-invalid', message: `${pathToString(spot.path)}: ${result.message}`, hint: result.hint }));
      });
    });
    return out;
  },
};

/**
 * `from` is checked by the sshd that sees the guest's own address. Through a vps tunnel or ngrok
 * every connection reaches the host from its own loopback, so from="…" would refuse everyone (or,
 * with a loopback entry, let everyone in): only a jump relay (or a lan host) can enforce it.
 */
const fromTunnelRule: Rule = {
  ids: ['from-unenforceable'],
  check(ctx) {
    const out: Diagnostic[] = [];
    const blind = ctx.config.hosts.filter((h) => h.tunnel.provider === 'vps' || h.tunnel.provider === 'ngrok');
    if (blind.length === 0) return out;
    const names = blind.map((h) => `the ${h.tunnel.provider} tunnel of host "${h.id}"`);
    const through = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
    ctx.config.guests.forEach((guest, g) => {
      const key = ctx.sources.guests[g]?.fromKey;
      if (guest.from.length === 0 || !key) return;
      out.push(
        at(key.pos, {
          rule: 'from-unenforceable',
          message: `guest "${guest.name}" has "from", which ${through} cannot enforce: through ${names.length === 1 ? 'it' : 'them'} every guest reaches the host from the host's own loopback`,
          hint: `use provider jump (the relay checks "from") or lan for ${names.length === 1 ? 'that host' : 'those hosts'}, or remove "from"`,
        }),
      );
    });
    return out;
  },
};

/** `expires` must be a real instant; one already past is legal but almost always a mistake. */
const expiresRule: Rule = {
  ids: ['expires-invalid', 'expires-past'],
  check(ctx) {
    const out: Diagnostic[] = [];
    ctx.config.guests.forEach((guest, g) => {
      const expires = ctx.sources.guests[g]?.expires;
      if (!expires) return;
      if (!expires.date) {
        out.push(
          at(expires.pos, {
            rule: 'expires-invalid',
            message: `guest "${guest.name}": expires "${expires.text}" is not a real date and time`,
            hint: 'write an RFC 3339 date-time that exists, e.g. 2026-12-31T18:00:00Z',
          }),
        );
      } else if (expires.date.getTime() <= ctx.now.getTime()) {
        out.push(
          at(expires.pos, {
            rule: 'expires-past',
            severity: 'warning',
            message: `guest "${guest.name}" expired at ${expires.date.toISOString()}; their key will not be accepted`,
            hint: 'move expires into the future, or remove the guest',
          }),
        );
      }
    });
    return out;
  },
};

/** A guest account must never be the host's own account: the guest would get the owner's shell. */
const ownerRule: Rule = {
  ids: ['owner-is-guest'],
  check(ctx) {
    const out: Diagnostic[] = [];
    const guestAccounts = new Set(ctx.config.guests.map((g) => `pair-${g.name}`));
    ctx.config.hosts.forEach((host, h) => {
      const owner = ctx.sources.hosts[h]?.owner;
      if (!guestAccounts.has(host.owner) || !owner) return;
      out.push(
        at(owner.pos, {
          rule: 'owner-is-guest',
          message: `host "${host.id}": owner "${host.owner}" is the account pairctl creates for guest "${host.owner.slice(5)}"`,
          hint: 'set owner to the host user whose session is shared, or rename the guest',
        }),
      );
    });
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
    const typing = ctx.config.guests.filter((g) => g.mode !== 'mirror').map((g) => `${g.name} (${g.mode})`);
    ctx.config.hosts.forEach((host, h) => {
      const owner = ctx.sources.hosts[h]?.owner;
      if (host.owner !== 'root' || !owner) return;
      out.push(
        typing.length > 0
          ? at(owner.pos, {
              rule: 'owner-root',
              message: `host "${host.id}": owner is root, and ${typing.length === 1 ? 'guest' : 'guests'} ${typing.join(', ')} may type into the session: they would type as root`,
              hint: 'share the session of an unprivileged account (owner: bhorseman), or make those guests mode: mirror',
            })
          : at(owner.pos, {
              rule: 'owner-root-mirror',
              severity: 'warning',
              message: `host "${host.id}": owner is root, so the shared session is a root shell that guests watch`,
              hint: 'share the session of an unprivileged account instead (owner: bhorseman)',
            }),
      );
    });
    return out;
  },
};

/** `github_url` must be https (http only on loopback). Credentials in it are `secret-inline`. */
const githubUrlRule: Rule = {
  ids: ['github-url-insecure'],
  check(ctx) {
    const url = ctx.config.githubUrl;
    const spot = ctx.sources.githubUrl;
    if (url === undefined || !spot || !insecureKeySource(url)) return [];
    return [
      at(spot.pos, {
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
    const relayIds = ctx.config.relays.map((r) => r.id);
    const hostIds = new Set(ctx.config.hosts.map((h) => h.id));
    const used = new Set<string>();
    ctx.config.hosts.forEach((host, h) => {
      const relay = host.tunnel.relay;
      const spot = ctx.sources.hosts[h]?.relay;
      if (relay === undefined || !spot) return;
      used.add(relay);
      if (relayIds.includes(relay)) return;
      const near = nearestName(relay, relayIds);
      out.push(
        at(spot.pos, {
          rule: 'relay-unknown',
          message: `host "${host.id}": relay "${relay}" is not defined under relays`,
          hint: near
            ? `did you mean "${near}"?`
            : relayIds.length > 0
              ? `use one of: ${relayIds.join(', ')}, or add "${relay}" under relays`
              : `add it: relays: { ${relay}: { platform: linux, ssh: user@relay.example.com } }`,
        }),
      );
    });
    for (const relay of ctx.config.relays) {
      if (hostIds.has(relay.id)) {
        out.push(
          at(relay.pos, {
            rule: 'machine-id-ambiguous',
            message: `"${relay.id}" is both a host id and a relay id`,
            hint: 'machines are named once across hosts and relays (plans, records and errors name them by id); rename the relay',
          }),
        );
      } else if (!used.has(relay.id) && !ctx.partial && !out.some((d) => d.rule === 'relay-unknown')) {
        // (After a relay-unknown the relay is most likely the one misspelt there.)
        out.push(
          at(relay.pos, {
            rule: 'relay-unused',
            severity: 'warning',
            message: `relay "${relay.id}" is not used by any host's tunnel; pairctl would still provision it`,
            hint: 'point a vps or jump tunnel at it (tunnel.relay), or remove it',
          }),
        );
      }
    }
    return out;
  },
};

/**
 * What pairctl can build on which platform: a relay is provisioned as a Linux machine (useradd,
 * ufw, systemd), and the ngrok tunnel only as a systemd service. Reported where the platform is
 * written, before a plan connects anywhere.
 */
const platformRule: Rule = {
  ids: ['relay-platform-unsupported', 'ngrok-platform-unsupported'],
  check(ctx) {
    const out: Diagnostic[] = [];
    const used = new Set(ctx.config.hosts.flatMap((h) => (h.tunnel.provider === 'vps' || h.tunnel.provider === 'jump') && h.tunnel.relay ? [h.tunnel.relay] : []));
    ctx.config.relays.forEach((relay, r) => {
      const spot = ctx.sources.relays[r]?.platform;
      if (relay.platform === 'linux' || !used.has(relay.id) || !spot) return;
      out.push(
        at(spot.pos, {
          rule: 'relay-platform-unsupported',
          message: `relay "${relay.id}": platform ${relay.platform} is not supported for relays yet (only linux)`,
          hint: 'use a Linux machine as the relay (any small VPS)',
        }),
      );
    });
    ctx.config.hosts.forEach((host, h) => {
      const spot = ctx.sources.hosts[h]?.provider;
      if (host.platform !== 'macos' || host.tunnel.provider !== 'ngrok' || !spot) return;
      out.push(
        at(spot.pos, {
          rule: 'ngrok-platform-unsupported',
          message: `host "${host.id}": the ngrok tunnel is not built for macOS hosts yet`,
          hint: 'use provider vps, jump or lan on this host',
        }),
      );
    });
    return out;
  },
};

/** The session recorder is a systemd service (graph/recording.ts): reported where `record` is written. */
const recordRule: Rule = {
  ids: ['record-macos'],
  check(ctx) {
    const spot = ctx.sources.session.record;
    if (!ctx.config.session.record || !spot) return [];
    return ctx.config.hosts
      .filter((host) => host.platform === 'macos')
      .map((host) =>
        at(spot.pos, {
          rule: 'record-macos',
          message: `session.record: host "${host.id}" is a Mac; pairctl records sessions only on Linux hosts (a systemd service)`,
          hint: 'turn session.record off, or share the session from a Linux host',
        }),
      );
  },
};

/**
 * A machine's `ssh:` is split the way OpenSSH reads a command line; the schema's pattern lets
 * through some text that is still not a target (two "@", a port past 65535). A relay's target is
 * also the address hosts and guests are given, so "local" cannot name one.
 */
const sshTargetRule: Rule = {
  ids: ['ssh-target-invalid', 'relay-ssh-local'],
  check(ctx) {
    const out: Diagnostic[] = [];
    const machines = [
      ...ctx.config.hosts.map((m, i) => ({ what: 'host', id: m.id, ssh: m.ssh, spot: ctx.sources.hosts[i]?.ssh })),
      ...ctx.config.relays.map((m, i) => ({ what: 'relay', id: m.id, ssh: m.ssh, spot: ctx.sources.relays[i]?.ssh })),
    ];
    for (const { what, id, ssh, spot } of machines) {
      if (!spot) continue;
      if (ssh === 'local') {
        if (what === 'relay') {
          out.push(
            at(spot.pos, {
              rule: 'relay-ssh-local',
              message: `relay "${id}": "ssh: local" names this machine, which hosts and guests cannot reach by that name`,
              hint: 'give the relay\'s public address (user@relay.example.com), or a Host alias of your ssh config that resolves to it',
            }),
          );
        }
        continue;
      }
      const parsed = parseSshTarget(ssh);
      if (parsed.ok) continue;
      out.push(
        at(spot.pos, {
          rule: 'ssh-target-invalid',
          message: `${what} "${id}": ${parsed.error}`,
          hint: 'write "local", [user@]address[:port] (an IPv6 address with a port in brackets: [2001:db8::1]:2222), or a Host alias of your ssh config',
        }),
      );
    }
    return out;
  },
};

/** The ngrok tunnel that carries the session's ssh (src/templates/ngrok.yml.hbs names it). */
const RESERVED_NGROK_TUNNEL = 'ssh';

/** The lowest port an unprivileged account (the relay's tunnel user) may listen on. */
const FIRST_UNPRIVILEGED_PORT = 1024;

interface RelayPortUse {
  host: string;
  spot: Spot;
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
    'forward-without-tunnel', 'forward-name-reserved', 'tunnel-field-missing', 'tunnel-field-unused',
  ],
  check(ctx) {
    const out: Diagnostic[] = [];
    const byRelay = new Map<string, RelayPortUse[]>();
    ctx.config.hosts.forEach((host, h) => {
      const source = ctx.sources.hosts[h];
      if (!source) return;
      const { id, tunnel } = host;
      const { provider } = tunnel;
      const viaRelay = provider === 'vps' || provider === 'jump';
      const uses: RelayPortUse[] = [];
      if (viaRelay && tunnel.port !== undefined && source.port) {
        uses.push({ host: id, spot: source.port, port: tunnel.port, kind: 'tunnel' });
      }
      if (provider === 'lan' && host.forwards.length > 0) {
        out.push(
          at(source.forwards.pos, {
            rule: 'forward-without-tunnel',
            message: `host "${id}" shares forwards but has no tunnel (provider lan)`,
            hint: 'on a LAN guests reach the dev server directly; remove forwards, or use a vps, jump or ngrok tunnel',
          }),
        );
      }
      const names = new Map<string, number>();
      host.forwards.forEach((forward, index) => {
        const written = source.forward[index];
        if (!written) return;
        const first = names.get(forward.name);
        if (first === undefined) names.set(forward.name, index);
        else {
          out.push(
            at(written.name.pos, {
              rule: 'forward-duplicate',
              message: `host "${id}" has two forwards named "${forward.name}" (first at line ${source.forward[first]?.name.pos.line})`,
              hint: 'give each forward of a host its own name',
            }),
          );
        }
        if (viaRelay && !written.remote) {
          out.push(
            at(written.pos, {
              rule: 'tunnel-field-missing',
              message: `${pathToString(written.path)}: a forward through a ${provider} tunnel needs "remote", its port on the relay`,
              hint: 'add remote: PORT (1024 to 65535), e.g. remote: 8080',
            }),
          );
        }
        if (provider === 'ngrok' && written.remote) {
          out.push(
            at(written.remote.key, {
              rule: 'tunnel-field-unused',
              message: `${pathToString(written.remote.path)} is not used by an ngrok tunnel`,
              hint: 'remove it: ngrok picks the public address of each forward and pairctl plan prints it',
            }),
          );
        }
        if (provider === 'ngrok' && forward.name === RESERVED_NGROK_TUNNEL) {
          out.push(
            at(written.name.pos, {
              rule: 'forward-name-reserved',
              message: `host "${id}": a forward may not be named "${RESERVED_NGROK_TUNNEL}" with ngrok: that is the name of the session's own tunnel`,
              hint: 'rename the forward (e.g. after the dev server it shares: rails, vite)',
            }),
          );
        }
        if (viaRelay && written.remote) {
          uses.push({ host: id, spot: written.remote, port: forward.remote, kind: 'forward' });
        }
      });
      for (const use of uses) {
        if (use.port >= FIRST_UNPRIVILEGED_PORT) continue;
        out.push(
          at(use.spot.pos, {
            rule: 'port-privileged',
            message: `${pathToString(use.spot.path)} ${use.port} is below ${FIRST_UNPRIVILEGED_PORT}: the tunnel account on the relay may not listen there`,
            hint: `pick a port from ${FIRST_UNPRIVILEGED_PORT} to 65535, e.g. ${use.kind === 'tunnel' ? 2222 : 8080}`,
          }),
        );
      }
      if (viaRelay && tunnel.relay !== undefined) {
        const list = byRelay.get(tunnel.relay) ?? [];
        list.push(...uses);
        byRelay.set(tunnel.relay, list);
      }
    });
    for (const [relay, uses] of byRelay) {
      const first = new Map<number, RelayPortUse>();
      for (const use of uses) {
        const earlier = first.get(use.port);
        if (!earlier) {
          first.set(use.port, use);
          continue;
        }
        const earlierLine = earlier.spot.pos.line;
        if (earlier.host === use.host && (earlier.kind === 'tunnel') !== (use.kind === 'tunnel')) {
          out.push(
            at(use.spot.pos, {
              rule: 'forward-on-tunnel-port',
              message: `${pathToString(use.spot.path)} ${use.port} is host "${use.host}"'s tunnel port on relay "${relay}" (line ${earlierLine})`,
              hint: 'the tunnel port carries ssh; give the forward another remote port',
            }),
          );
          continue;
        }
        out.push(
          at(use.spot.pos, {
            rule: 'relay-port-conflict',
            message: `${pathToString(use.spot.path)}: port ${use.port} on relay "${relay}" is already used by ${pathToString(earlier.spot.path)} (line ${earlierLine})`,
            hint: `each port on a relay carries one thing; pick a free port for one of them`,
          }),
        );
      }
    }
    return out;
  },
};

/** All semantic rules, in the order their diagnostics are produced. */
export const rules: readonly Rule[] = [
  keysRule, modesRule, fromRule, expiresRule, ownerRule, rootOwnerRule, relaysRule, portsRule, githubUrlRule,
  fromTunnelRule, platformRule, recordRule, sshTargetRule,
];

/** Runs every rule over a normalised file (or the well-formed parts of one). */
export function runRules(ctx: RuleContext): Diagnostic[] {
  return rules.flatMap((rule) => rule.check(ctx));
}
