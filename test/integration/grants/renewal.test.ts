/**
 * Renewal extends a grant by the length first granted, every time: not by `expires_at - issued_at`, which grows
 * with each renewal because `issued_at` never moves (15m, 29m, 57m, 113m…). And the migration that stores the
 * length backfills it from the grant's `issued` decision.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrantService, type GrantableConnection } from '../../../gateway/grants/grant-service.js';
import { loadOrCreateSigningKey, type SigningKey } from '../../../gateway/grants/signing-key.js';
import type { Identity } from '../../../gateway/identity/identity.js';
import { openDatabase, type Database } from '../../../gateway/store/db.js';
import { migrate } from '../../../gateway/store/migrate.js';
import { migrations } from '../../../gateway/store/migrations/index.js';
import { silentLogger } from '../../../shared/log.js';
import { freshDatabase, type FreshDatabase } from '../../helpers/pg.js';

const MIN = 60_000;
const alice: Identity = { subject: 'alice', groups: ['engineers'], kind: 'user', issuer: 'https://idp.test', claims: {} };

let fresh: FreshDatabase;
let db: Database;
let key: SigningKey;

beforeAll(async () => {
  fresh = await freshDatabase('grant_renewal');
  db = openDatabase({ url: fresh.url, logger: silentLogger, max: 2 });
  await migrate(db, migrations, { logger: silentLogger });
  key = await loadOrCreateSigningKey(db, randomBytes(32));
});

afterAll(async () => {
  await db?.close();
  await fresh?.drop();
});

function service(clock: { t: number }, conn: Partial<GrantableConnection> = {}): GrantService {
  const shop: GrantableConnection = { name: 'shop', type: 'postgres', accessGroups: ['engineers'], maxDurationMs: 8 * 60 * MIN, ...conn };
  return new GrantService({
    db, key, issuer: 'https://hoop.test', defaultTtlMs: 60 * MIN, maxTtlMs: 8 * 60 * MIN, roles: { admins: [], auditors: [] },
    connection: (name) => (name === 'shop' ? shop : undefined),
    audit: { grantDecision: async () => undefined },
    now: () => new Date(clock.t),
  });
}

describe('renewal', () => {
  it('extends by the original length each time, not by the grant\'s growing age', async () => {
    const clock = { t: Date.UTC(2026, 0, 2, 9) };
    const grants = service(clock);
    const out = await grants.issue(alice, { connection: 'shop', duration: '15m' });
    if (!('grant' in out)) throw new Error('expected a grant');
    const id = out.grant.id;
    const lengths: number[] = [];
    for (let i = 0; i < 4; i++) {
      clock.t += 14 * MIN; // renewed a minute before it would expire
      const renewed = await grants.renew(alice, id);
      lengths.push((Date.parse(renewed.expires_at) - clock.t) / MIN);
    }
    expect(lengths).toEqual([15, 15, 15, 15]);
  });

  it('is still capped by the connection\'s max_duration when that is now shorter', async () => {
    const clock = { t: Date.UTC(2026, 0, 3, 9) };
    const out = await service(clock).issue(alice, { connection: 'shop', duration: '2h' });
    if (!('grant' in out)) throw new Error('expected a grant');
    clock.t += 10 * MIN;
    const renewed = await service(clock, { maxDurationMs: 30 * MIN }).renew(alice, out.grant.id);
    expect(Date.parse(renewed.expires_at) - clock.t).toBe(30 * MIN);
  });
});

describe('the grant-length migration', () => {
  it('backfills the original length from the issued decision, or the current length without one', async () => {
    const old = await freshDatabase('grant_length_backfill');
    const odb = openDatabase({ url: old.url, logger: silentLogger, max: 1 });
    try {
      const id = migrations.find((m) => m.name === 'grant-length')!.id;
      await migrate(odb, migrations.filter((m) => m.id < id), { logger: silentLogger });
      // Issued for 15m at 09:00, renewed twice by the old rule: now expiring at 09:57.
      const renewed = (await odb.query<{ id: string }>(
        `INSERT INTO grants (connection, subject, identity_kind, issued_at, expires_at, renewed_count)
         VALUES ('shop', 'alice', 'user', '2026-01-02T09:00:00Z', '2026-01-02T09:57:00Z', 2) RETURNING id`,
      )).rows[0]!.id;
      await odb.query(
        `INSERT INTO grant_decisions (subject, connection, outcome, reason, grant_id, details) VALUES ('alice', 'shop', 'issued', '', $1, $2)`,
        [renewed, JSON.stringify({ expires_at: '2026-01-02T09:15:00.000Z', kind: 'user' })],
      );
      const undecided = (await odb.query<{ id: string }>(
        `INSERT INTO grants (connection, subject, identity_kind, issued_at, expires_at)
         VALUES ('shop', 'bob', 'user', '2026-01-02T09:00:00Z', '2026-01-02T10:00:00Z') RETURNING id`,
      )).rows[0]!.id;
      await migrate(odb, migrations, { logger: silentLogger });
      const rows = await odb.query<{ id: string; length_ms: string }>('SELECT id, length_ms FROM grants');
      const byId = new Map(rows.rows.map((r) => [r.id, Number(r.length_ms)]));
      expect(byId.get(renewed)).toBe(15 * MIN);
      expect(byId.get(undecided)).toBe(60 * MIN);
    } finally {
      await odb.close();
      await old.drop();
    }
  });
});
