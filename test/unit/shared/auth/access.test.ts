import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { getAccessToken } from '../../../../shared/auth/access.js';
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
