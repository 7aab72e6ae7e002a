/**
 * The sessions endpoints record an admin's or auditor's read of others' sessions before answering, and fail
 * closed: when the record cannot be written, nothing of the sessions is sent.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { QueryResult, QueryResultRow } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HoopError } from '../../../../shared/errors.js';
import { silentLogger } from '../../../../shared/log.js';
import type { Identity } from '../../../../gateway/identity/identity.js';
import type { Queryable } from '../../../../gateway/store/db.js';
import { Router } from '../../../../gateway/server/router.js';
import { mountSessionsApi } from '../../../../gateway/server/sessions-api.js';

const SESSION_ID = '6f1c2a4e-8b0d-4c3e-9a7f-0123456789ab';
const row = {
  id: SESSION_ID, connection: 'shop', subject: 'alice', grant_id: null, client_application: 'psql', client_user: 'alice',
  database: 'shop', started_at: new Date('2026-01-02T03:04:05Z'), ended_at: null, end_reason: null,
  bytes_from_client: '10', bytes_to_client: '20', statement_count: 1, live_count: '1', identity: null,
};
const statement = {
  seq: 1, text: 'SELECT secret_column FROM customers', parameters: null, protocol: 'simple', started_at: new Date('2026-01-02T03:04:06Z'),
  duration_ms: 1, rows: '1', command_tag: 'SELECT 1', error_code: null, error_message: null, decision: 'allow',
};
/** The sessions table holds one session, alice's, with one statement. */
const db: Queryable = {
  query: async <R extends QueryResultRow>(text: string) => ({ rows: (/FROM statements WHERE session_id/.test(text) ? [statement] : [row]) as unknown as R[] }) as QueryResult<R>,
};
const people: Record<string, Identity> = {
  alice: { subject: 'alice', groups: ['engineers'], kind: 'user', issuer: 'https://idp', claims: {} },
  bob: { subject: 'bob', groups: ['auditors'], kind: 'user', issuer: 'https://idp', claims: {} },
};

let server: Server;
let base: string;
const recorded: { actor: string; data: Record<string, unknown> }[] = [];
let storeUp = true;

beforeAll(async () => {
  const router = new Router(silentLogger);
  mountSessionsApi(router, {
    db,
    who: async (ctx) => people[String(ctx.req.headers['x-who'])]!,
    privileged: (id) => id.groups.includes('auditors'),
    recordRead: async (actor, data) => {
      if (!storeUp) throw new HoopError('audit_unavailable', 'the audit store did not answer');
      recorded.push({ actor, data });
    },
    now: () => new Date('2026-01-03T00:00:00Z'),
  });
  server = createServer(router.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  recorded.length = 0;
  storeUp = true;
});

const get = async (path: string, as: string): Promise<{ status: number; text: string }> => {
  const res = await fetch(`${base}${path}`, { headers: { 'x-who': as } });
  return { status: res.status, text: await res.text() };
};

describe('GET /v1/sessions', () => {
  it('records an auditor\'s list of everyone\'s sessions, with its filters; not a user\'s list of their own', async () => {
    expect((await get('/v1/sessions?connection=shop&text=secret', 'bob')).status).toBe(200);
    expect(recorded).toEqual([{ actor: 'bob', data: { what: 'sessions', filter: { connection: 'shop', text: 'secret' }, sessions: 1, subjects: ['alice'] } }]);
    expect((await get('/v1/sessions?user=bob', 'bob')).status).toBe(200);
    expect((await get('/v1/sessions', 'alice')).status).toBe(200);
    expect(recorded).toHaveLength(1);
  });

  it('refuses a malformed list without recording it', async () => {
    expect((await get('/v1/sessions?limit=0', 'bob')).status).toBe(400);
    expect(recorded).toEqual([]);
  });

  it('fails closed: when the read cannot be recorded, no session is sent (503 audit_unavailable)', async () => {
    storeUp = false;
    const r = await get('/v1/sessions', 'bob');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.text)).toMatchObject({ code: 'audit_unavailable' });
    expect(r.text).not.toContain(SESSION_ID);
    // a user's own list needs no record, so it is still answered
    expect((await get('/v1/sessions', 'alice')).status).toBe(200);
  });
});

describe('GET /v1/sessions/:id', () => {
  it('records an auditor\'s reading of someone else\'s session, and fails closed when it cannot', async () => {
    expect((await get(`/v1/sessions/${SESSION_ID}`, 'bob')).status).toBe(200);
    expect(recorded).toEqual([{ actor: 'bob', data: { what: 'session', session_id: SESSION_ID, subject: 'alice' } }]);
    storeUp = false;
    const r = await get(`/v1/sessions/${SESSION_ID}`, 'bob');
    expect(r.status).toBe(503);
    expect(r.text).not.toContain('secret_column');
    expect((await get(`/v1/sessions/${SESSION_ID}`, 'alice')).status).toBe(200); // her own: nothing to record
  });
});
