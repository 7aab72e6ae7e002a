/**
 * When to renew a tunnel's grant, and which failures end renewal. Pure, apart from the system clock.
 */
import type { ErrorCode } from '../shared/errors.js';

/** Time and timers, injected so expiry and renewal can be tested without waiting. */
export interface Clock {
  now(): number;
  /** Runs `fn` after `ms`; returns a cancel function. Timers must not keep the process alive. */
  setTimer(fn: () => void, ms: number): () => void;
}

/** setTimeout cannot wait longer than this (about 24.8 days); longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    let timer: NodeJS.Timeout;
    const arm = (left: number): void => {
      timer = setTimeout(() => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fn()), Math.min(left, MAX_TIMER_MS));
      timer.unref();
    };
    arm(Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};

/** Renew no later than this long before expiry. */
export const RENEW_BEFORE_EXPIRY_MS = 60_000;
/** After a failure that may pass (gateway unreachable), try again after at most this long. */
export const RENEW_RETRY_MS = 30_000;
const MIN_RETRY_MS = 1_000;

/**
 * Milliseconds from `now` until renewal: at 80% of the remaining lifetime, or 60 s before expiry, whichever
 * comes first; 0 when that moment has passed.
 */
export function renewalDelay(now: number, expiresAt: number): number {
  const remaining = expiresAt - now;
  if (remaining <= 0) return 0;
  return Math.max(0, Math.min(remaining * 0.8, remaining - RENEW_BEFORE_EXPIRY_MS));
}

/** The delay before retrying a failed renewal: 30 s, or half of what is left, but at least 1 s. */
export function retryDelay(now: number, expiresAt: number): number {
  return Math.max(MIN_RETRY_MS, Math.min(RENEW_RETRY_MS, (expiresAt - now) / 2));
}

const PERMANENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'login_required', 'token_invalid', 'access_denied', 'grant_invalid', 'grant_expired', 'grant_revoked', 'not_found',
]);

/** Whether a renewal failure will not go away by itself (the user must log in or ask again). */
export function isPermanentRenewalFailure(code: ErrorCode): boolean {
  return PERMANENT.has(code);
}
