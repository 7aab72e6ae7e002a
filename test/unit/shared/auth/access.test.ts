import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { getAccessToken, refreshMargin } from '../../../../shared/auth/access.js';
import type { OidcClient } from '../../../../shared/auth/oidc.js';
import type { StoredLogin, TokenStore } from '../../../../shared/auth/token-store.js';
import { revokeTokens } from '../../../../shared/auth/tokens.js';
import { HoopError } from '../../../../shared/errors.js';
import { ALICE, browserLogin, startIdp, verifyAccessToken, type RunningIdp } from '../../../integration/dev-idp/fixture.js';

const GATEWAY = 'http://127.0.0.1:8009';

/** The TokenStore contract over a Map; the keychain and file stores have their own tests. */
function memoryStore(): TokenStore & { saves: number } {
  const logins = new Map<string, string>();
  return {
    kind: 'file',
    saves: 0,
    async load(key) {
      const v = logins.get(key);
      return v === undefined ? null : (JSON.parse(v) as StoredLogin);
    },
    async save(key, login) {
      this.saves++;
      logins.set(key, JSON.stringify(login));
    },
    async clear(key) {
      logins.delete(key);
    },
  };
}

const noDiscovery = async (): Promise<OidcClient> => {
  throw new Error('discovery should not be needed');
};

let env: RunningIdp;
beforeAll(async () => {
  env = await startIdp();
});
afterAll(async () => {
  await env.close();
});

async function loggedIn(store: TokenStore): Promise<StoredLogin> {
  const tokens = await browserLogin(env.cli, ALICE);
  const login: StoredLogin = { gateway_url: GATEWAY, issuer: env.idp.issuer, client_id: env.idp.cliClientId, tokens, subject: 'alice' };
  await store.save(GATEWAY, login);
  return login;
}

