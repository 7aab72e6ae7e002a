/**
 * The tunnel registry with real sockets and a manual clock: replacement, default ports, grant renewal and expiry.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { TunnelGrant } from '../../../agent/tunnel.js';
import { TunnelRegistry, type TunnelRegistryOptions } from '../../../agent/tunnels.js';
import { createWsDialer } from '../../../shared/tunnel/ws-dialer.js';
import { HoopError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import { startGatewayStandIn, type GatewayStandIn } from './gateway-stand-in.js';
import { ManualClock, connectTo, delay, grantFixture, readBytes, tryConnect } from './helpers.js';

const MIN = 60_000;
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function standIn(tokens: string[] | Set<string>): Promise<GatewayStandIn> {
  const gw = await startGatewayStandIn({ tokens: tokens instanceof Set ? tokens : new Set(tokens) });
  cleanups.push(() => gw.close());
  return gw;
}

function registry(opts: Partial<TunnelRegistryOptions> = {}): { reg: TunnelRegistry; logs: string[] } {
  const logs: string[] = [];
  const reg = new TunnelRegistry({
    dialerFor: (url) => createWsDialer({ gatewayUrl: url }),
    logger: createLogger({ level: 'trace', write: (l) => logs.push(l) }),
    ...opts,
  });
  cleanups.push(() => reg.shutdown());
  return { reg, logs };
}

async function occupy(): Promise<number> {
  const s: Server = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  cleanups.push(() => new Promise((r) => s.close(r)));
  return (s.address() as AddressInfo).port;
}

/** Connects, sends a marker and waits for its echo: proves a full round trip through the tunnel. */
async function roundTrip(port: number, text = 'ping'): Promise<string> {
  const c = await connectTo(port);
  c.write(text);
  const got = (await readBytes(c, text.length)).toString();
  c.destroy();
  return got;
}

