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
}

/** A person who may join, with everything needed to render their key lines. */
export interface Guest {
  name: string;
  keys: PublicKey[];
  mode: Mode;
  expires?: Date;
  from: string[];
  pos: SourcePos;
}

/** How guests reach a host; only `lan` needs no relay. */
export interface Tunnel {
  provider: TunnelProvider;
  relay?: string;
  port?: number;
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
  pos: SourcePos;
}

export interface Session {
  name: string;
  modes: Mode[];
  defaultMode: Mode;
}

export interface PairConfig {
  file: string;
  version: 1;
  hosts: Host[];
  guests: Guest[];
  session: Session;
  /** sha256 of the file's bytes; a saved plan pins it */
  digest: string;
}
