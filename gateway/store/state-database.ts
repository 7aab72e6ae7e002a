/**
 * Opens the gateway's own database at start-up: the first connection, then the migrations. When the URL is the
 * operator's (`database_url`), a failure becomes an `upstream_unavailable` HoopError that names the setting and
 * the server, keeps the driver's reason and says what to check; the password is never part of it. Failures of
 * the embedded server's database pass through as they are: they are not the operator's setting.
 */
import { HoopError, isHoopError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { openDatabase, DEFAULT_CONNECT_TIMEOUT_MS, type Database } from './db.js';
import { migrate, type Migration } from './migrate.js';
import { TimeoutError, withTimeout } from '../../shared/timeout.js';

type Phase = 'connect' | 'migrate';

export interface ConnectStateDatabaseOptions {
  /** It holds a password: never log it. */
  url: string;
  /** The config key `url` came from (`database_url`), or undefined for the embedded server. */
  setting: string | undefined;
  logger: Logger;
  max?: number;
  connectTimeoutMs?: number;
}

export interface OpenStateDatabaseOptions extends ConnectStateDatabaseOptions {
  migrations: readonly Migration[];
}

/**
 * Connects, migrates, and returns the open pool; on failure, closes the pool and throws.
 * @throws HoopError `upstream_unavailable` for an unreachable or refusing `database_url`; migrate's own HoopErrors.
 */
export async function openStateDatabase(o: OpenStateDatabaseOptions): Promise<Database> {
  const db = await connectStateDatabase(o);
  try {
    await migrate(db, o.migrations, { logger: o.logger }).catch((e: unknown) => {
      throw o.setting === undefined ? e : stateDatabaseError(e, { url: o.url, setting: o.setting, connectTimeoutMs: timeoutOf(o), phase: 'migrate' });
    });
    return db;
  } catch (e) {
    await db.close();
    throw e;
  }
}

/**
 * Connects and waits for the answer to a first query, migrating nothing (start-up migrates next; `hoop gateway
 * check` only looks); on failure, closes the pool and throws.
 * @throws HoopError `upstream_unavailable` for an unreachable or refusing `database_url`.
 */
export async function connectStateDatabase(o: ConnectStateDatabaseOptions): Promise<Database> {
  const connectTimeoutMs = timeoutOf(o);
  const db = openDatabase({ url: o.url, logger: o.logger, connectTimeoutMs, ...(o.max === undefined ? {} : { max: o.max }) });
  try {
    // A connection of its own first, so that a failure here reads as "cannot connect", not as a failed migration.
    // The connect timeout covers the login; this covers the first answer after it. A pooler such as pgbouncer
    // completes the login and then queues every query while the database behind it is down.
    await db.withClient((c) => withTimeout(c.query('SELECT 1'), connectTimeoutMs)).catch((e: unknown) => {
      if (e instanceof TimeoutError) throw noAnswerError(o.url, o.setting, connectTimeoutMs, e);
      throw o.setting === undefined ? e : stateDatabaseError(e, { url: o.url, setting: o.setting, connectTimeoutMs, phase: 'connect' });
    });
    return db;
  } catch (e) {
    await db.close();
    throw e;
  }
}

function timeoutOf(o: ConnectStateDatabaseOptions): number {
  return o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
}

function noAnswerError(url: string, setting: string | undefined, timeoutMs: number, cause: unknown): HoopError {
  const where = `the gateway's database at ${serverOf(url)}${setting ? ` (${setting})` : ''}`;
  return new HoopError('upstream_unavailable', `cannot use ${where}: it accepted the login but did not answer a query within ${timeoutMs / 1000}s`, {
    cause,
    details: { ...(setting ? { setting } : {}), server: serverOf(url), timeoutMs },
    hint: 'a connection pooler (pgbouncer, say) whose database is down behaves like this: check the database behind it; '
      + 'for a slow server, raise database_connect_timeout',
  });
}

export interface StateDatabaseErrorContext {
  url: string;
  setting: string;
  connectTimeoutMs: number;
  /** Whether the connection failed, or a statement on one (the migrations). */
  phase: Phase;
}

/** The server a PostgreSQL URL names, as `host:port` (pg's defaults: localhost, 5432). */
export function serverOf(url: string): string {
  if (!URL.canParse(url)) return 'an unparsable URL';
  const u = new URL(url);
  const host = u.searchParams.get('host') ?? (u.hostname || 'localhost');
  return `${host}:${u.searchParams.get('port') ?? (u.port || '5432')}`;
}

/**
 * A driver's error from the state database, explained. HoopErrors (a schema newer than this gateway, say) pass
 * through: they say what is wrong already.
 */
export function stateDatabaseError(err: unknown, c: StateDatabaseErrorContext): HoopError {
  if (isHoopError(err)) return err;
  const server = serverOf(c.url);
  const details = { setting: c.setting, server };
  const reason = withoutPassword(reasonOf(err), c.url);
  if (c.phase === 'migrate') {
    const code = (err as { code?: unknown }).code;
    return new HoopError('upstream_unavailable', `cannot prepare the gateway's database at ${server} (${c.setting}): ${reason}`, {
      cause: err,
      details,
      // 42501 insufficient_privilege
      hint: code === '42501' ? `the user in ${c.setting} must be able to create tables in its database (for example, own it)` : hintFor(err, c.setting),
    });
  }
  if (isTimeout(err)) {
    const seconds = `${c.connectTimeoutMs / 1000}s`;
    return new HoopError('upstream_unavailable', `cannot connect to the gateway's database at ${server} (${c.setting}): no answer within ${seconds}`, {
      cause: err,
      details: { ...details, timeoutMs: c.connectTimeoutMs },
      hint: `check the host and port in ${c.setting}: the server there did not complete a PostgreSQL login within ${seconds} `
        + '(a firewall that drops packets, or a service that accepts connections but is not PostgreSQL, looks like this); '
        + 'for a slow server, raise database_connect_timeout',
    });
  }
  return new HoopError('upstream_unavailable', `cannot connect to the gateway's database at ${server} (${c.setting}): ${reason}`, {
    cause: err,
    details,
    hint: hintFor(err, c.setting),
  });
}

function hintFor(err: unknown, setting: string): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : '';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `check the host name in ${setting}, and that the gateway can resolve it`;
  if (code === 'ECONNREFUSED') return `check the host and port in ${setting}, and that PostgreSQL is running and listening there`;
  if (code === '28P01' || /password/i.test(message)) return `check the user name and password in ${setting}`;
  if (/user name/i.test(message)) return `put a user in ${setting}: postgres://USER:\${env:PASSWORD}@host:5432/hoop`;
  if (code === '28000') return `check the user in ${setting}, and that the server's pg_hba.conf lets it in from the gateway's address`;
  if (code === '3D000') return `create the database, or fix its name in ${setting}`;
  if (/terminated unexpectedly/i.test(message)) return `the server closed the connection: check that the host and port in ${setting} are PostgreSQL's, and whether it requires TLS (add ?sslmode=require)`;
  return `check the host, port and credentials in ${setting}, and that PostgreSQL is reachable from the gateway`;
}

/** Node tries each address of a host name; when all fail, the AggregateError it throws has an empty message. */
function reasonOf(err: unknown): string {
  if (err instanceof AggregateError && err.message === '') {
    return [...new Set(err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))))].join('; ');
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * pg's connect timeout surfaces as an Error whose message says so (pg-pool: "Connection terminated due to
 * connection timeout"; pg's client: "timeout expired"); there is no code to test instead.
 */
function isTimeout(err: unknown): boolean {
  return err instanceof Error && /connection timeout|timeout expired|timeout exceeded when trying to connect/i.test(err.message);
}

/** Drivers do not echo passwords; this makes sure of it. */
function withoutPassword(message: string, url: string): string {
  if (!URL.canParse(url)) return message;
  const u = new URL(url);
  let out = message;
  for (const pw of new Set([u.password, decodeURIComponentSafe(u.password)])) {
    if (pw !== '') out = out.split(pw).join('[redacted]');
  }
  return out;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
