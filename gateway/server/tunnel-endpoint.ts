/**
 * The tunnel endpoint: WebSocket upgrades on /v1/tunnel. Each one carries one client connection.
 *
 * The grant is checked in the HTTP upgrade handler, before any WebSocket exists, because `ws` buffers whole
 * frames: a peer with a WebSocket can make the gateway hold a frame of up to `maxPayload` bytes, and many of
 * them in parallel. So:
 * - no grant, or one this gateway did not sign: a plain HTTP 401 (problem+json, which the agent shows); the
 *   peer never gets a WebSocket;
 * - a grant this gateway signed that is no longer good (expired, revoked, for another connection): a WebSocket
 *   with a small frame limit, on which the connection type's engine refuses in the client's own protocol and
 *   the close code tells the agent why (shared/tunnel/protocol.ts), as before;
 * - a live grant: the session, with the large frame limit the data path needs.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';
import { decodeJwt } from 'jose';
import { HoopError, toHoopError, toProblem } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { TUNNEL_CLOSE, TUNNEL_PATH, TUNNEL_SUBPROTOCOL } from '../../shared/tunnel/protocol.js';
import type { Engine, EngineSession } from '../engines/engine.js';
import type { Connection, ConnectionCatalog } from '../connections/connection.js';
import type { GrantService, LiveGrant } from '../grants/grant-service.js';
import type { GrantWatcher } from '../grants/grant-watcher.js';
import type { SessionRecorder } from '../recording/recorder.js';
import { TunnelSocket } from './tunnel-socket.js';
import type { ConnectionPolicy, StatementReviews } from '../policy/connection-policy.js';
import { clientAddress, TrustedProxies } from './client-address.js';

export interface TunnelEndpointOptions {
  logger: Logger;
  grants: GrantService;
  watcher: GrantWatcher;
  catalog: ConnectionCatalog;
  engines: { postgres: Engine };
  recorder: SessionRecorder;
  /** Each connection's policy. */
  policyFor: (connection: string) => ConnectionPolicy;
  reviews: StatementReviews | undefined;
  hashKey: Buffer;
  /** How much of each statement's returned rows is kept as evidence. */
  capture: { rows: number; bytes: number };
  /** Proxies (IPs, CIDRs) whose `X-Forwarded-For` names the client; from anyone else the header is ignored. */
  trustedProxies?: readonly string[];
  now?: () => Date;
}

/**
 * The largest frame of a live session: frames normally carry one socket read (64 KiB or less), but an engine may
 * write one large batch. Only a peer with a live grant gets a WebSocket with this limit.
 */
const SESSION_MAX_PAYLOAD = 64 * 1024 * 1024;
/** The largest frame of a tunnel opened only to be refused: the client's startup packets are far smaller. */
const REFUSAL_MAX_PAYLOAD = 64 * 1024;

/** Refusals answered in the client's protocol over a WebSocket: the grant was signed here, so its holder is known. */
const REFUSED_IN_PROTOCOL: ReadonlySet<HoopError['code']> = new Set(['grant_expired', 'grant_revoked', 'access_denied']);

type Checked =
  | { kind: 'live'; grant: LiveGrant; connection: Connection }
  /** A grant this gateway signed, refused: the engine says why in the client's protocol. */
  | { kind: 'refuse'; error: HoopError }
  /** No grant, or not one of ours: refused at the HTTP level, with no WebSocket. */
  | { kind: 'unauthenticated'; error: HoopError };

/** What the checks need from the upgrade request. */
interface TunnelClaim {
  token: string | undefined;
  /** `?connection=`, or null when the agent did not name one. */
  connection: string | null;
  clientAddr: string | null;
}

const CLOSE_FOR: Partial<Record<HoopError['code'], number>> = {
  grant_invalid: TUNNEL_CLOSE.grantInvalid,
  grant_expired: TUNNEL_CLOSE.grantExpired,
  grant_revoked: TUNNEL_CLOSE.grantRevoked,
  access_denied: TUNNEL_CLOSE.accessDenied,
  upstream_unavailable: TUNNEL_CLOSE.upstreamUnavailable,
  audit_unavailable: TUNNEL_CLOSE.auditUnavailable,
  protocol: TUNNEL_CLOSE.protocol,
};

