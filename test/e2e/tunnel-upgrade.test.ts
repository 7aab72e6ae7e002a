/**
 * The tunnel endpoint's door: what a peer gets before its grant is known, and which client address the evidence
 * records. A peer without a grant this gateway signed gets a plain HTTP refusal and never a WebSocket (whose
 * frames `ws` would buffer); a signed grant that is no longer good is still refused in the client's protocol.
 */
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import WebSocket from 'ws';
import { TUNNEL_CLOSE, TUNNEL_SUBPROTOCOL, tunnelUrl } from '../../shared/tunnel/protocol.js';
import { createWsDialer, type TunnelCloseInfo } from '../../shared/tunnel/ws-dialer.js';
import { startStack, tunnelClient, User, type Stack } from '../helpers/stack.js';
import { rawTunnel, tryUpgrade } from '../helpers/raw-tunnel.js';
import { startup } from '../helpers/pg-bytes.js';

let stack: Stack;
let alice: User;

beforeAll(async () => {
  // 127.0.0.2 plays the proxy in front of the gateway; 127.0.0.1 is any other peer.
  stack = await startStack({ topExtra: 'trusted_proxies: [127.0.0.2]' });
  alice = new User('alice', stack);
  expect((await alice.login()).code).toBe(0);
});

afterAll(async () => {
  await stack?.close();
});

/** A token with a valid grant's header and claims, and another signature. */
async function forgedToken(): Promise<string> {
  const { token } = await alice.grant({ connection: 'shop' });
  const [h, p] = token.split('.');
  return `${h}.${p}.${Buffer.alloc(64, 7).toString('base64url')}`;
}

describe('an upgrade without a grant this gateway signed', () => {
  it('is refused with HTTP 401 and a problem+json body, and no WebSocket is opened', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{}, 'the tunnel carries no grant'],
      [{ authorization: 'Bearer not-a-jwt' }, 'the grant is not valid (bad signature, issuer or format)'],
      [{ authorization: `Bearer ${await forgedToken()}` }, 'the grant is not valid (bad signature, issuer or format)'],
    ];
    for (const [headers, detail] of cases) {
      const out = await tryUpgrade(stack.gatewayUrl, headers);
      expect(out.upgraded, detail).toBe(false);
      if (out.upgraded) continue;
      expect(out.status).toBe(401);
      expect(out.headers['content-type']).toBe('application/problem+json');
      expect(out.headers['www-authenticate']).toMatch(/^Bearer /);
      expect(JSON.parse(out.body)).toMatchObject({ code: 'grant_invalid', detail });
      expect(out.body).not.toContain('not-a-jwt');
    }
  });

  it('is explained by the agent as it was: "gateway refused the tunnel (HTTP 401: …)"', async () => {
    const dialer = createWsDialer({ gatewayUrl: stack.gatewayUrl, connection: 'shop' });
    const info = await new Promise<TunnelCloseInfo>((resolve) => {
      dialer.dial('x.y.z', { open: () => undefined, data: () => undefined, drain: () => undefined, close: resolve });
    });
    // The close code of an invalid grant, so the agent stops listening and says why, as it did before.
    expect(info).toEqual({ code: TUNNEL_CLOSE.grantInvalid, opened: false, error: 'gateway refused the tunnel (HTTP 401: the grant is not valid (bad signature, issuer or format))' });
  });
});

