/**
 * Raw (schema-checked) pair.yaml → the `PairConfig` every later stage consumes: defaults filled
 * in, keys parsed, dates made Dates, positions attached. Defaults live here and nowhere else.
 */
import { parseDateTime } from './date-time.js';
import type { Locate } from './load-yaml.js';
import type { Guest, Host, Mode, PairConfig, Session } from './model.js';
import { parsePublicKey } from './public-key.js';
import type { RawPairConfig } from './schema.js';

/** The defaults the schema documents; normalise is the only place that applies them. */
export const DEFAULT_SESSION_NAME = 'pair';
export const ALL_MODES: readonly Mode[] = ['mirror', 'pair', 'rogue'];
export const DEFAULT_MODE: Mode = 'mirror';

/** The session with defaults applied; rules need it too, to judge a guest's effective mode. */
export function effectiveSession(raw: RawPairConfig): Session {
  return {
    name: raw.session?.name ?? DEFAULT_SESSION_NAME,
    modes: raw.session?.modes ? [...raw.session.modes] : [...ALL_MODES],
    defaultMode: raw.session?.default_mode ?? DEFAULT_MODE,
  };
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
    tunnel: { provider: host.tunnel?.provider ?? 'lan' },
    forwards: [],
    pos: source.locate(['hosts', id], 'key'),
  }));
  const guests: Guest[] = Object.entries(raw.guests).map(([name, guest]) => {
    const expires = guest.expires === undefined ? undefined : parseDateTime(guest.expires);
    return {
      name,
      keys: guest.keys.flatMap((entry) => {
        const parsed = parsePublicKey(entry);
        return parsed.ok ? [parsed.key] : [];
      }),
      mode: guest.mode ?? session.defaultMode,
      ...(expires ? { expires } : {}),
      from: guest.from ? [...guest.from] : [],
      pos: source.locate(['guests', name], 'key'),
    };
  });
  return { file: source.file, version: 1, hosts, relays: [], guests, session, digest: source.digest };
}
