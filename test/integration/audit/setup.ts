/** One migrated database per test file, its signing key, and helpers to open more pools on it. */
import { randomBytes } from 'node:crypto';
import { loadOrCreateSigningKey, type SigningKey } from '../../../gateway/grants/signing-key.js';
import { openDatabase, type Database } from '../../../gateway/store/db.js';
import { migrate } from '../../../gateway/store/migrate.js';
import { migrations } from '../../../gateway/store/migrations/index.js';
import { silentLogger } from '../../../shared/log.js';
import { freshDatabase, type FreshDatabase } from '../../helpers/pg.js';

export interface AuditTestDb {
  fresh: FreshDatabase;
  db: Database;
  key: SigningKey;
  /** Another pool on the same database (another gateway instance). */
  open(max?: number): Database;
  /** Empties the audit tables. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export async function auditTestDb(prefix: string): Promise<AuditTestDb> {
  const fresh = await freshDatabase(prefix);
  const pools: Database[] = [];
  const open = (max = 4): Database => {
    const db = openDatabase({ url: fresh.url, logger: silentLogger, max });
    pools.push(db);
    return db;
  };
  const db = open();
  await migrate(db, migrations, { logger: silentLogger });
  const key = await loadOrCreateSigningKey(db, randomBytes(32));
  return {
    fresh,
    db,
    key,
    open,
    reset: async () => {
      await db.query('TRUNCATE audit_payloads, audit_log, audit_checkpoints');
    },
    close: async () => {
      for (const p of pools) await p.close();
      await fresh.drop();
    },
  };
}

/** A clock that moves one second per call, from 2026-01-02T00:00:00Z. */
export function steppingClock(start = Date.UTC(2026, 0, 2)): { now: () => Date; at: (call: number) => Date } {
  let calls = 0;
  return {
    now: () => new Date(start + 1000 * calls++),
    at: (call: number) => new Date(start + 1000 * call),
  };
}
