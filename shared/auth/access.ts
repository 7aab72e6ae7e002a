import { HoopError } from '../errors.js';
import type { OidcClient } from './oidc.js';
import type { TokenStore } from './token-store.js';
import { refreshTokens } from './tokens.js';

export interface GetAccessTokenOptions {
  store: TokenStore;
  /** The gateway URL the login was made for. */
  key: string;
  /** The issuer's client, or a function that discovers it; called only when a refresh is needed. */
  client: OidcClient | (() => Promise<OidcClient>);
  /** Epoch seconds. */
  now: () => number;
  /** A token with less life left than this is refreshed first. Default 60. */
  minValiditySeconds?: number;
  resource?: string;
}

/**
 * Returns an access token for the gateway: the stored one while it has `minValiditySeconds` left, else a fresh
 * one from the refresh token, saved (with the rotated refresh token) before it is returned.
 * @throws HoopError `login_required` when there is no login or it can no longer be refreshed
 */
export async function getAccessToken(options: GetAccessTokenOptions): Promise<string> {
  const { store, key } = options;
  const login = await store.load(key);
  if (!login) {
    throw new HoopError('login_required', `not logged in to ${key}`, { hint: 'run hoop login' });
  }
  if (login.tokens.expires_at - options.now() >= (options.minValiditySeconds ?? 60)) {
    return login.tokens.access_token;
  }
  const refreshToken = login.tokens.refresh_token;
  if (!refreshToken) {
    throw new HoopError('login_required', `the login to ${key} has expired`, { hint: 'run hoop login' });
  }

  let tokens;
  try {
    const client = typeof options.client === 'function' ? await options.client() : options.client;
    tokens = await refreshTokens(client, refreshToken, options.resource);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new HoopError('login_required', `the login to ${key} has expired and could not be renewed: ${reason}`, {
      hint: 'run hoop login',
      cause: e,
    });
  }
  // The old refresh token is now spent: persist the new one before handing out the access token.
  await store.save(key, { ...login, tokens: { ...tokens, id_token: tokens.id_token ?? login.tokens.id_token } });
  return tokens.access_token;
}
