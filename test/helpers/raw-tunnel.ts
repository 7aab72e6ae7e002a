/**
 * A bare tunnel for testing the gateway's checks without the agent: a loopback TCP port whose every connection
 * is piped to the gateway's tunnel endpoint with the token (and connection) the test chooses.
 */
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import WebSocket, { createWebSocketStream } from 'ws';
import { TUNNEL_SUBPROTOCOL, tunnelUrl } from '../../shared/tunnel/protocol.js';

export async function rawTunnel(gatewayUrl: string, token: string, connection?: string): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((socket) => {
    const url = new URL(tunnelUrl(gatewayUrl));
    if (connection) url.searchParams.set('connection', connection);
    const ws = new WebSocket(url, TUNNEL_SUBPROTOCOL, { headers: { authorization: `Bearer ${token}` } });
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