describe('tunnel registry', () => {
  it('opens on the connection type\'s default port, and falls back to a free one when it is busy', async () => {
    const gw = await standIn(['tok']);
    const busy = await occupy();
    const { reg } = registry({ defaultPorts: { postgres: busy } });
    const info = await reg.open({ connection: 'shop', gateway_url: gw.url, grant: grantFixture('tok', Date.now() + 10 * MIN) });
    expect(info).toMatchObject({ connection: 'shop', type: 'postgres', host: '127.0.0.1', grant_id: 'grant-1', active_clients: 0, total_clients: 0 });
    expect(info.port).not.toBe(busy);
    expect(await roundTrip(info.port)).toBe('ping');
  });

  it('an explicitly requested busy port is an error naming the port', async () => {
    const gw = await standIn(['tok']);
    const busy = await occupy();
    const { reg } = registry();
    const err = await reg.open({ connection: 'shop', gateway_url: gw.url, port: busy, grant: grantFixture('tok', Date.now() + MIN) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HoopError);
    expect((err as HoopError).message).toBe(`port ${busy} on 127.0.0.1 is already in use`);
    expect(reg.status()).toEqual([]);
  });

  it('serves several connections at once, each on its own port', async () => {
    const gw = await standIn(['tok']);
    const { reg } = registry();
    const a = await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('tok', Date.now() + MIN) });
    const b = await reg.open({ connection: 'billing', gateway_url: gw.url, port: 0, grant: grantFixture('tok', Date.now() + MIN, { connection: 'billing', id: 'grant-2' }) });
    expect(a.port).not.toBe(b.port);
    expect(await Promise.all([roundTrip(a.port, 'to-shop'), roundTrip(b.port, 'to-billing')])).toEqual(['to-shop', 'to-billing']);
    expect(reg.status().map((t) => [t.connection, t.total_clients])).toEqual([['shop', 1], ['billing', 1]]);
    expect((await reg.closeAll()).sort()).toEqual(['billing', 'shop']);
    expect(await tryConnect(a.port)).toBe('ECONNREFUSED');
    expect(await tryConnect(b.port)).toBe('ECONNREFUSED');
  });

  it('opening a connection again on its port replaces its tunnel: the listener is handed over, live streams run on', async () => {
    const gw = await standIn(['old', 'new']);
    const { reg } = registry();
    const first = await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('old', Date.now() + MIN) });
    const live = await connectTo(first.port);
    live.write('a');
    await readBytes(live, 1);
    const second = await reg.open({ connection: 'shop', gateway_url: gw.url, port: first.port, grant: grantFixture('new', Date.now() + MIN, { id: 'grant-2' }) });
    expect(second.port).toBe(first.port);
    expect(reg.status()).toHaveLength(1);
    expect(reg.status()[0]!.grant_id).toBe('grant-2');
    expect(reg.status()[0]!.state).toBe('open');
    expect(await roundTrip(second.port)).toBe('ping');
    expect(gw.tokensSeen).toEqual(['old', 'new']);
    // The stream opened before the replacement keeps working.
    live.write('b');
    expect((await readBytes(live, 1)).toString()).toBe('b');
    live.destroy();
  });

  it('replaced with no port asked for, a tunnel keeps the port it had, even one that is not the default', async () => {
    const gw = await standIn(['old', 'new']);
    const busy = await occupy();
    const { reg } = registry({ defaultPorts: { postgres: busy } });
    const first = await reg.open({ connection: 'shop', gateway_url: gw.url, grant: grantFixture('old', Date.now() + MIN) });
    expect(first.port).not.toBe(busy); // the default was taken: a free port
    const second = await reg.open({ connection: 'shop', gateway_url: gw.url, grant: grantFixture('new', Date.now() + MIN, { id: 'grant-2' }) });
    expect(second.port).toBe(first.port);
    expect(await roundTrip(second.port)).toBe('ping');
    expect(gw.tokensSeen).toEqual(['new']);
  });

  it('a replacement that cannot bind its port leaves the working tunnel as it was', async () => {
    const gw = await standIn(['old', 'new']);
    const busy = await occupy();
    const { reg } = registry();
    const first = await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('old', Date.now() + MIN) });
    const err = await reg.open({ connection: 'shop', gateway_url: gw.url, port: busy, grant: grantFixture('new', Date.now() + MIN, { id: 'grant-2' }) })
      .catch((e: unknown) => e);
    expect((err as HoopError).message).toBe(`port ${busy} on 127.0.0.1 is already in use`);
    expect(reg.status()).toMatchObject([{ connection: 'shop', port: first.port, grant_id: 'grant-1', state: 'open' }]);
    expect(await roundTrip(first.port)).toBe('ping');
    expect(gw.tokensSeen).toEqual(['old']);
  });

  it('replaced on another port, the old listener closes once the new one is bound', async () => {
    const gw = await standIn(['old', 'new']);
    const { reg } = registry();
    const first = await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('old', Date.now() + MIN) });
    const second = await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('new', Date.now() + MIN, { id: 'grant-2' }) });
    expect(second.port).not.toBe(first.port);
    expect(await tryConnect(first.port)).toBe('ECONNREFUSED');
    expect(await roundTrip(second.port)).toBe('ping');
    expect(reg.status()).toMatchObject([{ grant_id: 'grant-2', port: second.port }]);
  });

  it('when the gateway ends a stream because the grant was revoked, the listener closes at once and the status says why', async () => {
    const gw = await standIn(['tok']);
    const { reg, logs } = registry();
    const info = await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('tok', Date.now() + 10 * MIN) });
    const live = await connectTo(info.port);
    const closed = once(live, 'close');
    live.write('a');
    await readBytes(live, 1);
    (await gw.stream(1)).ws.close(4403, 'grant revoked');
    await closed;
    await expect.poll(() => reg.status()[0]!.state).toBe('revoked');
    expect(reg.status()[0]!.last_error).toBe('the grant was revoked');
    expect(await tryConnect(info.port)).toBe('ECONNREFUSED');
    expect(logs.join('\n')).toMatch(/the grant was revoked: listener closed/);
  });

  it('a stream the gateway ends for another reason (the database went away) leaves the tunnel open', async () => {
    const gw = await standIn(['tok']);
    const { reg } = registry();
    const info = await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('tok', Date.now() + 10 * MIN) });
    const live = await connectTo(info.port);
    const closed = once(live, 'close');
    live.write('a');
    await readBytes(live, 1);
    (await gw.stream(1)).ws.close(4502, 'upstream');
    await closed;
    await expect.poll(() => reg.status()[0]!.last_error).toMatch(/the database is unavailable \(4502\)/);
    expect(reg.status()[0]!.state).toBe('open');
    expect(await roundTrip(info.port)).toBe('ping');
  });

  it('refuses a grant for another connection, and an expired grant', async () => {
    const gw = await standIn(['tok']);
    const { reg } = registry();
    await expect(reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('tok', Date.now() + MIN, { connection: 'billing' }) }))
      .rejects.toMatchObject({ code: 'usage' });
    await expect(reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('tok', Date.now() - 1) }))
      .rejects.toMatchObject({ code: 'grant_expired' });
    await expect(reg.close('shop')).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('grant renewal', () => {
  it('renews before expiry; new connections carry the new token while live ones keep running', async () => {
    const accepted = new Set(['tok-1']);
    const gw = await standIn(accepted);
    const clock = new ManualClock();
    const expiry = clock.now() + 10 * MIN;
    const calls: Array<{ id: string; at: number; url: string }> = [];
    const renewGrant = async (g: TunnelGrant, url: string): Promise<TunnelGrant> => {
      calls.push({ id: g.id, at: clock.now(), url });
      accepted.add('tok-2'); // the gateway issued it, so it accepts it
      return { ...g, token: 'tok-2', expires_at: new Date(Date.parse(g.expires_at) + 10 * MIN).toISOString() };
    };
    const { reg, logs } = registry({ clock, renewGrant });
    const info = await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('tok-1', expiry) });
    const live = await connectTo(info.port);
    live.write('1');
    await readBytes(live, 1);

    clock.advance(7 * MIN);
    expect(calls).toHaveLength(0);
    clock.advance(1 * MIN); // 80% of the 10 minutes
    await expect.poll(() => calls.length).toBe(1);
    expect(calls[0]).toMatchObject({ id: 'grant-1', at: expiry - 2 * MIN, url: gw.url });
    await expect.poll(() => reg.status()[0]!.expires_at).toBe(new Date(expiry + 10 * MIN).toISOString());

    expect(await roundTrip(info.port)).toBe('ping');
    expect(gw.tokensSeen).toEqual(['tok-1', 'tok-2']);
    live.write('2');
    expect((await readBytes(live, 1)).toString()).toBe('2');
    live.destroy();

    // Past the first grant's expiry the tunnel stays open on the renewed grant.
    clock.advance(3 * MIN);
    expect(await roundTrip(info.port)).toBe('ping');
    expect(reg.status()[0]!.last_error).toBeNull();
    expect(logs.join('\n')).not.toMatch(/tok-[12]/);
  });

  /** A 5-minute tunnel whose renewal (due at 4 minutes) fails with `failure`; the clock is at 4 minutes. */
  async function renewalRefused(failure: HoopError): Promise<{ reg: TunnelRegistry; clock: ManualClock; port: number; calls: () => number }> {
    const gw = await standIn(['tok-1']);
    const clock = new ManualClock();
    let calls = 0;
    const renewGrant = async (): Promise<TunnelGrant> => {
      calls += 1;
      throw failure;
    };
    const { reg } = registry({ clock, renewGrant });
    const info = await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('tok-1', clock.now() + 5 * MIN) });
    clock.advance(4 * MIN); // 5 min → renew at min(4 min, 4 min)
    return { reg, clock, port: info.port, calls: () => calls };
  }

  it('when renewal fails for want of a login, the grant runs on: the listener closes at expiry, not before, and is not left hanging', async () => {
    const { reg, clock, port, calls } = await renewalRefused(new HoopError('login_required', 'not logged in to the gateway'));
    await expect.poll(calls).toBe(1);
    await expect.poll(() => reg.status()[0]!.last_error).toBe('grant renewal failed: not logged in to the gateway');
    expect(await roundTrip(port)).toBe('ping'); // still usable until expiry
    expect(reg.status()[0]!.state).toBe('open');

    clock.advance(MIN);
    expect(calls()).toBe(1); // no retry after a permanent failure
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    const st = reg.status()[0]!;
    expect(st.last_error).toBe('grant expired; grant renewal failed: not logged in to the gateway');
    expect(Date.parse(st.expires_at)).toBeLessThanOrEqual(clock.now());
    expect(st.state).toBe('expired');
  });

  it('when renewal finds the grant revoked, the listener closes then, not at expiry', async () => {
    const { reg, clock, port, calls } = await renewalRefused(new HoopError('grant_revoked', 'grant grant-1 was revoked by bob'));
    await expect.poll(() => reg.status()[0]!.state).toBe('revoked');
    expect(reg.status()[0]!.last_error).toBe('grant renewal failed: grant grant-1 was revoked by bob');
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    clock.advance(2 * MIN);
    expect(calls()).toBe(1);
    expect(reg.status()[0]!.state).toBe('revoked'); // not turned into 'expired' later
  });

  it('retries a renewal that failed for a passing reason (gateway unreachable)', async () => {
    const gw = await standIn(['tok-1', 'tok-2']);
    const clock = new ManualClock();
    const expiry = clock.now() + 10 * MIN;
    let calls = 0;
    const renewGrant = async (g: TunnelGrant): Promise<TunnelGrant> => {
      calls += 1;
      if (calls === 1) throw new HoopError('gateway_unreachable', 'cannot reach the gateway');
      return { ...g, token: 'tok-2', expires_at: new Date(expiry + 30 * MIN).toISOString() };
    };
    const { reg } = registry({ clock, renewGrant });
    const info = await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('tok-1', expiry) });
    clock.advance(8 * MIN);
    await expect.poll(() => reg.status()[0]!.last_error).toBe('grant renewal failed: cannot reach the gateway (will retry)');
    clock.advance(30_000);
    await expect.poll(() => calls).toBe(2);
    await expect.poll(() => reg.status()[0]!.last_error).toBeNull();
    clock.advance(3 * MIN); // past the first expiry
    expect(await roundTrip(info.port)).toBe('ping');
    expect(gw.tokensSeen).toEqual(['tok-2']);
  });

  it('without renewal, the tunnel closes when its grant expires', async () => {
    const gw = await standIn(['tok']);
    const clock = new ManualClock();
    const { reg } = registry({ clock });
    const info = await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('tok', clock.now() + MIN) });
    expect(await roundTrip(info.port)).toBe('ping');
    clock.advance(MIN);
    expect(await tryConnect(info.port)).toBe('ECONNREFUSED');
    expect(reg.status()[0]!.last_error).toBe('grant expired');
  });
});

