/**
 * The agent's data path with real sockets: client → agent listener → ws tunnel → gateway stand-in (→ TCP echo).
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { relay } from '../../../shared/net/relay.js';
import { TunnelRegistry } from '../../../agent/tunnels.js';
import { createWsDialer } from '../../../shared/tunnel/ws-dialer.js';
import { createLogger } from '../../../shared/log.js';
import { startGatewayStandIn, type StandInOptions } from './gateway-stand-in.js';
import { connectTo, delay, grantFixture, readBytes, watchClose } from './helpers.js';

const TOKEN = 'grant-token-7f3a9c-secret';
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(standIn: Omit<StandInOptions, 'tokens'> = {}, registryOpts: { openTimeoutMs?: number; gatewayUrl?: string } = {}) {
  const gw = await startGatewayStandIn({ tokens: new Set([TOKEN]), ...standIn });
  cleanups.push(() => gw.close());
  const logs: string[] = [];
  const registry = new TunnelRegistry({
    dialerFor: (url, connection) => createWsDialer({ gatewayUrl: url, connection }),
    logger: createLogger({ level: 'trace', write: (l) => logs.push(l) }),
    ...(registryOpts.openTimeoutMs !== undefined ? { openTimeoutMs: registryOpts.openTimeoutMs } : {}),
  });
  cleanups.push(() => registry.shutdown());
  const info = await registry.open({
    connection: 'shop',
    gateway_url: registryOpts.gatewayUrl ?? gw.url,
    port: 0,
    grant: grantFixture(TOKEN, Date.now() + 3_600_000),
  });
  return { gw, registry, port: info.port, logs };
}

const tunnelOf = (r: TunnelRegistry) => r.status()[0]!;

describe('relay through the tunnel', () => {
  it('carries bytes both ways exactly, including what the client sends before the tunnel opens', async () => {
    const { gw, registry, port } = await setup({ upgradeDelayMs: 300 });
    const c = await connectTo(port);
    c.write('early bytes|');          // the WebSocket is not open yet: the stand-in holds the upgrade 300 ms
    c.write(Buffer.from([0, 1, 2, 255]));
    const first = await readBytes(c, 16);
    expect(first).toEqual(Buffer.concat([Buffer.from('early bytes|'), Buffer.from([0, 1, 2, 255])]));
    c.write('later');
    expect((await readBytes(c, 5)).toString()).toBe('later');

    const s = await gw.stream(1);
    expect(s.token).toBe(TOKEN);
    expect(s.ws.protocol).toBe('hoop-tunnel.v1');
    expect(s.url).toBe('/v1/tunnel?connection=shop');
    const info = tunnelOf(registry);
    expect(info).toMatchObject({ active_clients: 1, total_clients: 1, bytes_from_clients: 21, bytes_to_clients: 21, last_error: null });
    c.destroy();
    await expect.poll(() => tunnelOf(registry).active_clients).toBe(0);
  });

  it('delivers bytes from a client that sends and closes before the tunnel opens (a CancelRequest), then closes', async () => {
    const { gw, registry, port } = await setup({ upgradeDelayMs: 300 });
    const cancel = Buffer.from([0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0x30, 0x39, 0x12, 0x34, 0x56, 0x78]);
    const c = await connectTo(port);
    const w = watchClose(c);
    c.end(cancel); // what pg and libpq do: 16 bytes, then FIN, without waiting for anything
    const s = await gw.stream(1);
    await expect.poll(() => s.closes.length).toBe(1);
    expect(Buffer.concat(s.received).equals(cancel)).toBe(true);
    expect(s.closes[0]!.code).toBe(1000);
    await w.closed;
    await expect.poll(() => tunnelOf(registry).active_clients).toBe(0);
    expect(tunnelOf(registry)).toMatchObject({ bytes_from_clients: 16, last_error: null });
  });

  it('holds back a large burst sent before the tunnel opens through TCP, not memory, and delivers all of it in order', async () => {
    const { registry, port } = await setup({ upgradeDelayMs: 300 });
    const c = await connectTo(port);
    const burst = randomBytes(4 * 1024 * 1024);
    const echoed = readBytes(c, burst.length, 10_000);
    c.write(burst); // queued in the client's socket; the agent stops reading once its pre-open bound is reached
    expect((await echoed).equals(burst)).toBe(true);
    c.destroy();
    await expect.poll(() => tunnelOf(registry).active_clients).toBe(0);
    expect(registry.get('shop')!.maxBuffered).toBeLessThan(2 * 1024 * 1024);
  });

  it('moves 50 MB each way with equal checksums, holding far less than the payload in the relay', async () => {
    const { registry, port } = await setup({ mode: 'tcp' });
    const c = await connectTo(port);
    const total = 50 * 1024 * 1024;
    const chunk = 1024 * 1024;
    const sent = createHash('sha256');
    const got = createHash('sha256');
    let received = 0;
    const start = process.hrtime.bigint();
    const done = new Promise<void>((resolve, reject) => {
      c.on('data', (d: Buffer) => {
        got.update(d);
        received += d.length;
        if (received >= total) resolve();
      });
      c.on('error', reject);
    });
    for (let off = 0; off < total; off += chunk) {
      const b = randomBytes(chunk);
      sent.update(b);
      if (!c.write(b)) await once(c, 'drain');
    }
    await done;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    expect(received).toBe(total);
    expect(got.digest('hex')).toBe(sent.digest('hex'));
    c.end();
    await expect.poll(() => tunnelOf(registry).active_clients).toBe(0);

    const t = registry.get('shop')!;
    const info = tunnelOf(registry);
    expect(info.bytes_from_clients).toBe(total);
    expect(info.bytes_to_clients).toBe(total);
    expect(t.maxBuffered).toBeGreaterThan(0);
    expect(t.maxBuffered).toBeLessThan(16 * 1024 * 1024);
    console.log(`agent relay: 50 MiB each way in ${seconds.toFixed(2)} s = ${(50 / seconds).toFixed(0)} MiB/s per direction; max held ${(t.maxBuffered / 1024).toFixed(0)} KiB`);
  });

  it('the gateway closing the stream delivers its last bytes, then closes the client socket once', async () => {
    const { gw, registry, port } = await setup();
    const c = await connectTo(port);
    const w = watchClose(c);
    c.write('x');
    await readBytes(c, 1);
    const s = await gw.stream(1);
    const tail = readBytes(c, 9);
    s.ws.send(Buffer.from('last word'));
    s.ws.close(4502, 'database down'); // a code that leaves the grant usable (4401-4404 end the tunnel: tunnels.test.ts)
    expect((await tail).toString()).toBe('last word');
    await w.closed;
    await delay(50);
    expect(w.closes).toBe(1);
    expect(w.ended).toBe(true);
    expect(s.closes).toEqual([{ code: 4502, reason: 'database down' }]);
    await expect.poll(() => tunnelOf(registry).last_error).toBe('gateway closed the tunnel: the database is unavailable (4502): database down');
  });

  it('the client closing closes the WebSocket once, with a normal close', async () => {
    const { gw, registry, port } = await setup();
    const c = await connectTo(port);
    c.write('hi');
    await readBytes(c, 2);
    const s = await gw.stream(1);
    c.end();
    await expect.poll(() => s.closes.length).toBe(1);
    await delay(50);
    expect(s.closes).toEqual([{ code: 1000, reason: '' }]);
    await expect.poll(() => tunnelOf(registry).active_clients).toBe(0);
    expect(tunnelOf(registry).last_error).toBeNull();
  });

  it('a refused upgrade (HTTP 401) closes the client socket and records why, without the token', async () => {
    const { registry, port, logs } = await setup({ refuseStatus: 401 });
    const c = await connectTo(port);
    const w = watchClose(c);
    c.write('startup packet');
    await w.closed;
    await expect.poll(() => tunnelOf(registry).last_error).toBe('gateway refused the tunnel (HTTP 401: the grant was revoked by bob)');
    // A grant refused at the door will never be accepted: the tunnel stops listening and says so.
    expect(tunnelOf(registry).state).toBe('refused');
    await expect.poll(() => tunnelOf(registry).active_clients).toBe(0);
    expect(logs.join('\n')).not.toContain(TOKEN);
    expect(logs.join('\n')).toContain('HTTP 401');
  });

  it('a wrong token is refused by the gateway: the agent presents exactly the grant token it holds', async () => {
    const gw = await startGatewayStandIn({ tokens: new Set(['another-token']) });
    cleanups.push(() => gw.close());
    const registry = new TunnelRegistry({ dialerFor: (url) => createWsDialer({ gatewayUrl: url }) });
    cleanups.push(() => registry.shutdown());
    const { port } = await registry.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture(TOKEN, Date.now() + 60_000) });
    const c = await connectTo(port);
    const w = watchClose(c);
    await w.closed;
    expect(gw.tokensSeen).toEqual([TOKEN]);
    await expect.poll(() => tunnelOf(registry).last_error).toContain('HTTP 401');
  });

  it('an unreachable gateway: a PostgreSQL client is told why in its own protocol, promptly, and the status records it', async () => {
    const dead = createServer();
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const { registry, port } = await setup({}, { gatewayUrl: `http://127.0.0.1:${deadPort}` });
    const why = `cannot reach the gateway at ws://127.0.0.1:${deadPort}/v1/tunnel: ECONNREFUSED`;
    // node-postgres (startup first), as psql with sslmode=disable: a FATAL instead of "connection closed".
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'alice', database: 'shop' });
    const err = (await client.connect().catch((e: unknown) => e)) as Error & { code?: string; severity?: string; hint?: string };
    expect(err.message).toBe(`hoop: ${why}`);
    expect(err).toMatchObject({ code: '08001', severity: 'FATAL' });
    expect(err.hint).toContain('hoop agent status');
    await expect.poll(() => tunnelOf(registry).last_error).toBe(why);
    // A client that asks for TLS first (psql's default, sslmode=prefer) is told `N`, then gets the same FATAL.
    const raw = await connectTo(port);
    const w = watchClose(raw);
    const ssl = Buffer.alloc(8);
    ssl.writeInt32BE(8, 0);
    ssl.writeInt32BE(80877103, 4);
    raw.write(ssl);
    expect((await readBytes(raw, 1)).toString()).toBe('N');
    const params = Buffer.from('user\0alice\0database\0shop\0\0');
    const startup = Buffer.alloc(8);
    startup.writeInt32BE(8 + params.length, 0);
    startup.writeInt32BE(196608, 4);
    const answer: Buffer[] = [];
    raw.on('data', (d: Buffer) => answer.push(d));
    raw.write(Buffer.concat([startup, params]));
    await w.closed;
    const reply = Buffer.concat(answer);
    expect(String.fromCharCode(reply[0]!)).toBe('E');
    expect(reply.readInt32BE(1)).toBe(reply.length - 1); // one whole ErrorResponse, nothing after it
    expect(reply.toString()).toContain(`hoop: ${why}`);
    // A client that sends nothing is closed soon all the same.
    const silent = await connectTo(port);
    const t0 = Date.now();
    await watchClose(silent).closed;
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('a gateway that never answers the upgrade: the client socket is destroyed at the open timeout', async () => {
    const { registry, port } = await setup({ neverAnswer: true }, { openTimeoutMs: 400 });
    const c = await connectTo(port);
    const w = watchClose(c);
    c.write('waiting');
    const t0 = Date.now();
    await w.closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    expect(Date.now() - t0).toBeLessThan(3_000);
    await expect.poll(() => tunnelOf(registry).last_error).toBe('the gateway did not open the tunnel within 400 ms');
  });

  it('closing the tunnel ends its live client streams on both sides', async () => {
    const { gw, registry, port } = await setup();
    const c = await connectTo(port);
    const w = watchClose(c);
    c.write('a');
    await readBytes(c, 1);
    const s = await gw.stream(1);
    expect(await registry.close('shop')).toEqual(['shop']);
    await w.closed;
    await expect.poll(() => s.closes.length).toBe(1);
    expect(s.closes[0]!.code).toBe(1001);
    expect(registry.status()).toEqual([]);
  });
});

describe('relay() on its own', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('an AbortSignal tears down both sides once, and the result counts the bytes', async () => {
    const gw = await startGatewayStandIn({ tokens: new Set([TOKEN]) });
    cleanups.push(() => gw.close());
    const ac = new AbortController();
    let result: Promise<Awaited<ReturnType<typeof relay>>> | undefined;
    server = createServer((sock: Socket) => {
      result = relay({ client: sock, dialer: createWsDialer({ gatewayUrl: gw.url }), token: TOKEN, signal: ac.signal });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const c = await connectTo((server.address() as AddressInfo).port);
    const w = watchClose(c);
    c.write('12345');
    await readBytes(c, 5);
    const s = await gw.stream(1);
    ac.abort();
    ac.abort();
    const r = await result!;
    await w.closed;
    await expect.poll(() => s.closes.length).toBe(1);
    expect(r).toMatchObject({ end: 'aborted', error: null, bytesFromClient: 5, bytesToClient: 5 });
    expect(w.closes).toBe(1);
  });
});
