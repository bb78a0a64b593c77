/**
 * OpenSSH public key lines, read the way sshd reads authorized_keys: the blob is decoded and its
 * wire format checked, so a key that would fail on the host fails here, at validate time.
 */
import { createHash, createPublicKey } from 'node:crypto';
import type { PublicKey } from './model.js';

/** Why a key entry was refused; `rule` is the diagnostic rule id. */
export interface KeyProblem {
  rule: 'key-invalid' | 'key-weak' | 'key-dsa' | 'key-options';
  message: string;
  hint: string;
}

export type KeyParseResult = { ok: true; key: PublicKey } | { ok: false; problem: KeyProblem };

interface KeyKind {
  /** curve name inside the blob, for ECDSA kinds */
  curve?: 'nistp256' | 'nistp384' | 'nistp521';
  family: 'ed25519' | 'rsa' | 'ecdsa';
  /** FIDO security-key kinds carry an application string after the key */
  sk: boolean;
}

const KINDS: Record<string, KeyKind> = {
  'ssh-ed25519': { family: 'ed25519', sk: false },
  'ssh-rsa': { family: 'rsa', sk: false },
  'ecdsa-sha2-nistp256': { family: 'ecdsa', curve: 'nistp256', sk: false },
  'ecdsa-sha2-nistp384': { family: 'ecdsa', curve: 'nistp384', sk: false },
  'ecdsa-sha2-nistp521': { family: 'ecdsa', curve: 'nistp521', sk: false },
  'sk-ssh-ed25519@openssh.com': { family: 'ed25519', sk: true },
  'sk-ecdsa-sha2-nistp256@openssh.com': { family: 'ecdsa', curve: 'nistp256', sk: true },
};

/** The key types pairctl accepts in `keys`. */
export const SUPPORTED_KEY_TYPES: readonly string[] = Object.keys(KINDS);

/** RSA moduli below this are refused; OpenSSH's own floor is 1024 and NIST retired 1024 in 2013. */
export const MIN_RSA_BITS = 2048;
/** OpenSSH's SSHBUF_MAX_BIGNUM: larger moduli are refused by sshd. */
const MAX_RSA_BITS = 16384;
/** An RSA-16384 public key is about 2.8 KB of base64; anything far larger is not a key. */
const MAX_BASE64_LENGTH = 8192;

const CURVES = {
  nistp256: { bits: 256, bytes: 32, jwk: 'P-256' },
  nistp384: { bits: 384, bytes: 48, jwk: 'P-384' },
  nistp521: { bits: 521, bytes: 66, jwk: 'P-521' },
} as const;

/** Words that begin an authorized_keys options list. */
const OPTION_WORD =
  /^(?:restrict|cert-authority|no-[a-z-]+|permit[a-z-]*|pty|user-rc|agent-forwarding|port-forwarding|x11-forwarding|command=|environment=|expiry-time=|from=|permitopen=|permitlisten=|principals=|tunnel=|verify-required|touch-required)/i;

/** Looks like a key type (so a line whose key type is not first has options in front). */
const TYPE_LIKE = /^(?:ssh-|ecdsa-|sk-|rsa-sha2-|x509v3-)[A-Za-z0-9@._-]+$/;

// Anything that ends or splits an authorized_keys line, or that a terminal would act on.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f\u0085\u2028\u2029]/;

/** OpenSSH's `SHA256:` fingerprint of a key blob, as `ssh-keygen -l` prints it. */
export function fingerprint(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

class WireReader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}

  /** An SSH `string`: uint32 length then bytes; undefined when the length runs past the end. */
  string(): Buffer | undefined {
    if (this.offset + 4 > this.buf.length) return undefined;
    const length = this.buf.readUInt32BE(this.offset);
    const startAt = this.offset + 4;
    if (length > this.buf.length - startAt) return undefined;
    this.offset = startAt + length;
    return this.buf.subarray(startAt, startAt + length);
  }

  get done(): boolean {
    return this.offset === this.buf.length;
  }
}

/** Bit length of an SSH mpint's magnitude; undefined for a negative or empty value. */
function mpintBits(bytes: Buffer): number | undefined {
  if (bytes.length === 0 || ((bytes[0] as number) & 0x80) !== 0) return undefined;
  let i = 0;
  // The wire format adds a 0x00 byte when the top bit is set; sshd strips any leading zeros.
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return undefined;
  const top = bytes[i] as number;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(top));
}

function invalid(message: string, hint: string): KeyParseResult {
  return { ok: false, problem: { rule: 'key-invalid', message, hint } };
}

const COPY_HINT = 'paste the whole line of the guest\'s .pub file (e.g. ~/.ssh/id_ed25519.pub) unchanged';

function ecPointOnCurve(curve: keyof typeof CURVES, point: Buffer): boolean {
  const { bytes, jwk } = CURVES[curve];
  const x = point.subarray(1, 1 + bytes).toString('base64url');
  const y = point.subarray(1 + bytes).toString('base64url');
  try {
    createPublicKey({ key: { kty: 'EC', crv: jwk, x, y }, format: 'jwk' });
    return true;
  } catch {
    return false;
  }
}

