/**
 * Raw (schema-checked) pair.yaml → the `PairConfig` every later stage consumes: defaults filled
 * in, keys parsed, dates made Dates, positions attached. Defaults live here and nowhere else, and
 * each key and date is parsed here once: the rules read the outcome (`ConfigSources`) instead of
 * parsing again.
 */
import { parseDateTime } from './date-time.js';
import type { Locate, PathSegment } from './load-yaml.js';
import type { Forward, Guest, Host, Mode, PairConfig, Relay, Session, SourcePos, Tunnel } from './model.js';
import { parsePublicKey, type KeyParseResult } from './public-key.js';
import type { RawHost, RawPairConfig } from './schema.js';

/** The defaults the schema documents; normalise is the only place that applies them. */
export const DEFAULT_SESSION_NAME = 'pair';
/** Recordings kept per host when pair.yaml names no session.record_keep. */
export const DEFAULT_RECORD_KEEP = 20;
export const ALL_MODES: readonly Mode[] = ['mirror', 'pair', 'rogue'];
export const DEFAULT_MODE: Mode = 'mirror';
/** The variable ngrok itself reads, so most users need not name one. */
export const DEFAULT_AUTHTOKEN_ENV = 'NGROK_AUTHTOKEN';

/** A place in pair.yaml: the data path (for messages) and where it is written. */
export interface Spot {
  path: PathSegment[];
  pos: SourcePos;
}

/** One `keys` entry as written, parsed once; a failed parse is what `key-*` rules report. */
export interface KeySource extends Spot {
  parsed: KeyParseResult;
}

/** What normalising a guest decided, where the rules must point. */
export interface GuestSource {
  /** every entry of `keys`, in order (the guest's `keys` holds only those that parsed) */
  keys: KeySource[];
  /** `expires` as written and its instant; `date` is absent when no such instant exists */
  expires?: Spot & { text: string; date?: Date };
  /** where `mode` is written; absent when the guest takes session.default_mode */
  mode?: Spot;
  /** each `from` entry, parallel to the guest's `from` */
  from: Spot[];
  /** the `from` key itself, when written */
  fromKey?: Spot;
}

/** One forward as written: `remote` is absent when pair.yaml leaves it out (normalise fills it). */
export interface ForwardSource extends Spot {
  name: Spot;
  remote?: Spot & { key: SourcePos };
}

export interface HostSource {
  ssh: Spot;
  owner: Spot;
  /** `tunnel.provider`, when written (lan otherwise) */
  provider?: Spot;
  relay?: Spot;
  port?: Spot;
  /** the `forwards` key (its value may be empty) */
  forwards: Spot;
  forward: ForwardSource[];
}

export interface RelaySource {
  platform: Spot;
  ssh: Spot;
}

export interface SessionSource {
  /** where default_mode is written; absent when it is the default */
  defaultMode?: Spot;
  modes: Spot;
  /** where `record` is written */
  record?: Spot;
}

/**
 * Where each value of the config came from and what normalising it decided (a key that did not
 * parse, a date that does not exist, a default filled in). Parallel to the config's arrays:
 * `guests[i]` belongs to `config.guests[i]`, and so on.
 */
export interface ConfigSources {
  file: string;
  guests: GuestSource[];
  hosts: HostSource[];
  relays: RelaySource[];
  session: SessionSource;
  githubUrl?: Spot;
}

/** The config together with its sources: what the semantic rules check. */
export interface NormalisedConfig {
  config: PairConfig;
  sources: ConfigSources;
}

function effectiveSession(raw: RawPairConfig): Session {
  return {
    name: raw.session?.name ?? DEFAULT_SESSION_NAME,
    modes: raw.session?.modes ? [...raw.session.modes] : [...ALL_MODES],
    defaultMode: raw.session?.default_mode ?? DEFAULT_MODE,
    record: raw.session?.record ?? false,
    recordKeep: raw.session?.record_keep ?? DEFAULT_RECORD_KEEP,
    ownerTmuxConfig: raw.session?.owner_tmux_config ?? true,
  };
}

/** The tunnel with only the keys its provider takes, and the ngrok default filled in. */
function normaliseTunnel(raw: RawHost['tunnel']): Tunnel {
  const provider = raw?.provider ?? 'lan';
  switch (provider) {
    case 'vps':
    case 'jump':
      return {
        provider,
        ...(raw?.relay !== undefined ? { relay: raw.relay } : {}),
        ...(raw?.port !== undefined ? { port: raw.port } : {}),
      };
    case 'ngrok':
      return {
        provider,
        authtokenEnv: raw?.authtoken_env ?? DEFAULT_AUTHTOKEN_ENV,
        ...(raw?.region !== undefined ? { region: raw.region } : {}),
      };
    default:
      return { provider: 'lan' };
  }
}

