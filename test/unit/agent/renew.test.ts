import { describe, expect, it } from 'vitest';
import { createRenewGrant } from '../../../agent/renew.js';
import type { TunnelGrant } from '../../../agent/tunnel.js';
import type { StoredLogin, TokenStore } from '../../../shared/auth/token-store.js';

const grant: TunnelGrant = {
  id: 'g 1', connection: 'shop', type: 'postgres', subject: 'ci', groups: ['ci-deployers'],
  issued_at: '2025-01-01T00:00:00Z', expires_at: '2025-01-01T01:00:00Z', token: 'old-grant-token',
};

function fakeFetch(answer: { status: number; body: unknown }) {
  const calls: Array<{ url: string; method: string; auth: string | undefined }> = [];
  const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), method: init?.method ?? 'GET', auth: (init?.headers as Record<string, string>).authorization });
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { 'content-type': 'application/json' } });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

describe('createRenewGrant', () => {
  it('with the token the tunnel came with (HOOP_TOKEN in CI), renews through the gateway API and returns the new grant token', async () => {
    const renewed = { ...grant, expires_at: '2025-01-01T02:00:00Z', token: 'new-grant-token' };
    const { fetch, calls } = fakeFetch({ status: 200, body: { grant: renewed } });
    const renew = createRenewGrant({ env: {}, configDir: '/nonexistent', fetch });
    const next = await renew(grant, 'https://hoop.example.com/', 'ci-access-token');
    expect(next).toMatchObject({ token: 'new-grant-token', expires_at: '2025-01-01T02:00:00Z' });
    expect(calls).toEqual([{ url: 'https://hoop.example.com/v1/grants/g%201/renew', method: 'POST', auth: 'Bearer ci-access-token' }]);
  });

  it('passes the gateway\'s refusal on as its HoopError (so renewal stops on grant_revoked)', async () => {
    const { fetch } = fakeFetch({ status: 401, body: { code: 'grant_revoked', detail: 'grant g 1 was revoked', status: 401 } });
    const renew = createRenewGrant({ env: {}, configDir: '/nonexistent', fetch });
    await expect(renew(grant, 'https://hoop.example.com', 'ci-access-token')).rejects.toMatchObject({ code: 'grant_revoked', message: 'grant g 1 was revoked' });
  });

  it('an answer without a grant token is an error, not a tunnel that presents nothing', async () => {
    const { token: _t, ...noToken } = grant;
    const { fetch } = fakeFetch({ status: 200, body: { grant: noToken } });
    const renew = createRenewGrant({ env: {}, configDir: '/nonexistent', fetch });
    await expect(renew(grant, 'https://hoop.example.com', 'x')).rejects.toMatchObject({ code: 'internal' });
  });

  it('without a token of its own, a tunnel is renewed with the stored login for that gateway, never with the daemon\'s HOOP_TOKEN', async () => {
    const renewed = { ...grant, token: 'new-grant-token' };
    const { fetch, calls } = fakeFetch({ status: 200, body: { grant: renewed } });
    const logins = new Map<string, StoredLogin>([['https://hoop.example.com', {
      gateway_url: 'https://hoop.example.com', issuer: 'https://login.example.com', client_id: 'hoop-cli',
      tokens: { access_token: 'stored-access-token', refresh_token: 'r', expires_at: Math.floor(Date.now() / 1000) + 3600 },
    }]]);
    const store: TokenStore = {
      kind: 'file',
      load: async (k) => logins.get(k) ?? null,
      save: async () => {},
      clear: async () => {},
    };
    // The daemon's environment is whoever started it (a CI shell): its HOOP_TOKEN is not the user's.
    const renew = createRenewGrant({ env: { HOOP_TOKEN: 'someone-elses-token' }, configDir: '/nonexistent', fetch, openStore: async () => store });
    await renew(grant, 'https://hoop.example.com/');
    expect(calls[0]!.auth).toBe('Bearer stored-access-token');

    await expect(renew(grant, 'https://other.example.com')).rejects.toMatchObject({
      code: 'login_required', message: 'not logged in to https://other.example.com', hint: 'run `hoop login`',
    });
  });
});
