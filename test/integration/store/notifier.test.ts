/**
 * The cluster notifier (LISTEN/NOTIFY between gateway instances) through a TCP relay the test can cut: a database
 * that goes away for a while and comes back must not end notifications until the gateway restarts.
 */
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { ClusterNotifier } from '../../../gateway/store/notifier.js';
import { createLogger } from '../../../shared/log.js';
import { freshDatabase } from '../../helpers/pg.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A relay on a fixed local port to the database; `cut()` drops it and every connection, `restore()` brings it back. */
async function relayTo(target: URL): Promise<{ port: number; cut: () => Promise<void>; restore: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const start = async (): Promise<void> => {
    server = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  };
  const cut = async (): Promise<void> => {
    const closed = new Promise((r) => server?.close(r));
    for (const s of sockets) s.destroy();
    await closed;
  };
  await start();
  cleanups.push(cut);
  return { port, cut, restore: start };
}

describe('ClusterNotifier', () => {
  it('keeps reconnecting while the database is away, and delivers notifications again once it is back', async () => {
    const fresh = await freshDatabase('notifier');
    cleanups.push(() => fresh.drop());
    const url = new URL(fresh.url);
    const relay = await relayTo(url);
    const viaRelay = new URL(fresh.url);
    viaRelay.hostname = '127.0.0.1';
    viaRelay.port = String(relay.port);

    const lines: string[] = [];
    const notifier = new ClusterNotifier(createLogger({ level: 'info', write: (l) => lines.push(l) }), { connectTimeoutMs: 2000 });
    cleanups.push(() => notifier.close());
    await notifier.listen(viaRelay.toString());
    const seen: string[] = [];
    notifier.onGrantChanged((id) => seen.push(id));

    const publisher = new pg.Client({ connectionString: fresh.url });
    await publisher.connect();
    cleanups.push(() => publisher.end());
    const notify = (id: string): Promise<unknown> => publisher.query(`SELECT pg_notify('hoop_grants', $1)`, [id]);

    await notify('before');
    await expect.poll(() => seen).toEqual(['before']);

    // The database goes away long enough for the first reconnect (after 1 s) to fail too.
    await relay.cut();
    await expect.poll(() => lines.join('\n'), { timeout: 5000 }).toMatch(/cannot reconnect yet; still trying/);
    await relay.restore();
    await expect.poll(() => lines.join('\n'), { timeout: 15_000 }).toMatch(/cluster notifications reconnected/);
    await notify('after');
    await expect.poll(() => seen).toEqual(['before', 'after']);
  }, 30_000);

  it('stops trying once closed', async () => {
    const fresh = await freshDatabase('notifier_close');
    cleanups.push(() => fresh.drop());
    const relay = await relayTo(new URL(fresh.url));
    const viaRelay = new URL(fresh.url);
    viaRelay.hostname = '127.0.0.1';
    viaRelay.port = String(relay.port);
    const lines: string[] = [];
    const notifier = new ClusterNotifier(createLogger({ level: 'info', write: (l) => lines.push(l) }), { connectTimeoutMs: 2000 });
    await notifier.listen(viaRelay.toString());
    await relay.cut();
    await expect.poll(() => lines.join('\n')).toMatch(/lost their connection; reconnecting/);
    await notifier.close();
    await relay.restore();
    await new Promise((r) => setTimeout(r, 2500));
    expect(lines.join('\n')).not.toMatch(/reconnected|cannot reconnect/);
  }, 30_000);
});
