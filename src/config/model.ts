/**
 * The normalised pair.yaml: what every later stage (graph, plan, cli) consumes. It is produced
 * by `loadConfig` only after the schema and the semantic rules passed, with defaults filled in,
 * so nothing downstream re-validates or guesses.
 */

export type Mode = 'mirror' | 'pair' | 'rogue';
export type Platform = 'linux' | 'macos';
export type TunnelProvider = 'lan' | 'vps' | 'jump' | 'ngrok';

/** Where in the source file a value came from (1-based line and column). */
export interface SourcePos {
  file: string;
  line: number;
  column: number;
}

/** An OpenSSH public key, parsed and checked the way OpenSSH reads authorized_keys lines. */
export interface PublicKey {
  /** key type as written and as found inside the blob, e.g. ssh-ed25519 */
  type: string;
  /** the base64 blob exactly as written */
  base64: string;
  comment: string;
  /** OpenSSH-style SHA256:... fingerprint of the blob */
  fingerprint: string;
  /** key size in bits (RSA modulus, ECDSA curve size, 256 for ed25519) */
  bits: number;
  /** the URL the key was read from (a guest's GitHub keys); absent for keys written in pair.yaml */
  origin?: string;
}

/** A person who may join, with everything needed to render their key lines. */
export interface Guest {
  name: string;
  keys: PublicKey[];
  mode: Mode;
  expires?: Date;
  from: string[];
  /** GitHub user whose published keys (https://github.com/USER.keys) are added at plan time */
  github?: string;
  /** where `github:` is written, for diagnostics about the keys fetched from it */
  githubPos?: SourcePos;
  pos: SourcePos;
}

/** How guests reach a host; only `lan` needs no relay. */
export interface Tunnel {
  provider: TunnelProvider;
  /** vps and jump: id of a relay in `relays` */
  relay?: string;
  /** vps: public port on the relay; jump: loopback port on the relay */
  port?: number;
  /** ngrok: name of the environment variable holding the authtoken at apply time (never the token) */
  authtokenEnv?: string;
  /** ngrok: region, when set */
  region?: string;
}

/** A dev server shared the same way as the session (e.g. local 3000 → relay 8080). */
export interface Forward {
  name: string;
  /** port on the host */
  local: number;
  /** port on the relay (vps: public, jump: loopback) or the ngrok http tunnel's name */
  remote: number;
}

/** A machine pairctl also provisions so guests can reach hosts behind NAT (vps and jump). */
export interface Relay {
  id: string;
  platform: Platform;
  /** same forms as a host's ssh */
  ssh: string;
  sudo: boolean;
  pos: SourcePos;
}

/** A machine whose tmux session is shared. */
export interface Host {
  id: string;
  platform: Platform;
  /** "local", [user@]address[:port], or a Host alias from ssh config */
  ssh: string;
  owner: string;
  sudo: boolean;
  tunnel: Tunnel;
  forwards: Forward[];
  pos: SourcePos;
}

export interface Session {
  name: string;
  modes: Mode[];
  defaultMode: Mode;
  /** record the session as asciicast files on each host (graph/recording.ts) */
  record: boolean;
  /** recordings kept per host */
  recordKeep: number;
  /** load the owner's own tmux configuration before pairctl's overrides (session.owner_tmux_config) */
  ownerTmuxConfig: boolean;
}

export interface PairConfig {
  file: string;
  version: 1;
  hosts: Host[];
  relays: Relay[];
  guests: Guest[];
  session: Session;
  /** `github_url` as written (GitHub Enterprise); unset means $PAIRCTL_GITHUB_URL or https://github.com */
  githubUrl?: string;
  /** sha256 of the file's bytes; a saved plan pins it */
  digest: string;
}
