/** `?since=` on the sessions API, for any client of the API (the CLI checks the same grammar before it asks). */
import { describe, expect, it } from 'vitest';
import { sinceToDate } from '../../../../gateway/server/sessions-query.js';
import { HoopError } from '../../../../shared/errors.js';

const now = new Date('2026-11-22T10:00:00Z');

describe('sinceToDate', () => {
  it('takes a length of time back from now, or an ISO time', () => {
    expect(sinceToDate('7d', now).toISOString()).toBe('2026-11-15T10:00:00.000Z');
    expect(sinceToDate('1h30m', now).toISOString()).toBe('2026-11-22T08:30:00.000Z');
    expect(sinceToDate('2026-01-02T04:13:44Z', now).toISOString()).toBe('2026-01-02T04:13:44.000Z');
  });

  it('refuses anything else as a usage error whose hint names both forms', () => {
    for (const bad of ['yesterday', '2026-13-45', '']) {
      const e = (() => {
        try {
          sinceToDate(bad, now);
        } catch (err) {
          return err;
        }
        return undefined;
      })();
      expect(e).toBeInstanceOf(HoopError);
      expect((e as HoopError).code).toBe('usage');
      expect((e as HoopError).hint).toContain('7d');
      expect((e as HoopError).hint).toContain('ISO time');
    }
  });
});
