import { afterEach, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { createDatabaseIfMissing, databaseUrl, openDatabase } from '../../../gateway/store/db.js';
import { createLogger, silentLogger } from '../../../shared/log.js';
import { freshDatabase, pgAdminUrl } from '../../helpers/pg.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe('openDatabase', () => {
  it('commits a transaction, and rolls back one that throws', async () => {
    const fresh = await freshDatabase('db_tx');
    cleanups.push(() => fresh.drop());
    const db = openDatabase({ url: fresh.url, logger: silentLogger });
    cleanups.push(() => db.close());
    await db.query('CREATE TABLE t (v int)');
    expect(await db.transaction(async (tx) => (await tx.query('INSERT INTO t VALUES (1) RETURNING v')).rows[0])).toEqual({ v: 1 });
    const boom = new Error('boom');
    await expect(db.transaction(async (tx) => {
      await tx.query('INSERT INTO t VALUES (2)');
      throw boom;
    })).rejects.toBe(boom);
    expect((await db.query('SELECT v FROM t ORDER BY v')).rows).toEqual([{ v: 1 }]);
  });

  it('logs, rather than throws, when an idle pooled connection dies; close is idempotent', async () => {
    const fresh = await freshDatabase('db_idle');
    cleanups.push(() => fresh.drop());
    const lines: string[] = [];
    const db = openDatabase({ url: fresh.url, logger: createLogger({ level: 'warn', write: (l) => lines.push(l) }) });
    await db.query('SELECT 1'); // leaves one idle connection in the pool
    const admin = new pg.Client({ connectionString: pgAdminUrl() });
    await admin.connect();
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'hoop-gateway'", [fresh.name]);
    await admin.end();
    await expect.poll(() => lines.length).toBeGreaterThan(0);
    expect(lines[0]).toContain('idle database connection failed');
    expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await db.close();
    await db.close();
  });
});

describe('closing the pool', () => {
  it('resolves only once every connection has closed, so a server stopped right after cuts none', async () => {
    const fresh = await freshDatabase('db_close');
    cleanups.push(() => fresh.drop());
    const lines: string[] = [];
    const db = openDatabase({ url: fresh.url, logger: createLogger({ level: 'warn', write: (l) => lines.push(l) }) });
    await Promise.all(Array.from({ length: 5 }, () => db.query('SELECT pg_sleep(0.05)'))); // five idle connections
    const admin = new pg.Client({ connectionString: pgAdminUrl() });
    await admin.connect();
    try {
      await db.close();
      // What a shutdown does next: the server ends whatever is still connected (here: terminate, at once).
      const { rows } = await admin.query<{ cut: number }>(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS cut FROM pg_stat_activity WHERE datname = $1 AND application_name = 'hoop-gateway'",
        [fresh.name]);
      expect(rows[0]!.cut).toBe(0);
    } finally {
      await admin.end();
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(lines).toEqual([]);
  });
});

describe('the test server', () => {
  it('is shared with test files through inject and HOOP_TEST_PG_URL', () => {
    expect(inject('pgAdminUrl')).toMatch(/^postgres:\/\/postgres:[0-9a-f]{32}@127\.0\.0\.1:\d+\/postgres$/);
    expect(process.env.HOOP_TEST_PG_URL).toBe(inject('pgAdminUrl'));
  });
});

describe('createDatabaseIfMissing', () => {
  it('creates once, and tolerates racing creators', async () => {
    const name = `db_create_${Date.now().toString(36)}`;
    const admin = pgAdminUrl();
    const results = await Promise.all([createDatabaseIfMissing(admin, name), createDatabaseIfMissing(admin, name)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await createDatabaseIfMissing(admin, name)).toBe(false);
    const client = new pg.Client({ connectionString: databaseUrl(admin, name) });
    await client.connect();
    expect((await client.query('SELECT current_database() AS db')).rows).toEqual([{ db: name }]);
    await client.end();
    const c2 = new pg.Client({ connectionString: admin });
    await c2.connect();
    await c2.query(`DROP DATABASE ${c2.escapeIdentifier(name)}`);
    await c2.end();
  });
});
