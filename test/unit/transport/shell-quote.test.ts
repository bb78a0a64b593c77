import { execa } from 'execa';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quote, sh } from '../../../src/transport/shell-quote.js';

// Characters a shell treats specially, weighted in so edge cases come up in 200 runs.
const nasty = fc.constantFrom(
  "'", '"', '\\', '$', '`', ' ', '\n', '\t', '*', '?', '[', ']', '~', '!', '#', '&', ';', '|', '(', ')', '<', '>',
  '%', '-', '=', '{', '}', '\r', '\u00e9', '\u{1F600}', 'a', '0',
);
const noNul = (s: string): boolean => !s.includes('\0');
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: nasty, maxLength: 40 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
).filter(noNul);

async function shPrint(word: string): Promise<string> {
  const r = await execa('sh', ['-c', `printf %s ${word}`], { stripFinalNewline: false, reject: false });
  if (r.exitCode !== 0) throw new Error(`sh failed (${r.exitCode}): ${String(r.stderr)}`);
  return String(r.stdout);
}

describe('quote', () => {
  it('round-trips any string without NUL through a real sh', async () => {
    await fc.assert(
      fc.asyncProperty(anyString, async (s) => {
        expect(await shPrint(quote(s))).toBe(s);
      }),
      { numRuns: 200 },
    );
  }, 60_000);

  it.each([
    ['', "''"],
    ['plain-word_1.2:3@x/y', 'plain-word_1.2:3@x/y'],
    ["it's", "'it'\\''s'"],
    ['$(reboot)', "'$(reboot)'"],
    [42, '42'],
  ] as const)('quotes %j as %s', (value, want) => {
    expect(quote(value)).toBe(want);
  });

  it('refuses NUL', () => {
    expect(() => quote('a\0b')).toThrow(/NUL/);
  });

  it('builds commands with sh`` where every value is one word', async () => {
    const args = ['a b', "c'd", '$HOME'];
    const cmd = sh`printf '%s|' ${args}`;
    const r = await execa('sh', ['-c', cmd]);
    expect(r.stdout).toBe("a b|c'd|$HOME|");
  });
});
