/**
 * Entries of a guest's `from` list, rendered into `from="…"` on the key line. OpenSSH reads that
 * option as a comma-separated pattern list with `!` negation and `*`/`?` wildcards, and refuses the
 * whole key when a CIDR entry has host bits set (addr_pton_cidr returns "inconsistent mask
 * length"), which would silently lock the guest out. So only plain addresses and clean CIDR
 * networks are accepted here.
 */
import { isIP } from 'node:net';

/** Verdict on one `from` entry; on refusal, what is wrong and what to write instead. */
export type FromCheck = { ok: true } | { ok: false; message: string; hint: string };

const FORM_HINT = 'write an IPv4/IPv6 address (203.0.113.7) or a network (198.51.100.0/24), one per list item';

function ipv4Bytes(text: string): number[] {
  return text.split('.').map(Number);
}

function ipv6Bytes(text: string): number[] {
  let head = text;
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    tail = ipv4Bytes(v4[1]);
    head = text.slice(0, -v4[1].length);
    head = head.endsWith('::') ? head : head.replace(/:$/, '');
  }
  const groupsWanted = (16 - tail.length) / 2;
  const [left = '', right] = head.split('::');
  const leftGroups = left ? left.split(':') : [];
  const rightGroups = right !== undefined && right !== '' ? right.split(':') : [];
  const zeros = right === undefined ? [] : Array<string>(groupsWanted - leftGroups.length - rightGroups.length).fill('0');
  const groups = [...leftGroups, ...zeros, ...rightGroups];
  const bytes: number[] = [];
  for (const group of groups) {
    const value = parseInt(group, 16);
    bytes.push(value >> 8, value & 0xff);
  }
  return [...bytes, ...tail];
}

function formatIpv6(bytes: number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // Compress the longest run of two or more zero groups, as RFC 5952 does.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Checks one `from` entry; the message says what is wrong and the hint what to write instead. */
export function checkFromEntry(entry: string): FromCheck {
  if (/[,\s]/.test(entry)) {
    return { ok: false, message: `"${entry}" holds more than one entry`, hint: 'give each address or network as its own list item' };
  }
  if (entry.startsWith('!')) {
    return { ok: false, message: `negated entry "${entry}" is not supported`, hint: 'list only the addresses the guest may connect from' };
  }
  if (/[*?]/.test(entry)) {
    return { ok: false, message: `wildcard entry "${entry}" is not supported`, hint: 'use a CIDR network instead, e.g. 198.51.100.0/24' };
  }
  if (entry.includes('%')) {
    return { ok: false, message: `"${entry}" has an IPv6 zone id, which from= cannot match`, hint: 'drop the %zone part' };
  }
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const family = isIP(address);
  if (family === 0) {
    return { ok: false, message: `"${entry}" is not an IP address or CIDR network`, hint: FORM_HINT };
  }
  if (slash < 0) return { ok: true };

  const prefixText = entry.slice(slash + 1);
  const maxPrefix = family === 4 ? 32 : 128;
  const prefix = /^(?:0|[1-9]\d{0,2})$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= maxPrefix)) {
    return {
      ok: false,
      message: `"${entry}" has an invalid prefix length "${prefixText}"`,
      hint: `an IPv${family} prefix length is a number from 0 to ${maxPrefix}`,
    };
  }
  const bytes = family === 4 ? ipv4Bytes(address) : ipv6Bytes(address);
  const network = bytes.map((byte, i) => {
    const bitsHere = Math.max(0, Math.min(8, prefix - i * 8));
    return byte & ((0xff << (8 - bitsHere)) & 0xff);
  });
  if (network.some((byte, i) => byte !== bytes[i])) {
    const fixed = family === 4 ? network.join('.') : formatIpv6(network);
    return {
      ok: false,
      message: `"${entry}" has host bits set; OpenSSH would refuse the guest's key entirely`,
      hint: `write the network address: ${fixed}/${prefix}`,
    };
  }
  return { ok: true };
}
