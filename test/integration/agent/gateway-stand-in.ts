/**
 * A tiny stand-in for the gateway's tunnel endpoint, to test the agent's side of shared/tunnel/protocol.ts
 * with real sockets: it checks the path, the subprotocol and the bearer grant token, then echoes the bytes
 * (mode `echo`) or relays them, with backpressure, to a real TCP echo server (mode `tcp`).
 */
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createTcpServer, connect, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';
import { TUNNEL_PATH, TUNNEL_SUBPROTOCOL } from '../../../shared/tunnel/protocol.js';

export interface StandInOptions {
  /** Tokens the stand-in accepts (mutable: tests add renewed tokens). */
  tokens: Set<string>;
  mode?: 'echo' | 'tcp';
  /** Answer every upgrade with this HTTP status instead. */
  refuseStatus?: number;
  /** Hold each upgrade this long before answering (to test bytes sent before the tunnel opens). */
  upgradeDelayMs?: number;
  /** Accept the TCP connection but never answer the upgrade. */
  neverAnswer?: boolean;
}

export interface ServerSideStream {
  ws: WebSocket;
  token: string;
  /** Close events seen on the gateway side for this stream (must end at exactly 1). */
  closes: Array<{ code: number; reason: string }>;
  /** Every byte the stream brought from the agent, in order. */
  received: Buffer[];
  /** The request URL of the upgrade (path and query). */
  url: string;
}

export interface GatewayStandIn {
  url: string;
  /** Every token presented, accepted or not, in order. */
  tokensSeen: string[];
  streams: ServerSideStream[];
  /** Waits for the n-th accepted stream (1-based). */
  stream(n: number): Promise<ServerSideStream>;
  close(): Promise<void>;
}

export async function startGatewayStandIn(opts: StandInOptions): Promise<GatewayStandIn> {
  const mode = opts.mode ?? 'echo';
  let echo: TcpServer | undefined;
  const echoSockets = new Set<Socket>();
  if (mode === 'tcp') {
    echo = createTcpServer((s) => {
      echoSockets.add(s);
      s.on('close', () => echoSockets.delete(s));
      s.setNoDelay(true);
      s.pipe(s);
      s.on('error', () => s.destroy());
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
  }
  const echoPort = echo ? (echo.address() as AddressInfo).port : 0;

  const tokensSeen: string[] = [];
  const streams: ServerSideStream[] = [];
  const waiters: Array<() => void> = [];
  const rawSockets = new Set<Socket>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (p) => (p.has(TUNNEL_SUBPROTOCOL) ? TUNNEL_SUBPROTOCOL : false) });
  const http = createHttpServer((_req, res) => res.writeHead(404).end());
  http.on('connection', (s: Socket) => {
    rawSockets.add(s);
    s.on('close', () => rawSockets.delete(s));
  });

  const refuse = (socket: Socket, status: number, detail: string): void => {
    const body = JSON.stringify({ type: 'about:blank', title: 'refused', status, code: 'grant_invalid', detail });
    socket.end(`HTTP/1.1 ${status} Refused\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  };

  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : '';
    tokensSeen.push(token);
    if (opts.neverAnswer) return;
    const answer = (): void => {
      if (opts.refuseStatus !== undefined) return refuse(socket, opts.refuseStatus, 'the grant was revoked by bob');
      if (new URL(req.url ?? '/', 'http://x').pathname !== TUNNEL_PATH) return refuse(socket, 404, 'no such path');
      const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
      if (!protocols.includes(TUNNEL_SUBPROTOCOL)) return refuse(socket, 400, 'wrong subprotocol');
      if (!opts.tokens.has(token)) return refuse(socket, 401, 'grant token not accepted');
      wss.handleUpgrade(req, socket, head, (ws) => {
        const entry: ServerSideStream = { ws, token, closes: [], received: [], url: req.url ?? '' };
        ws.on('close', (code, reason) => entry.closes.push({ code, reason: reason.toString() }));
        ws.on('message', (data: Buffer) => entry.received.push(data));
        ws.on('error', () => {});
        if (mode === 'echo') {
          ws.on('message', (data: Buffer) => ws.send(data, { binary: true }));
        } else {
          const duplex = createWebSocketStream(ws);
          const tcp = connect(echoPort, '127.0.0.1');
          tcp.setNoDelay(true);
          duplex.on('error', () => tcp.destroy());
          tcp.on('error', () => duplex.destroy());
          tcp.on('close', () => duplex.destroy());
          duplex.on('close', () => tcp.destroy());
          duplex.pipe(tcp).pipe(duplex);
        }
        streams.push(entry);
        for (const w of waiters.splice(0)) w();
      });
    };
    if (opts.upgradeDelayMs) setTimeout(answer, opts.upgradeDelayMs);
    else answer();
  });

  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const port = (http.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    tokensSeen,
    streams,
    async stream(n) {
      while (streams.length < n) await new Promise<void>((r) => waiters.push(r));
      return streams[n - 1]!;
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      for (const s of rawSockets) s.destroy();
      for (const s of echoSockets) s.destroy();
      await new Promise<void>((r) => http.close(() => r()));
      if (echo) await new Promise<void>((r) => echo.close(() => r()));
    },
  };
}