describe('a grant this gateway signed that is no longer good', () => {
  it('still gets a WebSocket: the engine refuses in the client\'s protocol and the close code tells the agent why', async () => {
    const { token, id } = await alice.grant({ connection: 'shop' });
    await (await alice.api()).revokeGrant(id);
    const t = await rawTunnel(stack.gatewayUrl, token, 'shop');
    try {
      const e = (await tunnelClient(t.port).connect().then(() => null, (x: unknown) => x)) as { code?: string; message: string };
      expect(e).toMatchObject({ code: '28000' });
      expect(e.message).toContain('was revoked');
    } finally {
      await t.close();
    }
    const ws = new WebSocket(new URL('?connection=shop', tunnelUrl(stack.gatewayUrl)), TUNNEL_SUBPROTOCOL, { headers: { authorization: `Bearer ${token}` } });
    await once(ws, 'open');
    ws.send(startup({ user: 'alice', database: 'shop' }));
    const [code] = (await once(ws, 'close')) as [number];
    expect(code).toBe(TUNNEL_CLOSE.grantRevoked);
  });

  it('cannot make the gateway buffer a large frame: the refusal\'s frame limit is small', async () => {
    const { token, id } = await alice.grant({ connection: 'shop' });
    await (await alice.api()).revokeGrant(id);
    const ws = new WebSocket(new URL('?connection=shop', tunnelUrl(stack.gatewayUrl)), TUNNEL_SUBPROTOCOL, { headers: { authorization: `Bearer ${token}` } });
    await once(ws, 'open');
    ws.send(Buffer.alloc(1024 * 1024));
    const [code] = (await once(ws, 'close')) as [number];
    expect(code).toBe(1009); // message too big
  });
});

describe('the client address in the evidence', () => {
  async function recordedAddr(app: string, headers: Record<string, string>, localAddress?: string): Promise<string | null> {
    const { token } = await alice.grant({ connection: 'shop' });
    const t = await rawTunnel(stack.gatewayUrl, token, 'shop', { headers, ...(localAddress ? { localAddress } : {}) });
    try {
      const c = tunnelClient(t.port, { application_name: app });
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
    } finally {
      await t.close();
    }
    const db = new pg.Client({ connectionString: stack.stateUrl });
    await db.connect();
    try {
      let addr: string | null | undefined;
      await expect.poll(async () => {
        addr = (await db.query<{ client_addr: string | null }>('SELECT client_addr FROM sessions WHERE client_application = $1', [app])).rows[0]?.client_addr;
        return addr !== undefined;
      }).toBe(true);
      return addr!;
    } finally {
      await db.end();
    }
  }

  it('is the socket address when the peer is not a trusted proxy: X-Forwarded-For is ignored', async () => {
    expect(await recordedAddr('xff-untrusted', { 'x-forwarded-for': '203.0.113.9' })).toBe('127.0.0.1');
  });

  it('is the right-most X-Forwarded-For address that is not a trusted proxy, when the peer is one', async () => {
    expect(await recordedAddr('xff-trusted', { 'x-forwarded-for': '198.51.100.7, 203.0.113.9' }, '127.0.0.2')).toBe('203.0.113.9');
    expect(await recordedAddr('xff-trusted-chain', { 'x-forwarded-for': '203.0.113.10, 127.0.0.2' }, '127.0.0.2')).toBe('203.0.113.10');
  });
});

describe('refused access tokens behind a trusted proxy', () => {
  /** GET /v1/grants with a malformed token, from `localAddress`, naming `client` in X-Forwarded-For. */
  function refuse(client: string, localAddress: string): Promise<number> {
    const url = new URL('/v1/grants', stack.gatewayUrl);
    return new Promise((resolve, reject) => {
      const req = httpRequest(url, { localAddress, headers: { authorization: 'Bearer not-a-token', 'x-forwarded-for': client } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('are limited per client the proxy names, not per proxy, so one noisy client does not hide another', async () => {
    for (let i = 0; i < 5; i++) expect(await refuse('198.51.100.20', '127.0.0.2')).toBe(401);
    expect(await refuse('198.51.100.21', '127.0.0.2')).toBe(401);
    const state = new pg.Client({ connectionString: stack.stateUrl });
    await state.connect();
    try {
      const byClient = async (): Promise<Record<string, number>> => Object.fromEntries((await state.query(
        `SELECT data::jsonb->>'client_addr' AS addr, count(*)::int AS n FROM audit_log WHERE type = 'auth.denied' AND data::jsonb->>'client_addr' LIKE '198.51.100.%' GROUP BY 1`,
      )).rows.map((r) => [r.addr as string, r.n as number]));
      await expect.poll(byClient).toEqual({ '198.51.100.20': 3, '198.51.100.21': 1 });
    } finally {
      await state.end();
    }
  });
});
