import type { Migration } from '../migrate.js';

/**
 * A grant's originally granted length, which renewal extends by. It was taken from `expires_at - issued_at`,
 * but `issued_at` stays put while renewal moves `expires_at`, so each renewal roughly doubled the grant.
 *
 * Backfill: the expiry recorded when the grant was issued (its `issued` decision) less `issued_at` is the exact
 * original length; a row with no such decision gets its current length, as renewal used before.
 */
export const grantLength: Migration = {
  id: 6,
  name: 'grant-length',
  up: `
ALTER TABLE grants ADD COLUMN length_ms bigint NULL;
UPDATE grants g SET length_ms = GREATEST(1, floor(1000 * extract(epoch FROM COALESCE(
  (SELECT x.at FROM (
     -- CASE, not AND: PostgreSQL may evaluate a cast before the test that guards it
     SELECT d.id, CASE WHEN d.details->>'expires_at' ~ '^\\d{4}-\\d{2}-\\d{2}T[0-9:.]+Z$' THEN (d.details->>'expires_at')::timestamptz END AS at
       FROM grant_decisions d WHERE d.grant_id = g.id AND d.outcome = 'issued') x
    WHERE x.at > g.issued_at ORDER BY x.id LIMIT 1),
  g.expires_at) - g.issued_at)));
ALTER TABLE grants ALTER COLUMN length_ms SET NOT NULL;
ALTER TABLE grants ADD CONSTRAINT grants_length_ms_positive CHECK (length_ms > 0);
`,
};