describe('an idle tunnel asks whether its grant still stands', () => {
  /** A tunnel whose grant check answers `answer` (a function of the grant asked about), every minute. */
  async function checked(answer: (g: TunnelGrant) => Promise<Partial<TunnelGrant>>) {
    const gw = await standIn(['tok']);
    const clock = new ManualClock();
    const asked: string[] = [];
    const checkGrant = async (g: TunnelGrant, _url: string, token?: string) => {
      asked.push(`${g.id} with ${token ?? 'the stored login'}`);
      return { ...g, ...(await answer(g)) };
    };
    const { reg, logs } = registry({ clock, checkGrant, checkIntervalMs: MIN });
    const info = await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('tok', clock.now() + 60 * MIN) });
    return { reg, logs, clock, port: info.port, asked };
  }

  it('a grant revoked at the gateway closes the listener of a tunnel nobody uses, and the status says so', async () => {
    let revoked = false;
    const { reg, clock, port, asked } = await checked(async () => (revoked ? { revoked_at: new Date().toISOString() } : {}));
    clock.advance(MIN);
    await expect.poll(() => asked.length).toBe(1);
    expect(reg.status()[0]!.state).toBe('open');
    expect(await roundTrip(port)).toBe('ping');
    await expect.poll(() => reg.status()[0]!.active_clients).toBe(0);
    revoked = true;
    clock.advance(MIN);
    await expect.poll(() => reg.status()[0]!.state).toBe('revoked');
    expect(reg.status()[0]!.last_error).toBe('the grant was revoked');
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    expect(asked).toEqual(['grant-1 with the stored login', 'grant-1 with the stored login']);
    clock.advance(10 * MIN);
    expect(asked).toHaveLength(2); // an ended tunnel asks no more
  });

  it('when the gateway cannot say (down, or another login), the tunnel stays open and asks again later', async () => {
    const { reg, clock, port, asked, logs } = await checked(async () => {
      throw new HoopError('not_found', 'no grant grant-1');
    });
    clock.advance(MIN);
    await expect.poll(() => asked.length).toBe(1);
    await delay(20);
    expect(reg.status()[0]!.state).toBe('open');
    expect(await roundTrip(port)).toBe('ping');
    await expect.poll(() => reg.status()[0]!.active_clients).toBe(0);
    clock.advance(MIN);
    await expect.poll(() => asked.length).toBe(2);
    expect(logs.join('\n')).toMatch(/could not check the grant; the tunnel stays as it is/);
  });

  it('a tunnel with a live client does not ask (the gateway ends its stream when the grant is over)', async () => {
    const { clock, port, asked } = await checked(async () => ({ revoked_at: new Date().toISOString() }));
    const live = await connectTo(port);
    live.write('a');
    await readBytes(live, 1);
    clock.advance(3 * MIN);
    await delay(20);
    expect(asked).toEqual([]);
    live.destroy();
  });
});

