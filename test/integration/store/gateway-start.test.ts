/**
 * `hoop gateway start` with a `database_url` it cannot use: start-up ends, with an error that names the
 * setting and the server and never the password, instead of waiting forever for a server that does not answer.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../../gateway/config/load.js';
import { startGateway } from '../../../gateway/gateway.js';
import type { GatewayConfig } from '../../../gateway/config/schema.js';
import { HoopError, exitCodeFor } from '../../../shared/errors.js';
import { silentLogger } from '../../../shared/log.js';
import { freshDatabase } from '../../helpers/pg.js';

const PASSWORD = 'gw-start-state-db-secret';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** Starts a gateway that must fail to start; its error. */
async function startFails(config: GatewayConfig, env: Record<string, string> = {}): Promise<HoopError> {
  const err = await startGateway({ config, logger: silentLogger, env }).then(async (gw) => {
    await gw.close();
    return new Error('the gateway started');
  }, (e: unknown) => e);
  expect(err).toBeInstanceOf(HoopError);
  return err as HoopError;
}

async function start(databaseUrl: string): Promise<HoopError> {
  const dir = await mkdtemp(join(tmpdir(), 'hoop-gw-start-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const config = loadGatewayConfig({
    yamlText: `listen: 127.0.0.1:0\ndata_dir: ${dir}\nidentity: { issuer: https://login.example.com, audience: hoop }\n`,
    env: { HOOP_DATABASE_URL: databaseUrl },
  });
  const hoopErr = await startFails(config);
  expect(`${hoopErr.message}\n${hoopErr.hint}`).not.toContain(PASSWORD);
  expect(exitCodeFor(hoopErr.code)).toBe(1);
  return hoopErr;
}

describe('gateway start-up with a database_url it cannot use', () => {
  it('fails after the default 10 s when the server accepts the connection and never answers', async () => {
    const { port } = await silentServer();
    const err = await start(`postgres://hoop:${PASSWORD}@127.0.0.1:${port}/hoop`);
    expect(err.message).toBe(`cannot connect to the gateway's database at 127.0.0.1:${port} (database_url): no answer within 10s`);
    expect(err.hint).toMatch(/database_connect_timeout/);
  }, 40_000);

  it('names database_url and the server when the port is closed', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const err = await start(`postgres://hoop:${PASSWORD}@127.0.0.1:${port}/hoop`);
    expect(err.message).toBe(`cannot connect to the gateway's database at 127.0.0.1:${port} (database_url): connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(err.hint).toMatch(/check the host and port in database_url/);
  });
});

/** A TCP server that accepts and never answers (a database that hangs), counting who connected. */
async function silentServer(): Promise<{ port: number; connections: () => number }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((s) => {
    connections++;
    sockets.add(s);
    s.resume();
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

describe('the gateway address', () => {
  it('a port in use is reported before anything starts: no database is contacted', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => busy.close(() => resolve())));
    const busyPort = (busy.address() as AddressInfo).port;
    const db = await silentServer();
    const dir = await mkdtemp(join(tmpdir(), 'hoop-gw-addr-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const config = loadGatewayConfig({
      yamlText: `listen: 127.0.0.1:${busyPort}\ndata_dir: ${join(dir, 'data')}\nidentity: { issuer: https://login.example.com, audience: hoop }\n`,
      env: { HOOP_DATABASE_URL: `postgres://hoop@127.0.0.1:${db.port}/hoop` },
    });
    const err = await startFails(config);
    expect(err.message).toBe(`cannot listen on 127.0.0.1:${busyPort}: the address is in use`);
    expect(exitCodeFor(err.code)).toBe(2);
    expect(db.connections()).toBe(0);
  });

  it('answers 503 "starting" (problem+json) while its database is not up yet, and frees the port when start-up fails', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const db = await silentServer();
    const dir = await mkdtemp(join(tmpdir(), 'hoop-gw-addr-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const config = loadGatewayConfig({
      yamlText: `listen: 127.0.0.1:${port}\ndata_dir: ${dir}\ndatabase_connect_timeout: 3s\nidentity: { issuer: https://login.example.com, audience: hoop }\n`,
      env: { HOOP_DATABASE_URL: `postgres://hoop@127.0.0.1:${db.port}/hoop` },
    });
    const starting = startFails(config);
    while (db.connections() === 0) await new Promise((r) => setTimeout(r, 20));
    const res = await fetch(`http://127.0.0.1:${port}/.well-known/hoop`);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ status: 503, detail: 'the gateway is starting or stopping' });
    await starting;
    // Start-up failed: the address is free again.
    const again = createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(port, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => again.close(() => resolve()));
  }, 20_000);
});

