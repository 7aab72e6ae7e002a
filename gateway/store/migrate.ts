/**
 * Schema migrations. Each migration is a TS module in `migrations/` exporting `{ id, name, up }`, listed by hand
 * in `migrations/index.ts`. Each runs in its own transaction, recorded in `hoop_migrations`, under a
 * transaction-scoped advisory lock so that gateway instances starting together on one database migrate once.
 */
import { HoopError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Database, Queryable } from './db.js';

export interface Migration {
  /** 1, 2, 3 … in order, never reused. */
  readonly id: number;
  readonly name: string;
  /** SQL, possibly several statements. */
  readonly up: string;
}

export interface MigrateOptions {
  logger: Logger;
}

export interface MigrateResult {
  /** Ids applied by this call (empty when the schema was already current). */
  applied: number[];
}

/** Arbitrary but fixed: every hoop instance must use the same key. ("hoop" in ASCII.) */
export const MIGRATION_LOCK_KEY = 0x686f6f70;

const CREATE_TABLE = `
CREATE TABLE IF NOT EXISTS hoop_migrations (
  id         integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

function checkList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.id !== i + 1) {
      throw new HoopError('internal', `migration list out of order: position ${i + 1} holds migration ${m.id} (${m.name})`, {
        hint: 'list migrations in gateway/store/migrations/index.ts in id order, 1, 2, 3 … with no gaps',
      });
    }
  });
}

async function lockAndReadApplied(tx: Queryable): Promise<Map<number, string>> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
  await tx.query(CREATE_TABLE);
  const rows = await tx.query<{ id: number; name: string }>('SELECT id, name FROM hoop_migrations ORDER BY id');
  return new Map(rows.rows.map((r) => [r.id, r.name]));
}

/**
 * Applies the migrations the database lacks, in order.
 * @throws HoopError `conflict` when the database has a migration this binary does not know (a newer schema).
 */
export async function migrate(db: Database, migrations: readonly Migration[], options: MigrateOptions): Promise<MigrateResult> {
  checkList(migrations);
  const log = options.logger.child({ component: 'migrate' });
  const known = new Map(migrations.map((m) => [m.id, m]));

  const applied = await db.transaction(lockAndReadApplied);
  const unknown = [...applied.entries()].filter(([id]) => !known.has(id));
  if (unknown.length > 0) throw newerSchemaError(unknown);
  for (const [id, name] of applied) {
    const expected = known.get(id)?.name;
    if (expected !== undefined && expected !== name) log.warn('an applied migration has another name in this version', { id, applied: name, expected });
  }

  const done: number[] = [];
  for (const m of migrations) {
    if (applied.has(m.id)) continue;
    const ran = await db.transaction(async (tx) => {
      // Another instance may have applied it while we waited for the lock.
      const now = await lockAndReadApplied(tx);
      if (now.has(m.id)) return false;
      await tx.query(m.up);
      await tx.query('INSERT INTO hoop_migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
      return true;
    });
    if (ran) {
      done.push(m.id);
      log.info('applied migration', { id: m.id, name: m.name });
    }
  }
  return { applied: done };
}

/** A database that has migrations this binary does not know: a newer gateway migrated it. */
export function newerSchemaError(unknown: readonly (readonly [number, string])[]): HoopError {
  const list = unknown.map(([id, name]) => `${id} (${name})`).join(', ');
  return new HoopError('conflict', `the database schema is newer than this gateway: it has migration ${list}, which this version does not know`, {
    hint: 'run a hoop version at least as new as the one that last started on this database',
    details: { unknownMigrations: unknown.map(([id]) => id) },
  });
}

export interface MigrationStatus {
  /** Applied, by id (their names as recorded). */
  applied: ReadonlyMap<number, string>;
  /** Known to this binary and not applied yet: what the next start applies. */
  pending: readonly Migration[];
  /** Applied and unknown to this binary (a newer schema): start refuses such a database. */
  unknown: readonly (readonly [number, string])[];
}

/** Where the database's schema stands against `migrations`, read only: no lock taken, no table created. */
export async function migrationStatus(q: Queryable, migrations: readonly Migration[]): Promise<MigrationStatus> {
  checkList(migrations);
  const present = await q.query<{ present: boolean }>(`SELECT to_regclass('hoop_migrations') IS NOT NULL AS present`);
  const rows = present.rows[0]?.present
    ? (await q.query<{ id: number; name: string }>('SELECT id, name FROM hoop_migrations ORDER BY id')).rows
    : [];
  const applied = new Map(rows.map((r) => [r.id, r.name]));
  const known = new Set(migrations.map((m) => m.id));
  return {
    applied,
    pending: migrations.filter((m) => !applied.has(m.id)),
    unknown: [...applied.entries()].filter(([id]) => !known.has(id)),
  };
}
