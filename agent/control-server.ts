/**
 * The agent's control API (shared/api/agent-control.ts) on a unix socket that only the user can open (0600,
 * inside the 0700 config dir). Bodies are validated with the shared schemas; errors are problem+json.
 */
import { chmodSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { OpenTunnelRequestSchema, type AgentStatus, type OpenTunnelRequest, type TunnelInfo } from '../shared/api/agent-control.js';
import { HoopError, toHoopError, toProblem } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';

const MAX_BODY_BYTES = 64 * 1024;

export interface ControlHandlers {
  status(): AgentStatus;
  openTunnel(req: OpenTunnelRequest): Promise<TunnelInfo>;
  closeTunnel(connection: string): Promise<string[]>;
  closeAll(): Promise<string[]>;
  /** Called once the answer to `POST /v1/shutdown` has been sent. */
  shutdown(): void;
}

export interface ControlServer {
  readonly socketPath: string;
  /** Stops answering and removes the socket file. Idempotent. */
  close(): Promise<void>;
}

/**
 * Listens on `socketPath` with mode 0600. A socket file left by a dead agent is removed first; one that still
 * answers means another agent runs, which is a `conflict`.
 */
export async function startControlServer(opts: { socketPath: string; handlers: ControlHandlers; logger: Logger }): Promise<ControlServer> {
  const { socketPath, handlers, logger } = opts;
  await removeStaleSocket(socketPath);
  const server = createServer((req, res) => {
    void handle(req, res, handlers).catch((e: unknown) => {
      const err = toHoopError(e);
      if (err.code === 'internal') logger.error('control request failed', { method: req.method, path: req.url, error: err.message });
      else logger.debug('control request refused', { method: req.method, path: req.url, code: err.code });
      sendProblem(res, err);
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // The umask closes the moment between bind and chmod in which the socket would follow the user's umask.
    const umask = trySetUmask(0o177);
    try {
      server.listen({ path: socketPath, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      if (umask !== undefined) trySetUmask(umask);
    }
  });
  chmodSync(socketPath, 0o600);
  server.on('error', (e) => logger.error('control socket error', { error: e.message }));

  let closing: Promise<void> | undefined;
  return {
    socketPath,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => unlink(socketPath).catch(() => undefined));
      return closing;
    },
  };
}

/** Removes a socket file nobody answers on. Throws `conflict` when an agent still answers there. */
export async function removeStaleSocket(socketPath: string): Promise<void> {
  const answered = await new Promise<boolean>((resolve, reject) => {
    const s = connect({ path: socketPath });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') resolve(false);
      else if (e.code === 'ECONNREFUSED') unlink(socketPath).then(() => resolve(false), reject);
      else reject(new HoopError('internal', `cannot check the agent socket ${socketPath}: ${e.message}`, { cause: e }));
    });
  });
  if (answered) {
    throw new HoopError('conflict', `an agent is already running on ${socketPath}`, { hint: 'see `hoop agent status`, or run `hoop agent stop` first' });
  }
}

async function handle(req: IncomingMessage, res: ServerResponse, h: ControlHandlers): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://agent');
  const path = url.pathname;
  const method = req.method ?? 'GET';
  if (path === '/v1/status' && method === 'GET') return sendJson(res, 200, h.status());
  if (path === '/v1/tunnels' && method === 'POST') {
    const parsed = OpenTunnelRequestSchema.safeParse(await readJson(req));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      // Only the path and message of the issue: never the received value, which may hold the grant token.
      throw new HoopError('usage', `invalid tunnel request: ${issue ? `${issue.path.join('.') || '(body)'}: ${issue.message}` : 'invalid'}`);
    }
    return sendJson(res, 201, await h.openTunnel(parsed.data));
  }
  if (path === '/v1/tunnels' && method === 'DELETE') return sendJson(res, 200, { closed: await h.closeAll() });
  if (path.startsWith('/v1/tunnels/') && method === 'DELETE') {
    let connection: string;
    try {
      connection = decodeURIComponent(path.slice('/v1/tunnels/'.length));
    } catch (e) {
      throw new HoopError('usage', 'the connection name in the path is not valid percent-encoding', { cause: e });
    }
    return sendJson(res, 200, { closed: await h.closeTunnel(connection) });
  }
  if (path === '/v1/shutdown' && method === 'POST') {
    await readJson(req);
    res.once('finish', () => h.shutdown());
    return sendJson(res, 200, { ok: true });
  }
  throw new HoopError('not_found', `the agent has no ${method} ${path}`, { hint: 'the CLI and the agent may be different versions' });
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HoopError('usage', `request body larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text.length ? JSON.parse(text) : {});
      } catch (e) {
        reject(new HoopError('usage', 'request body is not JSON', { cause: e }));
      }
    });
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendProblem(res: ServerResponse, e: HoopError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const p = toProblem(e);
  const text = JSON.stringify(p);
  res.writeHead(p.status, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function trySetUmask(mask: number): number | undefined {
  try {
    return process.umask(mask);
  } catch {
    return undefined; // worker threads cannot change the umask; the chmod below still applies
  }
}
