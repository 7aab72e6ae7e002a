/** Per-test databases on the run's one embedded PostgreSQL (started by ./global-setup.ts). */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createDatabaseIfMissing, databaseUrl } from '../../gateway/store/db.js';

export interface FreshDatabase {
  /** URL of the new database, as the superuser. */
  url: string;
  name: string;
  /** Drops it, ending any connections still open to it. */
  drop(): Promise<void>;
}

/** The run's superuser URL (database `postgres`). */
export function pgAdminUrl(): string {
  const url = inject('pgAdminUrl') ?? process.env.HOOP_TEST_PG_URL;
  if (!url) throw new Error('no test PostgreSQL: is test/helpers/global-setup.ts configured as globalSetup?');
  return url;
}

/** Creates a uniquely named, empty database, e.g. `migrate_m3k2x9_4f1a`. */
export async function freshDatabase(prefix: string): Promise<FreshDatabase> {
  const admin = pgAdminUrl();
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 30) || 'test';
  const name = `${clean}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await createDatabaseIfMissing(admin, name);
  return {
    url: databaseUrl(admin, name),
    name,
    drop: async () => {
      const client = new pg.Client({ connectionString: admin });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