/** ngrok chooses the public side of a forward; `remote` then mirrors `local` so the model stays total. */
function normaliseForwards(raw: RawHost['forwards']): Forward[] {
  return (raw ?? []).map((f) => ({ name: f.name, local: f.local, remote: f.remote ?? f.local }));
}

/**
 * Builds the normalised config and its sources from a schema-valid file, or from the well-formed
 * parts of one that failed the schema (so the rules still report every problem at once). An
 * entry the rules refuse (an unparsable key, an impossible date) is left out of `config` and kept
 * in `sources`; `loadConfig` hands `config` on only when no rule found an error.
 */
export function normaliseConfig(
  raw: RawPairConfig,
  source: { file: string; digest: string; locate: Locate },
): NormalisedConfig {
  const spot = (path: PathSegment[], target: 'key' | 'value' = 'value'): Spot => ({ path, pos: source.locate(path, target) });
  const session = effectiveSession(raw);
  const hostSources: HostSource[] = [];
  const hosts: Host[] = Object.entries(raw.hosts).map(([id, host]) => {
    const at = ['hosts', id];
    hostSources.push({
      ssh: spot([...at, 'ssh']),
      owner: spot([...at, 'owner']),
      ...(host.tunnel?.provider !== undefined ? { provider: spot([...at, 'tunnel', 'provider']) } : {}),
      ...(host.tunnel?.relay !== undefined ? { relay: spot([...at, 'tunnel', 'relay']) } : {}),
      ...(host.tunnel?.port !== undefined ? { port: spot([...at, 'tunnel', 'port']) } : {}),
      forwards: spot([...at, 'forwards'], 'key'),
      forward: (host.forwards ?? []).map((f, index) => {
        const path = [...at, 'forwards', index];
        const remote = [...path, 'remote'];
        return {
          ...spot(path),
          name: spot([...path, 'name']),
          ...(f.remote !== undefined ? { remote: { ...spot(remote), key: source.locate(remote, 'key') } } : {}),
        };
      }),
    });
    return {
      id,
      platform: host.platform,
      ssh: host.ssh,
      owner: host.owner,
      sudo: host.sudo ?? false,
      tunnel: normaliseTunnel(host.tunnel),
      forwards: normaliseForwards(host.forwards),
      pos: source.locate(at, 'key'),
    };
  });
  const guestSources: GuestSource[] = [];
  const guests: Guest[] = Object.entries(raw.guests).map(([name, guest]) => {
    const at = ['guests', name];
    const keys: KeySource[] = (guest.keys ?? []).map((entry, index) => ({ ...spot([...at, 'keys', index]), parsed: parsePublicKey(entry) }));
    const expires = guest.expires === undefined ? undefined : { ...spot([...at, 'expires']), text: guest.expires, date: parseDateTime(guest.expires) };
    guestSources.push({
      keys,
      ...(expires ? { expires } : {}),
      ...(guest.mode !== undefined ? { mode: spot([...at, 'mode']) } : {}),
      from: (guest.from ?? []).map((_, index) => spot([...at, 'from', index])),
      ...(guest.from !== undefined ? { fromKey: spot([...at, 'from'], 'key') } : {}),
    });
    return {
      name,
      keys: keys.flatMap((k) => (k.parsed.ok ? [k.parsed.key] : [])),
      mode: guest.mode ?? session.defaultMode,
      ...(expires?.date ? { expires: expires.date } : {}),
      from: guest.from ? [...guest.from] : [],
      ...(guest.github !== undefined
        ? { github: guest.github, githubPos: source.locate([...at, 'github']) }
        : {}),
      pos: source.locate(at, 'key'),
    };
  });
  const relaySources: RelaySource[] = [];
  const relays: Relay[] = Object.entries(raw.relays ?? {}).map(([id, relay]) => {
    relaySources.push({ platform: spot(['relays', id, 'platform']), ssh: spot(['relays', id, 'ssh']) });
    return {
      id,
      platform: relay.platform,
      ssh: relay.ssh,
      sudo: relay.sudo ?? false,
      pos: source.locate(['relays', id], 'key'),
    };
  });
  const config: PairConfig = {
    file: source.file,
    version: 1,
    hosts,
    relays,
    guests,
    session,
    ...(raw.github_url !== undefined ? { githubUrl: raw.github_url } : {}),
    digest: source.digest,
  };
  const sources: ConfigSources = {
    file: source.file,
    guests: guestSources,
    hosts: hostSources,
    relays: relaySources,
    session: {
      ...(raw.session?.default_mode !== undefined ? { defaultMode: spot(['session', 'default_mode']) } : {}),
      modes: spot(['session', 'modes']),
      ...(raw.session?.record !== undefined ? { record: spot(['session', 'record']) } : {}),
    },
    ...(raw.github_url !== undefined ? { githubUrl: spot(['github_url']) } : {}),
  };
  return { config, sources };
}
