import { describe, expect, it } from 'vitest';
import { isPermanentRenewalFailure, renewalDelay, retryDelay, systemClock } from '../../../agent/renewal.js';

const S = 1000;
const MIN = 60 * S;

describe('renewalDelay', () => {
  it.each([
    // remaining lifetime → renew after (80% of it, or 60 s before expiry, whichever is earlier)
    [60 * MIN, 48 * MIN],   // 1 h grant: at 80%
    [10 * MIN, 8 * MIN],
    [5 * MIN, 4 * MIN],     // 80% and "60 s before" coincide
    [4 * MIN, 3 * MIN],     // 60 s before expiry comes first
    [90 * S, 30 * S],
    [60 * S, 0],            // already inside the last minute: renew now
    [10 * S, 0],
    [0, 0],
    [-5 * S, 0],
  ])('%i ms left → renew in %i ms', (remaining, expected) => {
    const now = 1_700_000_000_000;
    expect(renewalDelay(now, now + remaining)).toBe(expected);
  });
});

describe('retryDelay', () => {
  it('retries after 30 s while there is time, sooner near expiry, never in a tight loop', () => {
    expect(retryDelay(0, 10 * MIN)).toBe(30 * S);
    expect(retryDelay(0, 40 * S)).toBe(20 * S);
    expect(retryDelay(0, S)).toBe(S);
    expect(retryDelay(0, -S)).toBe(S);
  });
});

describe('isPermanentRenewalFailure', () => {
  it('stops on login, access and grant problems; keeps trying when the gateway is only unreachable', () => {
    for (const code of ['login_required', 'token_invalid', 'access_denied', 'grant_revoked', 'grant_expired', 'grant_invalid'] as const) {
      expect(isPermanentRenewalFailure(code)).toBe(true);
    }
    for (const code of ['gateway_unreachable', 'internal', 'upstream_unavailable'] as const) {
      expect(isPermanentRenewalFailure(code)).toBe(false);
    }
  });
});

describe('systemClock', () => {
  it('fires timers and lets them be cancelled', async () => {
    const fired: string[] = [];
    systemClock.setTimer(() => fired.push('a'), 5);
    const cancel = systemClock.setTimer(() => fired.push('b'), 5);
    cancel();
    await new Promise((r) => setTimeout(r, 30));
    expect(fired).toEqual(['a']);
  });
});
