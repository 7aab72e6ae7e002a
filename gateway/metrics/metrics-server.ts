/**
 * The metrics listener: `GET /metrics` in the Prometheus text format, on an address of its own (`metrics.listen`),
 * so that scrapers never reach the API or the tunnel endpoint, and the API's port need not be opened to them.
 * Plain HTTP, as scrapers expect; it serves counts and timings only (no subject, statement or address).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HoopError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Registry } from './registry.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsServer {
  /** The port it listens on (the one chosen by the system for port 0). */
  readonly port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(o: { host: string; port: number; registry: Registry; logger: Logger }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are served at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    let body: string;
    try {
      body = o.registry.render();
    } catch (e) {
      o.logger.error('cannot render the metrics', { error: e });
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('the metrics could not be rendered; see the gateway log\n');
      return;
    }
    res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      reject(new HoopError('config_invalid', `cannot listen for metrics on ${o.host}:${o.port}: ${e.code === 'EADDRINUSE' ? 'the address is in use' : e.message}`, {
        cause: e,
        hint: e.code === 'EADDRINUSE' ? 'stop the other process, or set metrics.listen to another port' : undefined,
      }));
    });
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  o.logger.info('serving metrics', { url: `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}/metrics` });
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
