/**
 * Opening the gateway's own database at start-up: a server that accepts and never answers, a port nobody
 * listens on, a wrong password and a user that may not create tables each end in one clear error naming
 * database_url and the server, never the password; a reachable database is migrated and left open.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openStateDatabase, stateDatabaseError } from '../../../gateway/store/state-database.js';
import { migrations } from '../../../gateway/store/migrations/index.js';
import { HoopError } from '../../../shared/errors.js';
import { silentLogger } from '../../../shared/log.js';
import { freshDatabase, pgAdminUrl } from '../../helpers/pg.js';

const PASSWORD = 'hunter2-state-db-secret';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A TCP server that accepts every connection and never sends a byte. */
async function silentServer(): Promise<{ port: number; accepted: () => number; closedByClient: () => number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let closed = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.resume(); // reads (and ignores) the startup message, as `nc -lk` does; and so sees the client leave
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed++;
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as AddressInfo).port, accepted: () => accepted, closedByClient: () => closed };
}

/** A port nobody listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function failure(p: Promise<unknown>): Promise<HoopError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(HoopError);
  return err as HoopError;
}

function expectNoPassword(err: HoopError, password: string): void {
  expect(`${err.message}\n${err.hint}\n${JSON.stringify(err.details)}`).not.toContain(password);
}

describe('openStateDatabase with database_url', () => {
  it('gives up on a server that accepts the connection and never answers, and says so', async () => {
    const server = await silentServer();
    const err = await failure(openStateDatabase({
      url: `postgres://hoop:${PASSWORD}@127.0.0.1:${server.port}/hoop`,
      setting: 'database_url',
      logger: silentLogger,
      migrations,
      connectTimeoutMs: 1_000,
    }));
    expect(err.code).toBe('upstream_unavailable');
    expect(err.message).toBe(`cannot connect to the gateway's database at 127.0.0.1:${server.port} (database_url): no answer within 1s`);
    expect(err.hint).toMatch(/check the host and port in database_url/);
    expect(err.hint).toMatch(/raise database_connect_timeout/);
    expectNoPassword(err, PASSWORD);
    expect(server.accepted()).toBeGreaterThan(0);
    // The connection that timed out is not left open.
    await expect.poll(() => server.closedByClient()).toBe(server.accepted());
  }, 30_000);

  it('names database_url and the server when nobody listens on the port, keeping the reason', async () => {
    const port = await closedPort();
    const err = await failure(openStateDatabase({
      url: `postgres://hoop:${PASSWORD}@127.0.0.1:${port}/hoop`,
      setting: 'database_url',
      logger: silentLogger,
      migrations,
    }));
    expect(err.code).toBe('upstream_unavailable');
    expect(err.message).toBe(`cannot connect to the gateway's database at 127.0.0.1:${port} (database_url): connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(err.hint).toBe('check the host and port in database_url, and that PostgreSQL is running and listening there');
    expect(err.details).toEqual({ setting: 'database_url', server: `127.0.0.1:${port}` });
    expectNoPassword(err, PASSWORD);
  });

  it('points at the credentials when the password is wrong', async () => {
    const url = new URL(pgAdminUrl());
    url.password = PASSWORD;
    const err = await failure(openStateDatabase({ url: url.toString(), setting: 'database_url', logger: silentLogger, migrations }));
    expect(err.message).toBe(`cannot connect to the gateway's database at 127.0.0.1:${url.port} (database_url): password authentication failed for user "${url.username}"`);
    expect(err.hint).toBe('check the user name and password in database_url');
    expectNoPassword(err, PASSWORD);
  });

  it('says the migrations failed, and why, when the user may not create tables', async () => {
    const fresh = await freshDatabase('state_db_noddl');
    cleanups.push(() => fresh.drop());
    const role = `${fresh.name}_u`;
    const admin = new pg.Client({ connectionString: pgAdminUrl() });
    await admin.connect();
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}'`);
    cleanups.push(async () => {
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    });
    const url = new URL(fresh.url);
    url.username = role;
    url.password = PASSWORD;
    const err = await failure(openStateDatabase({ url: url.toString(), setting: 'database_url', logger: silentLogger, migrations }));
    expect(err.message).toBe(`cannot prepare the gateway's database at 127.0.0.1:${url.port} (database_url): permission denied for schema public`);
    expect(err.hint).toBe('the user in database_url must be able to create tables in its database (for example, own it)');
    expectNoPassword(err, PASSWORD);
  });

  it('migrates a reachable database and leaves the pool open', async () => {
    const fresh = await freshDatabase('state_db_ok');
    cleanups.push(() => fresh.drop());
    const db = await openStateDatabase({ url: fresh.url, setting: 'database_url', logger: silentLogger, migrations, connectTimeoutMs: 1_000 });
    cleanups.push(() => db.close());
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM hoop_migrations');
    expect(rows[0]!.n).toBe(migrations.length);
  });
});

describe('stateDatabaseError', () => {
  it('gives the reasons of a host name whose every address refused (Node reports those with an empty message)', () => {
    const refused = (address: string) => Object.assign(new Error(`connect ECONNREFUSED ${address}:5432`), { code: 'ECONNREFUSED' });
    const all = Object.assign(new AggregateError([refused('::1'), refused('127.0.0.1')], ''), { code: 'ECONNREFUSED' });
    const err = stateDatabaseError(all, { url: `postgres://hoop:${PASSWORD}@localhost/hoop`, setting: 'database_url', connectTimeoutMs: 10_000, phase: 'connect' });
    expect(err.message).toBe("cannot connect to the gateway's database at localhost:5432 (database_url): connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432");
    expect(err.hint).toBe('check the host and port in database_url, and that PostgreSQL is running and listening there');
    expect(err.cause).toBe(all);
  });
});

describe('openStateDatabase for the embedded server (no setting)', () => {
  it('lets the driver error through: it is not the operator\'s setting', async () => {
    const port = await closedPort();
    const err = await openStateDatabase({ url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/hoop`, setting: undefined, logger: silentLogger, migrations })
      .then(() => undefined, (e: unknown) => e);
    expect(err).not.toBeInstanceOf(HoopError);
    expect((err as { code?: unknown }).code).toBe('ECONNREFUSED');
  });
});