describe('whose token', () => {
  it('a tunnel opened with a token (HOOP_TOKEN) is renewed and given back with it; one opened without, with the stored login', async () => {
    const gw = await standIn(['a', 'b']);
    const clock = new ManualClock();
    const used: string[] = [];
    const renewGrant = async (g: TunnelGrant, _url: string, token?: string): Promise<TunnelGrant> => {
      used.push(`renew ${g.id} with ${token ?? 'the stored login'}`);
      return { ...g, expires_at: new Date(Date.parse(g.expires_at) + 10 * MIN).toISOString() };
    };
    const releaseGrant = async (g: TunnelGrant, _url: string, token?: string): Promise<void> => void used.push(`release ${g.id} with ${token ?? 'the stored login'}`);
    const { reg, logs } = registry({ clock, renewGrant, releaseGrant });
    await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('a', clock.now() + 10 * MIN), access_token: 'ci-token' });
    await reg.open({ connection: 'crm', gateway_url: gw.url, port: 0, grant: grantFixture('b', clock.now() + 10 * MIN, { id: 'grant-crm', connection: 'crm' }) });
    clock.advance(8 * MIN);
    await expect.poll(() => used.length).toBe(2);
    await reg.closeAll();
    expect(used.sort()).toEqual([
      'release grant-1 with ci-token', 'release grant-crm with the stored login',
      'renew grant-1 with ci-token', 'renew grant-crm with the stored login',
    ]);
    expect(logs.join('\n')).not.toContain('ci-token');
  });
});

