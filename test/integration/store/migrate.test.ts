import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../gateway/store/db.js';
import type { Database } from '../../../gateway/store/db.js';
import { migrate } from '../../../gateway/store/migrate.js';
import type { Migration } from '../../../gateway/store/migrate.js';
import { migrations } from '../../../gateway/store/migrations/index.js';
import { isHoopError } from '../../../shared/errors.js';
import { silentLogger } from '../../../shared/log.js';
import { freshDatabase } from '../../helpers/pg.js';
import type { FreshDatabase } from '../../helpers/pg.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(prefix: string): Promise<{ fresh: FreshDatabase; open: () => Database }> {
  const fresh = await freshDatabase(prefix);
  cleanups.push(() => fresh.drop());
  const open = (): Database => {
    const db = openDatabase({ url: fresh.url, logger: silentLogger, max: 4 });
    cleanups.push(() => db.close());
    return db;
  };
  return { fresh, open };
}

async function tables(db: Database): Promise<string[]> {
  const r = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  return r.rows.map((row) => row.table_name);
}

describe('migrate', () => {
  it('applies every migration once, then is a no-op', async () => {
    const { open } = await setup('migrate_once');
    const db = open();
    const ids = migrations.map((m) => m.id);
    expect(await migrate(db, migrations, { logger: silentLogger })).toEqual({ applied: ids });
    expect(await tables(db)).toEqual([
      'audit_checkpoints', 'audit_log', 'audit_payloads', 'gateway_keys', 'grant_decisions', 'grants', 'hoop_migrations',
      'review_decisions', 'reviews', 'sessions', 'statements', 'subject_bindings',
    ]);
    expect(await migrate(db, migrations, { logger: silentLogger })).toEqual({ applied: [] });
    const rows = await db.query<{ id: number; name: string }>('SELECT id, name FROM hoop_migrations ORDER BY id');
    expect(rows.rows).toEqual(migrations.map((m) => ({ id: m.id, name: m.name })));
  });

  it('gives the initial tables their defaults and constraints', async () => {
    const { open } = await setup('migrate_schema');
    const db = open();
    await migrate(db, migrations, { logger: silentLogger });
    const g = await db.query<{ id: string; renewed_count: number; groups: string[] }>(
      "INSERT INTO grants (connection, subject, groups, identity_kind, expires_at, length_ms) VALUES ('shop', 'alice', '{engineers}', 'user', now() + interval '1 hour', 3600000) RETURNING id, renewed_count, groups",
    );
    expect(g.rows[0]).toMatchObject({ renewed_count: 0, groups: ['engineers'] });
    expect(g.rows[0]!.id).toMatch(/^[0-9a-f-]{36}$/);
    const s = await db.query<{ id: string; bytes_to_client: string }>(
      "INSERT INTO sessions (connection, subject, grant_id) VALUES ('shop', 'alice', $1) RETURNING id, bytes_to_client",
      [g.rows[0]!.id],
    );
    expect(s.rows[0]!.bytes_to_client).toBe('0'); // bigint comes back as a string
    await db.query("INSERT INTO statements (session_id, seq, text, protocol, started_at) VALUES ($1, 1, 'select 1', 'simple', now())", [s.rows[0]!.id]);
    await expect(
      db.query("INSERT INTO statements (session_id, seq, text, protocol, started_at) VALUES ($1, 1, 'again', 'simple', now())", [s.rows[0]!.id]),
    ).rejects.toMatchObject({ code: '23505' });
    await expect(
      db.query("INSERT INTO grant_decisions (subject, connection, outcome, reason) VALUES ('a', 'shop', 'maybe', 'x')"),
    ).rejects.toMatchObject({ code: '23514' });
  });

  it('applies once when two gateways start on one database at the same time', async () => {
    const { open } = await setup('migrate_race');
    const a = open();
    const b = open();
    const [ra, rb] = await Promise.all([migrate(a, migrations, { logger: silentLogger }), migrate(b, migrations, { logger: silentLogger })]);
    // Each migration is applied by exactly one of the two; which one takes which depends on who wins each lock.
    const applied = [...ra.applied, ...rb.applied].sort((x, y) => x - y);
    expect(applied).toEqual(migrations.map((m) => m.id));
    expect(ra.applied).toEqual([...ra.applied].sort((x, y) => x - y));
    expect(rb.applied).toEqual([...rb.applied].sort((x, y) => x - y));
    const rows = await a.query('SELECT id FROM hoop_migrations');
    expect(rows.rowCount).toBe(migrations.length);
  });

  it('applies several pending migrations in order, each in its own transaction', async () => {
    const { open } = await setup('migrate_many');
    const db = open();
    const n = migrations.length;
    const extra: Migration[] = [
      ...migrations,
      { id: n + 1, name: 'notes', up: 'CREATE TABLE notes (id int PRIMARY KEY)' },
      { id: n + 2, name: 'broken', up: 'CREATE TABLE later (id int); SELECT no_such_function()' },
    ];
    await expect(migrate(db, extra, { logger: silentLogger })).rejects.toMatchObject({ code: '42883' });
    // everything before the broken one stays applied; it is rolled back whole (its table is not there).
    const rows = await db.query<{ id: number }>('SELECT id FROM hoop_migrations ORDER BY id');
    expect(rows.rows.map((r) => r.id)).toEqual([...migrations.map((m) => m.id), n + 1]);
    expect(await tables(db)).not.toContain('later');
  });

  it('refuses a database that has a migration this binary does not know', async () => {
    const { open } = await setup('migrate_newer');
    const db = open();
    await migrate(db, migrations, { logger: silentLogger });
    await db.query("INSERT INTO hoop_migrations (id, name) VALUES (99, 'from-the-future')");
    const err: unknown = await migrate(db, migrations, { logger: silentLogger }).catch((e: unknown) => e);
    expect(isHoopError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'conflict' });
    expect((err as Error).message).toContain('99 (from-the-future)');
    expect((err as { hint?: string }).hint).toMatch(/hoop version/);
  });

  it('refuses a migration list that is out of order', async () => {
    const { open } = await setup('migrate_order');
    const db = open();
    const bad: Migration[] = [{ id: 2, name: 'two', up: 'SELECT 1' }];
    await expect(migrate(db, bad, { logger: silentLogger })).rejects.toMatchObject({ code: 'internal' });
  });
});