describe('getAccessToken', () => {
  test('returns the stored token while it is valid, without contacting the IdP', async () => {
    const store = memoryStore();
    const login = await loggedIn(store);
    const token = await getAccessToken({ store, key: GATEWAY, client: noDiscovery, now: () => login.tokens.expires_at - 600 });
    expect(token).toBe(login.tokens.access_token);
  });

  test('refreshes an expired token silently and saves the rotated refresh token', async () => {
    const store = memoryStore();
    const login = await loggedIn(store);
    let discovered = 0;
    const later = () => login.tokens.expires_at - 30; // inside the 60 s margin
    const token = await getAccessToken({ store, key: GATEWAY, client: async () => (discovered++, env.cli), now: later });

    expect(discovered).toBe(1);
    expect(token).not.toBe(login.tokens.access_token);
    expect((await verifyAccessToken(env.cli, token)).sub).toBe('alice');
    const saved = await store.load(GATEWAY);
    expect(saved?.tokens.access_token).toBe(token);
    expect(saved?.tokens.refresh_token).not.toBe(login.tokens.refresh_token);
    expect(saved?.tokens.id_token).toEqual(expect.any(String));
    expect(saved?.subject).toBe('alice');
    // The lifetime is kept with the tokens, for the refresh margin.
    expect(saved!.tokens.expires_at - saved!.tokens.issued_at!).toBeGreaterThan(0);
    // The next call uses what was saved.
    expect(await getAccessToken({ store, key: GATEWAY, client: noDiscovery, now: () => Math.floor(Date.now() / 1000) })).toBe(token);
  });

  test('with no stored login it throws login_required, telling the user to run hoop login', async () => {
    const e = await getAccessToken({ store: memoryStore(), key: GATEWAY, client: noDiscovery, now: () => 0 }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(HoopError);
    expect((e as HoopError).code).toBe('login_required');
    expect((e as HoopError).hint).toBe('run hoop login');
  });

  test('when the refresh is refused (login revoked) it throws login_required and keeps the cause', async () => {
    const store = memoryStore();
    const login = await loggedIn(store);
    await revokeTokens(env.cli, login.tokens);
    const e = await getAccessToken({ store, key: GATEWAY, client: env.cli, now: () => login.tokens.expires_at + 1 }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(HoopError);
    expect((e as HoopError).code).toBe('login_required');
    expect((e as HoopError).hint).toBe('run hoop login');
    expect((e as HoopError).cause).toBeInstanceOf(HoopError);
    expect((e as HoopError).message).not.toContain(login.tokens.refresh_token ?? '∅');
  });
});

describe('refreshMargin: how much life a stored token must have left to be used as it is', () => {
  test.each([
    // [lifetime in s (undefined: stored before issued_at was kept), minValiditySeconds, margin]
    [3600, 60, 60],
    [300, 60, 60],
    [120, 60, 60],
    [90, 60, 45],
    [60, 60, 30],
    [30, 60, 15],
    [1, 60, 0.5],
    [30, 10, 10],
    [undefined, 60, 60],
    [0, 60, 60], // nonsense lifetimes keep the plain minimum
    [-30, 60, 60],
  ])('a token living %j s with minValiditySeconds %j is refreshed with less than %j s left', (lifetime, min, margin) => {
    const tokens = lifetime === undefined ? { expires_at: 10_000 } : { expires_at: 10_000, issued_at: 10_000 - lifetime };
    expect(refreshMargin(tokens, min)).toBe(margin);
  });

  test('the default minimum is 60 s', () => {
    expect(refreshMargin({ expires_at: 10_000, issued_at: 0 })).toBe(60);
    expect(refreshMargin({ expires_at: 10_000, issued_at: 9_970 })).toBe(15);
  });
});

describe('getAccessToken with short-lived tokens', () => {
  /** A stored login, and a client that counts refresh attempts and fails them (no IdP is needed to see one tried). */
  async function shortLogin(tokens: { issued_at?: number; expires_at: number }): Promise<{ store: TokenStore; refreshes: () => number; client: () => Promise<OidcClient> }> {
    const store = memoryStore();
    await store.save(GATEWAY, { gateway_url: GATEWAY, issuer: 'https://idp.example.com', client_id: 'hoop-cli', tokens: { access_token: 'at-1', refresh_token: 'rt-1', ...tokens } });
    let tried = 0;
    return {
      store,
      refreshes: () => tried,
      client: async () => {
        tried++;
        throw new Error('refresh attempted');
      },
    };
  }

  test('a 30 s token is used as it is until 15 s are left, not refreshed on every call', async () => {
    const { store, refreshes, client } = await shortLogin({ issued_at: 1000, expires_at: 1030 });
    for (const now of [1000, 1001, 1010, 1015]) {
      expect(await getAccessToken({ store, key: GATEWAY, client, now: () => now })).toBe('at-1');
    }
    expect(refreshes()).toBe(0);
    // with less than half its life left, it is refreshed
    await expect(getAccessToken({ store, key: GATEWAY, client, now: () => 1016 })).rejects.toMatchObject({ code: 'login_required' });
    expect(refreshes()).toBe(1);
  });

  test('a stored login without issued_at (from an older hoop) keeps the 60 s margin', async () => {
    const { store, refreshes, client } = await shortLogin({ expires_at: 1030 });
    await expect(getAccessToken({ store, key: GATEWAY, client, now: () => 1000 })).rejects.toMatchObject({ code: 'login_required' });
    expect(refreshes()).toBe(1);
  });

  test('a long-lived token is still refreshed 60 s before it expires', async () => {
    const { store, refreshes, client } = await shortLogin({ issued_at: 0, expires_at: 3600 });
    expect(await getAccessToken({ store, key: GATEWAY, client, now: () => 3540 })).toBe('at-1');
    await expect(getAccessToken({ store, key: GATEWAY, client, now: () => 3541 })).rejects.toMatchObject({ code: 'login_required' });
    expect(refreshes()).toBe(1);
  });
});
