/**
 * A localhost listener for one tunnel: psql, DBeaver and friends connect to 127.0.0.1:PORT.
 *
 * It binds the loopback address only, never 0.0.0.0: anything that can reach the port gets the user's access.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { HoopError } from '../shared/errors.js';

export const LOOPBACK = '127.0.0.1';

export interface ListenerOptions {
  /** The port asked for: a number (0 = any free port), or undefined for {@link defaultPort}. */
  port?: number | undefined;
  /** Used when `port` is undefined; if it is busy, any free port is taken instead. Undefined means any. */
  defaultPort?: number | undefined;
  /** Gets each accepted socket, with TCP_NODELAY and keep-alive already set. */
  onConnection: (socket: Socket) => void;
}

export interface Listener {
  readonly host: typeof LOOPBACK;
  /** The port actually bound. */
  readonly port: number;
  readonly closed: boolean;
  /**
   * Sends the connections accepted from now on to `onConnection` instead: a tunnel replaced on the same port
   * hands its listener to its successor, so the port is never released (nothing else can take it, and there is
   * no moment when clients are refused).
   */
  redirect(onConnection: (socket: Socket) => void): void;
  /**
   * Stops accepting: from now on, connecting to the port is refused. Sockets already accepted are not touched
   * (their tunnels end on their own terms). Idempotent.
   */
  close(): void;
}

/** Binds 127.0.0.1 on the requested port. A busy port that was asked for explicitly is a `conflict` error. */
export async function openListener(opts: ListenerOptions): Promise<Listener> {
  // The connection handler is attached by TcpListener, once bound: nothing can connect before that.
  const server = createServer({ noDelay: true, keepAlive: true });
  const explicit = opts.port !== undefined;
  const first = opts.port ?? opts.defaultPort ?? 0;
  try {
    await listen(server, first);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' && !explicit && first !== 0) {
      await listen(server, 0).catch((e2: unknown) => Promise.reject(bindError(e2, 0)));
    } else {
      throw bindError(e, first);
    }
  }
  const address = server.address();
  if (address === null || typeof address === 'string') {
    server.close();
    throw new HoopError('internal', 'the listener has no TCP address');
  }
  return new TcpListener(server, address.port, opts.onConnection);
}

class TcpListener implements Listener {
  readonly host = LOOPBACK;
  readonly port: number;
  #server: Server;
  #closed = false;
  #onConnection: (socket: Socket) => void;

  constructor(server: Server, port: number, onConnection: (socket: Socket) => void) {
    this.#server = server;
    this.port = port;
    this.#onConnection = onConnection;
    server.on('connection', (socket: Socket) => {
      // Small round trips (SELECT 1) would wait on Nagle's algorithm otherwise: LIBRARY-NOTES.md "Nagle".
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 30_000);
      this.#onConnection(socket);
    });
    // An error after listening (rare: EMFILE on accept) must not crash the daemon; accept simply fails.
    server.on('error', () => {});
  }

  get closed(): boolean {
    return this.#closed;
  }

  redirect(onConnection: (socket: Socket) => void): void {
    this.#onConnection = onConnection;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Closes the listening socket now; the callback (which waits for accepted sockets) is not needed.
    this.#server.close();
  }
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => {
      server.off('listening', onListening);
      reject(e);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host: LOOPBACK, port, exclusive: true });
  });
}

function bindError(e: unknown, port: number): HoopError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new HoopError('conflict', `port ${port} on ${LOOPBACK} is already in use`, {
      cause: e, details: { port }, hint: 'choose another port with --port N, or --port 0 for any free port',
    });
  }
  if (code === 'EACCES') {
    return new HoopError('usage', `not allowed to listen on port ${port} on ${LOOPBACK}`, {
      cause: e, details: { port }, hint: 'ports below 1024 need privileges: choose --port 1024 or above',
    });
  }
  return new HoopError('internal', `cannot listen on ${LOOPBACK}:${port}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}