/** Checks a decoded blob against its declared kind; returns the key size in bits or a problem. */
function checkBlob(type: string, kind: KeyKind, blob: Buffer): { bits: number } | KeyParseResult {
  const reader = new WireReader(blob);
  const inner = reader.string();
  if (!inner) return invalid('the key data is truncated', COPY_HINT);
  const innerType = inner.toString('latin1');
  if (innerType !== type) {
    return invalid(
      `the line says ${type} but the key data is ${JSON.stringify(innerType.slice(0, 64))}`,
      'the type word and the base64 must come from the same .pub line',
    );
  }
  let bits: number;
  if (kind.family === 'ed25519') {
    const pk = reader.string();
    if (!pk || pk.length !== 32) return invalid('the ed25519 public key is not 32 bytes', COPY_HINT);
    bits = 256;
  } else if (kind.family === 'rsa') {
    const e = reader.string();
    const n = reader.string();
    const eBits = e && mpintBits(e);
    const nBits = n && mpintBits(n);
    if (!eBits || !nBits) return invalid('the RSA key data is malformed', COPY_HINT);
    if (((e[e.length - 1] as number) & 1) === 0 || eBits < 2) {
      return invalid('the RSA public exponent is not a valid odd number', COPY_HINT);
    }
    if (nBits > MAX_RSA_BITS) return invalid(`the RSA modulus has ${nBits} bits; OpenSSH accepts at most ${MAX_RSA_BITS}`, COPY_HINT);
    bits = nBits;
  } else {
    const curve = kind.curve as keyof typeof CURVES;
    const curveName = reader.string();
    if (!curveName || curveName.toString('latin1') !== curve) {
      return invalid(`the key data does not name curve ${curve}`, COPY_HINT);
    }
    const point = reader.string();
    const { bytes } = CURVES[curve];
    if (!point || point.length !== 1 + 2 * bytes || point[0] !== 0x04) {
      return invalid(`the ECDSA point is not an uncompressed ${curve} point`, COPY_HINT);
    }
    if (!ecPointOnCurve(curve, point)) return invalid(`the ECDSA point is not on curve ${curve}`, COPY_HINT);
    bits = CURVES[curve].bits;
  }
  if (kind.sk && reader.string() === undefined) {
    return invalid('the security-key application string is missing', COPY_HINT);
  }
  if (!reader.done) return invalid('the key data has trailing bytes', COPY_HINT);
  return { bits };
}

/**
 * Parses one `keys` entry. Only a bare `<type> <base64> [comment]` line is accepted: anything in
 * front of the type (options such as command= or restrict) or a second line would be copied into
 * authorized_keys and could undo the forced command that keeps a guest out of a shell.
 */
export function parsePublicKey(entry: string): KeyParseResult {
  if (CONTROL.test(entry)) {
    return {
      ok: false,
      problem: {
        rule: 'key-options',
        message: 'the key entry contains a line break or control character',
        hint: 'give each key as its own list item, on one line, with nothing but "<type> <base64> [comment]"',
      },
    };
  }
  const line = entry.trim();
  const words = line.split(/[ \t]+/).filter((w) => w !== '');
  const first = words[0] ?? '';
  if (words.length === 0) return invalid('the key entry is empty', COPY_HINT);

  if (!(first in KINDS) && first !== 'ssh-dss' && !TYPE_LIKE.test(first)) {
    const typeAt = words.findIndex((w) => w in KINDS || w === 'ssh-dss' || TYPE_LIKE.test(w));
    if (typeAt > 0 || OPTION_WORD.test(first)) {
      return {
        ok: false,
        problem: {
          rule: 'key-options',
          message: `the key entry has authorized_keys options in front of the key type (${JSON.stringify(first.slice(0, 40))})`,
          hint: 'remove everything before the key type; pairctl writes the options that lock the guest in itself',
        },
      };
    }
    return invalid(`the key entry does not start with a key type (found ${JSON.stringify(first.slice(0, 40))})`, COPY_HINT);
  }

  if (first === 'ssh-dss') {
    return {
      ok: false,
      problem: {
        rule: 'key-dsa',
        message: 'DSA (ssh-dss) keys are refused: OpenSSH has not accepted them by default since 7.0 and removed them in 10.0',
        hint: 'ask the guest for an ed25519 key: ssh-keygen -t ed25519',
      },
    };
  }
  const kind = KINDS[first];
  if (!kind) {
    const cert = first.includes('-cert-');
    return invalid(
      cert ? `certificates (${first}) are not supported in keys` : `unsupported key type ${JSON.stringify(first.slice(0, 60))}`,
      cert ? 'give the plain public key (the .pub file, not -cert.pub)' : `use one of: ${SUPPORTED_KEY_TYPES.join(', ')}`,
    );
  }

  const base64 = words[1];
  if (base64 === undefined) return invalid(`the ${first} key has no base64 key data`, COPY_HINT);
  if (base64.length > MAX_BASE64_LENGTH) return invalid('the key data is far too long for a public key', COPY_HINT);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) {
    return invalid('the key data is not valid base64', COPY_HINT);
  }
  const blob = Buffer.from(base64, 'base64');
  if (blob.toString('base64') !== base64) return invalid('the key data is not valid base64', COPY_HINT);

  const checked = checkBlob(first, kind, blob);
  if ('ok' in checked) return checked;
  if (kind.family === 'rsa' && checked.bits < MIN_RSA_BITS) {
    return {
      ok: false,
      problem: {
        rule: 'key-weak',
        message: `this RSA key has ${checked.bits} bits; at least ${MIN_RSA_BITS} are required`,
        hint: 'ask the guest for an ed25519 key (ssh-keygen -t ed25519) or RSA of 3072 bits or more',
      },
    };
  }
  const comment = line.slice(line.indexOf(base64, first.length) + base64.length).trim();
  return {
    ok: true,
    key: { type: first, base64, comment, fingerprint: fingerprint(blob), bits: checked.bits },
  };
}
