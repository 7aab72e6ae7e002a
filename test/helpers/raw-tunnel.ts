/**
 * A bare tunnel for testing the gateway's checks without the agent: a loopback TCP port whose every connection
 * is piped to the gateway's tunnel endpoint with the token (and connection) the test chooses.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import WebSocket, { createWebSocketStream } from 'ws';
import { TUNNEL_PATH, TUNNEL_SUBPROTOCOL, tunnelUrl } from '../../shared/tunnel/protocol.js';
import { createWsDialer } from '../../shared/tunnel/ws-dialer.js';
import { relay } from '../../shared/net/relay.js';
import { refusePostgres } from '../../agent/pg-refusal.js';

export interface RawTunnelOptions {
  /** More request headers, e.g. X-Forwarded-For. */
  headers?: Record<string, string>;
  /** The local address to connect from (any 127.x address works on Linux): a peer the gateway may trust. */
  localAddress?: string;
}

export async function rawTunnel(gatewayUrl: string, token: string, connection?: string, o: RawTunnelOptions = {}): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((socket) => {
    const url = new URL(tunnelUrl(gatewayUrl));
    if (connection) url.searchParams.set('connection', connection);
    const ws = new WebSocket(url, TUNNEL_SUBPROTOCOL, {
      headers: { authorization: `Bearer ${token}`, ...o.headers },
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    });
    const stream = createWebSocketStream(ws);
    stream.on('error', () => socket.destroy());
    socket.on('error', () => stream.destroy());
    socket.pipe(stream).pipe(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/**
 * Like {@link rawTunnel}, but each connection goes through the agent's own relay and refusal: what a PostgreSQL
 * client of `hoop connect` sees when the gateway refuses the tunnel at the HTTP level.
 */
export async function agentTunnel(gatewayUrl: string, token: string, connection: string): Promise<{ port: number; close(): Promise<void> }> {
  const dialer = createWsDialer({ gatewayUrl, connection });
  const server: Server = createServer((client) => void relay({ client, dialer, token, refuse: refusePostgres }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** What a raw upgrade request to the tunnel endpoint got: an HTTP answer, or a WebSocket (101, closed at once). */
export type UpgradeOutcome =
  | { upgraded: false; status: number; headers: Record<string, string | string[] | undefined>; body: string }
  | { upgraded: true };

/** Sends one WebSocket upgrade request to the tunnel endpoint, without any WebSocket library in between. */
export function tryUpgrade(gatewayUrl: string, headers: Record<string, string>, connection = 'shop'): Promise<UpgradeOutcome> {
  const url = new URL(TUNNEL_PATH + `?connection=${encodeURIComponent(connection)}`, gatewayUrl);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-protocol': TUNNEL_SUBPROTOCOL,
        ...headers,
      },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ upgraded: true });
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString('utf8')));
      res.on('end', () => resolve({ upgraded: false, status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
