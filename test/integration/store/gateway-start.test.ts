/**
 * `hoop gateway start` with a `database_url` it cannot use: start-up ends, with an error that names the
 * setting and the server and never the password, instead of waiting forever for a server that does not answer.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../../gateway/config/load.js';
import { startGateway } from '../../../gateway/gateway.js';
import { HoopError, exitCodeFor } from '../../../shared/errors.js';
import { silentLogger } from '../../../shared/log.js';

const PASSWORD = 'gw-start-state-db-secret';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function start(databaseUrl: string): Promise<HoopError> {
  const dir = await mkdtemp(join(tmpdir(), 'hoop-gw-start-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const config = loadGatewayConfig({
    yamlText: `listen: 127.0.0.1:0\ndata_dir: ${dir}\nidentity: { issuer: https://login.example.com, audience: hoop }\n`,
    env: { HOOP_DATABASE_URL: databaseUrl },
  });
  const err = await startGateway({ config, logger: silentLogger, env: {} }).then(async (gw) => {
    await gw.close();
    return new Error('the gateway started');
  }, (e: unknown) => e);
  expect(err).toBeInstanceOf(HoopError);
  const hoopErr = err as HoopError;
  expect(`${hoopErr.message}\n${hoopErr.hint}`).not.toContain(PASSWORD);
  expect(exitCodeFor(hoopErr.code)).toBe(1);
  return hoopErr;
}

describe('gateway start-up with a database_url it cannot use', () => {
  it('fails after the default 10 s when the server accepts the connection and never answers', async () => {
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      s.resume();
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const { port } = server.address() as AddressInfo;

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
