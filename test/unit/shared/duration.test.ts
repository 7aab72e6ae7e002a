import { describe, expect, it } from 'vitest';
import { formatDuration, formatSpan, parseDuration } from '../../../shared/duration.js';
import { HoopError } from '../../../shared/errors.js';

describe('durations', () => {
  it('parses what people write, and names bad input', () => {
    expect(['90s', '15m', '1h', '1h30m', '2d', '250ms'].map((d) => parseDuration(d))).toEqual([90_000, 900_000, 3_600_000, 5_400_000, 172_800_000, 250]);
    for (const bad of ['', '0m', '-5m', 'abc', '10', '1h abc']) {
      expect(() => parseDuration(bad, '--duration')).toThrow(HoopError);
    }
    expect(() => parseDuration('abc', '--duration')).toThrow('invalid --duration "abc"');
  });

  it('counts down in a fixed shape (formatDuration)', () => {
    expect([3_552_000, 3_600_000, 8_000, 0].map(formatDuration)).toEqual(['59m 12s', '1h 0m', '8s', '0s']);
  });

  it('gives a configured length as it was written, with no zero parts (formatSpan)', () => {
    expect([600_000, 3_600_000, 5_400_000, 45_000, 125_000, 93_600_000, 0].map(formatSpan)).toEqual(['10m', '1h', '1h 30m', '45s', '2m 5s', '1d 2h', '0s']);
    expect(formatSpan(parseDuration('10m'))).toBe('10m');
  });
});
