/**
 * Every way in that must be refused, and how the user hears about it: the CLI's exit code and message, or a
 * native PostgreSQL error on the client when the refusal happens on the data path.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createDevIdp, type DevIdp } from '../../gateway/dev-idp/provider.js';
import { DEMO_CLIENTS, DEMO_USERS } from '../../gateway/dev-idp/users.js';
import { loadGatewayConfig } from '../../gateway/config/load.js';
import { startGateway, type RunningGateway } from '../../gateway/gateway.js';
import { createLogger } from '../../shared/log.js';
import { startStack, tunnelClient, User, type Stack } from '../helpers/stack.js';
import { agentTunnel, rawTunnel } from '../helpers/raw-tunnel.js';

let stack: Stack;
let alice: User;
let bob: User;

async function connectError(port: number): Promise<{ code?: string; message: string }> {
  const c = tunnelClient(port);
  try {
    await c.connect();
    await c.end();
    return { message: 'connected' };
  } catch (e) {
    return e as { code?: string; message: string };
  }
}

beforeAll(async () => {
  stack = await startStack({ grantCheckIntervalMs: 500, extraUsers: [{ username: 'dana', password: 'dana', groups: ['dba'] }] });
  alice = new User('alice', stack);
  bob = new User('bob', stack);
  expect((await alice.login()).code).toBe(0);
  expect((await bob.login()).code).toBe(0);
});

afterAll(async () => {
  await alice?.stopAgent();
  await bob?.stopAgent();
  await stack?.close();
});

describe('refusals at the API', () => {
  it('refuses a user outside the connection\'s access.groups (exit 4) and records the denial', async () => {
    const r = await alice.hoop(['connect', 'billing', '--detach']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('alice may not access "billing"');
    expect(r.stderr).toContain('hint: access needs membership of one of: dba');
    const db = new pg.Client({ connectionString: stack.stateUrl });
    await db.connect();
    const rows = (await db.query(`SELECT outcome, subject, connection FROM grant_decisions WHERE connection = 'billing'`)).rows;
    await db.end();
    expect(rows).toContainEqual({ outcome: 'denied', subject: 'alice', connection: 'billing' });
  });

  it('refuses auditors: they read the evidence and may not connect', async () => {
    const r = await bob.hoop(['connect', 'shop', '--detach']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('bob is an auditor: auditors read sessions and the audit log, and may not connect');
    // and the connection list says so up front, as it does for alice's access
    const list = async (u: User): Promise<unknown> => (JSON.parse((await u.hoop(['connections', '--json'])).stdout) as { connections: Array<{ name: string; allowed: boolean }> })
      .connections.find((c) => c.name === 'shop')?.allowed;
    expect(await list(bob)).toBe(false);
    expect(await list(alice)).toBe(true);
  });

  it('refuses a list of everyone\'s grants to a non-admin, instead of quietly showing their own', async () => {
    const r = await alice.hoop(['grants', '--all']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("error: listing everyone's grants needs the admin role, which alice does not have");
    expect(r.stderr).toContain('hint: leave out --all to list your own grants');
    expect((await bob.hoop(['grants', '--all', '--json'])).code).toBe(0);
  });

  it('refuses an unknown connection with a hint', async () => {
    const r = await alice.hoop(['connect', 'nope', '--detach']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no connection named "nope"');
  });

  it('asks to log in when there is no login (exit 3)', async () => {
    const nobody = new User('carol', stack);
    const r = await nobody.hoop(['connect', 'shop', '--detach']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not logged in.*\nhint: run `hoop login`/);
  });

  it('refuses an IdP token from an untrusted issuer (exit 3)', async () => {
    const other: DevIdp = await createDevIdp({ port: 0, audience: 'hoop', users: DEMO_USERS, clients: DEMO_CLIENTS });
    try {
      const res = await fetch(`${other.issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: 'Basic ' + Buffer.from(`ci-bot:${other.clientSecrets.get('ci-bot')}`).toString('base64'),
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: other.resource }),
      });
      const token = ((await res.json()) as { access_token: string }).access_token;
      expect(token.split('.')).toHaveLength(3);
      const r = await alice.hoop(['connect', 'shop', '--detach'], { env: { HOOP_TOKEN: token } });
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('untrusted issuer');
    } finally {
      await other.close();
    }
  });

  it('refuses a real IdP token minted for another audience (exit 3)', async () => {
    // A second gateway that expects audience "payments" trusts the same IdP: alice's token (aud "hoop") is not for it.
    const config = loadGatewayConfig({
      // same database and data dir (master key) as the first instance, as instances sharing a database must
      yamlText: `listen: 127.0.0.1:0\ndata_dir: ${JSON.stringify(join(stack.tmp, 'gateway'))}\nidentity: { issuer: ${stack.idp.issuer}, audience: payments, allow_insecure_http: true }\n`,
      env: {},
      overrides: { database_url: stack.stateUrl },
    });
    const gw2: RunningGateway = await startGateway({ config, logger: createLogger({ level: 'silent' }), env: {} });
    try {
      const r = await alice.hoop(['connections', '--gateway', gw2.url], { env: { HOOP_TOKEN: await alice.accessToken() } });
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('access token is for another audience');
    } finally {
      await gw2.close();
    }
  });

  it('gives an IdP group named admins or auditors no role unless roles names it, and warns at start', async () => {
    // bob is in the IdP groups "admins" and "auditors"; this instance's config has no roles: section.
    const config = loadGatewayConfig({
      yamlText: `listen: 127.0.0.1:0\ndata_dir: ${JSON.stringify(join(stack.tmp, 'gateway'))}\nidentity: { issuer: ${stack.idp.issuer}, audience: hoop, allow_insecure_http: true }\n`,
      env: {},
      overrides: { database_url: stack.stateUrl },
    });
    expect(config.roles).toEqual({ admins: [], auditors: [] });
    const lines: string[] = [];
    const gw2: RunningGateway = await startGateway({ config, logger: createLogger({ level: 'warn', write: (l) => lines.push(l) }), env: {} });
    try {
      expect(lines.join('\n')).toContain('no admin group is configured (roles.admins is empty)');
      const r = await bob.hoop(['grants', '--all', '--gateway', gw2.url], { env: { HOOP_TOKEN: await bob.accessToken() } });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain("listing everyone's grants needs the admin role, which bob does not have");
    } finally {
      await gw2.close();
    }
  });

  it('refuses a tampered IdP token (exit 3)', async () => {
    const token = await alice.accessToken();
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as { groups: string[] };
    claims.groups = ['dba'];
    const forged = [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
    const r = await alice.hoop(['connect', 'billing', '--detach'], { env: { HOOP_TOKEN: forged } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('signature is invalid');
    // Logging in again would change nothing while HOOP_TOKEN is set: the hint says what would.
    expect(r.stderr).toContain('hint: the token in HOOP_TOKEN was refused: get a fresh access token from your identity provider');
  });
});

describe('what an unauthenticated or malformed request can make the gateway do', () => {
  const call = async (path: string, o: { token?: string; method?: string; body?: unknown } = {}): Promise<{ status: number; type: string | null; body: { code?: string; detail?: string } }> => {
    const res = await fetch(`${stack.gatewayUrl}${path}`, {
      method: o.method ?? 'GET',
      headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(o.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
    });
    return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as { code?: string; detail?: string } };
  };
  const count = async (sql: string): Promise<number> => {
    const db = new pg.Client({ connectionString: stack.stateUrl });
    await db.connect();
    try {
      return (await db.query<{ n: number }>(sql)).rows[0]!.n;
    } finally {
      await db.end();
    }
  };

  it('records only a few refused tokens per client address, however many are sent', async () => {
    const before = await count(`SELECT coalesce(max(seq), 0)::int AS n FROM audit_log`);
    for (let i = 0; i < 30; i++) expect((await call('/v1/me', { token: `x${i}` })).status).toBe(401);
    await new Promise((r) => setTimeout(r, 1000)); // refusals are recorded off the request's path
    // at most 3 per address per minute (earlier tests' refusals may have used some of this minute's)
    expect(await count(`SELECT count(*)::int AS n FROM audit_log WHERE type = 'auth.denied' AND seq > ${before}`)).toBeLessThanOrEqual(3);
    expect(await count(`SELECT count(*)::int AS n FROM audit_log WHERE type = 'auth.denied' AND data::jsonb->>'client_addr' IS NOT NULL`)).toBeGreaterThanOrEqual(1);
  });

  it('refuses a grant request for a connection name outside the naming rule (400), and records nothing of it', async () => {
    const token = await alice.accessToken();
    for (const connection of ['x'.repeat(100_000), 'Bad Name', 'shop\u0000', '-shop']) {
      const r = await call('/v1/grants', { token, method: 'POST', body: { connection } });
      expect(r.status, connection.slice(0, 10)).toBe(400);
      expect(r.body.code).toBe('usage');
      expect(r.body.detail!.length).toBeLessThan(300);
    }
    expect(await count(`SELECT count(*)::int AS n FROM audit_log WHERE type = 'grant.denied' AND (length(connection) > 63 OR connection IN ('Bad Name', '-shop'))`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM audit_log WHERE type = 'grant.denied' AND length(data) > 2000`)).toBe(0);
    // a long duration or review id cannot ride into the denial's reason either
    for (const body of [{ connection: 'billing', duration: '1h'.repeat(10_000) }, { connection: 'billing', review_id: 'r'.repeat(10_000) }]) {
      expect((await call('/v1/grants', { token, method: 'POST', body })).status).toBe(400);
    }
    expect(await count(`SELECT count(*)::int AS n FROM audit_log WHERE type = 'grant.denied' AND length(data) > 2000`)).toBe(0);
  });

  it('answers a malformed percent-encoded path with 400 problem+json', async () => {
    const r = await call('/v1/grants/%E0%A4%A', { token: await alice.accessToken() });
    expect(r.status).toBe(400);
    expect(r.type).toBe('application/problem+json');
    expect(r.body.code).toBe('usage');
  });

  it('refuses a review list limit that is not a whole number from 1 to 500 (400)', async () => {
    const token = await alice.accessToken();
    for (const limit of ['abc', '-1', '0', '1.5', '501', '']) {
      const r = await call(`/v1/reviews?limit=${limit}`, { token });
      expect(r.status, limit).toBe(400);
      expect(r.body.code).toBe('usage');
      expect(r.body.detail).toContain('is not a whole number from 1 to 500');
    }
    expect((await call('/v1/reviews?limit=5', { token })).status).toBe(200);
    expect((await call('/v1/reviews', { token })).status).toBe(200);
  });
});

describe('refusals on the data path (native PostgreSQL errors)', () => {
  it('refuses to issue a grant that would be expired on arrival', async () => {
    const r = await alice.hoop(['connect', 'shop', '--duration', '10ms', '--detach']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: a grant must last at least 1s; 10ms was asked');
  });

  it('refuses an expired grant', async () => {
    const grant = await alice.grant({ connection: 'shop', duration: '1s' });
    await new Promise((r) => setTimeout(r, 1500));
    const t = await rawTunnel(stack.gatewayUrl, grant.token, 'shop');
    try {
      const e = await connectError(t.port);
      expect(e.code).toBe('28000');
      expect(e.message).toBe('hoop: the grant has expired');
    } finally {
      await t.close();
    }
  });

  it('refuses a tampered grant', async () => {
    const grant = await alice.grant({ connection: 'shop' });
    const [h, p, s] = grant.token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    claims.conn = 'billing';
    // Not signed by the gateway: refused at the door (HTTP 401, no WebSocket), and the agent tells the client why.
    const t = await agentTunnel(stack.gatewayUrl, [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.'), 'billing');
    try {
      const e = await connectError(t.port);
      expect(e.code).toBe('08001');
      expect(e.message).toBe('hoop: gateway refused the tunnel (HTTP 401: the grant is not valid (bad signature, issuer or format))');
    } finally {
      await t.close();
    }
  });

  it('GET /v1/grants/{id} shows a grant to its subject and to admins, as it stands (revoked or not), and to nobody else', async () => {
    const dana = new User('dana', stack);
    expect((await dana.login()).code).toBe(0);
    const { id } = await alice.grant({ connection: 'shop' });
    const mine = await (await alice.api()).getGrant(id);
    expect(mine).toMatchObject({ id, subject: 'alice', connection: 'shop', revoked_at: null });
    expect(mine.token).toBeUndefined(); // the token is handed out once, when issued or renewed
    await expect((await dana.api()).getGrant(id)).rejects.toMatchObject({ code: 'not_found' });
    await (await alice.api()).revokeGrant(id);
    expect((await (await bob.api()).getGrant(id)).revoked_at).toEqual(expect.any(String));
    await expect((await alice.api()).getGrant('not-a-grant')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses a grant for another connection', async () => {
    const dana = new User('dana', stack);
    expect((await dana.login()).code).toBe(0);
    const billing = await dana.grant({ connection: 'billing' });
    const t = await rawTunnel(stack.gatewayUrl, billing.token, 'shop');
    try {
      const e = await connectError(t.port);
      expect(e.code).toBe('28000');
      expect(e.message).toBe('hoop: the grant is for "billing", not "shop"');
    } finally {
      await t.close();
    }
  });

  it('refuses a tunnel with no grant at all', async () => {
    const t = await agentTunnel(stack.gatewayUrl, '', 'shop');
    try {
      const e = await connectError(t.port);
      expect(e.code).toBe('08001');
      expect(e.message).toBe('hoop: gateway refused the tunnel (HTTP 401: the tunnel carries no grant)');
    } finally {
      await t.close();
    }
  });

  it('closes the target connection of a session revoked while its start was still being recorded', async () => {
    const { id, token } = await alice.grant({ connection: 'shop' });
    const state = new pg.Client({ connectionString: stack.stateUrl });
    const shop = new pg.Client({ connectionString: stack.shopAdminUrl });
    await state.connect();
    await shop.connect();
    const t = await rawTunnel(stack.gatewayUrl, token, 'shop');
    const app = `revoked-in-handshake-${Date.now()}`;
    const backends = async (): Promise<number> => (await shop.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [app])).rows[0].n as number;
    try {
      // The session's start waits on the audit log; the login to the target does not.
      await state.query('BEGIN; LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE');
      const c = new pg.Client({ host: '127.0.0.1', port: t.port, user: 'x', database: 'x', application_name: app });
      const ended = c.connect().then(() => null, (e: unknown) => e);
      await expect.poll(backends).toBe(1);
      // Revoking closes live tunnels at once (NOTIFY), then records the revocation: that waits on the lock too.
      const revoked = (await alice.api()).revokeGrant(id);
      expect(await ended).toBeInstanceOf(Error);
      await state.query('ROLLBACK'); // the start is recorded now, after the session was closed
      await revoked;
      await expect.poll(backends).toBe(0);
      await c.end().catch(() => undefined);
    } finally {
      await state.query('ROLLBACK').catch(() => undefined);
      await t.close();
      await state.end();
      await shop.end();
    }
  });

  it('ends the live tunnel of a revoked grant with a clear error (how fast: npm run bench)', async () => {
    const { port, grantId } = await alice.connect('shop');
    const c = tunnelClient(port);
    await c.connect();
    expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    const errors: Error[] = [];
    // pg reports the FATAL, then "Connection terminated" when the socket closes: keep every one.
    const ended = new Promise<Error>((resolve) => c.on('error', (e) => {
      errors.push(e);
      resolve(errors[0]!);
    }));
    const r = await bob.hoop(['revoke', grantId]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain(`Revoked grant ${grantId}`);
    const err = (await ended) as Error & { code?: string };
    expect(err.message).toBe('hoop: the grant for shop was revoked');
    expect(err.code).toBe('57P01');
    // The gateway closed the stream saying why (4403), so the agent stopped listening for the grant at once, and
    // its status says so: a new connection is refused outright.
    const shopTunnel = async (): Promise<unknown> => {
      const status = await alice.hoop(['agent', 'status', '--json']);
      return (JSON.parse(status.stdout) as { tunnels: Array<{ connection: string }> }).tunnels.find((t) => t.connection === 'shop');
    };
    await expect.poll(shopTunnel, { timeout: 10_000 }).toMatchObject({ port, state: 'revoked', last_error: 'the grant was revoked' });
    const again = await connectError(port);
    expect(again.message).toMatch(/ECONNREFUSED/);
    // Revoking it again changes nothing, and says so.
    const twice = await bob.hoop(['revoke', grantId]);
    expect(twice.code, twice.stderr).toBe(0);
    expect(twice.stdout).toMatch(new RegExp(`^Grant ${grantId} \\(alice on shop\\) was already revoked at (?:\\d{4}-\\d{2}-\\d{2} )?\\d{2}:\\d{2}:\\d{2}Z; nothing changed\\.`));
    expect(JSON.parse((await bob.hoop(['revoke', grantId, '--json'])).stdout)).toMatchObject({ already_revoked: true, grant: { id: grantId } });
  });
});
