import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fingerprint, parsePublicKey } from '../../../src/config/public-key.js';

const keysDir = new URL('../../fixtures/config/keys/', import.meta.url);
const readKey = (name: string): string => readFileSync(new URL(name, keysDir), 'utf8').trim();

/** `ssh-keygen -l -f` output recorded when the fixtures were generated: file bits fingerprint comment (TYPE). */
const recorded = readFileSync(new URL('fingerprints.txt', keysDir), 'utf8')
  .trim()
  .split('\n')
  .map((line) => {
    const [file, bits, fp] = line.split(' ') as [string, string, string];
    return { file, bits: Number(bits), fingerprint: fp };
  });

function sshString(data: Buffer | string): Buffer {
  const body = Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, body]);
}

function blobOf(line: string): Buffer {
  return Buffer.from(line.split(' ')[1] as string, 'base64');
}

function hasSshKeygen(): boolean {
  try {
    execFileSync('ssh-keygen', ['-l', '-f', fileURLToPath(new URL('ed25519.pub', keysDir))], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

describe('parsePublicKey on real keys', () => {
  const accepted = recorded.filter((r) => !['dsa.pub', 'rsa-1024.pub'].includes(r.file));

  it.each(accepted)('$file: bits and fingerprint match ssh-keygen -l', ({ file, bits, fingerprint: fp }) => {
    const line = readKey(file);
    const result = parsePublicKey(line);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.key.bits).toBe(bits);
    expect(result.key.fingerprint).toBe(fp);
    expect(result.key.type).toBe(line.split(' ')[0]);
    expect(result.key.base64).toBe(line.split(' ')[1]);
    expect(result.key.comment).toBe(line.split(' ').slice(2).join(' '));
  });

  it.runIf(hasSshKeygen())('fingerprints agree with a live ssh-keygen -l', () => {
    for (const { file } of accepted) {
      const out = execFileSync('ssh-keygen', ['-l', '-f', fileURLToPath(new URL(file, keysDir))], { encoding: 'utf8' });
      const result = parsePublicKey(readKey(file));
      expect(result.ok && out.split(' ')[1]).toBe(result.ok ? result.key.fingerprint : 'parsed');
    }
  });

  it('reads the RSA modulus length past the mpint sign byte (2048, not 2056)', () => {
    const line = readKey('rsa-2048.pub');
    const blob = blobOf(line);
    // type(4+7) e(4+3) then the modulus length: 257 bytes, the first one 0x00
    const nLength = blob.readUInt32BE(4 + 7 + 4 + 3);
    expect(nLength).toBe(257);
    expect(blob[4 + 7 + 4 + 3 + 4]).toBe(0);
    const result = parsePublicKey(line);
    expect(result.ok && result.key.bits).toBe(2048);
  });

  it('refuses RSA-1024 as key-weak', () => {
    const result = parsePublicKey(readKey('rsa-1024.pub'));
    expect(!result.ok && result.problem.rule).toBe('key-weak');
  });

  it('refuses ssh-dss as key-dsa', () => {
    const result = parsePublicKey(readKey('dsa.pub'));
    expect(!result.ok && result.problem.rule).toBe('key-dsa');
    // OpenSSH 10.0 removed DSA outright (upstream "remove ability to enable DSA support"):
    // Debian 13's ssh-keygen -t dsa says "unknown key type dsa". The message says so.
    expect(!result.ok && result.problem.message).toContain('removed them in 10.0');
    expect(!result.ok && result.problem.hint).toContain('ssh-keygen -t ed25519');
  });

  it('fingerprint() is unpadded base64 of sha256', () => {
    expect(fingerprint(Buffer.from(''))).toBe('SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU');
  });
});

describe('parsePublicKey refuses what would not be a bare key', () => {
  const ed = readKey('ed25519.pub');
  const [type, b64] = ed.split(' ') as [string, string];
  const edBlob = blobOf(ed);
  const edPk = edBlob.subarray(4 + type.length + 4);

  const cases: { name: string; entry: string; rule: string }[] = [
    { name: 'command= option', entry: `command="/bin/bash" ${ed}`, rule: 'key-options' },
    { name: 'restrict option', entry: `restrict ${ed}`, rule: 'key-options' },
    { name: 'option list', entry: `no-pty,from="*" ${ed}`, rule: 'key-options' },
    { name: 'anything before the type', entry: `todd ${ed}`, rule: 'key-options' },
    { name: 'a second line', entry: `${ed}\n${ed}`, rule: 'key-options' },
    { name: 'a trailing newline', entry: `${ed}\n`, rule: 'key-options' },
    { name: 'a carriage return', entry: `${ed}\r`, rule: 'key-options' },
    { name: 'a NUL', entry: `${type} ${b64}\u0000x`, rule: 'key-options' },
    { name: 'a line separator', entry: `${ed}\u2028restrict`, rule: 'key-options' },
    { name: 'empty', entry: '   ', rule: 'key-invalid' },
    { name: 'no base64', entry: 'ssh-ed25519', rule: 'key-invalid' },
    { name: 'not base64', entry: 'ssh-ed25519 !!!! c', rule: 'key-invalid' },
    // "AAAAAWE=" is canonical; "AAAAAWF=" decodes to the same bytes with stray low bits set
    { name: 'non-canonical base64', entry: `${type} AAAAAWF= c`, rule: 'key-invalid' },
    { name: 'unknown type', entry: `ssh-xmss@openssh.com ${b64}`, rule: 'key-invalid' },
    { name: 'certificate', entry: `ssh-ed25519-cert-v01@openssh.com ${b64}`, rule: 'key-invalid' },
    { name: 'type mismatch', entry: `ssh-rsa ${b64}`, rule: 'key-invalid' },
    { name: 'ecdsa word on ed25519 blob', entry: `ecdsa-sha2-nistp256 ${b64}`, rule: 'key-invalid' },
    {
      name: 'trailing bytes',
      entry: `${type} ${Buffer.concat([edBlob, Buffer.from([0])]).toString('base64')}`,
      rule: 'key-invalid',
    },
    {
      name: 'short ed25519 key',
      entry: `${type} ${Buffer.concat([sshString(type), sshString(edPk.subarray(4, 20))]).toString('base64')}`,
      rule: 'key-invalid',
    },
    {
      name: 'negative RSA modulus',
      entry: `ssh-rsa ${Buffer.concat([sshString('ssh-rsa'), sshString(Buffer.from([1, 0, 1])), sshString(Buffer.alloc(256, 0xff))]).toString('base64')}`,
      rule: 'key-invalid',
    },
    {
      name: 'even RSA exponent',
      entry: `ssh-rsa ${Buffer.concat([sshString('ssh-rsa'), sshString(Buffer.from([2])), sshString(Buffer.concat([Buffer.from([0]), Buffer.alloc(256, 0xff)]))]).toString('base64')}`,
      rule: 'key-invalid',
    },
    {
      name: 'length field past the end',
      entry: `${type} ${Buffer.from([0, 0, 0, 200, 1, 2]).toString('base64')}`,
      rule: 'key-invalid',
    },
  ];

  it.each(cases)('$name → $rule', ({ entry, rule }) => {
    const result = parsePublicKey(entry);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problem.rule).toBe(rule);
      expect(result.problem.hint.length).toBeGreaterThan(0);
    }
  });

  it('accepts tabs between fields, surrounding blanks, a comment with spaces, and no comment', () => {
    const withTabs = parsePublicKey(`\t${type}\t${b64}\tTodd  Trees laptop  `);
    expect(withTabs.ok && withTabs.key.comment).toBe('Todd  Trees laptop');
    const bare = parsePublicKey(`${type} ${b64}`);
    expect(bare.ok && bare.key.comment).toBe('');
  });

  it('builds an RSA key of exactly 2048 bits with a 0x00 sign byte and accepts it; 2047 is weak', () => {
    const modulus = (bits: number): Buffer => {
      const bytes = Buffer.alloc(Math.ceil(bits / 8), 0xff);
      const spare = bytes.length * 8 - bits;
      bytes[0] = 0xff >> spare;
      return bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
    };
    const line = (bits: number): string =>
      `ssh-rsa ${Buffer.concat([sshString('ssh-rsa'), sshString(Buffer.from([1, 0, 1])), sshString(modulus(bits))]).toString('base64')}`;
    const ok = parsePublicKey(line(2048));
    expect(ok.ok && ok.key.bits).toBe(2048);
    const weak = parsePublicKey(line(2047));
    expect(!weak.ok && weak.problem.rule).toBe('key-weak');
  });
});