export class TunnelEndpoint {
  readonly #o: TunnelEndpointOptions;
  /** Live sessions. */
  readonly #wss: WebSocketServer;
  /** Tunnels opened only to refuse a signed grant in the client's protocol. */
  readonly #refusals: WebSocketServer;
  readonly #trusted: TrustedProxies;
  readonly #sessions = new Set<EngineSession>();

  constructor(o: TunnelEndpointOptions) {
    this.#o = o;
    this.#trusted = new TrustedProxies(o.trustedProxies ?? []);
    const server = (maxPayload: number): WebSocketServer => new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload,
      WebSocket: TunnelSocket,
      handleProtocols: (protocols) => (protocols.has(TUNNEL_SUBPROTOCOL) ? TUNNEL_SUBPROTOCOL : false),
    });
    this.#wss = server(SESSION_MAX_PAYLOAD);
    this.#refusals = server(REFUSAL_MAX_PAYLOAD);
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.#onUpgrade(req, socket, head));
  }

  get activeSessions(): number {
    return this.#sessions.size;
  }

  /** Ends every live session with a native error (shutdown), and waits for their records. */
  async close(reason: HoopError): Promise<void> {
    const all = [...this.#sessions];
    for (const s of all) s.terminate(reason);
    await Promise.all(all.map((s) => s.done));
    this.#wss.close();
    this.#refusals.close();
  }

  async #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== TUNNEL_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    // Node removes its own error listener from an upgraded socket, and nobody reads it until the checks are
    // done: what the peer sends meanwhile waits in the socket's bounded buffer.
    const onError = (): void => undefined;
    socket.on('error', onError);
    (socket as unknown as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
    // Only what the checks need is taken from the request: the session must not keep it (headers and all).
    const claim: TunnelClaim = {
      token: /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1],
      connection: url.searchParams.get('connection'),
      clientAddr: clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], this.#trusted),
    };
    const checked = await this.#check(claim);
    if (socket.destroyed) return;
    if (checked.kind !== 'live') {
      this.#o.logger.info('tunnel refused', { code: checked.error.code, connection: safeConnectionClaim(claim.token), addr: claim.clientAddr });
    }
    switch (checked.kind) {
      case 'unauthenticated':
        refuseUpgrade(socket, checked.error); // onError stays: the peer may be gone before the answer is out
        return;
      case 'refuse':
        socket.off('error', onError); // ws listens from here on
        this.#refusals.handleUpgrade(req, socket, head, (ws) => void this.#refuse(ws, checked.error));
        return;
      case 'live': {
        const { grant, connection } = checked;
        const addr = claim.clientAddr; // not the claim: the token in it is not kept past the checks
        socket.off('error', onError);
        this.#wss.handleUpgrade(req, socket, head, (ws) => {
          const stream = createWebSocketStream(ws, { allowHalfOpen: false });
          stream.on('error', () => undefined); // surfaced through the engine's own handling
          // the only connection type so far; pick the engine by type when there are more
          this.#start(ws, stream, this.#o.engines.postgres, grant, connection, addr);
        });
        return;
      }
    }
  }

  /** Checks the grant the tunnel presents, and says what the upgrade gets. Never throws. */
  async #check(claim: TunnelClaim): Promise<Checked> {
    if (!claim.token) {
      return { kind: 'unauthenticated', error: new HoopError('grant_invalid', 'the tunnel carries no grant', { hint: 'connect through `hoop connect`' }) };
    }
    let grant: LiveGrant;
    try {
      grant = await this.#o.grants.verifyForTunnel(claim.token);
    } catch (e) {
      // expired and revoked are only ever said of a grant whose signature checked out (grants/grant-token.ts)
      const err = toHoopError(e);
      if (REFUSED_IN_PROTOCOL.has(err.code)) return { kind: 'refuse', error: err };
      if (err.code === 'grant_invalid') return { kind: 'unauthenticated', error: err };
      // The store failed, say: the detail is the gateway's business, not the peer's.
      this.#o.logger.warn('tunnel grant check failed', { code: err.code, error: err.message });
      return { kind: 'unauthenticated', error: new HoopError(err.code, 'the gateway could not check the grant', { hint: 'try again in a moment' }) };
    }
    const asked = claim.connection;
    if (asked === null) {
      return { kind: 'refuse', error: new HoopError('grant_invalid', 'the tunnel does not name its connection', { hint: 'update hoop: the agent sends ?connection=NAME' }) };
    }
    if (asked !== grant.connection) {
      return {
        kind: 'refuse',
        error: new HoopError('grant_invalid', `the grant is for "${grant.connection}", not "${asked}"`, { hint: `run \`hoop connect ${asked}\` for a grant to ${asked}` }),
      };
    }
    const connection = this.#o.catalog.get(grant.connection);
    if (!connection) return { kind: 'refuse', error: new HoopError('access_denied', `connection "${grant.connection}" no longer exists`) };
    return { kind: 'live', grant, connection };
  }

  /** Refuses a signed grant in the client's protocol, then closes with the code that tells the agent why. */
  async #refuse(ws: WebSocket, err: HoopError): Promise<void> {
    const code = CLOSE_FOR[err.code] ?? TUNNEL_CLOSE.internal;
    // The engine ends the stream after the FATAL, which closes the socket with no code of its own: set it first.
    if (ws instanceof TunnelSocket) ws.endWith(code, err.code);
    const stream = createWebSocketStream(ws, { allowHalfOpen: false });
    stream.on('error', () => undefined);
    await this.#o.engines.postgres.refuse(stream, err).catch(() => undefined);
    ws.close(code, err.code);
  }

  /**
   * Runs the session; its end is handled by a callback rather than by awaiting here, so that an idle session is
   * not also holding this method's frame (the grant token, the checks' values) for as long as it lasts.
   */
  #start(ws: WebSocket, stream: Duplex, engine: Engine, grant: LiveGrant, connection: Connection, clientAddr: string | null): void {
    const sessionId = randomUUID();
    const logger = this.#o.logger.child({ session_id: sessionId, user: grant.subject, connection: connection.name });
    const session = engine.accept(stream, {
      sessionId,
      subject: grant.subject,
      groups: grant.groups,
      grantId: grant.grantId,
      connection,
      clientAddr,
      logger,
      recorder: this.#o.recorder,
      now: this.#o.now ?? (() => new Date()),
      requester: { subject: grant.subject, groups: grant.groups, kind: 'user', issuer: '', claims: {} },
      policy: this.#o.policyFor(connection.name),
      reviews: this.#o.reviews,
      hashKey: this.#o.hashKey,
      capture: this.#o.capture,
    });
    this.#sessions.add(session);
    // The tunnel closing means the client is gone, even when the engine is not reading (a statement waiting
    // for its review): end the session so nothing it sent runs later. (`on`: 'close' comes once anyway, and
    // `once` would add a wrapper object per session.)
    ws.on('close', () => session.terminate(new HoopError('interrupted', 'the client went away')));
    const untrack = this.#o.watcher.track(grant.grantId, connection.name, grant.expiresAt, (reason) => {
      // The socket closes with why (revoked, expired) once the session's FATAL is out: the agent then stops
      // listening for this grant at once, and says why (shared/tunnel/protocol.ts).
      const code = CLOSE_FOR[reason.code];
      if (code !== undefined && ws instanceof TunnelSocket) ws.endWith(code, reason.code);
      session.terminate(reason);
    });
    const ended = (): void => {
      untrack();
      this.#sessions.delete(session);
      if (ws.readyState === ws.OPEN) ws.close();
    };
    void session.done.then(ended, ended);
  }
}

/**
 * Answers an upgrade with a plain HTTP error and closes the socket. The body is problem+json, whose `detail` the
 * agent shows ("gateway refused the tunnel (HTTP 401: …)"); it never quotes the request.
 */
function refuseUpgrade(socket: Duplex, err: HoopError): void {
  const problem = toProblem(err);
  const body = JSON.stringify(problem);
  const head = [
    `HTTP/1.1 ${problem.status} ${problem.status === 401 ? 'Unauthorized' : problem.status === 403 ? 'Forbidden' : 'Error'}`,
    'Connection: close',
    'Content-Type: application/problem+json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(problem.status === 401 ? ['WWW-Authenticate: Bearer realm="hoop tunnel"'] : []),
  ];
  // The server socket allows half-open: without this, a peer that never closes its side would keep it.
  socket.once('finish', () => socket.destroy());
  socket.end(head.join('\r\n') + '\r\n\r\n' + body);
}

/** The connection named in an unverified grant, for the log line of a refusal only (never for decisions). */
function safeConnectionClaim(token: string | undefined): string | undefined {
  if (!token) return undefined;
  try {
    const c = decodeJwt(token).conn;
    return typeof c === 'string' ? c.slice(0, 64) : undefined;
  } catch {
    return undefined;
  }
}
