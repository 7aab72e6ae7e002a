import { describe, expect, it } from 'vitest';
import { formatDuration, formatSpan, parseDuration, parseSince } from '../../../shared/duration.js';
import { HoopError } from '../../../shared/errors.js';

describe('durations', () => {
  it('parses what people write, and names bad input', () => {
    expect(['90s', '15m', '1h', '1h30m', '2d', '250ms'].map((d) => parseDuration(d))).toEqual([90_000, 900_000, 3_600_000, 5_400_000, 172_800_000, 250]);
    for (const bad of ['', '0m', '-5m', 'abc', '10', '1h abc']) {
      expect(() => parseDuration(bad, '--duration')).toThrow(HoopError);
    }
    expect(() => parseDuration('abc', '--duration')).toThrow('invalid --duration "abc"');
  });

  it('names every unit it takes in the hint, days included', () => {
    expect(() => parseDuration('yesterday', '--wait')).toThrow(expect.objectContaining({
      hint: 'use a number with a unit (ms, s, m, h or d), such as 30s, 15m, 1h, 1h30m or 7d',
    }));
  });

  it('counts down in a fixed shape (formatDuration)', () => {
    expect([3_552_000, 3_600_000, 8_000, 0].map(formatDuration)).toEqual(['59m 12s', '1h 0m', '8s', '0s']);
  });

  it('gives a configured length as it was written, with no zero parts (formatSpan)', () => {
    expect([600_000, 3_600_000, 5_400_000, 45_000, 125_000, 93_600_000, 0].map(formatSpan)).toEqual(['10m', '1h', '1h 30m', '45s', '2m 5s', '1d 2h', '0s']);
    expect(formatSpan(parseDuration('10m'))).toBe('10m');
  });
});

describe('--since', () => {
  const NOW = new Date('2026-03-01T12:00:00.000Z');

  it('takes a length of time back from now, or an ISO time', () => {
    expect(parseSince('24h', NOW).toISOString()).toBe('2026-02-28T12:00:00.000Z');
    expect(parseSince('7d', NOW).toISOString()).toBe('2026-02-22T12:00:00.000Z');
    expect(parseSince('1h30m', NOW).toISOString()).toBe('2026-03-01T10:30:00.000Z');
    expect(parseSince('2026-01-02', NOW).toISOString()).toBe('2026-01-02T00:00:00.000Z');
    expect(parseSince('2026-01-02T04:13:44Z', NOW).toISOString()).toBe('2026-01-02T04:13:44.000Z');
  });

  it('refuses anything else with a hint naming both forms (a unit, days included, and ISO times)', () => {
    for (const [bad, message] of [['yesterday', 'invalid --since "yesterday"'], ['2026-13-45', 'invalid --since "2026-13-45": not a valid time'], ['10', 'invalid --since "10"']] as const) {
      let err: unknown;
      try {
        parseSince(bad, NOW);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HoopError);
      expect(err).toMatchObject({ code: 'usage', message });
      const hint = (err as HoopError).hint ?? '';
      for (const form of ['30m', '24h', '7d', 'ISO time', '2026-01-02T04:13:44Z']) expect(hint).toContain(form);
    }
    expect(() => parseSince('soon', NOW, '--until')).toThrow('invalid --until "soon"');
  });
});
