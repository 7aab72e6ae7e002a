/**
 * The gateway's handle on its PostgreSQL: a `pg.Pool` with a transaction helper. Query errors reach the caller
 * as pg's own errors (with their SQLSTATE in `code`); errors of idle pooled connections are logged, not thrown.
 */
import pg from 'pg';
import type { QueryResult, QueryResultRow } from 'pg';
import type { Logger } from '../../shared/log.js';

/** What both the pool and a transaction offer. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
}

export interface Database extends Queryable {
  /** Runs `fn` inside BEGIN … COMMIT on one connection; rolls back and rethrows if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` on one checked-out connection, with no transaction of its own: for callers that must put several
   * statements in one round trip (simple protocol). A failure discards the connection.
   */
  withClient<T>(fn: (client: Queryable & { simple(sql: string): Promise<QueryResult[]> }) => Promise<T>): Promise<T>;
  /** Ends the pool. Idempotent. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** It holds a password: never log it. */
  url: string;
  logger: Logger;
  /** Pool size; default 10. */
  max?: number;
  /**
   * How long opening a connection may take (TCP, TLS and login), and how long a caller waits for a free pooled
   * connection; default {@link DEFAULT_CONNECT_TIMEOUT_MS}. Without it, a server that accepts TCP but never
   * answers would hang its caller forever: the first one is the gateway's start-up.
   */
  connectTimeoutMs?: number;
}

/** The default of `database_connect_timeout` (docs/configuration.md). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export function openDatabase(options: OpenDatabaseOptions): Database {
  const log = options.logger.child({ component: 'store' });
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    application_name: 'hoop-gateway',
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
  });
  pool.on('error', (err) => log.warn('an idle database connection failed; the pool will replace it', { err }));
  // A connection that dies while checked out emits 'error' on its client, where pg-pool listens only while it is
  // idle: without this, a database restart would be an uncaught exception. The query in flight rejects anyway.
  pool.on('connect', (client) => {
    client.on('error', (err) => log.debug('a database connection failed', { err }));
  });
  let closing: Promise<void> | undefined;

  return {
    query: <R extends QueryResultRow>(text: string, values?: readonly unknown[]) => pool.query<R>(text, values as unknown[] | undefined),

    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const tx: Queryable = {
          query: <R extends QueryResultRow>(text: string, values?: readonly unknown[]) => client.query<R>(text, values as unknown[] | undefined),
        };
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          // The connection is unusable; destroy it rather than return it to the pool.
          broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
          log.warn('rollback failed; discarding the connection', { err: rollbackErr });
        }
        throw err;
      } finally {
        client.release(broken);
      }
    },

    async withClient<T>(fn: (client: Queryable & { simple(sql: string): Promise<QueryResult[]> }) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        return await fn({
          query: <R extends QueryResultRow>(text: string, values?: readonly unknown[]) => client.query<R>(text, values as unknown[] | undefined),
          simple: async (sql: string) => {
            const r = (await client.query(sql)) as unknown as QueryResult | QueryResult[];
            return Array.isArray(r) ? r : [r];
          },
        });
      } catch (err) {
        broken = err instanceof Error ? err : new Error(String(err));
        throw err;
      } finally {
        client.release(broken);
      }
    },

    close: () => (closing ??= endPool(pool)),
  };
}

/** The longest `close` waits for connections to finish closing after the pool has let them go. */
const CLOSE_WAIT_MS = 5_000;

/**
 * `pool.end()` resolves once the pool has let go of its connections, before they are closed: a server stopped
 * right after (the embedded one, at shutdown) would cut them while they close, and their idle error handler
 * would report it. This also waits for each connection's end, up to CLOSE_WAIT_MS.
 */
async function endPool(pool: pg.Pool): Promise<void> {
  let open = pool.totalCount;
  let timer: NodeJS.Timeout | undefined;
  const closed = new Promise<void>((resolve) => {
    if (open === 0) return resolve();
    const onRemove = (): void => {
      if (--open > 0) return;
      pool.off('remove', onRemove);
      resolve();
    };
    pool.on('remove', onRemove);
    timer = setTimeout(resolve, CLOSE_WAIT_MS);
    timer.unref();
  });
  await pool.end();
  await closed;
  clearTimeout(timer);
}

/** The same server and credentials, another database. */
export function databaseUrl(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/**
 * Creates database `name` unless it exists (safe when several instances race). Returns whether it created it.
 * @param adminUrl a URL whose user may CREATE DATABASE.
 */
export async function createDatabaseIfMissing(adminUrl: string, name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => undefined); // a dropped connection surfaces as the failed query below
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount !== 0) return false;
    try {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      return true;
    } catch (err) {
      // 42P04 duplicate_database, 23505 unique_violation: another instance created it first.
      const code = (err as { code?: unknown }).code;
      if (code === '42P04' || code === '23505') return false;
      throw err;
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
