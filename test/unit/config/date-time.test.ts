import { describe, expect, it } from 'vitest';
import { looksLikeDateTime, parseDateTime } from '../../../src/config/date-time.js';

describe('parseDateTime', () => {
  it.each([
    ['2026-12-31T18:00:00Z', '2026-12-31T18:00:00.000Z'],
    ['2026-12-31t18:00:00z', '2026-12-31T18:00:00.000Z'],
    ['2026-12-31T19:00:00+01:00', '2026-12-31T18:00:00.000Z'],
    ['2026-12-31T12:30:00-05:30', '2026-12-31T18:00:00.000Z'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000Z'],
    ['2026-06-01T00:00:00.250Z', '2026-06-01T00:00:00.250Z'],
  ])('%s → %s', (text, iso) => {
    expect(parseDateTime(text)?.toISOString()).toBe(iso);
  });

  it.each([
    '2026-02-30T00:00:00Z',
    '2026-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-00-10T00:00:00Z',
    '2026-01-00T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T23:60:00Z',
    '2026-01-01T23:59:60Z',
    '2026-01-01T00:00:00+24:00',
  ])('%s is well-formed but not a real instant', (text) => {
    expect(looksLikeDateTime(text)).toBe(true);
    expect(parseDateTime(text)).toBeUndefined();
  });

  it.each(['2026-12-31', '2026-12-31 18:00:00Z', '2026-12-31T18:00:00', '31/12/2026', 'tomorrow', '2026-12-31T18:00Z'])(
    '%s is not RFC 3339',
    (text) => {
      expect(looksLikeDateTime(text)).toBe(false);
      expect(parseDateTime(text)).toBeUndefined();
    },
  );
});
