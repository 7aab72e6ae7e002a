/**
 * What an unauthenticated caller can make the gateway record: a few `auth.denied` per address per window, a few
 * more in all, and one summary per window for the rest, with the map of addresses capped.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DenialLimiter, clip } from '../../../../gateway/server/denial-limiter.js';
import { silentLogger } from '../../../../shared/log.js';

function setup(o: { perAddress?: number; total?: number; maxAddresses?: number } = {}) {
  const clock = { t: Date.UTC(2026, 0, 2) };
  const records: { type: string; data: Record<string, unknown> }[] = [];
  const limiter = new DenialLimiter({
    record: async (type, data) => void records.push({ type, data }),
    logger: silentLogger, now: () => new Date(clock.t), windowMs: 60_000, ...o,
  });
  return { clock, records, limiter, count: (type: string) => records.filter((r) => r.type === type).length };
}

afterEach(() => vi.useRealTimers());

describe('DenialLimiter', () => {
  it('records a few refusals per address per window and counts the rest into one summary', async () => {
    const { clock, records, limiter, count } = setup({ perAddress: 3 });
    for (let i = 0; i < 1000; i++) await limiter.denied('203.0.113.7', { reason: 'access token is malformed', path: '/v1/me' });
    await limiter.denied('198.51.100.1', { reason: 'x', path: '/v1/me' });
    expect(count('auth.denied')).toBe(4);
    expect(count('auth.denied.suppressed')).toBe(0); // not before the window closes
    clock.t += 60_000;
    await limiter.denied('203.0.113.7', { reason: 'x', path: '/v1/me' });
    const summary = records.find((r) => r.type === 'auth.denied.suppressed');
    expect(summary?.data).toMatchObject({ suppressed: 997, addresses: 1, busiest: { '203.0.113.7': 997 } });
    expect(count('auth.denied')).toBe(5); // a new window: this address may be recorded again
    expect(records.find((r) => r.type === 'auth.denied')?.data).toMatchObject({ client_addr: '203.0.113.7', path: '/v1/me' });
  });

  it('bounds the records of a window however many addresses send', async () => {
    const { limiter, count } = setup({ perAddress: 3, total: 100 });
    for (let i = 0; i < 5000; i++) await limiter.denied(`2001:db8::${i.toString(16)}`, { reason: 'x' });
    expect(count('auth.denied')).toBe(100);
  });

  it('remembers a bounded number of addresses: later ones are counted together', async () => {
    const { clock, limiter, count, records } = setup({ perAddress: 3, total: 100, maxAddresses: 50 });
    for (let i = 0; i < 5000; i++) await limiter.denied(`2001:db8::${i.toString(16)}`, { reason: 'x' });
    expect(count('auth.denied')).toBe(53); // one from each of 50 addresses, three from all the others together
    clock.t += 60_000;
    await limiter.flush();
    expect(count('auth.denied.suppressed')).toBe(1);
    const summary = records.find((r) => r.type === 'auth.denied.suppressed')!.data;
    expect(summary).toMatchObject({ suppressed: 4947, addresses: 1, busiest: { other: 4947 } });
  });

  it('writes the summary when the window ends, even if no refusal comes after', async () => {
    vi.useFakeTimers();
    const { clock, limiter, count } = setup({ perAddress: 1 });
    await limiter.denied('203.0.113.7', { reason: 'x' });
    await limiter.denied('203.0.113.7', { reason: 'x' });
    expect(count('auth.denied.suppressed')).toBe(0);
    clock.t += 60_000;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(count('auth.denied.suppressed')).toBe(1);
  });

  it('never rejects when the record cannot be written', async () => {
    const limiter = new DenialLimiter({ record: () => Promise.reject(new Error('audit store down')), logger: silentLogger });
    await expect(limiter.denied('203.0.113.7', { reason: 'x' })).resolves.toBeUndefined();
  });

  it('clips caller-chosen text', () => {
    expect(clip('/v1/me')).toBe('/v1/me');
    expect(clip('/'.repeat(10_000)).length).toBeLessThanOrEqual(201);
  });
});