describe('giving grants back', () => {
  it('closing a tunnel revokes its grant; closing one whose grant expired does not', async () => {
    const gw = await standIn(['a', 'b']);
    const clock = new ManualClock();
    const released: string[] = [];
    const { reg, logs } = registry({ clock, releaseGrant: async (g, url) => void released.push(`${g.id}@${url}`) });
    await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('a', clock.now() + 10 * MIN) });
    await reg.open({ connection: 'crm', gateway_url: gw.url, port: 0, grant: grantFixture('b', clock.now() + MIN, { id: 'grant-crm', connection: 'crm' }) });
    await reg.close('shop');
    expect(released).toEqual([`grant-1@${gw.url}`]);
    clock.advance(MIN); // crm's grant runs out: nothing left to give back
    await reg.close('crm');
    expect(released).toEqual([`grant-1@${gw.url}`]);
    expect(logs.join('\n')).toMatch(/grant released/);
  });

  it('a replaced tunnel gives its grant back once its last client stream ends, not before', async () => {
    const gw = await standIn(['old', 'new']);
    const released: string[] = [];
    const { reg } = registry({ releaseGrant: async (g) => void released.push(g.id) });
    const first = await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('old', Date.now() + MIN) });
    const live = await connectTo(first.port);
    live.write('a');
    await readBytes(live, 1);
    await reg.open({ connection: 'shop', gateway_url: gw.url, grant: grantFixture('new', Date.now() + MIN, { id: 'grant-2' }) });
    await delay(100);
    expect(released).toEqual([]); // its client still uses it
    live.write('b');
    expect((await readBytes(live, 1)).toString()).toBe('b');
    live.destroy();
    await expect.poll(() => released).toEqual(['grant-1']);
  });

  it('a gateway that cannot take the grant back does not stop the close: it is logged, and the grant expires', async () => {
    const gw = await standIn(['a']);
    const { reg, logs } = registry({ releaseGrant: async () => { throw new HoopError('gateway_unreachable', 'cannot reach the gateway'); } });
    const info = await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('a', Date.now() + MIN) });
    expect(await reg.close('shop')).toEqual(['shop']);
    expect(await tryConnect(info.port)).toBe('ECONNREFUSED');
    expect(logs.join('\n')).toMatch(/could not release the grant; it stays valid until it expires.*cannot reach the gateway/);
  });

  it('closing everything (hoop agent stop) gives back every grant still good', async () => {
    const gw = await standIn(['a', 'b']);
    const released: string[] = [];
    const { reg } = registry({ releaseGrant: async (g) => void released.push(g.id) });
    await reg.open({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture('a', Date.now() + MIN) });
    await reg.open({ connection: 'crm', gateway_url: gw.url, port: 0, grant: grantFixture('b', Date.now() + MIN, { id: 'grant-crm', connection: 'crm' }) });
    await reg.closeAll();
    expect(released.sort()).toEqual(['grant-1', 'grant-crm']);
  });
});

