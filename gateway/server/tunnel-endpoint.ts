/**
 * The tunnel endpoint: WebSocket upgrades on /v1/tunnel. Each one carries one client connection. The grant is
 * checked on every open; a bad grant is answered by the connection type's engine in the client's own protocol,
 * so the user sees a clear error rather than a dropped socket.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';
import { decodeJwt } from 'jose';
import { HoopError, toHoopError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { TUNNEL_CLOSE, TUNNEL_PATH, TUNNEL_SUBPROTOCOL } from '../../shared/tunnel/protocol.js';
import type { Engine, EngineSession } from '../engines/engine.js';
import type { Connection, ConnectionCatalog } from '../connections/connection.js';
import type { GrantService, LiveGrant } from '../grants/grant-service.js';
import type { GrantWatcher } from '../grants/grant-watcher.js';
import type { SessionRecorder } from '../recording/recorder.js';
import { TunnelSocket } from './tunnel-socket.js';
import type { ConnectionPolicy, StatementReviews } from '../policy/connection-policy.js';

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
  now?: () => Date;
}

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
  readonly #wss: WebSocketServer;
  readonly #sessions = new Set<EngineSession>();

  constructor(o: TunnelEndpointOptions) {
    this.#o = o;
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
      WebSocket: TunnelSocket,
      handleProtocols: (protocols) => (protocols.has(TUNNEL_SUBPROTOCOL) ? TUNNEL_SUBPROTOCOL : false),
    });
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (path !== TUNNEL_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      (socket as unknown as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
      // Only what the checks need is taken from the request: the session must not keep it (headers and all).
      const claim: TunnelClaim = {
        token: /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1],
        connection: new URL(req.url ?? '/', 'http://localhost').searchParams.get('connection'),
        clientAddr: req.headers['x-forwarded-for']?.toString() ?? req.socket.remoteAddress ?? null,
      };
      this.#wss.handleUpgrade(req, socket, head, (ws) => void this.#onTunnel(ws, claim));
    });
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
  }

  /** Checks the grant the tunnel presents, then starts the session (or refuses in the client's protocol). */
  async #onTunnel(ws: WebSocket, claim: TunnelClaim): Promise<void> {
    const stream = createWebSocketStream(ws, { allowHalfOpen: false });
    stream.on('error', () => undefined); // surfaced through the engine's own handling
    const engine = this.#o.engines.postgres; // the only connection type so far; pick by type when there are more
    let grant;
    try {
      if (!claim.token) throw new HoopError('grant_invalid', 'the tunnel carries no grant', { hint: 'connect through `hoop connect`' });
      grant = await this.#o.grants.verifyForTunnel(claim.token);
      const asked = claim.connection;
      if (asked === null) {
        throw new HoopError('grant_invalid', 'the tunnel does not name its connection', { hint: 'update hoop: the agent sends ?connection=NAME' });
      }
      if (asked !== grant.connection) {
        throw new HoopError('grant_invalid', `the grant is for "${grant.connection}", not "${asked}"`, {
          hint: `run \`hoop connect ${asked}\` for a grant to ${asked}`,
        });
      }
    } catch (e) {
      const err = toHoopError(e, 'grant_invalid');
      this.#o.logger.info('tunnel refused', { code: err.code, connection: safeConnectionClaim(claim.token), addr: claim.clientAddr });
      await engine.refuse(stream, err).catch(() => undefined);
      ws.close(CLOSE_FOR[err.code] ?? TUNNEL_CLOSE.internal, err.code);
      return;
    }
    const connection = this.#o.catalog.get(grant.connection);
    if (!connection) {
      const err = new HoopError('access_denied', `connection "${grant.connection}" no longer exists`);
      await engine.refuse(stream, err).catch(() => undefined);
      ws.close(TUNNEL_CLOSE.accessDenied, err.code);
      return;
    }
    this.#start(ws, stream, engine, grant, connection, claim.clientAddr);
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
