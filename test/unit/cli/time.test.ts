import { describe, expect, it } from 'vitest';
import { clockTime } from '../../../cli/ui/time.js';

const NOW = new Date('2026-03-01T22:00:00.000Z');

describe('clockTime: the one format the CLI shows times in', () => {
  it('is UTC with a Z, whatever the local time zone, for ISO strings, epoch milliseconds and Dates', () => {
    expect(clockTime('2026-03-01T23:13:44.512Z', NOW)).toBe('23:13:44Z');
    expect(clockTime('2026-03-01T18:13:44-05:00', NOW)).toBe('23:13:44Z');
    expect(clockTime(Date.parse('2026-03-01T04:05:06Z'), NOW)).toBe('04:05:06Z');
    expect(clockTime(new Date('2026-03-01T00:00:00Z'), NOW)).toBe('00:00:00Z');
  });

  it('adds the date when the day (UTC) is not today', () => {
    expect(clockTime('2026-03-02T01:00:00Z', NOW)).toBe('2026-03-02 01:00:00Z');
    expect(clockTime('2026-02-28T23:59:59Z', NOW)).toBe('2026-02-28 23:59:59Z');
  });

  it('reads the six-digit fractions PostgreSQL writes, and shows a value that is not a time as it came', () => {
    expect(clockTime('2026-03-01T07:33:19.643000Z', NOW)).toBe('07:33:19Z');
    expect(clockTime('x', NOW)).toBe('x');
  });
});
