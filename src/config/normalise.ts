/**
 * Raw (schema-checked) pair.yaml → the `PairConfig` every later stage consumes: defaults filled
 * in, keys parsed, dates made Dates, positions attached. Defaults live here and nowhere else.
 */
import { parseDateTime } from './date-time.js';
import type { Locate } from './load-yaml.js';
import type { Forward, Guest, Host, Mode, PairConfig, Relay, Session, Tunnel } from './model.js';
import { parsePublicKey } from './public-key.js';
import type { RawHost, RawPairConfig } from './schema.js';

/** The defaults the schema documents; normalise is the only place that applies them. */
export const DEFAULT_SESSION_NAME = 'pair';
export const ALL_MODES: readonly Mode[] = ['mirror', 'pair', 'rogue'];
export const DEFAULT_MODE: Mode = 'mirror';
/** The variable ngrok itself reads, so most users need not name one. */
export const DEFAULT_AUTHTOKEN_ENV = 'NGROK_AUTHTOKEN';

/** The session with defaults applied; rules need it too, to judge a guest's effective mode. */
export function effectiveSession(raw: RawPairConfig): Session {
  return {
    name: raw.session?.name ?? DEFAULT_SESSION_NAME,
    modes: raw.session?.modes ? [...raw.session.modes] : [...ALL_MODES],
    defaultMode: raw.session?.default_mode ?? DEFAULT_MODE,
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
 * Builds the normalised config. Call it only after the schema and the rules passed: an entry
 * the rules would have refused (an unparsable key, an impossible date) is dropped here, not
 * reported.
 */
export function normaliseConfig(
  raw: RawPairConfig,
  source: { file: string; digest: string; locate: Locate },
): PairConfig {
  const session = effectiveSession(raw);
  const hosts: Host[] = Object.entries(raw.hosts).map(([id, host]) => ({
    id,
    platform: host.platform,
    ssh: host.ssh,
    owner: host.owner,
    sudo: host.sudo ?? false,
    tunnel: normaliseTunnel(host.tunnel),
    forwards: normaliseForwards(host.forwards),
    pos: source.locate(['hosts', id], 'key'),
  }));
  const guests: Guest[] = Object.entries(raw.guests).map(([name, guest]) => {
    const expires = guest.expires === undefined ? undefined : parseDateTime(guest.expires);
    return {
      name,
      keys: (guest.keys ?? []).flatMap((entry) => {
        const parsed = parsePublicKey(entry);
        return parsed.ok ? [parsed.key] : [];
      }),
      mode: guest.mode ?? session.defaultMode,
      ...(expires ? { expires } : {}),
      from: guest.from ? [...guest.from] : [],
      ...(guest.github !== undefined
        ? { github: guest.github, githubPos: source.locate(['guests', name, 'github']) }
        : {}),
      pos: source.locate(['guests', name], 'key'),
    };
  });
  const relays: Relay[] = Object.entries(raw.relays ?? {}).map(([id, relay]) => ({
    id,
    platform: relay.platform,
    ssh: relay.ssh,
    sudo: relay.sudo ?? false,
    pos: source.locate(['relays', id], 'key'),
  }));
  return {
    file: source.file,
    version: 1,
    hosts,
    relays,
    guests,
    session,
    ...(raw.github_url !== undefined ? { githubUrl: raw.github_url } : {}),
    digest: source.digest,
  };
}
