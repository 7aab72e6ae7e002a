/**
 * The agent's transport to the gateway: one WebSocket per client connection (shared/tunnel/protocol.ts).
 *
 * Everything else in the agent sees only {@link TunnelDialer} and {@link TunnelStream}, so the transport can
 * change (HTTP/2, say; see LIBRARY-NOTES.md "Tunnel transport") without touching the relay or the listeners.
 */
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { TUNNEL_CLOSE, TUNNEL_SUBPROTOCOL, tunnelUrl } from './protocol.js';
import { isUntrustedCertificate, TRUST_HINT_AGENT } from '../net/tls-trust.js';

/**
 * The largest frame the agent accepts from the gateway: the same cap the gateway's tunnel endpoint applies the
 * other way. Frames normally carry one socket read (64 KiB or less); a smaller cap here would end a session
 * whose engine happened to write one large batch.
 */
export const TUNNEL_MAX_PAYLOAD = 64 * 1024 * 1024;
/** Above this many queued bytes {@link TunnelStream.write} returns false and the relay pauses the client. */
export const TUNNEL_HIGH_WATER_MARK = 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const MAX_ERROR_BODY = 4096;

export interface TunnelCloseInfo {
  /** The WebSocket close code, or null when the stream never opened. */
  code: number | null;
  /** Whether the stream had opened before it closed. */
  opened: boolean;
  /** A safe, user-facing description of what went wrong, or null for a normal close. */
  error: string | null;
}

export interface TunnelHandlers {
  open(): void;
  data(chunk: Buffer): void;
  /** The stream's queue went below the low-water mark after {@link TunnelStream.write} returned false. */
  drain(): void;
  /** Called exactly once, whether the stream opened or not. */
  close(info: TunnelCloseInfo): void;
}

/** One open (or opening) tunnel stream: bytes in both directions, with backpressure. */
export interface TunnelStream {
  /** Queues bytes for the gateway. Returns false when the queue is above the high-water mark: wait for `drain`. */
  write(chunk: Buffer): boolean;
  /** Bytes queued but not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** Stops delivering `data` until {@link resume} (backpressure from the client side). */
  pause(): void;
  resume(): void;
  /** Graceful close after queued bytes are sent. Idempotent. */
  close(code?: number): void;
  /** Abrupt close (also aborts an opening handshake). Idempotent. */
  destroy(): void;
}

export interface TunnelDialer {
  /**
   * Starts opening a stream that presents `token`. The outcome arrives through `handlers`, never synchronously
   * from inside `dial`, and `close` is called exactly once. Never throws.
   */
  dial(token: string, handlers: TunnelHandlers): TunnelStream;
}

export interface WsDialerOptions {
  gatewayUrl: string;
  /** Sent as `?connection=`, so a grant for another connection is refused with a message that says so. */
  connection?: string;
  handshakeTimeoutMs?: number;
  maxPayload?: number;
  highWaterMark?: number;
  userAgent?: string;
}

/** A {@link TunnelDialer} over `ws` (bufferutil is picked up automatically when installed). */
export function createWsDialer(options: WsDialerOptions): TunnelDialer {
  const u = new URL(tunnelUrl(options.gatewayUrl));
  if (options.connection !== undefined) u.searchParams.set('connection', options.connection);
  const url = u.toString();
  const shownUrl = safeUrl(url);
  return {
    dial: (token, handlers) => new WsTunnelStream(url, shownUrl, token, handlers, options),
  };
}

class WsTunnelStream implements TunnelStream {
  readonly #ws: WebSocket;
  readonly #handlers: TunnelHandlers;
  readonly #highWater: number;
  #opened = false;
  #closed = false;
  #needDrain = false;
  #refusal: string | null = null;
  /** The HTTP status of a refused upgrade, if it was refused. */
  #refusedStatus: number | undefined;
  #failure: string | null = null;