describe('gateway start-up with a database that logs in and then never answers', () => {
  it('fails after database_connect_timeout, saying the login worked and no query was answered (a pooler before a down database)', async () => {
    // Speaks just enough of PostgreSQL's protocol: the login succeeds (AuthenticationOk, ReadyForQuery), then
    // every query waits forever, as pgbouncer does while the database behind it is down.
    const sockets = new Set<Socket>();
    let queries = 0;
    const server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      let loggedIn = false;
      s.on('data', (d: Buffer) => {
        if (!loggedIn) {
          loggedIn = true;
          s.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0, 0x5a, 0, 0, 0, 5, 0x49])); // R AuthenticationOk, Z idle
        } else if (d[0] === 0x51) queries++; // Q: a simple query, never answered
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const { port } = server.address() as AddressInfo;
    const dir = await mkdtemp(join(tmpdir(), 'hoop-gw-start-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const config = loadGatewayConfig({
      yamlText: `listen: 127.0.0.1:0\ndata_dir: ${dir}\ndatabase_connect_timeout: 2s\nidentity: { issuer: https://login.example.com, audience: hoop }\n`,
      env: { HOOP_DATABASE_URL: `postgres://hoop:${PASSWORD}@127.0.0.1:${port}/hoop` },
    });
    const hoopErr = await startFails(config);
    expect(queries).toBe(1);
    expect(hoopErr.message).toBe(`cannot use the gateway's database at 127.0.0.1:${port} (database_url): it accepted the login but did not answer a query within 2s`);
    expect(hoopErr.hint).toMatch(/pooler/);
    expect(`${hoopErr.message}\n${hoopErr.hint}`).not.toContain(PASSWORD);
    expect(exitCodeFor(hoopErr.code)).toBe(1);
    // The connection that waited was closed, not left to the server.
    await new Promise((r) => setTimeout(r, 200));
    expect([...sockets].every((s) => s.destroyed || s.readableEnded)).toBe(true);
  }, 20_000);
});

describe('a second instance on one database', () => {
  it('without the master key is refused with what to give it, and leaves no key file of its own', async () => {
    const db = await freshDatabase('gw_master_key');
    cleanups.push(() => db.drop());
    const dirs = [await mkdtemp(join(tmpdir(), 'hoop-gw-a-')), await mkdtemp(join(tmpdir(), 'hoop-gw-b-'))];
    cleanups.push(async () => {
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    });
    const configFor = (dir: string): GatewayConfig => loadGatewayConfig({
      yamlText: `listen: 127.0.0.1:0\ndata_dir: ${dir}\nidentity: { issuer: https://login.example.com, audience: hoop }\n`,
      env: { HOOP_DATABASE_URL: db.url },
    });
    const first = await startGateway({ config: configFor(dirs[0]!), logger: silentLogger, env: {} });
    await first.close();

    const err = await startFails(configFor(dirs[1]!));
    expect(err.code).toBe('config_invalid');
    expect(err.message).toBe(`this gateway has no master key (HOOP_MASTER_KEY is not set, and there is no ${join(dirs[1]!, 'master.key')}), and its database holds keys sealed with one`);
    expect(err.hint).toMatch(/set HOOP_MASTER_KEY to the key the first instance uses/);
    expect(existsSync(join(dirs[1]!, 'master.key'))).toBe(false);

    // Given another key, it is refused as a configuration error that says so (exit 2), not as an internal one.
    const wrong = await startFails(configFor(dirs[1]!), { HOOP_MASTER_KEY: randomBytes(32).toString('base64') });
    expect(wrong.code).toBe('config_invalid');
    expect(exitCodeFor(wrong.code)).toBe(2);
    expect(wrong.message).toMatch(/^the master key cannot open the signing key sealed in the gateway's database \(kid [\w-]+\): it is not the key that sealed it$/);
    expect(wrong.hint).toMatch(/the master key the first one used/);

    // Given the first instance's key, it starts.
    const key = (await readFile(join(dirs[0]!, 'master.key'), 'utf8')).trim();
    const second = await startGateway({ config: configFor(dirs[1]!), logger: silentLogger, env: { HOOP_MASTER_KEY: key } });
    await second.close();
  }, 30_000);
});
