/**
 * Host key checking against OpenSSH known_hosts files. pairctl applies root-level changes, so a
 * machine must prove it is the one the operator already trusts: an unknown or changed key stops
 * the run, and pairctl never writes known_hosts itself (trust is decided by the operator).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** One usable key line of a known_hosts file (`@cert-authority` lines are not kept). */
export interface KnownHostLine {
  file: string;
  /** 1-based line number, for messages that tell the operator what to edit */
  line: number;
  revoked: boolean;
  /** the host field as written: comma-separated patterns, or one hashed `|1|salt|hash` */
  hosts: string;
  keyType: string;
  /** the decoded public key blob (what the server sends during key exchange) */
  key: Buffer;
}

/** The verdict for one presented host key; `known` is the only one that lets a connection go on. */
export type HostKeyCheck =
  | { status: 'known'; keyType: string; fingerprint: string; match: KnownHostLine }
  | { status: 'unknown'; keyType: string; fingerprint: string; otherTypes: KnownHostLine[] }
  | { status: 'changed'; keyType: string; fingerprint: string; known: KnownHostLine[] }
  | { status: 'revoked'; keyType: string; fingerprint: string; match: KnownHostLine };

// ssh2's default offer, strongest first; ssh-dss is left out as OpenSSH has dropped it.
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
] as const;

/** A host key algorithm pairctl offers during key exchange. */
export type HostKeyAlgorithm = (typeof HOST_KEY_ALGORITHMS)[number];

/** Parses known_hosts text, skipping comments, malformed lines and `@cert-authority` lines. */
export function parseKnownHosts(text: string, file: string): KnownHostLine[] {
  const out: KnownHostLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0]?.startsWith('@')) {
      const marker = fields.shift();
      // pairctl does not do certificate host keys; a CA line proves nothing about a plain key.
      if (marker !== '@revoked') return;
      revoked = true;
    }
    const [hosts, keyType, keyText] = fields;
    if (hosts === undefined || keyType === undefined || keyText === undefined) return;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyText)) return;
    const key = Buffer.from(keyText, 'base64');
    // The blob names its own type; a line whose label disagrees is corrupt, not a key.
    if (blobKeyType(key) !== keyType) return;
    out.push({ file, line: i + 1, revoked, hosts, keyType, key });
  });
  return out;
}

/** Reads and parses every known_hosts file that exists; missing files are normal. */
export function readKnownHosts(files: string[]): { lines: KnownHostLine[]; read: string[] } {
  const lines: KnownHostLine[] = [];
  const read: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    read.push(file);
    lines.push(...parseKnownHosts(text, file));
  }
  return { lines, read };
}

/** The name a host is filed under in known_hosts: `host`, or `[host]:port` off port 22. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/**
 * Whether a known_hosts host field covers a name: hashed entries by HMAC-SHA1, pattern lists
 * with `*`/`?` wildcards, where a matching `!negation` vetoes the whole line (as in OpenSSH).
 */
export function hostFieldMatches(hosts: string, name: string): boolean {
  const lower = name.toLowerCase();
  if (hosts.startsWith('|1|')) return hashedHostMatches(hosts, lower);
  let positive = false;
  for (const raw of hosts.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (pattern === '' || !globMatch(pattern, lower)) continue;
    if (negated) return false;
    positive = true;
  }
  return positive;
}

/** Hashes a name the way `ssh-keygen -H` does, for tests and for writing hints. */
export function hashKnownHostsName(name: string, salt: Buffer): string {
  const digest = createHmac('sha1', salt).update(name.toLowerCase()).digest();
  return `|1|${salt.toString('base64')}|${digest.toString('base64')}`;
}

/** Compares a presented key with what the files say about any of the names it was reached by. */
export function checkHostKey(lines: KnownHostLine[], names: string[], blob: Buffer): HostKeyCheck {
  const keyType = blobKeyType(blob) ?? 'unknown-key-type';
  const fingerprint = sshFingerprint(blob);
  const forHost = lines.filter((l) => names.some((n) => hostFieldMatches(l.hosts, n)));
  const revoked = forHost.find((l) => l.revoked && l.key.equals(blob));
  if (revoked !== undefined) return { status: 'revoked', keyType, fingerprint, match: revoked };
  const trusted = forHost.filter((l) => !l.revoked);
  const match = trusted.find((l) => l.key.length === blob.length && timingSafeEqual(l.key, blob));
  if (match !== undefined) return { status: 'known', keyType, fingerprint, match };
  const sameType = trusted.filter((l) => l.keyType === keyType);
  if (sameType.length > 0) return { status: 'changed', keyType, fingerprint, known: sameType };
  return { status: 'unknown', keyType, fingerprint, otherTypes: trusted };
}

/**
 * Host key algorithms to offer, those the files already hold for the host first: like OpenSSH,
 * so a host recorded only with (say) its RSA key is not reported unknown for its ed25519 key.
 */
export function preferredHostKeyAlgorithms(lines: KnownHostLine[], names: string[]): HostKeyAlgorithm[] {
  const all = HOST_KEY_ALGORITHMS;
  const knownTypes = new Set(
    lines.filter((l) => !l.revoked && names.some((n) => hostFieldMatches(l.hosts, n))).map((l) => l.keyType),
  );
  const algorithmType = (a: string): string => (a.startsWith('rsa-sha2-') ? 'ssh-rsa' : a);
  return [...all.filter((a) => knownTypes.has(algorithmType(a))), ...all.filter((a) => !knownTypes.has(algorithmType(a)))];
}

/** The `SHA256:` fingerprint `ssh-keygen -l` prints: unpadded base64 of the blob's SHA-256. */
export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type a public key blob declares in its first field (e.g. `ssh-ed25519`). */
export function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  const type = blob.subarray(4, 4 + len).toString('latin1');
  return /^[a-z0-9@.-]+$/.test(type) ? type : undefined;
}

function hashedHostMatches(field: string, name: string): boolean {
  const parts = field.split('|');
  // "|1|salt|hash" splits into ["", "1", salt, hash]
  if (parts.length !== 4 || parts[2] === undefined || parts[3] === undefined) return false;
  const salt = Buffer.from(parts[2], 'base64');
  const want = Buffer.from(parts[3], 'base64');
  if (salt.length !== 20 || want.length !== 20) return false;
  const got = createHmac('sha1', salt).update(name).digest();
  return timingSafeEqual(got, want);
}

/** Compiled globs, by pattern: every host of a run is checked against the same known_hosts lines. */
const globs = new Map<string, RegExp>();

function globMatch(pattern: string, text: string): boolean {
  let re = globs.get(pattern);
  if (!re) {
    re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 's');
    globs.set(pattern, re);
  }
  return re.test(text);
}
