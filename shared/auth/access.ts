import { HoopError } from '../errors.js';
import type { OidcClient } from './oidc.js';
import type { StoredLogin, TokenStore } from './token-store.js';
import { withFileLock } from './file-lock.js';
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
  /** A lock file that serialises refreshes across processes (the CLI and the agent share a login). */
  lockPath?: string;
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
  if (!login.tokens.refresh_token) {
    throw new HoopError('login_required', `the login to ${key} has expired`, { hint: 'run hoop login' });
  }
  if (!options.lockPath) return refresh(options, login);
  return withFileLock(options.lockPath, async () => {
    // Another process may have refreshed while we waited: its tokens are the live ones.
    const current = await store.load(key);
    if (!current) throw new HoopError('login_required', `not logged in to ${key}`, { hint: 'run hoop login' });
    if (current.tokens.expires_at - options.now() >= (options.minValiditySeconds ?? 60)) return current.tokens.access_token;
    return refresh(options, current);
  });
}

async function refresh(options: GetAccessTokenOptions, login: StoredLogin): Promise<string> {
  const { store, key } = options;
  let tokens;
  try {
    const client = typeof options.client === 'function' ? await options.client() : options.client;
    tokens = await refreshTokens(client, login.tokens.refresh_token!, options.resource);
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
