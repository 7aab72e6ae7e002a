/**
 * The in-process tunnel `hoop exec` uses: a loopback listener on a free port, living only as long as the
 * command, relaying each connection to the gateway exactly as the agent does. The built-in client then speaks
 * the target's protocol to it, so CI gets the same engine, policy and recording as a person.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { relay } from '../../shared/net/relay.js';
import { createWsDialer } from '../../shared/tunnel/ws-dialer.js';

export interface EphemeralTunnel {
  port: number;
  close(): Promise<void>;
}

export async function openEphemeralTunnel(o: { gatewayUrl: string; connection: string; token: string; userAgent: string }): Promise<EphemeralTunnel> {
  const dialer = createWsDialer({ gatewayUrl: o.gatewayUrl, connection: o.connection, userAgent: o.userAgent });
  const abort = new AbortController();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    void relay({ client: socket, dialer, token: o.token, signal: abort.signal }).finally(() => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      abort.abort();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