  constructor(url: string, shownUrl: string, token: string, handlers: TunnelHandlers, options: WsDialerOptions) {
    this.#handlers = handlers;
    this.#highWater = options.highWaterMark ?? TUNNEL_HIGH_WATER_MARK;
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (options.userAgent) headers['user-agent'] = options.userAgent;
    this.#ws = new WebSocket(url, [TUNNEL_SUBPROTOCOL], {
      headers,
      perMessageDeflate: false,
      maxPayload: options.maxPayload ?? TUNNEL_MAX_PAYLOAD,
      handshakeTimeout: options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
      followRedirects: false,
    });
    this.#ws.binaryType = 'nodebuffer';
    this.#ws.on('open', () => {
      this.#opened = true;
      this.#handlers.open();
    });
    this.#ws.on('message', (data: Buffer) => {
      if (!this.#closed) this.#handlers.data(data);
    });
    this.#ws.on('unexpected-response', (req, res) => {
      void this.#refused(res).finally(() => {
        req.destroy();
        this.#ws.terminate();
      });
    });
    this.#ws.on('error', (err: Error & { code?: string }) => {
      // Never the request headers: ws error messages carry the URL and the network error only.
      this.#failure ??= this.#opened
        ? `tunnel to ${shownUrl} failed: ${err.message}`
        : isUntrustedCertificate(err.code)
          ? `cannot reach the gateway at ${shownUrl}: its TLS certificate is not trusted (${err.code}); ${TRUST_HINT_AGENT}`
          : `cannot reach the gateway at ${shownUrl}: ${err.code ?? err.message}`;
    });
    this.#ws.on('close', (code: number, reason: Buffer) => {
      if (this.#closed) return;
      this.#closed = true;
      const error = this.#refusal ?? this.#failure ?? closeCodeError(code, reason.toString('utf8'));
      // A grant refused at the door (HTTP 401: none, or not signed by this gateway) will never be accepted: it
      // ends the tunnel as the close code for an invalid grant does once a stream is open.
      const refusedGrant = this.#refusedStatus === 401 ? TUNNEL_CLOSE.grantInvalid : null;
      this.#handlers.close({ code: this.#opened ? code : refusedGrant, opened: this.#opened, error });
    });
  }

  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  write(chunk: Buffer): boolean {
    if (this.#ws.readyState !== WebSocket.OPEN) return false;
    this.#ws.send(chunk, { binary: true }, () => {
      // The callback runs once the frame is handed to the socket, so bufferedAmount is current here.
      if (this.#needDrain && this.#ws.bufferedAmount < this.#highWater / 2) {
        this.#needDrain = false;
        if (!this.#closed) this.#handlers.drain();
      }
    });
    if (this.#ws.bufferedAmount >= this.#highWater) this.#needDrain = true;
    return !this.#needDrain;
  }

  pause(): void {
    this.#ws.pause();
  }

  resume(): void {
    this.#ws.resume();
  }

  close(code: number = TUNNEL_CLOSE.normal): void {
    const state = this.#ws.readyState;
    if (state === WebSocket.CLOSING || state === WebSocket.CLOSED) return;
    if (state === WebSocket.CONNECTING) this.#ws.terminate();
    else this.#ws.close(code);
  }

  destroy(): void {
    if (this.#ws.readyState !== WebSocket.CLOSED) this.#ws.terminate();
  }

  async #refused(res: IncomingMessage): Promise<void> {
    const status = res.statusCode ?? 0;
    this.#refusedStatus = status;
    let detail = '';
    try {
      detail = problemDetail(await readSome(res, MAX_ERROR_BODY));
    } catch {
      // The status alone is enough to explain the refusal.
    }
    this.#refusal = `gateway refused the tunnel (HTTP ${status}${detail ? `: ${detail}` : ''})`;
  }
}

function readSome(res: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => done(), 2000);
    const done = (): void => {
      clearTimeout(timer);
      res.removeAllListeners('data');
      resolve(Buffer.concat(chunks).subarray(0, limit).toString('utf8'));
    };
    res.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size >= limit) done();
    });
    res.once('end', done);
    res.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** The `detail` (else `title`) of a problem+json body, shortened; never the raw body of something else. */
function problemDetail(body: string): string {
  try {
    const p = JSON.parse(body) as { detail?: unknown; title?: unknown };
    const text = typeof p.detail === 'string' ? p.detail : typeof p.title === 'string' ? p.title : '';
    return text.length > 200 ? text.slice(0, 200) + '…' : text;
  } catch {
    return '';
  }
}

const CLOSE_TEXT: Record<number, string> = {
  [TUNNEL_CLOSE.grantInvalid]: 'grant invalid',
  [TUNNEL_CLOSE.grantExpired]: 'grant expired',
  [TUNNEL_CLOSE.grantRevoked]: 'grant revoked',
  [TUNNEL_CLOSE.accessDenied]: 'access denied',
  [TUNNEL_CLOSE.upstreamUnavailable]: 'the database is unavailable',
  [TUNNEL_CLOSE.auditUnavailable]: 'the audit store is unavailable',
  [TUNNEL_CLOSE.protocol]: 'protocol error',
  [TUNNEL_CLOSE.internal]: 'gateway error',
};

/** Normal closes (1000, 1001, 1005 "no status") are not errors; anything else is described for `last_error`. */
export function closeCodeError(code: number, reason: string): string | null {
  if (code === TUNNEL_CLOSE.normal || code === TUNNEL_CLOSE.goingAway || code === 1005) return null;
  const what = CLOSE_TEXT[code] ?? (code === 1006 ? 'connection lost' : 'closed');
  return `gateway closed the tunnel: ${what} (${code})${reason ? `: ${reason.slice(0, 200)}` : ''}`;
}

/** The URL without credentials or query, for messages. */
function safeUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}
